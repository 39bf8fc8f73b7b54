"""SSH private keys made by ssh-keygen, uploaded through the API and through
`gatehouse ssh-private-keys` (a passphrase piped with --passphrase-stdin, and one typed
at a prompt on a terminal), then stopped servers' databases (SQLite files with their
-wal) and logs searched for every key's private base64 and every passphrase: none may
appear (on PostgreSQL, a pg_dump of every row). The same secrets are recorded for
check_logs.py.
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

from harness import BINARY, LOG_DIR, login_ok, record_secret, session
from test_cli import Cli, in_pty


def keygen(dir: Path, name: str, *args: str, passphrase: str = "") -> Path:
    path = dir / name
    cp = subprocess.run(["ssh-keygen", "-q", "-N", passphrase, "-C", f"{name}@e2e", "-f", str(path), *args],
                        capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, cp.stderr
    return path


def fingerprint(path: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-lf", f"{path}.pub"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    return out.split()[1]


def private_lines(path: Path) -> list[str]:
    """The key file's base64 lines that are not part of its public half (an OpenSSH key
    file repeats the public key in its header): the private material."""
    public = Path(f"{path}.pub").read_text().split()[1]
    lines = [l.strip() for l in path.read_text().splitlines()]
    return [l for l in lines if l and not l.startswith("-----") and ":" not in l
            and len(l) >= 16 and l not in public]


def new_passphrase() -> str:
    return record_secret("pp-" + secrets.token_urlsafe(18))


def api_session(server):
    res = login_ok(server, "admin", server.bootstrap_password)
    s = session()
    s.headers.update({"Cookie": f"cloud.sso={res.cookie}", "X-CSRF-Token": res.csrf_token})
    return s


def test_keys_uploaded_through_the_api_and_the_cli_leave_no_trace_in_the_store_or_logs(gatehouse, tmp_path):
    store = gatehouse.store()
    server = gatehouse.start(store)
    s = api_session(server)
    keys = tmp_path / "keys"
    keys.mkdir()
    made: list[tuple[Path, str]] = []

    def make(name: str, *args: str, protected: bool = False) -> tuple[Path, str]:
        pp = new_passphrase() if protected else ""
        path = keygen(keys, name, *args, passphrase=pp)
        for line in private_lines(path):
            record_secret(line)
        made.append((path, pp))
        return path, pp

    # Through the API, in every format.
    cases = [
        ("ed25519", ["-t", "ed25519"], False),
        ("ed25519_pp", ["-t", "ed25519"], True),
        ("ecdsa256", ["-t", "ecdsa", "-b", "256"], False),
        ("ecdsa384", ["-t", "ecdsa", "-b", "384"], True),
        ("ecdsa521", ["-t", "ecdsa", "-b", "521"], False),
        ("rsa2048_pem", ["-t", "rsa", "-b", "2048", "-m", "PEM"], True),
        ("rsa3072_pkcs8", ["-t", "rsa", "-b", "3072", "-m", "PKCS8"], True),
        ("ecdsa256_pkcs8", ["-t", "ecdsa", "-b", "256", "-m", "PKCS8"], False),
    ]
    url = server.url("/api/ssh-private-keys")
    for name, args, protected in cases:
        path, pp = make(name, *args, protected=protected)
        body = {"name": name, "private_key": path.read_text()}
        if protected:
            r = s.post(url, json=body, timeout=60)
            assert r.status_code == 422 and r.json()["field"] == "passphrase", r.text
            r = s.post(url, json={**body, "passphrase": "wrong " + pp}, timeout=60)
            assert r.status_code == 422 and r.json()["field"] == "passphrase", r.text
            body["passphrase"] = pp
        r = s.post(url, json=body, timeout=60)
        assert r.status_code == 201, (name, r.text)
        assert r.json()["fingerprint"] == fingerprint(path), name
        assert "PRIVATE KEY" not in r.text

    # Refusals from real ssh-keygen output.
    short, _ = make("rsa1024", "-t", "rsa", "-b", "1024")
    r = s.post(url, json={"name": "short", "private_key": short.read_text()}, timeout=60)
    assert r.status_code == 422 and "2048" in r.json()["message"], r.text
    r = s.post(url, json={"name": "pub", "private_key": Path(f"{short}.pub").read_text()}, timeout=60)
    assert r.status_code == 422 and "this is a public key" in r.json()["message"], r.text

    # Through the CLI: a passphrase on standard input, and one typed at a prompt.
    cli = Cli(server, tmp_path / "home")
    cli.login_admin()
    piped, piped_pp = make("cli_piped", "-t", "ed25519", protected=True)
    out = cli.json("ssh-private-keys", "add", "--name", "cli-piped", "--file", str(piped),
                   "--passphrase-stdin", stdin=piped_pp + "\n")
    assert out["fingerprint"] == fingerprint(piped)
    cp = cli.run("ssh-private-keys", "add", "--name", "no-pp", "--file", str(piped))
    assert cp.returncode != 0 and "--passphrase-stdin" in cp.stderr, cp.stderr
    typed, typed_pp = make("cli_typed", "-t", "ecdsa", "-b", "256", protected=True)
    code, shown = in_pty([str(BINARY), "ssh-private-keys", "add", "--name", "cli-typed", "--file", str(typed)],
                         cli.env(), [("Passphrase for", typed_pp + "\r")])
    assert code == 0, shown
    assert typed_pp not in shown, "the passphrase was echoed"
    assert fingerprint(typed) in shown, shown
    plain, _ = make("cli_plain", "-t", "rsa", "-b", "2048")
    cli.ok("ssh-private-keys", "add", "--name", "cli-plain", "--description", "from the CLI", "--file", str(plain))

    listed = cli.json("ssh-private-keys", "list")
    names = {k["name"] for k in listed}
    assert {"cli-piped", "cli-typed", "cli-plain", "ed25519"} <= names, names
    shown_key = cli.ok("ssh-private-keys", "show", "cli-plain")
    assert fingerprint(plain) in shown_key and "from the CLI" in shown_key
    assert cli.json("ssh-private-keys", "delete", "cli-plain")["deleted"] is True
    for out in (cli.ok("ssh-private-keys", "list"), shown_key):
        assert "PRIVATE KEY" not in out

    server.stop()

    # Nothing private in the database files (the WAL too) or any log.
    haystacks: list[tuple[str, bytes]] = []
    for f in store.data_dir.rglob("*"):
        if f.is_file() and (".db" in f.name or f.name.endswith(("-wal", "-shm", ".sqlite"))):
            data = f.read_bytes()
            assert b"PRIVATE KEY" not in data, f"a key file's header is in {f}"
            haystacks.append((str(f), data))
    if store.database_url is None:
        assert haystacks, f"no database files under {store.data_dir}"
    else:
        # PostgreSQL: every row of every table, as pg_dump writes them.
        dump = subprocess.run(["pg_dump", "--data-only", "--dbname", store.database_url],
                              capture_output=True, timeout=120)
        assert dump.returncode == 0, dump.stderr
        assert b"ssh_private_key" in dump.stdout and b"PRIVATE KEY" not in dump.stdout
        haystacks.append(("pg_dump of " + store.database_url, dump.stdout))
    for f in LOG_DIR.rglob("*"):
        if f.is_file():
            haystacks.append((str(f), f.read_bytes()))
    needles = [pp for _, pp in made if pp]
    for path, _ in made:
        needles += private_lines(path)
    assert len(needles) > 20
    for where, data in haystacks:
        for needle in needles:
            assert needle.encode() not in data, f"private material found in {where}"
