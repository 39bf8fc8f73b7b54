"""`gatehouse ssh authorized-keys` against a hostile or broken Gatehouse, and with tampered
files: a fake HTTPS server (fake_gatehouse.py, its own CA, pinned by fingerprint or
trusted through ca_file) serves each bad answer, and the command is run as sshd runs it,
as `nobody` through `runuser`, with its files under a root-owned folder in /run. Each test
checks what reached stdout (what sshd would trust), the exit code, and the time taken.

Needs root (it runs the command as another user and chowns files); fails, never skips,
otherwise.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from fake_gatehouse import FakeGatehouse
from harness import BINARY

NOBODY = "nobody"
TIMEOUT = 2          # timeout_seconds in the config under test
SLACK = 1.5          # process start, TLS and scheduling on a loaded 2-core machine
USER = "gh-alice"


def sh(*args: str) -> str:
    return subprocess.run(list(args), check=True, capture_output=True, text=True, timeout=60).stdout


def keypair(folder: Path, name: str, *args: str) -> tuple[str, str]:
    """(public key line, fingerprint as sshd's %f gives it)."""
    path = folder / name
    sh("ssh-keygen", "-q", "-N", "", "-C", f"{name}@e2e", "-f", str(path), *args)
    line = Path(f"{path}.pub").read_text().strip()
    return line, sh("ssh-keygen", "-lf", f"{path}.pub").split()[1]


class Akc:
    """The command's files (config, key file, cache) and a way to run it as nobody."""

    def __init__(self, root: Path, fake: FakeGatehouse):
        self.root, self.fake = root, fake
        self.nobody = pwd.getpwnam(NOBODY)
        self.config = root / "ssh.toml"
        self.key_file = root / "machine.key"
        self.cache = root / "cache"
        self.ca_file = root / "ca.pem"

    def configure(self, *, cache: bool = True, key_file: bool = False, ca_file: bool = False,
                  cache_dir: Path | None = None) -> None:
        lines = [f'server = "{self.fake.url}"', f"timeout_seconds = {TIMEOUT}", "cache_ttl_seconds = 3600"]
        lines.append(f'ca_file = "{self.ca_file}"' if ca_file
                     else f'server_fingerprint = "{self.fake.fingerprint}"')
        if key_file:
            self.key_file.write_text("gwk_fake_machine_key\n")
            shutil.chown(self.key_file, "root", self.nobody.pw_gid)
            self.key_file.chmod(0o640)
            lines.append(f'api_key_file = "{self.key_file}"')
        else:
            lines.append('api_key = "gwk_fake_machine_key"')
        if cache:
            lines.append(f'cache_dir = "{cache_dir or self.cache}"')
        self.config.write_text("\n".join(lines) + "\n")
        shutil.chown(self.config, "root", self.nobody.pw_gid)
        self.config.chmod(0o640)

    def run(self, fingerprint: str = "", user: str = USER) -> tuple[subprocess.CompletedProcess, float]:
        """Runs the command as nobody; `self.last_maxrss` is then its peak memory (KiB),
        read from this child's own rusage (wait4), not from every child of the test run."""
        args = ["runuser", "-u", NOBODY, "--", str(BINARY), "ssh", "authorized-keys", user,
                "--fingerprint", fingerprint, "--ssh-config", str(self.config)]
        start = time.monotonic()
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        output: dict[str, bytes] = {}
        readers = [threading.Thread(target=lambda n=n, f=f: output.__setitem__(n, f.read()))
                   for n, f in (("out", proc.stdout), ("err", proc.stderr))]
        for r in readers:
            r.start()
        killer = threading.Timer(60, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        for r in readers:
            r.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        self.last_maxrss = usage.ru_maxrss
        cp = subprocess.CompletedProcess(args, proc.returncode, output.get("out", b"").decode(),
                                         output.get("err", b"").decode())
        return cp, time.monotonic() - start

    def prime(self, lines: list[str]) -> Path:
        """Serves `lines` once so the cache holds them; returns the cache file."""
        self.fake.behaviour = FakeGatehouse.answer(lines)
        cp, _ = self.run()
        assert cp.returncode == 0 and cp.stdout.splitlines() == lines, cp
        cached = self.cache / f"{USER}.keys"
        assert cached.is_file()
        return cached


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    f = FakeGatehouse(tmp_path_factory.mktemp("fake-gatehouse"))
    yield f
    f.close()


@pytest.fixture
def akc(fake):
    if os.geteuid() != 0:
        pytest.fail("these tests must run as root (they run the command as nobody and chown files)")
    root = Path(f"/run/gatehouse-akc-e2e-{secrets.token_hex(4)}")
    root.mkdir(mode=0o755)
    try:
        # The CA file must be readable by nobody, and like the config, not writable by others.
        a = Akc(root, fake)
        shutil.copy(fake.ca_file, a.ca_file)
        a.ca_file.chmod(0o644)
        a.cache.mkdir(mode=0o700)
        shutil.chown(a.cache, NOBODY, a.nobody.pw_gid)
        a.configure()
        fake.requests.clear()
        yield a
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    return {"a": keypair(folder, "a", "-t", "ed25519"), "b": keypair(folder, "b", "-t", "ecdsa", "-b", "256"),
            "private": (folder / "a").read_text()}


def refused(cp: subprocess.CompletedProcess, took: float, *, limit: float = TIMEOUT + SLACK) -> None:
    assert cp.stdout == "", f"nothing may reach sshd: {cp.stdout!r}"
    assert cp.returncode != 0, cp
    assert "panicked" not in cp.stderr, cp.stderr
    assert took < limit, f"took {took:.1f}s"


# ------------------------------------------------------------------- good answers and trust

@pytest.mark.parametrize("trust", ["fingerprint", "ca_file"])
def test_a_good_answer_is_printed_and_cached_privately(akc, keys, trust):
    akc.configure(ca_file=trust == "ca_file")
    (a, fp_a), (b, fp_b) = keys["a"], keys["b"]
    akc.fake.behaviour = FakeGatehouse.answer([a, b])
    cp, took = akc.run()
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.splitlines() == [a, b]
    assert took < TIMEOUT + SLACK
    assert akc.run(fp_b)[0].stdout.splitlines() == [b]
    cached = akc.cache / f"{USER}.keys"
    st = cached.stat()
    assert (st.st_uid, oct(st.st_mode & 0o777)) == (akc.nobody.pw_uid, "0o600")
    assert akc.fake.requests == [f"/api/ssh/authorized-keys/{USER}"] * 2


def test_the_cache_folder_is_created_0700_before_the_first_write(akc, keys):
    home = akc.root / "nobody-home"
    home.mkdir(mode=0o755)
    shutil.chown(home, NOBODY, akc.nobody.pw_gid)
    folder = home / "cache"
    akc.configure(cache_dir=folder)
    akc.fake.behaviour = FakeGatehouse.answer([keys["a"][0]])
    cp, _ = akc.run()
    assert cp.returncode == 0, cp.stderr
    st = folder.stat()
    assert (st.st_uid, oct(st.st_mode & 0o777)) == (akc.nobody.pw_uid, "0o700")
    assert [p.name for p in folder.iterdir()] == [f"{USER}.keys"], "no temporary file left behind"


# ------------------------------------------------------------------- hostile answers

def test_an_endless_answer_is_cut_off_quickly_in_little_memory_and_never_served_from_cache(akc, keys):
    akc.prime([keys["a"][0]])
    akc.fake.behaviour = akc.fake.endless()
    cp, took = akc.run()
    refused(cp, took)
    assert "larger than" in cp.stderr, cp.stderr
    # The command's own peak (in KiB): before the cap, it grew to 2 GiB.
    assert akc.last_maxrss < 256 * 1024, akc.last_maxrss


def test_a_huge_announced_answer_is_refused_before_reading_it(akc, keys):
    akc.prime([keys["a"][0]])
    akc.fake.behaviour = akc.fake.endless(content_length=3 * 2**30)
    cp, took = akc.run()
    refused(cp, took, limit=SLACK + 0.5)
    assert "larger than" in cp.stderr, cp.stderr


def test_a_slow_drip_is_given_up_at_the_timeout_and_the_cache_stands_in(akc, keys):
    a = keys["a"][0]
    akc.configure(cache=False)
    akc.fake.behaviour = akc.fake.drip([a])
    cp, took = akc.run()
    refused(cp, took)
    assert took >= TIMEOUT - 0.2, took
    assert "within" in cp.stderr or "timed out" in cp.stderr, cp.stderr
    akc.configure()
    akc.prime([a])
    akc.fake.behaviour = akc.fake.drip([keys["b"][0]])
    cp, took = akc.run()
    assert cp.returncode == 0 and cp.stdout.splitlines() == [a], cp
    assert "serving the cached answer" in cp.stderr
    assert took < TIMEOUT + SLACK


def test_an_answer_about_another_user_is_refused_and_not_cached(akc, keys):
    cached = akc.prime([keys["a"][0]])
    before = cached.read_text()
    akc.fake.behaviour = FakeGatehouse.answer([keys["b"][0]], username="gh-bob")
    cp, took = akc.run()
    refused(cp, took)
    assert "different user" in cp.stderr, cp.stderr
    assert cached.read_text() == before


def test_only_plain_public_keys_are_printed(akc, keys):
    (a, _), (b, fp_b) = keys["a"], keys["b"]
    kind, blob, *_ = b.split()
    akc.fake.behaviour = FakeGatehouse.answer([
        f'command="/bin/sh -c id",no-pty {a}',
        f'from="10.0.0.0/8" {a}',
        "this is not a key",
        keys["private"],
        f"{a}\n{a} smuggled",
        f"  {kind}   {blob}   spaced    comment  ",
        "",
    ])
    cp, took = akc.run()
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == f"{kind} {blob} spaced comment\n", cp.stdout
    assert took < TIMEOUT + SLACK
    assert cp.stderr.count("not a plain public key") == 6, cp.stderr
    assert "PRIVATE KEY" not in cp.stdout + cp.stderr
    # The cache holds what was printed, nothing more.
    assert (akc.cache / f"{USER}.keys").read_text().splitlines()[2:] == cp.stdout.splitlines()
    assert akc.run(fp_b)[0].stdout == cp.stdout


def test_the_fingerprint_filter_uses_the_keys_own_fingerprint_not_the_answers(akc, keys):
    (a, fp_a), (_, fp_b) = keys["a"], keys["b"]
    akc.fake.behaviour = FakeGatehouse.answer([a], fingerprints=[fp_b])
    cp, _ = akc.run(fp_b)
    assert cp.returncode == 0 and cp.stdout == "", cp
    cp, _ = akc.run(fp_a)
    assert cp.stdout.splitlines() == [a], cp


def test_a_redirect_is_not_followed_and_does_not_fall_back_to_the_cache(akc, keys):
    akc.prime([keys["a"][0]])
    akc.fake.requests.clear()
    akc.fake.behaviour = FakeGatehouse.status(302, {"Location": f"{akc.fake.url}/elsewhere/{USER}"})
    cp, took = akc.run()
    refused(cp, took)
    assert "redirect" in cp.stderr, cp.stderr
    assert akc.fake.requests == [f"/api/ssh/authorized-keys/{USER}"], "the redirect was followed"


@pytest.mark.parametrize("body", [b"<html>oops</html>", b'{"username": "gh-alice"}', b'{"keys": "x"}'])
def test_an_unparsable_200_is_refused_and_does_not_fall_back_to_the_cache(akc, keys, body):
    akc.prime([keys["a"][0]])
    akc.fake.behaviour = FakeGatehouse.status(200, {"Content-Type": "application/json"}, body)
    cp, took = akc.run()
    refused(cp, took)
    assert "unreadable answer" in cp.stderr, cp.stderr


@pytest.mark.parametrize("code", [429, 500, 502, 503])
def test_429_and_5xx_serve_the_cache_and_without_one_fail_closed(akc, keys, code):
    a = keys["a"][0]
    akc.prime([a])
    akc.fake.behaviour = FakeGatehouse.status(code, {"Retry-After": "30"})
    cp, took = akc.run()
    assert cp.returncode == 0 and cp.stdout.splitlines() == [a], cp
    assert f"HTTP {code}" in cp.stderr and "serving the cached answer" in cp.stderr, cp.stderr
    assert took < TIMEOUT + SLACK
    akc.configure(cache=False)
    refused(*akc.run())


@pytest.mark.parametrize("code", [401, 403, 404])
def test_a_refusal_never_falls_back_to_the_cache(akc, keys, code):
    akc.prime([keys["a"][0]])
    akc.fake.behaviour = FakeGatehouse.status(code)
    refused(*akc.run())


# ------------------------------------------------------------------- tampered files

def _outage(akc) -> None:
    akc.fake.behaviour = FakeGatehouse.status(503)


def test_a_symlinked_cache_file_is_refused(akc, keys):
    cached = akc.prime([keys["a"][0]])
    planted = akc.root / "planted.keys"
    cached.rename(planted)
    cached.symlink_to(planted)
    _outage(akc)
    cp, took = akc.run()
    refused(cp, took)
    assert "symbolic link" in cp.stderr, cp.stderr
    # A fresh answer replaces the link, and never writes through it.
    akc.fake.behaviour = FakeGatehouse.answer([keys["b"][0]])
    assert akc.run()[0].returncode == 0
    assert not cached.is_symlink() and keys["a"][0] in planted.read_text()


def test_a_group_writable_cache_folder_is_neither_read_nor_written(akc, keys):
    cached = akc.prime([keys["a"][0]])
    before = cached.read_text()
    akc.cache.chmod(0o770)
    _outage(akc)
    cp, took = akc.run()
    refused(cp, took)
    assert "cache folder" in cp.stderr and "may write it" in cp.stderr, cp.stderr
    akc.fake.behaviour = FakeGatehouse.answer([keys["b"][0]])
    cp, _ = akc.run()
    assert cp.returncode == 0 and cp.stdout.splitlines() == [keys["b"][0]], cp
    assert "cannot update the cache" in cp.stderr, cp.stderr
    assert cached.read_text() == before


def test_a_cache_file_owned_by_someone_else_is_refused(akc, keys):
    cached = akc.prime([keys["a"][0]])
    os.chown(cached, 4242, 4242)
    cached.chmod(0o644)  # readable, so it is the owner check that refuses it
    _outage(akc)
    cp, took = akc.run()
    refused(cp, took)
    assert "owned by uid 4242" in cp.stderr, cp.stderr


def test_a_world_readable_api_key_file_is_refused_before_asking(akc):
    akc.configure(key_file=True)
    akc.key_file.chmod(0o644)
    cp, took = akc.run()
    refused(cp, took)
    assert "API key file" in cp.stderr and "others may read it" in cp.stderr, cp.stderr
    assert "gwk_fake_machine_key" not in cp.stderr
    assert akc.fake.requests == []
    akc.key_file.chmod(0o640)
    akc.fake.behaviour = FakeGatehouse.answer([])
    assert akc.run()[0].returncode == 0


def test_a_group_writable_config_file_is_refused_before_asking(akc):
    akc.config.chmod(0o660)
    cp, took = akc.run()
    refused(cp, took)
    assert "config file" in cp.stderr and "may write it" in cp.stderr, cp.stderr
    assert akc.fake.requests == []
