"""The user CLI and the operator CLI as a newcomer meets them: secrets typed at a real
pseudo-terminal are not echoed, a closed pipe is a quiet exit, --json is one JSON
document, tables fit wide names, messages speak of flags, an untrusted certificate is
explained with its fingerprint, and `gatehouse admin` never starts an empty store by
accident."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import time
from pathlib import Path
from unicodedata import east_asian_width

import harness
from harness import BINARY, new_password, record_secret


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

class Cli:
    """Runs `gatehouse` with its own home (credentials file) and no GATEHOUSE_* variables."""

    def __init__(self, server, home: Path):
        self.server = server
        self.home = home
        home.mkdir(parents=True, exist_ok=True)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
        env.update(HOME=str(self.home), XDG_CONFIG_HOME=str(self.home / "xdg"))
        env.update(extra)
        return env

    def run(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(BINARY), *args], input=stdin, capture_output=True, text=True,
                              env=env or self.env(), timeout=timeout,
                              stdin=None if stdin is not None else subprocess.DEVNULL)

    def ok(self, *args: str, **kw) -> str:
        cp = self.run(*args, **kw)
        assert cp.returncode == 0, (args, cp.returncode, cp.stdout, cp.stderr)
        assert "panicked" not in cp.stderr, cp.stderr
        return cp.stdout

    def json(self, *args: str, **kw):
        out = self.ok(*args, "--json", **kw)
        return json.loads(out)

    def trust(self) -> list[str]:
        return ["--server", self.server.base, "--fingerprint", self.server.fingerprint]

    def login_admin(self) -> None:
        out = self.ok("login", *self.trust(), "--username", "admin",
                      stdin=self.server.bootstrap_password + "\n")
        assert "as admin" in out, out


def cli_for(server, tmp_path: Path, name: str = "home") -> Cli:
    return Cli(server, tmp_path / name)


def in_pty(argv: list[str], env: dict[str, str], steps: list[tuple[str, str]],
           timeout: float = 60) -> tuple[int, str]:
    """Runs argv on a new pseudo-terminal (stdin, stdout and stderr); for each step, waits
    until the screen shows `expect`, then types `send`. Returns (exit code, everything the
    terminal showed)."""
    master, slave = os.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True, close_fds=True)
    os.close(slave)
    shown = b""
    deadline = time.monotonic() + timeout

    def read_some() -> bool:
        nonlocal shown
        ready, _, _ = select.select([master], [], [], 0.2)
        if not ready:
            return True
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the other side is closed
            return False
        if not chunk:
            return False
        shown += chunk
        return True

    try:
        for expect, send in steps:
            while expect.encode() not in shown:
                assert time.monotonic() < deadline, f"never saw {expect!r}; the terminal showed {shown!r}"
                if not read_some():
                    raise AssertionError(f"exited before {expect!r}; the terminal showed {shown!r}")
            # Typed a character at a time, as a person (or a paste) would.
            os.write(master, send.encode())
        while time.monotonic() < deadline and read_some():
            if proc.poll() is not None:
                while read_some() and select.select([master], [], [], 0)[0]:
                    pass
                break
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return code, shown.decode("utf-8", "replace")


def display_width(s: str) -> int:
    return sum(2 if east_asian_width(c) in ("W", "F") else 1 for c in s)


# --------------------------------------------------------------------------
# item 1: secrets typed at a terminal are not echoed
# --------------------------------------------------------------------------

def test_a_password_typed_at_a_terminal_is_never_shown_and_login_succeeds(server, tmp_path):
    cli = cli_for(server, tmp_path)
    password = server.bootstrap_password
    code, shown = in_pty([str(BINARY), "login", *cli.trust(), "--username", "admin"], cli.env(),
                         [("assword", password + "\r")])
    assert code == 0, shown
    assert "Logged in to" in shown and "as admin" in shown, shown
    assert password not in shown, f"the password was echoed: {shown!r}"
    assert "panicked" not in shown
    # The terminal is usable afterwards and the stored login works.
    assert "auth method: cookie" in cli.ok("auth", "session")


def test_a_token_pasted_at_a_terminal_is_never_shown(server, tmp_path):
    admin = cli_for(server, tmp_path, "admin")
    admin.login_admin()
    token = admin.ok("tokens", "create", "--hours", "1").strip()
    record_secret(token)
    cli = cli_for(server, tmp_path, "pasted")
    code, shown = in_pty([str(BINARY), "login", *cli.trust()], cli.env(),
                         [("Paste the token", token + "\r")])
    assert code == 0, shown
    assert "as admin (bearer)" in shown, shown
    assert token not in shown and token[:20] not in shown, f"the token was echoed: {shown!r}"


def test_an_api_key_pasted_at_a_terminal_is_never_shown(server, tmp_path):
    admin = cli_for(server, tmp_path, "admin")
    admin.login_admin()
    key = record_secret(admin.ok("api-keys", "create", "--name", "pasted").strip())
    cli = cli_for(server, tmp_path, "pasted")
    code, shown = in_pty([str(BINARY), "login", *cli.trust(), "--api-key-stdin"], cli.env(),
                         [("Paste the API key", key + "\r")])
    assert code == 0, shown
    assert "(api_key)" in shown, shown
    assert key not in shown and key[:12] not in shown, f"the key was echoed: {shown!r}"


def test_ctrl_c_at_the_password_prompt_stops_and_restores_the_terminal(server, tmp_path):
    cli = cli_for(server, tmp_path)
    # After Ctrl-C the program is gone; `stty -a` on the same terminal shows echo back on.
    script = f'{BINARY} login --server {server.base} --fingerprint {server.fingerprint} --username admin; ' \
             'echo "exit=$?"; stty -a'
    code, shown = in_pty(["/bin/sh", "-c", script], cli.env(), [("assword", "secr\x03")])
    assert code == 0, shown
    assert "exit=130" in shown, shown
    stty = shown.split("exit=130", 1)[1].replace(";", " ").split()
    assert "echo" in stty and "-echo" not in stty, stty
    assert "icanon" in stty and "isig" in stty, stty
    assert "secr" not in shown, shown
    assert not (cli.home / "xdg/gatehouse/credentials.toml").exists()


def test_admin_password_stdin_at_a_terminal_asks_twice_without_echo(server, tmp_path):
    cli = cli_for(server, tmp_path)
    password = new_password()
    argv = [str(BINARY), "admin", *server.store.args(), "set-password", "admin", "--password-stdin"]
    code, shown = in_pty(argv, cli.env(), [("New password", password + "\r"),
                                           ("again", password + "\r")])
    assert code == 0, shown
    assert password not in shown, f"the password was echoed: {shown!r}"
    assert harness.login(server, "admin", password).status == 200
    code, shown = in_pty(argv, cli.env(), [("New password", password + "x\r"),
                                           ("again", password + "y\r")])
    assert code == 1 and "differ" in shown, shown
    assert harness.login(server, "admin", password).status == 200


def test_a_piped_password_still_works(server, tmp_path):
    cli = cli_for(server, tmp_path)
    cp = cli.run("login", *cli.trust(), "--username", "admin", stdin=server.bootstrap_password + "\n")
    assert cp.returncode == 0, cp.stderr
    assert "as admin" in cp.stdout
    assert server.bootstrap_password not in cp.stdout + cp.stderr
    assert "Password for" not in cp.stdout + cp.stderr, "no prompt when stdin is a pipe"


# --------------------------------------------------------------------------
# item 2: a closed pipe is a quiet exit
# --------------------------------------------------------------------------

def test_a_closed_pipe_ends_a_listing_quietly(server, tmp_path):
    cli = cli_for(server, tmp_path)
    cli.login_admin()
    keys = tmp_path / "seeded-keys"
    server.admin("seed-api-keys", "--user", "admin", "--count", "1200", "--output", str(keys))
    for args in (["api-keys", "list"], ["api-keys", "list", "--json"], ["auth", "session"]):
        # The reader is gone before the first write: the write fails with EPIPE.
        r, w = os.pipe()
        os.close(r)
        try:
            cp = subprocess.run([str(BINARY), *args], stdout=w, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=cli.env(), timeout=120)
        finally:
            os.close(w)
        assert cp.returncode == 0, (args, cp.returncode, cp.stderr)
        assert cp.stderr == b"", (args, cp.stderr)
    # And the shell's own `| head -1` with more rows than a pipe holds.
    cp = subprocess.run(["bash", "-c", f"{BINARY} api-keys list | head -1; echo \"status=${{PIPESTATUS[0]}}\""],
                        capture_output=True, text=True, env=cli.env(), timeout=120)
    assert "status=0" in cp.stdout, (cp.stdout, cp.stderr)
    assert cp.stdout.startswith("ID "), cp.stdout
    assert cp.stderr == "" and "panicked" not in cp.stderr, cp.stderr


def test_a_closed_pipe_ends_an_admin_listing_quietly(server):
    r, w = os.pipe()
    os.close(r)
    try:
        cp = subprocess.run([str(BINARY), "admin", *server.store.args(), "audit", "--limit", "500"],
                            stdout=w, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=120)
    finally:
        os.close(w)
    assert cp.returncode == 0 and cp.stderr == b"", (cp.returncode, cp.stderr)


# --------------------------------------------------------------------------
# item 3: --json, fitted tables, show by name
# --------------------------------------------------------------------------

def test_every_data_command_prints_one_json_document(server, tmp_path):
    cli = cli_for(server, tmp_path)
    cli.login_admin()
    session = cli.json("auth", "session")
    assert session["user"]["username"] == "admin" and session["auth_method"] == "cookie", session

    created = cli.json("api-keys", "create", "--name", "json-key", "--expires", "30d")
    record_secret(created["key"])
    assert created["name"] == "json-key" and created["key"].startswith("gwk_"), created
    listed = cli.json("api-keys", "list")
    assert [k["id"] for k in listed] == [created["id"]], listed
    shown = cli.json("api-keys", "show", created["id"])
    assert shown["id"] == created["id"] and "key" not in shown, shown
    by_name = cli.json("api-keys", "show", "json-key")
    assert by_name["id"] == created["id"], by_name
    dup = cli.json("api-keys", "duplicate", "json-key", "--name", "json-copy")
    record_secret(dup["key"])
    assert dup["name"] == "json-copy" and dup["id"] != created["id"], dup
    assert cli.json("api-keys", "disable", "json-copy")["enabled"] is False
    assert json.loads(cli.ok("api-keys", "-o", "json", "list"))[0]["id"] in (created["id"], dup["id"])

    token = cli.json("tokens", "create", "--hours", "2", "--name", "json-token")
    record_secret(token["token"])
    assert token["name"] == "json-token" and token["token"].count(".") == 2, token
    assert token["id"] in [t["id"] for t in cli.json("tokens", "list")]

    keyfile = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "cli@e2e", "-f", str(keyfile)],
                   check=True, capture_output=True, timeout=60)
    added = cli.json("ssh-keys", "add", "--name", "laptop", "--file", f"{keyfile}.pub")
    assert added["name"] == "laptop" and added["fingerprint"].startswith("SHA256:"), added
    assert [k["id"] for k in cli.json("ssh-keys", "list")] == [added["id"]]
    assert cli.json("ssh-keys", "show", "laptop")["public_key"].startswith("ssh-ed25519 ")

    users = json.loads(server.admin("list-users", "--json").stdout)
    assert any(u["username"] == "admin" and u["role"] == "owner" and u["operator"] for u in users), users
    audit = json.loads(server.admin("audit", "--limit", "5", "--json").stdout)
    assert isinstance(audit, list) and audit and "action" in audit[0], audit
    policy = json.loads(server.admin("policy", "--json").stdout)
    assert policy["api_key_expirations"] == ["none", "7", "30", "60", "90"], policy


def test_tables_fit_wide_names_and_long_ones_are_shortened(server, tmp_path):
    cli = cli_for(server, tmp_path)
    cli.login_admin()
    wide = "ノートパソコン🔑"
    long = "a-very-long-key-name-" + "x" * 40
    for name in ("ci", wide, long):
        record_secret(cli.ok("api-keys", "create", "--name", name).strip())
    table = cli.ok("api-keys", "list")
    lines = table.splitlines()
    header = lines[0]
    status_col = display_width(header[:header.index("STATUS")])
    for line in lines[1:]:
        cut = line.index("enabled")
        assert display_width(line[:cut]) == status_col, f"columns do not line up:\n{table}"
    assert wide in table, table
    assert long not in table and "a-very-long-key-name-x" in table and "…" in table, table
    # The full name is in show and --json.
    assert long in cli.ok("api-keys", "show", long)
    assert long in [k["name"] for k in cli.json("api-keys", "list")]


def test_show_takes_an_id_or_a_name_and_an_unknown_name_says_so(server, tmp_path):
    cli = cli_for(server, tmp_path)
    cli.login_admin()
    keyfile = tmp_path / "k"
    ids = []
    for n in range(2):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{keyfile}{n}"],
                       check=True, capture_output=True, timeout=60)
        ids.append(cli.json("ssh-keys", "add", "--name", f"box{n}", "--file", f"{keyfile}{n}.pub")["id"])
    assert cli.json("ssh-keys", "show", "box1")["id"] == ids[1]
    cp = cli.run("ssh-keys", "show", "nothing-like-it")
    assert cp.returncode == 1 and "no SSH key" in cp.stderr, cp.stderr
    # API key names are unique per owner, so a clash can only be between an id and a name
    # (the id wins); the shared-name message is covered by the unit tests.


# --------------------------------------------------------------------------
# item 4: messages in the user's words
# --------------------------------------------------------------------------

def test_a_bad_expiry_is_told_with_the_flag(server, tmp_path):
    cli = cli_for(server, tmp_path)
    cli.login_admin()
    cp = cli.run("api-keys", "create", "--name", "x", "--expires", "5d")
    assert cp.returncode == 1, cp
    assert "--expires must be none, 7d, 30d, 60d or 90d" in cp.stderr, cp.stderr
    assert "expires_in_days" not in cp.stderr and "`" not in cp.stderr, cp.stderr
    # A value the format allows but the organisation's policy does not: the server's
    # 422 names the API field, and the CLI names the flag.
    server.admin("policy", "--api-key-expirations", "7,30")
    cp = cli.run("api-keys", "create", "--name", "x", "--expires", "90d")
    assert cp.returncode == 1, cp
    assert cp.stderr.startswith("error: --expires"), cp.stderr
    assert "expires_in_days" not in cp.stderr and "`" not in cp.stderr, cp.stderr
    cp = cli.run("tokens", "create", "--hours", "30")
    assert cp.returncode == 1 and "--hours" in cp.stderr, cp.stderr
    assert "expires_in_hours" not in cp.stderr, cp.stderr


def test_a_refused_key_from_the_environment_does_not_blame_the_stored_login(server, tmp_path):
    cli = cli_for(server, tmp_path)
    cli.login_admin()
    key = record_secret(cli.ok("api-keys", "create", "--name", "gone").strip())
    assert "api_key" in cli.ok("auth", "session", env=cli.env(GATEHOUSE_API_KEY=key))
    key_id = next(line.split()[0] for line in cli.ok("api-keys", "list").splitlines() if " gone " in line)
    cli.ok("api-keys", "disable", key_id)
    cli.ok("api-keys", "delete", key_id)
    cp = cli.run("auth", "session", env=cli.env(GATEHOUSE_API_KEY=key))
    assert cp.returncode == 1, cp
    assert "GATEHOUSE_API_KEY" in cp.stderr, cp.stderr
    assert "gatehouse login" not in cp.stderr, cp.stderr
    assert key not in cp.stderr and "`" not in cp.stderr, cp.stderr


# --------------------------------------------------------------------------
# item 5: an untrusted certificate is explained with its fingerprint
# --------------------------------------------------------------------------

def test_login_without_trust_prints_the_servers_fingerprint_and_how_to_trust_it(server, tmp_path):
    cli = cli_for(server, tmp_path)
    for args, stdin in ((["--username", "admin"], server.bootstrap_password + "\n"),
                        (["--token", "not-a-token"], None)):
        cp = cli.run("login", "--server", server.base, *args, stdin=stdin)
        assert cp.returncode == 1, cp
        assert server.fingerprint in cp.stderr, (server.fingerprint, cp.stderr)
        assert server.presented_fingerprint() == server.fingerprint
        assert "--fingerprint" in cp.stderr and "--ca-file" in cp.stderr, cp.stderr
        assert "not trusted" in cp.stderr and "`" not in cp.stderr, cp.stderr
        assert not (cli.home / "xdg/gatehouse/credentials.toml").exists()
    # The command it suggests works.
    cli.ok("login", "--server", server.base, "--fingerprint", server.fingerprint,
           "--username", "admin", stdin=server.bootstrap_password + "\n")


# --------------------------------------------------------------------------
# item 6: operator traps
# --------------------------------------------------------------------------

def test_admin_without_a_data_folder_stops_and_creates_nothing(tmp_path):
    missing = tmp_path / "nonexistent"
    for argv in (["admin", "--data-dir", str(missing), "list-users"],
                 ["admin", "list-users", "--data-dir", str(missing)]):
        cp = subprocess.run([str(BINARY), *argv], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=60, cwd=tmp_path)
        assert cp.returncode == 1, cp
        assert str(missing) in cp.stderr and "--create" in cp.stderr, cp.stderr
        assert "panicked" not in cp.stderr
        assert not missing.exists(), "nothing is created"
    # Run from a folder with no ./gatehouse-data, without --data-dir: the same.
    cp = subprocess.run([str(BINARY), "admin", "list-users"], capture_output=True, text=True,
                        stdin=subprocess.DEVNULL, timeout=60, cwd=tmp_path)
    assert cp.returncode == 1 and "gatehouse-data" in cp.stderr, cp.stderr
    assert not (tmp_path / "gatehouse-data").exists()
    # --create (before or after the subcommand) makes the store.
    cp = subprocess.run([str(BINARY), "admin", "list-users", "--create", "--data-dir", str(missing), "--json"],
                        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert cp.returncode == 0, cp.stderr
    assert json.loads(cp.stdout) == []
    assert (missing / "gatehouse.db").exists()
    cp = subprocess.run([str(BINARY), "admin", "list-users", "--data-dir", str(missing)],
                        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert cp.returncode == 0 and cp.stdout.startswith("ID"), cp.stderr


def test_store_flags_are_accepted_after_the_subcommand(server, tmp_path):
    name = "late" + os.urandom(3).hex()
    pw = tmp_path / "pw"
    pw.write_text(new_password())
    os.chmod(pw, 0o600)
    cmd = [str(BINARY), "admin", "create-user", name, "--email", f"{name}@example.test",
           "--password-file", str(pw), *server.store.args()]
    cp = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert cp.returncode == 0, cp.stderr
    cp = subprocess.run([str(BINARY), "admin", "list-users", *server.store.args()],
                        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert cp.returncode == 0 and name in cp.stdout, cp.stderr


def test_a_taken_port_on_first_start_leaves_no_account_or_a_printed_password(gatehouse, tmp_path):
    store = gatehouse.store()
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        cp = subprocess.run([str(BINARY), "serve", "--listen", f"127.0.0.1:{port}",
                             "--http-listen", "127.0.0.1:0", *store.args()],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120,
                            cwd=tmp_path)
    finally:
        taken.close()
    assert cp.returncode != 0, (cp.stdout, cp.stderr)
    assert "binding" in cp.stderr, cp.stderr
    printed = harness.BOOTSTRAP_PW_RE.search(cp.stdout) is not None
    if printed:
        record_secret(harness.BOOTSTRAP_PW_RE.search(cp.stdout).group(3))
    # With no store at all, admin refuses to run: that too means no account.
    listing = harness.run_admin(store, "list-users", check=False)
    names = [line.split()[1] for line in listing.stdout.splitlines()[1:] if len(line.split()) > 1]
    has_admin = listing.returncode == 0 and "admin" in names
    assert printed or not has_admin, ("the admin account exists, its password was never shown",
                                      cp.stdout, listing.stdout)
    # The next start (port free) creates the account and shows its password.
    srv = gatehouse.start(store, expect_bootstrap=True)
    assert srv.bootstrap_username == "admin" and srv.bootstrap_password, srv.lines
