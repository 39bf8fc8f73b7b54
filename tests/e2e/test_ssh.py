"""Cluster login through a real OpenSSH sshd whose AuthorizedKeysCommand is
`gatehouse ssh authorized-keys %u --fingerprint %f`, and SSH public keys checked
against `ssh-keygen`.

sshd runs on 127.0.0.1 with a high port, `AuthorizedKeysFile none`, and a root-owned
wrapper under /run (sshd refuses commands below group/world-writable folders) that
execs the built binary as `nobody`. Test users are real local accounts (`gh-…`). The
whole module needs root: it creates accounts and runs sshd, and fails (never skips)
otherwise.
"""

from __future__ import annotations

import base64
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

SSHD = "/usr/sbin/sshd"
NOBODY = "nobody"
NOGROUP = "nogroup"


# --------------------------------------------------------------------------- helpers

def sh(*args: str, check: bool = True, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    cp = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **kw)
    if check and cp.returncode != 0:
        raise AssertionError(f"{args!r} exited {cp.returncode}: {cp.stdout}{cp.stderr}")
    return cp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_unix_user(name: str) -> None:
    if sh("id", name, check=False).returncode != 0:
        sh("useradd", "--create-home", "--shell", "/bin/sh", name)
    # useradd leaves the account locked ("!"), which sshd refuses with UsePAM no.
    sh("usermod", "-p", "*", name)


def keygen(dir: Path, name: str, *args: str) -> Path:
    path = dir / name
    sh("ssh-keygen", "-q", "-N", "", "-C", f"{name}@e2e", "-f", str(path), *args)
    return path


def keygen_lf(pub: Path) -> tuple[int, str, str]:
    """(bits, fingerprint, type label) as `ssh-keygen -lf` prints them."""
    out = sh("ssh-keygen", "-lf", str(pub)).stdout.split()
    return int(out[0]), out[1], out[-1].strip("()")


class Api:
    """A signed-in user of the Gatehouse API (cookie + CSRF)."""

    def __init__(self, server, username: str, password: str):
        res = login_ok(server, username, password)
        self.server = server
        self.s = session()
        self.s.headers.update({"Cookie": f"cloud.sso={res.cookie}", "X-CSRF-Token": res.csrf_token})

    def add_key(self, name: str, key: str):
        return self.s.post(self.server.url("/api/ssh-keys"), json={"name": name, "key": key}, timeout=30)

    def keys(self) -> list[dict]:
        r = self.s.get(self.server.url("/api/ssh-keys"), timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def delete_key(self, key_id: str):
        return self.s.delete(self.server.url(f"/api/ssh-keys/{key_id}"), timeout=30)

    def machine_key(self) -> str:
        r = self.s.post(self.server.url("/api/api-keys"),
                        json={"name": "cluster", "permissions": ["ssh_keys:read_all"]}, timeout=30)
        assert r.status_code == 201, r.text
        return record_secret(r.json()["key"])


def new_user(server, name: str) -> Api:
    password = record_secret("pw-" + secrets.token_urlsafe(18))
    cp = subprocess.run([str(BINARY), "admin", *server.store.args(), "create-user", name, "--email",
                         f"{name}@example.org", "--password-stdin"],
                        input=password, capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    return Api(server, name, password)


# --------------------------------------------------------------------------- sshd

class Cluster:
    """A real sshd whose AuthorizedKeysCommand asks Gatehouse."""

    def __init__(self, root: Path, work: Path):
        self.root = root          # root-owned, under /run: the wrapper and its config
        self.work = work          # host key, logs, client files
        self.port = free_port()
        self.config = root / "ssh.toml"
        self.cache = root / "cache"
        self.wrapper = root / "akc"
        self.log = LOG_DIR / "sshd.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.root.mkdir(mode=0o755)
        self.cache.mkdir(mode=0o700)
        shutil.chown(self.cache, NOBODY, NOGROUP)
        self.wrapper.write_text(
            "#!/bin/sh\n"
            f'exec {BINARY} ssh authorized-keys "$1" --fingerprint "$2" --ssh-config {self.config}\n')
        self.wrapper.chmod(0o755)
        hostkey = self.work / "hostkey"
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(hostkey))
        cfg = self.work / "sshd_config"
        cfg.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {hostkey}",
            f"PidFile {self.work / 'sshd.pid'}", "AuthorizedKeysFile none",
            f"AuthorizedKeysCommand {self.wrapper} %u %f", f"AuthorizedKeysCommandUser {NOBODY}",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
            "StrictModes no", "LogLevel VERBOSE", "MaxStartups 50", "",
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
        shutil.rmtree(self.root, ignore_errors=True)

    def configure(self, server, api_key: str, *, cache: bool, ttl: int = 3600, timeout: int = 5,
                  url: str | None = None) -> None:
        lines = [f'server = "{url or server.base}"', f'server_fingerprint = "{server.fingerprint}"',
                 f'api_key = "{api_key}"', f"cache_ttl_seconds = {ttl}", f"timeout_seconds = {timeout}"]
        if cache:
            lines.append(f'cache_dir = "{self.cache}"')
        self.config.write_text("\n".join(lines) + "\n")
        shutil.chown(self.config, "root", NOGROUP)
        self.config.chmod(0o640)

    def clear_cache(self) -> None:
        for f in self.cache.iterdir():
            f.unlink()

    def login(self, user: str, key: Path) -> tuple[bool, float]:
        known = self.work / "known_hosts"
        start = time.monotonic()
        cp = subprocess.run(
            ["ssh", "-i", str(key), "-p", str(self.port), "-o", "BatchMode=yes",
             "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
             "-o", f"UserKnownHostsFile={known}", "-o", "ConnectTimeout=20",
             f"{user}@127.0.0.1", "true"],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        return cp.returncode == 0, time.monotonic() - start

    def akc(self, username: str, fingerprint: str = "") -> tuple[subprocess.CompletedProcess, float]:
        """Runs the command exactly as sshd does (as nobody, through the wrapper)."""
        start = time.monotonic()
        cp = subprocess.run(["runuser", "-u", NOBODY, "--", str(self.wrapper), username, fingerprint],
                            capture_output=True, text=True, timeout=60)
        return cp, time.monotonic() - start


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("the sshd end-to-end tests must run as root (they create accounts and run sshd)")
    for name in ("gh-alice", "gh-bob"):
        ensure_unix_user(name)
    c = Cluster(Path(f"/run/gatehouse-e2e-{secrets.token_hex(4)}"), tmp_path_factory.mktemp("sshd"))
    c.start()
    yield c
    c.stop()


@pytest.fixture
def people(server, cluster, tmp_path):
    """Gatehouse accounts gh-alice and gh-bob with fresh key pairs, and the cluster
    configured with a machine key (cache on, 1 h TTL)."""
    admin = Api(server, "admin", server.bootstrap_password)
    alice, bob = new_user(server, "gh-alice"), new_user(server, "gh-bob")
    machine = admin.machine_key()
    cluster.configure(server, machine, cache=True)
    cluster.clear_cache()
    keys = {"alice": keygen(tmp_path, "alice", "-t", "ed25519"),
            "bob": keygen(tmp_path, "bob", "-t", "ecdsa", "-b", "256")}
    return {"admin": admin, "alice": alice, "bob": bob, "machine": machine, "keys": keys}


def pub(path: Path) -> str:
    return Path(str(path) + ".pub").read_text()


# --------------------------------------------------------------------------- tests

def test_a_key_added_through_the_api_logs_in_and_only_as_its_owner(server, cluster, people):
    alice, bob, keys = people["alice"], people["bob"], people["keys"]
    ok, _ = cluster.login("gh-alice", keys["alice"])
    assert not ok, "no key on the account yet"
    r = alice.add_key("laptop", pub(keys["alice"]))
    assert r.status_code == 201, r.text
    assert bob.add_key("work", pub(keys["bob"])).status_code == 201

    assert cluster.login("gh-alice", keys["alice"])[0], f"see {cluster.log}"
    assert cluster.login("gh-bob", keys["bob"])[0]
    assert not cluster.login("gh-alice", keys["bob"])[0], "bob's key must not open alice's account"
    assert not cluster.login("gh-bob", keys["alice"])[0]


def test_the_command_prints_one_line_per_key_and_filters_by_fingerprint(server, cluster, people):
    alice, keys = people["alice"], people["keys"]
    second = keygen(keys["alice"].parent, "alice2", "-t", "rsa", "-b", "3072")
    a = alice.add_key("one", pub(keys["alice"])).json()
    b = alice.add_key("two", pub(second)).json()
    cp, _ = cluster.akc("gh-alice")
    assert cp.returncode == 0, cp.stderr
    lines = cp.stdout.splitlines()
    assert len(lines) == 2 and cp.stdout.endswith("\n"), cp.stdout
    # Keys added in the same second come in a stable but unspecified order.
    assert sorted(line.split()[:2] for line in lines) == sorted(
        pub(key).split()[:2] for key in (keys["alice"], second)
    )
    second_line = next(line for line in lines if line.split()[1] == pub(second).split()[1])
    cp, _ = cluster.akc("gh-alice", b["fingerprint"])
    assert cp.stdout.splitlines() == [second_line]
    cp, _ = cluster.akc("gh-alice", "SHA256:" + "A" * 43)
    assert cp.stdout == ""
    assert a["fingerprint"] != b["fingerprint"]


def test_a_deleted_key_stops_working_at_once_while_gatehouse_answers(server, cluster, people):
    alice, keys = people["alice"], people["keys"]
    created = alice.add_key("laptop", pub(keys["alice"])).json()
    assert cluster.login("gh-alice", keys["alice"])[0]
    assert alice.delete_key(created["id"]).status_code == 204
    # The cache only stands in while Gatehouse is unreachable; a live answer wins.
    assert not cluster.login("gh-alice", keys["alice"])[0]


def test_without_a_cache_deletion_is_immediate_too(server, cluster, people):
    alice, keys = people["alice"], people["keys"]
    cluster.configure(server, people["machine"], cache=False)
    created = alice.add_key("laptop", pub(keys["alice"])).json()
    assert cluster.login("gh-alice", keys["alice"])[0]
    assert alice.delete_key(created["id"]).status_code == 204
    assert not cluster.login("gh-alice", keys["alice"])[0]
    assert list(cluster.cache.iterdir()) == [], "no cache written when caching is off"


def test_during_an_outage_the_cache_serves_until_its_ttl(server, cluster, people):
    alice, keys = people["alice"], people["keys"]
    cluster.configure(server, people["machine"], cache=True, ttl=6)
    alice.add_key("laptop", pub(keys["alice"]))
    assert cluster.login("gh-alice", keys["alice"])[0]
    cached = cluster.cache / "gh-alice.keys"
    assert cached.exists()
    assert oct(cached.stat().st_mode & 0o777) == "0o600"
    assert cached.stat().st_uid == int(sh("id", "-u", NOBODY).stdout)
    assert server.stop() == 0
    assert cluster.login("gh-alice", keys["alice"])[0], "served from the cache during the outage"
    time.sleep(7)
    ok, took = cluster.login("gh-alice", keys["alice"])
    assert not ok, "an answer older than the TTL is not served"
    assert took < 15, took


def test_with_gatehouse_down_and_no_cache_login_is_refused_quickly(server, cluster, people):
    alice, keys = people["alice"], people["keys"]
    cluster.configure(server, people["machine"], cache=False)
    alice.add_key("laptop", pub(keys["alice"]))
    assert cluster.login("gh-alice", keys["alice"])[0]
    assert server.stop() == 0
    ok, took = cluster.login("gh-alice", keys["alice"])
    assert not ok
    assert took < 10, took
    cp, took = cluster.akc("gh-alice")
    assert cp.stdout == "" and cp.returncode != 0, cp
    assert took < 5, took


def test_a_gatehouse_that_never_answers_is_given_up_on_within_the_timeout(server, cluster, people):
    # A listener that accepts and then says nothing: the command must not hang sshd.
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    held = []
    stop = threading.Event()

    def accept():
        hole.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(hole.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        url = f"https://127.0.0.1:{hole.getsockname()[1]}"
        cluster.configure(server, people["machine"], cache=False, timeout=2, url=url)
        cp, took = cluster.akc("gh-alice")
        assert cp.stdout == "" and cp.returncode != 0, cp
        assert took < 6, took
    finally:
        stop.set()
        t.join()
        for c in held:
            c.close()
        hole.close()


@pytest.mark.parametrize("name", ["alice;id", "../x", "a" * 300, "GH-ALICE", "gh-alice$(id)",
                                  "x;touch /tmp/gatehouse-pwned", "", " gh-alice"])
def test_hostile_usernames_get_empty_output_and_no_shell(server, cluster, people, name):
    people["alice"].add_key("laptop", pub(people["keys"]["alice"]))
    marker = Path("/tmp/gatehouse-pwned")
    marker.unlink(missing_ok=True)
    cp, _ = cluster.akc(name)
    assert cp.stdout == "", cp.stdout
    assert cp.returncode == 0, cp.stderr
    assert not marker.exists()
    assert list(cluster.cache.iterdir()) == []


def test_the_machine_credential_needs_ssh_keys_read_all(server, cluster, people):
    alice = people["alice"]
    alice.add_key("laptop", pub(people["keys"]["alice"]))
    r = alice.s.post(server.url("/api/api-keys"), json={"name": "weak", "permissions": ["account:read"]},
                     timeout=30)
    weak = record_secret(r.json()["key"])
    cluster.configure(server, weak, cache=True)
    cp, _ = cluster.akc("gh-alice")
    assert cp.stdout == "" and cp.returncode != 0
    s = session()
    r = s.get(server.url("/api/ssh/authorized-keys/gh-alice"), auth=(weak, ""), timeout=30)
    assert r.status_code == 403, r.text
    # A member cannot mint the admin-only permission at all.
    r = alice.s.post(server.url("/api/api-keys"),
                     json={"name": "grab", "permissions": ["ssh_keys:read_all"]}, timeout=30)
    assert r.status_code in (403, 422), r.text


def test_a_team_computer_key_reads_only_its_own_organisations_members(server, cluster, people, tmp_path):
    """Each organisation's clusters use its Team Computer Key: gh-alice (acme) logs in on
    acme's cluster and not on globex's, and gh-bob the other way round."""
    alice, bob, keys = people["alice"], people["bob"], people["keys"]
    assert alice.add_key("laptop", pub(keys["alice"])).status_code == 201
    assert bob.add_key("work", pub(keys["bob"])).status_code == 201
    tcks = {}
    for org, member in (("acme", "gh-alice"), ("globex", "gh-bob")):
        server.admin("org", "create", org)
        server.admin("org", "move", member, "--to", org)
        password = record_secret("pw-" + secrets.token_urlsafe(18))
        pw = tmp_path / f"{org}.pw"
        pw.write_text(password)
        server.admin("create-user", f"{org}-owner", "--email", f"owner@{org}.example", "--org", org,
                     "--role", "owner", "--password-file", str(pw))
        owner = Api(server, f"{org}-owner", password)
        r = owner.s.post(server.url("/api/admin/team-computer-key"), timeout=30)
        assert r.status_code == 201, r.text
        tcks[org] = record_secret(r.json()["key"])

    cluster.configure(server, tcks["acme"], cache=False)
    assert cluster.login("gh-alice", keys["alice"])[0], f"see {cluster.log}"
    assert not cluster.login("gh-bob", keys["bob"])[0], "globex's member on acme's cluster"
    cp, _ = cluster.akc("gh-bob")
    assert cp.stdout == "", cp.stdout

    cluster.configure(server, tcks["globex"], cache=False)
    assert cluster.login("gh-bob", keys["bob"])[0], f"see {cluster.log}"
    assert not cluster.login("gh-alice", keys["alice"])[0], "acme's member on globex's cluster"


# ------------------------------------------------------------- keys against ssh-keygen

def _sk_line(kind: str) -> str:
    def string(b: bytes) -> bytes:
        return struct.pack(">I", len(b)) + b
    if kind == "sk-ssh-ed25519@openssh.com":
        blob = string(kind.encode()) + string(os.urandom(32)) + string(b"ssh:")
    else:
        # A real point: ssh-keygen checks that it lies on the curve.
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        blob = string(kind.encode()) + string(b"nistp256") + string(point) + string(b"ssh:")
    return f"{kind} {base64.b64encode(blob).decode()} token@e2e\n"


def test_fingerprints_types_and_sizes_match_ssh_keygen(server, people, tmp_path):
    alice = people["alice"]
    pubs = [Path(str(keygen(tmp_path, name, *args)) + ".pub") for name, args in [
        ("ed", ("-t", "ed25519")), ("p256", ("-t", "ecdsa", "-b", "256")),
        ("p384", ("-t", "ecdsa", "-b", "384")), ("p521", ("-t", "ecdsa", "-b", "521")),
        ("rsa2048", ("-t", "rsa", "-b", "2048")), ("rsa4096", ("-t", "rsa", "-b", "4096")),
    ]]
    for kind in ("sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com"):
        p = tmp_path / f"{kind.split('@')[0]}.pub"
        p.write_text(_sk_line(kind))
        pubs.append(p)
    for i, p in enumerate(pubs):
        bits, fp, _ = keygen_lf(p)
        r = alice.add_key(f"k{i}", p.read_text())
        assert r.status_code == 201, (p.name, r.text)
        body = r.json()
        assert body["fingerprint"] == fp, p.name
        assert body["key_type"] == p.read_text().split()[0], p.name
        assert body["bits"] == bits, p.name
        assert body["public_key"].split()[:2] == p.read_text().split()[:2]
    listed = {k["fingerprint"] for k in alice.keys()}
    assert listed == {keygen_lf(p)[1] for p in pubs}


def test_every_rejection_has_its_own_message(server, people, tmp_path):
    alice = people["alice"]
    ok_line = pub(people["keys"]["alice"])
    kind, blob, *_ = ok_line.split()
    raw = base64.b64decode(blob)
    small_rsa = Path(str(keygen(tmp_path, "rsa1024", "-t", "rsa", "-b", "1024")) + ".pub").read_text()
    private = Path(str(people["keys"]["alice"])).read_text()

    def dsa_line() -> str:
        def string(b: bytes) -> bytes:
            return struct.pack(">I", len(b)) + b
        blob = string(b"ssh-dss") + b"".join(string(os.urandom(n)) for n in (129, 21, 128, 128))
        return f"ssh-dss {base64.b64encode(blob).decode()} old@box"

    cases = {
        "dsa": dsa_line(),
        "small rsa": small_rsa,
        "bad base64": f"{kind} !!!notbase64*** x",
        "length mismatch": f"{kind} {base64.b64encode(raw[:-5]).decode()}",
        "trailing bytes": f"{kind} {base64.b64encode(raw + b'xx').decode()}",
        "oversized": f"{kind} {blob} " + "c" * 17000,
        "options": f'command="/bin/sh" {ok_line}',
        "from option": f'from="10.0.0.0/8" {ok_line}',
        "newline inside": f"{kind} {blob} a\n{kind} {blob} b",
        "control character": f"{kind} {blob} a\x07b",
        "private key": private,
        "empty": "",
    }
    messages = {}
    for label, text in cases.items():
        r = alice.add_key(label.replace(" ", "-"), text)
        assert r.status_code == 422, (label, r.status_code, r.text)
        body = r.json()
        assert body["error"] == "validation_failed", (label, body)
        messages[label] = body["message"]
    assert "private key" in messages["private key"] and ".pub" in messages["private key"]
    assert "1024" in messages["small rsa"]
    # One message per rule (two examples of some rules share theirs).
    rules = [["dsa"], ["small rsa"], ["bad base64"], ["length mismatch", "trailing bytes"],
             ["oversized"], ["options", "from option"], ["newline inside", "control character"],
             ["private key"], ["empty"]]
    per_rule = [{messages[label].split(":")[0] for label in rule} for rule in rules]
    firsts = [messages[rule[0]] for rule in rules]
    assert len(set(firsts)) == len(rules), messages
    assert all(len(m) == 1 for m in per_rule[:3]), per_rule
    assert alice.keys() == [], "nothing half-written"


def test_duplicates_names_and_other_users(server, people):
    alice, bob = people["alice"], people["bob"]
    line = pub(people["keys"]["alice"])
    created = alice.add_key("laptop", line)
    assert created.status_code == 201
    key_id = created.json()["id"]
    r = alice.add_key("again", line)
    assert r.status_code == 409, r.text
    r = alice.add_key("laptop", pub(people["keys"]["bob"]))
    assert r.status_code == 409, r.text
    assert bob.s.get(server.url(f"/api/ssh-keys/{key_id}"), timeout=30).status_code == 404
    assert bob.delete_key(key_id).status_code == 404
    shown = alice.s.get(server.url(f"/api/ssh-keys/{key_id}"), timeout=30).json()
    assert shown["public_key"].split()[:2] == line.split()[:2]
    # The comment is normalised onto one line.
    r = alice.add_key("spaced", pub(people["keys"]["bob"]).strip() + "   extra    words ")
    assert r.status_code == 201, r.text
    assert r.json()["comment"] == "bob@e2e extra words"


def test_the_cli_adds_lists_and_deletes_keys(server, people, tmp_path):
    key = people["keys"]["alice"]
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "HOME": str(tmp_path)}
    password = record_secret("pw-" + secrets.token_urlsafe(18))
    sh(str(BINARY), "admin", *server.store.args(), "set-password", "gh-alice", "--password-stdin",
       input=password)
    sh(str(BINARY), "login", "--server", server.base, "--fingerprint", server.fingerprint,
       "--username", "gh-alice", input=password, env=env)
    out = sh(str(BINARY), "ssh-keys", "add", "--name", "laptop", "--file", f"{key}.pub", env=env).stdout
    _, fp, _ = keygen_lf(Path(f"{key}.pub"))
    assert fp in out, out
    listed = sh(str(BINARY), "ssh-keys", "list", env=env).stdout
    assert "laptop" in listed and fp in listed
    key_id = next(l.split()[0] for l in listed.splitlines() if "laptop" in l)
    assert sh(str(BINARY), "ssh-keys", "show", key_id, env=env).stdout.split()[:2] == \
        Path(f"{key}.pub").read_text().split()[:2]
    sh(str(BINARY), "ssh-keys", "delete", key_id, env=env)
    assert "laptop" not in sh(str(BINARY), "ssh-keys", "list", env=env).stdout
    bad = sh(str(BINARY), "ssh-keys", "add", "--name", "oops", "--file", str(key), env=env, check=False)
    assert bad.returncode == 1 and "private key" in bad.stderr, bad.stderr
