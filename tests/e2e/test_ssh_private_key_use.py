"""Stored SSH private keys in use, against a real OpenSSH sshd (127.0.0.1, a high port,
its own host key, an authorized_keys file per test):

- `gatehouse ssh agent` serves the stored keys; plain `ssh` and `scp` log in through it
  for ed25519, ECDSA and RSA (OpenSSH 9 refuses ssh-rsa/SHA-1, so RSA proves the
  rsa-sha2 signatures); OpenSSH's session-bind reaches the audit log as the host key;
  once the key is deleted the next login is refused.
- `POST /api/ssh-private-keys/{id}/test`: an unknown host key is 409 with sshd's own
  fingerprint; trusting it pins it; a refused key, a closed port and a silent port are
  reported as such; sshd restarted with a new host key is a mismatch; loopback is refused
  by the default configuration; the CLI's `ssh-private-keys test`.
- `/sign`: only SSH authentication requests, only with `ssh_private_keys:use`, another
  account's key is 404, and the administrators' `use_all` names the account.
- `gatehouse admin rotate-master-key` while the server runs: keys keep signing, the old
  master key is retired, and a restarted server still opens everything.

Runs as root (it creates a Unix account and runs sshd) and fails, never skips, otherwise.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from harness import BINARY, LOG_DIR, login_ok, record_secret, session
from test_cli import Cli
from test_ssh import SSHD, ensure_unix_user, free_port, sh
from test_ssh_private_keys import keygen, private_lines

USER = "gh-spk"
ALLOW_LOOPBACK = {"GATEHOUSE_SSH_PRIVATE_KEYS__TEST_DENIED_NETWORKS": "",
                  "GATEHOUSE_SSH_PRIVATE_KEYS__TEST_TIMEOUT_SECONDS": "3"}


class Host:
    """A real sshd that reads one authorized_keys file."""

    def __init__(self, work: Path):
        self.work = work
        self.port = free_port()
        # sshd reads it as the user: outside the runner's private temporary folders.
        self.shared = Path(f"/run/gatehouse-spk-{secrets.token_hex(4)}")
        self.shared.mkdir(mode=0o755)
        self.authorized = self.shared / "authorized_keys"
        self.authorized.write_text("")
        self.authorized.chmod(0o644)
        self.log = LOG_DIR / f"sshd-spk-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self.hostkey = work / "hostkey"
        self.new_host_key()

    def new_host_key(self) -> None:
        for p in (self.hostkey, Path(f"{self.hostkey}.pub")):
            p.unlink(missing_ok=True)
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.hostkey))

    @property
    def fingerprint(self) -> str:
        return sh("ssh-keygen", "-lf", f"{self.hostkey}.pub").stdout.split()[1]

    def start(self) -> None:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        cfg = self.work / "sshd_config"
        cfg.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.hostkey}",
            f"PidFile {self.work / 'sshd.pid'}", f"AuthorizedKeysFile {self.authorized}",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
            "StrictModes no", "LogLevel VERBOSE", "MaxStartups 50",
            "Subsystem sftp /usr/lib/openssh/sftp-server", "",
        ]))
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        sh(SSHD, "-t", "-f", str(cfg))
        self.proc = subprocess.Popen([SSHD, "-D", "-f", str(cfg), "-E", str(self.log)])
        deadline = time.time() + 20
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise AssertionError(f"sshd did not start; see {self.log}")

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None

    def authorize(self, *pubs: str) -> None:
        self.authorized.write_text("".join(p if p.endswith("\n") else p + "\n" for p in pubs))

    def ssh(self, sock: Path, *cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["ssh", "-F", "/dev/null", "-o", f"IdentityAgent={sock}", "-o", "BatchMode=yes",
             "-o", "IdentityFile=none", "-o", "StrictHostKeyChecking=no",
             "-o", f"UserKnownHostsFile={self.work / 'known_hosts'}", "-o", "ConnectTimeout=20",
             "-p", str(self.port), f"{USER}@127.0.0.1", *cmd],
            capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)

    def scp(self, sock: Path, local: Path, remote: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["scp", "-F", "/dev/null", "-o", f"IdentityAgent={sock}", "-o", "BatchMode=yes",
             "-o", "IdentityFile=none", "-o", "StrictHostKeyChecking=no",
             "-o", f"UserKnownHostsFile={self.work / 'known_hosts'}", "-P", str(self.port),
             str(local), f"{USER}@127.0.0.1:{remote}"],
            capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("these end-to-end tests must run as root (they create an account and run sshd)")
    ensure_unix_user(USER)
    h = Host(tmp_path_factory.mktemp("spk-sshd"))
    h.start()
    yield h
    h.stop()
    shutil.rmtree(h.shared, ignore_errors=True)


class User:
    """A signed-in Gatehouse user (cookie + CSRF) with helpers for stored keys."""

    def __init__(self, server, username: str, password: str):
        res = login_ok(server, username, password)
        self.server = server
        self.s = session()
        self.s.headers.update({"Cookie": f"cloud.sso={res.cookie}", "X-CSRF-Token": res.csrf_token})

    def upload(self, name: str, path: Path, passphrase: str | None = None) -> dict:
        body = {"name": name, "private_key": path.read_text()}
        if passphrase:
            body["passphrase"] = passphrase
        r = self.s.post(self.server.url("/api/ssh-private-keys"), json=body, timeout=60)
        assert r.status_code == 201, r.text
        assert "PRIVATE KEY" not in r.text
        return r.json()

    def test(self, key_id: str, port: int, **extra) -> "requests.Response":  # noqa: F821
        body = {"host": "127.0.0.1", "port": port, "username": USER, **extra}
        return self.s.post(self.server.url(f"/api/ssh-private-keys/{key_id}/test"), json=body, timeout=60)

    def api_key(self, name: str, permissions: list[str]) -> str:
        r = self.s.post(self.server.url("/api/api-keys"), json={"name": name, "permissions": permissions},
                        timeout=30)
        assert r.status_code == 201, r.text
        return record_secret(r.json()["key"])


def new_account(server, name: str) -> tuple[str, str]:
    password = record_secret("pw-" + secrets.token_urlsafe(18))
    cp = subprocess.run([str(BINARY), "admin", *server.store.args(), "create-user", name, "--email",
                         f"{name}@example.org", "--password-stdin"],
                        input=password, capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    return name, password


def make_key(dir: Path, name: str, *args: str, passphrase: str = "") -> Path:
    path = keygen(dir, name, *args, passphrase=passphrase)
    for line in private_lines(path):
        record_secret(line)
    return path


def pub(path: Path) -> str:
    return Path(f"{path}.pub").read_text()


class Agent:
    """`gatehouse ssh agent` on a socket in a private folder."""

    def __init__(self, cli: Cli, folder: Path):
        folder.mkdir(mode=0o700)
        self.sock = folder / "agent.sock"
        self.out = folder.parent / f"{folder.name}.out"
        self.err = folder.parent / f"{folder.name}.err"
        self.proc = subprocess.Popen([str(BINARY), "ssh", "agent", "--socket", str(self.sock)],
                                     env=cli.env(), stdout=open(self.out, "w"), stderr=open(self.err, "w"),
                                     stdin=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline and not self.sock.exists():
            assert self.proc.poll() is None, self.err.read_text()
            time.sleep(0.1)
        assert self.sock.exists(), self.err.read_text()

    def stop(self) -> None:
        self.proc.terminate()
        assert self.proc.wait(timeout=20) == 0, self.err.read_text()
        assert "panicked" not in self.err.read_text()


def audit(server, action: str) -> list[dict]:
    cp = subprocess.run([str(BINARY), "admin", *server.store.args(), "--json", "audit", "--limit", "500"],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    return [e for e in json.loads(cp.stdout) if e["action"] == action]


# --------------------------------------------------------------------------- agent

@pytest.mark.parametrize("kind,args", [
    ("ed25519", ["-t", "ed25519"]),
    ("ecdsa", ["-t", "ecdsa", "-b", "384"]),
    ("rsa", ["-t", "rsa", "-b", "3072"]),
])
def test_ssh_and_scp_log_in_through_the_agent_until_the_key_is_deleted(gatehouse, host, tmp_path, kind, args):
    server = gatehouse.start(env=ALLOW_LOOPBACK)
    admin = User(server, "admin", server.bootstrap_password)
    pp = record_secret("pp-" + secrets.token_urlsafe(12))
    path = make_key(tmp_path, f"id_{kind}", *args, passphrase=pp)
    stored = admin.upload(f"cluster-{kind}", path, pp)
    host.authorize(pub(path))

    cli = Cli(server, tmp_path / "home")
    cli.login_admin()
    agent = Agent(cli, tmp_path / "agent")
    try:
        listed = subprocess.run(["ssh-add", "-L"], env={**os.environ, "SSH_AUTH_SOCK": str(agent.sock)},
                                capture_output=True, text=True, timeout=30)
        assert listed.returncode == 0, listed.stderr
        assert pub(path).split()[1] in listed.stdout, listed.stdout
        assert "PRIVATE" not in listed.stdout

        cp = host.ssh(agent.sock, "true")
        assert cp.returncode == 0, f"{cp.stderr}\nsee {host.log}\n{agent.err.read_text()}"
        payload = tmp_path / "payload.txt"
        payload.write_text(f"copied with a {kind} key held by Gatehouse\n")
        remote = f"/tmp/gatehouse-scp-{secrets.token_hex(4)}.txt"
        cp = host.scp(agent.sock, payload, remote)
        assert cp.returncode == 0, cp.stderr
        assert Path(remote).read_text() == payload.read_text()
        Path(remote).unlink()

        uses = [e for e in audit(server, "ssh_private_key.used") if stored["id"] in (e.get("detail") or "")]
        assert uses, "signing was not audited"
        detail = uses[0]["detail"]
        assert "result=signed" in detail and f'destination_user="{USER}"' in detail, detail
        # OpenSSH binds the agent to the session: the audit names the host's key.
        assert f"destination_host_key={host.fingerprint}" in detail, detail
        assert "credential=" in detail and uses[0]["ip"], uses[0]
        if kind == "rsa":
            assert "algorithm=rsa-sha2-" in detail, detail
        key = admin.s.get(server.url(f"/api/ssh-private-keys/{stored['id']}"), timeout=30).json()
        assert key["last_used_at"], key

        r = admin.s.delete(server.url(f"/api/ssh-private-keys/{stored['id']}"), timeout=30)
        assert r.status_code == 204, r.text
        cp = host.ssh(agent.sock, "true")
        assert cp.returncode != 0, "a deleted key still logged in"
    finally:
        agent.stop()
        host.authorize()


# --------------------------------------------------------------------------- test endpoint

def test_the_connection_test_pins_the_host_key_and_reports_each_outcome(gatehouse, host, tmp_path):
    server = gatehouse.start(env=ALLOW_LOOPBACK)
    admin = User(server, "admin", server.bootstrap_password)
    path = make_key(tmp_path, "id_test", "-t", "ed25519")
    key = admin.upload("tester", path)
    other = make_key(tmp_path, "id_other", "-t", "ed25519")
    host.authorize(pub(other))

    r = admin.test(key["id"], host.port)
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["error"] == "host_key_unknown" and body["fingerprint"] == host.fingerprint, body
    assert body["key_type"] == "ssh-ed25519"

    r = admin.test(key["id"], host.port, trust_host_key="SHA256:" + "A" * 43)
    assert r.status_code == 409 and r.json()["error"] == "host_key_unknown", "a wrong confirmation pins nothing"

    r = admin.test(key["id"], host.port, trust_host_key=host.fingerprint)
    assert r.status_code == 200, r.text
    assert r.json()["result"] == "authentication_refused" and r.json()["pinned"] is True, r.json()

    host.authorize(pub(path))
    r = admin.test(key["id"], host.port)
    assert r.status_code == 200 and r.json()["result"] == "success", r.text
    assert r.json()["host_key_fingerprint"] == host.fingerprint

    closed = free_port()
    r = admin.test(key["id"], closed)
    assert r.status_code == 200 and r.json()["result"] == "unreachable", r.text

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(silent.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        started = time.monotonic()
        r = admin.test(key["id"], silent.getsockname()[1])
        assert r.status_code == 200 and r.json()["result"] == "timeout", r.text
        assert time.monotonic() - started < 15
    finally:
        stop.set()
        t.join()
        for c in held:
            c.close()
        silent.close()

    # The CLI: a pinned host succeeds; exit code 0.
    cli = Cli(server, tmp_path / "home")
    cli.login_admin()
    out = cli.ok("ssh-private-keys", "test", "tester", "--host", "127.0.0.1", "--port", str(host.port),
                 "--user", USER)
    assert "accepted the key" in out, out

    # sshd comes back with another host key: refused, and nothing signs for it.
    host.stop()
    host.new_host_key()
    host.start()
    r = admin.test(key["id"], host.port)
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["error"] == "host_key_mismatch" and body["presented"] == host.fingerprint, body
    assert body["expected"] != host.fingerprint and "WARNING" in body["message"], body
    r = admin.test(key["id"], host.port, trust_host_key=host.fingerprint)
    assert r.status_code == 409 and r.json()["error"] == "host_key_mismatch", "a pin is never replaced by a test"
    cp = cli.run("ssh-private-keys", "test", "tester", "--host", "127.0.0.1", "--port", str(host.port),
                 "--user", USER)
    assert cp.returncode != 0 and "changed" in cp.stderr, cp.stderr

    # Removing the pin after a legitimate change: the next test asks again.
    r = admin.s.delete(server.url(f"/api/ssh-private-keys/known-hosts?host=127.0.0.1&port={host.port}"), timeout=30)
    assert r.status_code == 204, r.text
    cp = cli.run("ssh-private-keys", "test", "tester", "--host", "127.0.0.1", "--port", str(host.port),
                 "--user", USER)
    assert cp.returncode != 0 and f"--trust {host.fingerprint}" in cp.stderr, cp.stderr
    out = cli.ok("ssh-private-keys", "test", "tester", "--host", "127.0.0.1", "--port", str(host.port),
                 "--user", USER, "--trust", host.fingerprint)
    assert "pinned host key" in out and "accepted the key" in out, out

    tests = [e["detail"] for e in audit(server, "ssh_private_key.used") if "purpose=test" in (e.get("detail") or "")]
    for result in ("host_key_unknown", "authentication_refused", "success", "unreachable", "timeout",
                   "host_key_mismatch"):
        assert any(f"result={result}" in d for d in tests), (result, tests)
    assert any(f"destination=127.0.0.1:{host.port}" in d for d in tests)
    host.authorize()


def test_the_default_configuration_refuses_to_dial_loopback(gatehouse, host, tmp_path):
    server = gatehouse.start()
    admin = User(server, "admin", server.bootstrap_password)
    key = admin.upload("k", make_key(tmp_path, "id_lo", "-t", "ed25519"))
    for target in ("127.0.0.1", "localhost", "::1", "169.254.169.254"):
        r = admin.s.post(server.url(f"/api/ssh-private-keys/{key['id']}/test"),
                         json={"host": target, "port": host.port, "username": USER}, timeout=60)
        assert r.status_code == 422 and r.json()["field"] == "host", (target, r.text)


# --------------------------------------------------------------------------- /sign

def auth_request(session_id: bytes, user: str, alg: str, blob: bytes) -> bytes:
    def s(b: bytes) -> bytes:
        return struct.pack(">I", len(b)) + b
    return (s(session_id) + bytes([50]) + s(user.encode()) + s(b"ssh-connection") + s(b"publickey")
            + b"\x01" + s(alg.encode()) + s(blob))


def test_sign_signs_only_authentication_requests_for_permitted_callers(gatehouse, tmp_path):
    server = gatehouse.start()
    admin = User(server, "admin", server.bootstrap_password)
    alice_name, alice_pw = new_account(server, "spk-alice")
    alice = User(server, alice_name, alice_pw)
    path = make_key(tmp_path, "id_sign", "-t", "ed25519")
    key = alice.upload("signer", path)
    blob = base64.b64decode(pub(path).split()[1])
    data = base64.b64encode(auth_request(os.urandom(32), "deploy", "ssh-ed25519", blob)).decode()
    url = server.url(f"/api/ssh-private-keys/{key['id']}/sign")

    r = alice.s.post(url, json={"data": data}, timeout=30)
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"signature", "algorithm", "key"} and r.json()["algorithm"] == "ssh-ed25519"
    sig = base64.b64decode(r.json()["signature"])
    assert sig[4:15] == b"ssh-ed25519"

    r = alice.s.post(url, json={"data": base64.b64encode(b"sign this git commit").decode()}, timeout=30)
    assert r.status_code == 422 and r.json()["field"] == "data", r.text

    # Another account's key is not there at all, and admin status does not change that.
    r = admin.s.post(url, json={"data": data}, timeout=30)
    assert r.status_code == 404, r.text

    # API keys: without the permission 403; with it, the owner's key signs.
    no_use = alice.api_key("reader", ["ssh_private_keys:read"])
    r = session().post(url, json={"data": data}, auth=(no_use, ""), timeout=30)
    assert r.status_code == 403, r.text
    use = alice.api_key("signer", ["ssh_private_keys:use"])
    r = session().post(url, json={"data": data}, auth=(use, ""), timeout=30)
    assert r.status_code == 200, r.text
    r = session().post(url, json={"data": data, "account": "admin"}, auth=(use, ""), timeout=30)
    assert r.status_code == 403, "naming another account needs use_all"

    # The platform's machine credential (administrators only) names the account.
    r = alice.s.post(server.url("/api/api-keys"), json={"name": "x", "permissions": ["ssh_private_keys:use_all"]},
                     timeout=30)
    assert r.status_code in (403, 422), r.text
    machine = admin.api_key("platform", ["ssh_private_keys:use_all"])
    r = session().post(url, json={"data": data, "account": alice_name}, auth=(machine, ""), timeout=30)
    assert r.status_code == 200, r.text
    r = session().post(url, json={"data": data}, auth=(machine, ""), timeout=30)
    assert r.status_code == 404, "without the account named, the key is looked for among the admin's own"

    # An account of another organisation is not found, whatever the credential may do.
    sh(str(BINARY), "admin", *server.store.args(), "org", "create", "elsewhere")
    sh(str(BINARY), "admin", *server.store.args(), "org", "move", alice_name, "--to", "elsewhere")
    r = session().post(url, json={"data": data, "account": alice_name}, auth=(machine, ""), timeout=30)
    assert r.status_code == 404, r.text
    sh(str(BINARY), "admin", *server.store.args(), "org", "move", alice_name, "--to", "default")
    r = session().post(url, json={"data": data, "account": alice_name}, auth=(machine, ""), timeout=30)
    assert r.status_code == 200, r.text

    # A disabled account's keys sign nothing, at once.
    sh(str(BINARY), "admin", *server.store.args(), "disable-user", alice_name)
    r = session().post(url, json={"data": data, "account": alice_name}, auth=(machine, ""), timeout=30)
    assert r.status_code == 403 and "disabled" in r.json()["message"], r.text
    r = session().post(url, json={"data": data}, auth=(use, ""), timeout=30)
    assert r.status_code in (401, 403), r.text

    assert any("result=refused" in (e.get("detail") or "") for e in audit(server, "ssh_private_key.used"))


# --------------------------------------------------------------------------- master key rotation

def test_rotating_the_master_key_while_serving_keeps_every_key_usable(gatehouse, tmp_path):
    store = gatehouse.store()
    server = gatehouse.start(store)
    admin = User(server, "admin", server.bootstrap_password)
    path = make_key(tmp_path, "id_rot", "-t", "ecdsa", "-b", "256")
    key = admin.upload("rot", path)
    blob = base64.b64decode(pub(path).split()[1])
    data = base64.b64encode(auth_request(os.urandom(32), "u", "ecdsa-sha2-nistp256", blob)).decode()
    url = server.url(f"/api/ssh-private-keys/{key['id']}/sign")
    assert admin.s.post(url, json={"data": data}, timeout=30).status_code == 200

    key_file = store.data_dir / "master.key"
    assert key_file.exists(), list(store.data_dir.iterdir())
    old_id = [l.split()[0] for l in key_file.read_text().splitlines() if l and not l.startswith("#")][0]
    cp = subprocess.run([str(BINARY), "admin", *store.args(), "--json", "rotate-master-key"],
                        capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, cp.stderr
    report = json.loads(cp.stdout)
    assert report["active"] != old_id and report["rewrapped"]["SSH private keys"] == 1, report
    assert report["rewrapped"]["token signing keys"] >= 1, report
    assert report["values_by_master_key"].get(old_id, 0) == 0, report
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"

    # The running server meets the new key id and re-reads the file.
    r = admin.s.post(url, json={"data": data}, timeout=30)
    assert r.status_code == 200, r.text

    cp = subprocess.run([str(BINARY), "admin", *store.args(), "rotate-master-key", "--retire", report["active"]],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode != 0 and "active" in cp.stderr, "the active key cannot be retired"
    cp = subprocess.run([str(BINARY), "admin", *store.args(), "rotate-master-key", "--retire", old_id],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    assert old_id not in key_file.read_text()

    password = server.bootstrap_password
    server.stop()
    server = gatehouse.start(store)
    admin = User(server, "admin", password)
    r = admin.s.post(server.url(f"/api/ssh-private-keys/{key['id']}/sign"), json={"data": data}, timeout=30)
    assert r.status_code == 200, r.text
