"""2-step verification end to end, against the real binary on the backend E2E_DATABASE selects.

The server's side is checked with independent peers rather than with its own code:
Debian's `oathtool` computes the codes from the secret shown for manual entry, PyPI
`pyotp` parses the enrolment URI, and the QR code is rendered by `rsvg-convert`
(librsvg) and read back by `zbarimg` (zbar).

Covered: enrolment and the accepted window (the current step and the one before, never
a later one, never two back), single use (the same code twice, at the same moment on one
server or on two nodes sharing one PostgreSQL, one recovery code raced by 30 sign-ins),
the pending credential between the password and the code (it opens no other route), the
wrong-code count across restarted sign-ins, the CLI (`login --otp-stdin`, `mfa status`),
the operator's `admin reset-mfa` and `admin policy --require-mfa`, and what the logs and
the database hold (never the seed, the codes or the recovery codes in the clear).

Time steps: a code is good once per factor, and only for a step later than the last one
accepted, so the tests pick their codes relative to the current 30-second step and, where
a step must not end in the middle of a check, wait for the next one to begin
(`ensure_margin`, `wait_for_next_step`) instead of sleeping for a guessed time.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sqlite3
import subprocess
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import requests

import harness
from conftest import Gatehouse
from harness import (BINARY, COOKIE_NAME, Server, Store, assert_error, extract_cookie, login, login_ok,
                     new_password, record_secret, session, set_cookie_headers)

PENDING_COOKIE = "gatehouse.mfa"
STEP = 30
# Seconds that must be left in the current step before a check that needs it to last
# (generating a code, sending it, the server checking it).
MARGIN = 6.0
# Routes a pending credential must never open.
OTHER_ROUTES = ["/api/auth/session", "/api/api-keys", "/api/tokens", "/api/ssh-keys", "/api/mfa"]


# --------------------------------------------------------------------------
# server environment and secrets
# --------------------------------------------------------------------------

def server_env(**extra: str) -> dict[str, str]:
    env = {
        # Many wrong codes and refused credentials are sent on purpose: keep the
        # per-address limit and the per-account backoff out of the way unless a test
        # is about them.
        "GATEHOUSE_RATE_LIMIT__IP_MAX_FAILURES": "100000",
        "GATEHOUSE_RATE_LIMIT__LOGIN_FREE_FAILURES": "1000",
    }
    env.update(extra)
    return env


_recorded: set[str] = set()
_recorded_lock = threading.Lock()


def remember(value: str) -> str:
    """record_secret once per value, for check_logs.py."""
    with _recorded_lock:
        fresh = value not in _recorded
        _recorded.add(value)
    if fresh:
        record_secret(value)
    return value


def start(gatehouse: Gatehouse, store: Store | None = None, **env: str) -> Server:
    srv = gatehouse.start(store=store, env=server_env(**env))
    assert srv.bootstrap_username == "admin" and srv.bootstrap_password, srv.lines
    return srv


# --------------------------------------------------------------------------
# time steps and the peers (oathtool, pyotp, rsvg-convert + zbarimg)
# --------------------------------------------------------------------------

def step_now() -> int:
    return int(time.time()) // STEP


def seconds_left_in_step() -> float:
    return STEP - time.time() % STEP


def wait_for_next_step() -> int:
    """Waits until just after the next 30-second boundary; returns the new step."""
    target = (step_now() + 1) * STEP + 0.3
    while (left := target - time.time()) > 0:
        time.sleep(left)
    return step_now()


def ensure_margin(seconds: float = MARGIN) -> int:
    """The current step, once at least `seconds` of it are left (else the next one)."""
    if seconds_left_in_step() < seconds:
        return wait_for_next_step()
    return step_now()


def oathtool(secret: str, offset: int = 0) -> tuple[str, int]:
    """The code `oathtool --totp` gives for now+offset seconds, and the step it is for."""
    when = "now" if offset == 0 else f"now{offset:+d} seconds"
    for _ in range(3):
        before = time.time()
        cp = subprocess.run(["oathtool", "--totp", "-b", secret, "-N", when], capture_output=True,
                            text=True, stdin=subprocess.DEVNULL, timeout=30)
        after = time.time()
        assert cp.returncode == 0, cp.stderr
        code = cp.stdout.strip()
        assert re.fullmatch(r"\d{6}", code), cp.stdout
        step = int(before + offset) // STEP
        if step == int(after + offset) // STEP:
            return code, step
    raise AssertionError("could not compute a code within one time step")


def oathtool_at(secret: str, unix_time: int) -> str:
    cp = subprocess.run(["oathtool", "--totp", "-b", secret, "-N", f"@{unix_time}"], capture_output=True,
                        text=True, stdin=subprocess.DEVNULL, timeout=30)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout.strip()


def wrong_code(secret: str) -> str:
    """A 6-digit code that is right for none of the steps around now."""
    near = {oathtool(secret, off)[0] for off in (-90, -60, -30, 0, 30, 60)}
    for candidate in ("000000", "111111", "222222", "333333"):
        if candidate not in near:
            return candidate
    raise AssertionError("unreachable")


def decode_qr(svg: str, tmp: Path) -> str:
    tmp.mkdir(parents=True, exist_ok=True)
    svg_file, png_file = tmp / "qr.svg", tmp / "qr.png"
    svg_file.write_text(svg, encoding="utf-8")
    cp = subprocess.run(["rsvg-convert", str(svg_file), "-o", str(png_file)], capture_output=True, text=True,
                        stdin=subprocess.DEVNULL, timeout=60)
    assert cp.returncode == 0, f"rsvg-convert failed: {cp.stderr}"
    cp = subprocess.run(["zbarimg", "-q", "--raw", str(png_file)], capture_output=True, text=True,
                        stdin=subprocess.DEVNULL, timeout=60)
    assert cp.returncode == 0, f"zbarimg found no QR code (exit {cp.returncode}): {cp.stderr}"
    return cp.stdout.rstrip("\n")


# --------------------------------------------------------------------------
# accounts, cookie sessions, the two sign-in steps, enrolment
# --------------------------------------------------------------------------

@dataclass
class User:
    name: str
    password: str


def create_user(server: Server, tmp_path: Path) -> User:
    name, password = "mfa" + uuid.uuid4().hex[:8], new_password()
    pw_file = tmp_path / f"pw-{uuid.uuid4().hex[:8]}"
    pw_file.write_text(password)
    os.chmod(pw_file, 0o600)
    server.admin("create-user", name, "--email", f"{name}@example.test", "--password-file", str(pw_file))
    return User(name, password)


@dataclass
class Browser:
    """A cookie session, as the web UI holds it."""

    server: Server
    cookie: str
    csrf: str

    def headers(self) -> dict[str, str]:
        return {"Cookie": f"{COOKIE_NAME}={self.cookie}", "X-CSRF-Token": self.csrf}

    def request(self, method: str, path: str, **kw) -> requests.Response:
        with session() as s:
            return s.request(method, self.server.url(path), headers=self.headers(), timeout=60, **kw)

    def get(self, path: str) -> requests.Response:
        return self.request("GET", path)

    def post(self, path: str, body: dict | None = None) -> requests.Response:
        return self.request("POST", path, json=body if body is not None else {})

    def delete(self, path: str) -> requests.Response:
        return self.request("DELETE", path)


def browser_of(server: Server, r: requests.Response) -> Browser:
    """The session a successful sign-in answer opened."""
    assert r.status_code == 200, (r.status_code, r.text)
    cookie = extract_cookie(r)
    assert cookie, f"no {COOKIE_NAME} cookie in {set_cookie_headers(r)!r}"
    csrf = r.json()["csrf_token"]
    return Browser(server, remember(cookie), remember(csrf))


def password_sign_in(server: Server, user: User) -> Browser:
    """A sign-in for an account without 2-step verification (one step)."""
    res = login_ok(server, user.name, user.password)
    return Browser(server, res.cookie, res.csrf_token)


def password_step(server: Server, user: User, s: requests.Session | None = None) -> str:
    """The password step for an account with 2-step verification: the pending credential."""
    s = s or session()
    r = s.post(server.url("/api/auth/login"), json={"username": user.name, "password": user.password},
               timeout=60)
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.json() == {"mfa_required": True, "methods": ["totp", "recovery_code"], "expires_in": 300}, r.text
    assert extract_cookie(r) is None, f"a password alone opened a session: {set_cookie_headers(r)!r}"
    pending = extract_cookie(r, PENDING_COOKIE)
    assert pending, f"no {PENDING_COOKIE} cookie in {set_cookie_headers(r)!r}"
    header = next(h for h in set_cookie_headers(r) if h.startswith(PENDING_COOKIE + "="))
    attrs = {a.strip().split("=", 1)[0].lower(): a.strip() for a in header.split(";")[1:]}
    assert attrs.get("path") == "Path=/api/auth/login", header
    assert {"secure", "httponly", "samesite"} <= attrs.keys(), header
    return remember(pending)


def second_step(server: Server, pending: str, *, code: str | None = None, recovery_code: str | None = None,
                s: requests.Session | None = None) -> requests.Response:
    body = {"code": code} if code is not None else {"recovery_code": recovery_code}
    s = s or session()
    return s.post(server.url("/api/auth/login/mfa"), json=body, headers={"Cookie": f"{PENDING_COOKIE}={pending}"},
                  timeout=60)


def assert_refused_code(r: requests.Response) -> None:
    assert_error(r, 401, "invalid_code")
    assert extract_cookie(r) is None, set_cookie_headers(r)


def assert_signed_in_with(server: Server, r: requests.Response, amr: list[str]) -> Browser:
    b = browser_of(server, r)
    # The pending credential's cookie is cleared with the answer that ends it.
    cleared = [h for h in set_cookie_headers(r) if h.startswith(PENDING_COOKIE + "=")]
    assert cleared and cleared[0].startswith(PENDING_COOKIE + "=;") and "Max-Age=0" in cleared[0], cleared
    s = b.get("/api/auth/session")
    assert s.status_code == 200, s.text
    assert s.json()["amr"] == amr, s.json()
    assert not s.json().get("mfa_setup_required"), s.json()
    return b


@dataclass
class Enrolment:
    user: User
    secret: str            # base32, as typed into an app (spaces removed)
    grouped: str           # as the setup page shows it
    uri: str
    qr_svg: str
    factor_id: str
    confirm_step: int      # the step whose code confirmed it (already used)
    recovery_codes: list[str] = field(default_factory=list)
    browser: Browser | None = None  # the session re-issued at confirmation


def remember_recovery_codes(codes: list[str]) -> None:
    for c in codes:
        remember(c)
        remember(c.replace("-", "").replace(" ", ""))


def start_enrolment(server: Server, browser: Browser) -> dict:
    r = browser.post("/api/mfa/totp")
    assert r.status_code == 201, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"factor_id", "uri", "secret", "qr_svg", "expires_at"}, body.keys()
    remember(body["secret"])
    remember(body["secret"].replace(" ", ""))
    remember(body["uri"])
    return body


def enrol(server: Server, user: User, browser: Browser | None = None) -> Enrolment:
    """Sets up an authenticator app the way a person does: the secret typed into the app
    (here oathtool), the app's code confirms it. The code is the previous step's, so the
    current step's code is still unused when this returns (with MARGIN seconds left)."""
    browser = browser or password_sign_in(server, user)
    body = start_enrolment(server, browser)
    secret = body["secret"].replace(" ", "")
    ensure_margin()
    code, step = oathtool(secret, -STEP)
    r = browser.post("/api/mfa/totp/confirm", {"code": code})
    assert r.status_code == 200, (r.status_code, r.text)
    done = r.json()
    assert done["enabled"] is True and len(done["recovery_codes"]) == 10, done
    remember_recovery_codes(done["recovery_codes"])
    new = browser_of(server, r)
    assert step_now() == step + 1, "the step ended during confirmation; MARGIN is too small"
    return Enrolment(user=user, secret=secret, grouped=body["secret"], uri=body["uri"], qr_svg=body["qr_svg"],
                     factor_id=body["factor_id"], confirm_step=step, recovery_codes=done["recovery_codes"],
                     browser=new)


def mfa_status(browser: Browser) -> dict:
    r = browser.get("/api/mfa")
    assert r.status_code == 200, r.text
    return r.json()


# --------------------------------------------------------------------------
# what the logs and the database hold
# --------------------------------------------------------------------------

def server_logs(servers: list[Server]) -> str:
    parts = []
    for srv in servers:
        for p in (srv.stdout_log, srv.stderr_log):
            if p.exists():
                parts.append(p.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(parts)


def assert_codes_not_logged(servers: list[Server], codes: list[str]) -> None:
    """Six-digit codes are too short for check_logs.py's search (which would match them
    by chance in timestamps); look for them where a leak would put them: as a value."""
    text = server_logs(servers)
    assert text, "no server output to check"
    for code in codes:
        pattern = re.compile(rf"(code|otp|totp)\W{{0,6}}{code}|[\"'=]{code}[\"'\s,}}]")
        m = pattern.search(text)
        assert m is None, f"a code shows in the server log: {text[max(0, m.start() - 80):m.end() + 80]!r}"


def secret_forms(secret: str) -> list[bytes]:
    raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
    assert len(raw) == 20, "a 160-bit seed"
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    return [secret.encode(), secret.lower().encode(), grouped.encode(), raw, raw.hex().encode(),
            base64.b64encode(raw), base64.urlsafe_b64encode(raw).rstrip(b"=")]


def database_bytes(store: Store) -> bytes:
    """Everything the store holds, as bytes: the SQLite files, or a pg_dump."""
    if store.database_url is None:
        files = [f for f in store.data_dir.iterdir() if f.name.startswith("gatehouse.db")]
        assert any(f.name == "gatehouse.db" for f in files), list(store.data_dir.iterdir())
        return b"".join(f.read_bytes() for f in files)
    name = urllib.parse.urlsplit(store.database_url).path.lstrip("/")
    cp = subprocess.run(["pg_dump", "-h", harness.postgres_socket_dir(), "-U", "postgres", "-d", name],
                        capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout


def sealed_secrets(store: Store) -> list[str]:
    sql = "SELECT sealed_secret FROM mfa_factor"
    if store.database_url is None:
        con = sqlite3.connect(f"file:{store.data_dir / 'gatehouse.db'}?mode=ro", uri=True)
        try:
            return [row[0] for row in con.execute(sql)]
        finally:
            con.close()
    name = urllib.parse.urlsplit(store.database_url).path.lstrip("/")
    cp = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", harness.postgres_socket_dir(),
                         "-U", "postgres", "-d", name, "-c", sql],
                        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout.splitlines()


# --------------------------------------------------------------------------
# 1. interoperability with real authenticator implementations
# --------------------------------------------------------------------------

def test_enrolment_interoperates_with_oathtool_pyotp_and_a_qr_reader(gatehouse, tmp_path):
    server = start(gatehouse)
    user = create_user(server, tmp_path)
    browser = password_sign_in(server, user)
    body = start_enrolment(server, browser)
    secret = body["secret"].replace(" ", "")
    assert re.fullmatch(r"([A-Z2-7]{4} )*[A-Z2-7]{1,4}", body["secret"]), body["secret"]
    assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) == 20

    # The QR code carries exactly the URI, and the URI the same secret.
    assert decode_qr(body["qr_svg"], tmp_path / "qr") == body["uri"]
    uri = urllib.parse.urlsplit(body["uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp"), body["uri"]
    assert urllib.parse.unquote(uri.path) == f"/Gatehouse:{user.name}", body["uri"]
    query = urllib.parse.parse_qs(uri.query)
    assert query["secret"] == [secret] and query["issuer"] == ["Gatehouse"], query
    assert query.get("algorithm", ["SHA1"]) == ["SHA1"] and query.get("digits", ["6"]) == ["6"], query
    assert query.get("period", ["30"]) == ["30"], query
    totp = pyotp.parse_uri(body["uri"])
    assert isinstance(totp, pyotp.TOTP) and totp.secret == secret, totp
    assert (totp.issuer, totp.name, totp.digits, totp.interval) == ("Gatehouse", user.name, 6, 30)

    # pyotp and oathtool agree, now and at fixed times.
    for _ in range(3):
        now_code, step = oathtool(secret)
        py_code = totp.now()
        if step_now() == step:
            assert py_code == now_code
            break
    else:
        raise AssertionError("no stable step to compare pyotp.now() with oathtool")
    for t in (59, 1_111_111_109, 2_000_000_000, step * STEP + 7):
        assert totp.at(t) == oathtool_at(secret, t), t

    # Confirmation accepts the previous step, refuses two back and any later step.
    s = ensure_margin(MARGIN * 2)
    for offset in (-3 * STEP, -2 * STEP, STEP, 2 * STEP):
        code, _ = oathtool(secret, offset)
        r = browser.post("/api/mfa/totp/confirm", {"code": code})
        assert_error(r, 422, "validation_failed")
    assert mfa_status(browser)["enabled"] is False
    code, confirm_step = oathtool(secret, -STEP)
    r = browser.post("/api/mfa/totp/confirm", {"code": code})
    assert r.status_code == 200, r.text
    assert confirm_step == s - 1
    remember_recovery_codes(r.json()["recovery_codes"])
    old, browser = browser, browser_of(server, r)
    assert old.get("/api/auth/session").status_code == 401, "the cookie from before confirmation still works"
    status = mfa_status(browser)
    assert status["enabled"] is True and status["recovery_codes_left"] == 10, status
    assert [f["kind"] for f in status["factors"]] == ["totp"] and status["factors"][0]["id"] == body["factor_id"]

    # Sign-in, still in step s: later steps and two steps back are refused, and so is the
    # confirmation's code (used once already).
    pending = password_step(server, user)
    used = [code]
    for offset in (STEP, 2 * STEP, -3 * STEP, -2 * STEP):
        c, _ = oathtool(secret, offset)
        assert_refused_code(second_step(server, pending, code=c))
        used.append(c)
    assert step_now() == s, "the step ended during the checks; MARGIN is too small"
    assert_refused_code(second_step(server, pending, code=code))

    # In the next step, a fresh sign-in with the previous step's code (step s, never
    # used) works; then the current step's code on another sign-in.
    s1 = wait_for_next_step()
    assert s1 == s + 1
    prev_code, prev_step = oathtool(secret, -STEP)
    assert prev_step == s
    r = second_step(server, password_step(server, user), code=prev_code)
    assert_signed_in_with(server, r, ["pwd", "otp", "mfa"])
    cur_code, cur_step = oathtool(secret)
    assert cur_step == s1
    r = second_step(server, password_step(server, user), code=cur_code)
    b = assert_signed_in_with(server, r, ["pwd", "otp", "mfa"])
    # Used once: neither works again, on a fresh sign-in.
    pending = password_step(server, user)
    assert_refused_code(second_step(server, pending, code=cur_code))
    assert_refused_code(second_step(server, pending, code=prev_code))
    used += [prev_code, cur_code]
    last_used = mfa_status(b)["factors"][0]["last_used_at"]
    assert last_used, "last_used_at is not set after a sign-in with the app"
    assert_codes_not_logged(gatehouse.servers, used)


# --------------------------------------------------------------------------
# 2. single use: the same code twice, at the same moment, and a raced recovery code
# --------------------------------------------------------------------------

def race(n: int, fn) -> list:
    """Runs fn(i) for i in range(n) on n threads released together."""
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait(timeout=60)
        return fn(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def warmed_session(server: Server) -> requests.Session:
    """A requests session with its TLS connection already open, so a raced request
    leaves at once."""
    s = session()
    assert s.get(server.url("/healthz"), timeout=30).status_code == 200
    return s


def test_the_same_code_twice_succeeds_once(gatehouse, tmp_path):
    server = start(gatehouse)
    user = create_user(server, tmp_path)
    e = enrol(server, user)
    code, _ = oathtool(e.secret)
    r = second_step(server, password_step(server, user), code=code)
    assert_signed_in_with(server, r, ["pwd", "otp", "mfa"])
    assert_refused_code(second_step(server, password_step(server, user), code=code))
    assert_codes_not_logged(gatehouse.servers, [code])


def test_the_same_code_at_the_same_moment_succeeds_once(gatehouse, tmp_path):
    """PostgreSQL: two nodes on one database (and one master key) get the code at the
    same moment. SQLite (one node): parallel requests to the one server."""
    first = start(gatehouse)
    nodes = [first]
    if harness.backend() == "postgres":
        data_dir = tmp_path / "node2"
        data_dir.mkdir()
        second = gatehouse.start(
            store=Store(data_dir=data_dir, database_url=first.store.database_url, starts=1),
            env=server_env(GATEHOUSE_SECRETS__MASTER_KEY_FILE=str(first.store.data_dir / "master.key")),
            expect_bootstrap=False)
        assert second.bootstrap_username is None, "the second node made another admin"
        nodes.append(second)
    user = create_user(first, tmp_path)
    e = enrol(first, user)
    n = 8
    pendings = [password_step(nodes[i % len(nodes)], user) for i in range(n)]
    sessions = [warmed_session(nodes[i % len(nodes)]) for i in range(n)]
    code, _ = oathtool(e.secret)
    answers = race(n, lambda i: second_step(nodes[i % len(nodes)], pendings[i], code=code, s=sessions[i]))
    ok = [(i, r) for i, r in enumerate(answers) if r.status_code == 200]
    assert len(ok) == 1, [(r.status_code, r.text) for r in answers]
    for i, r in enumerate(answers):
        if r.status_code != 200:
            assert_refused_code(r)
    i, r = ok[0]
    b = assert_signed_in_with(nodes[i % len(nodes)], r, ["pwd", "otp", "mfa"])
    if len(nodes) == 2:
        # The session is good on both nodes, and the seed opens on both (same master key).
        other = nodes[1 - i % 2]
        assert Browser(other, b.cookie, b.csrf).get("/api/auth/session").status_code == 200
    assert_codes_not_logged(gatehouse.servers, [code])


def test_one_recovery_code_raced_by_30_sign_ins_opens_one_session(gatehouse, tmp_path):
    first = start(gatehouse)
    nodes = [first]
    if harness.backend() == "postgres":
        data_dir = tmp_path / "node2"
        data_dir.mkdir()
        nodes.append(gatehouse.start(
            store=Store(data_dir=data_dir, database_url=first.store.database_url, starts=1),
            env=server_env(GATEHOUSE_SECRETS__MASTER_KEY_FILE=str(first.store.data_dir / "master.key")),
            expect_bootstrap=False))
    user = create_user(first, tmp_path)
    e = enrol(first, user)
    assert mfa_status(e.browser)["recovery_codes_left"] == 10
    n = 30
    pendings = [password_step(nodes[i % len(nodes)], user) for i in range(n)]
    sessions = [warmed_session(nodes[i % len(nodes)]) for i in range(n)]
    # Typed as a person might: lower case.
    typed = e.recovery_codes[0].lower()
    answers = race(n, lambda i: second_step(nodes[i % len(nodes)], pendings[i], recovery_code=typed,
                                            s=sessions[i]))
    ok = [(i, r) for i, r in enumerate(answers) if r.status_code == 200]
    assert len(ok) == 1, sorted({(r.status_code, r.text) for r in answers})
    for r in answers:
        if r.status_code != 200:
            assert_refused_code(r)
    i, r = ok[0]
    b = assert_signed_in_with(nodes[i % len(nodes)], r, ["pwd", "recovery", "mfa"])
    status = mfa_status(b)
    assert status["recovery_codes_left"] == 9 and status["recovery_codes_low"] is False, status
    # Spent: it does not work again; another code does.
    assert_refused_code(second_step(first, password_step(first, user), recovery_code=e.recovery_codes[0]))
    r = second_step(first, password_step(first, user), recovery_code=e.recovery_codes[1])
    assert mfa_status(assert_signed_in_with(first, r, ["pwd", "recovery", "mfa"]))["recovery_codes_left"] == 8


# --------------------------------------------------------------------------
# 3. the pending credential, and the wrong-code count
# --------------------------------------------------------------------------

def test_the_pending_credential_opens_nothing_but_the_second_step(gatehouse, tmp_path):
    server = start(gatehouse)
    user = create_user(server, tmp_path)
    e = enrol(server, user)
    pending = password_step(server, user)
    presented = {
        "as the session cookie": {"Cookie": f"{COOKIE_NAME}={pending}"},
        "as its own cookie": {"Cookie": f"{PENDING_COOKIE}={pending}"},
        "as a bearer token": {"Authorization": remember(f"Bearer {pending}")},
        "as a Basic API key": {"Authorization": remember(
            "Basic " + base64.b64encode(f"{pending}:".encode()).decode())},
        "as a Basic password": {"Authorization": remember(
            "Basic " + base64.b64encode(f"{user.name}:{pending}".encode()).decode())},
    }
    with session() as s:
        for how, headers in presented.items():
            for path in OTHER_ROUTES:
                r = s.get(server.url(path), headers=headers, timeout=30)
                assert r.status_code == 401, (how, path, r.status_code, r.text)
                assert extract_cookie(r) is None, (how, path)
            r = s.post(server.url("/api/auth/logout"), headers=headers, timeout=30)
            assert r.status_code in (401, 403), (how, r.status_code, r.text)
        # The second step takes it only in its own cookie.
        code, _ = oathtool(e.secret)
        r = s.post(server.url("/api/auth/login/mfa"), json={"code": code},
                   headers={"Cookie": f"{COOKIE_NAME}={pending}"}, timeout=30)
        assert_error(r, 401, "unauthenticated")
        r = s.post(server.url("/api/auth/login/mfa"), json={"code": code},
                   headers={"Authorization": f"Bearer {pending}"}, timeout=30)
        assert r.status_code == 401, r.text
    # None of that used it up: it still completes the sign-in, once.
    r = second_step(server, pending, code=code)
    assert_signed_in_with(server, r, ["pwd", "otp", "mfa"])
    r = second_step(server, pending, recovery_code=e.recovery_codes[0])
    assert_error(r, 401, "unauthenticated")
    # A made-up one is refused the same way.
    assert_error(second_step(server, remember("x" + pending[1:]), code=code), 401, "unauthenticated")


def test_wrong_codes_are_counted_per_account_across_sign_ins(gatehouse, tmp_path):
    server = start(gatehouse, GATEHOUSE_RATE_LIMIT__LOGIN_FREE_FAILURES="3")
    user = create_user(server, tmp_path)
    e = enrol(server, user)
    bad = wrong_code(e.secret)
    first = password_step(server, user)
    for _ in range(2):
        assert_refused_code(second_step(server, first, code=bad))
    # Entering the password again starts a new pending sign-in but not a new count.
    second = password_step(server, user)
    assert_refused_code(second_step(server, second, code=bad))
    r = second_step(server, second, code=bad)
    body = assert_error(r, 429, "rate_limited")
    retry = r.headers.get("Retry-After")
    assert retry and retry.isdigit() and 0 < int(retry) <= 30, (retry, body)
    # While it lasts, even the right code waits, on any pending sign-in.
    code, _ = oathtool(e.secret)
    third = password_step(server, user)
    r = second_step(server, third, code=code)
    assert r.status_code == 429 and r.headers.get("Retry-After"), (r.status_code, r.text)
    assert extract_cookie(r) is None
    # The operator's reset clears the count (and the factor).
    server.admin("reset-mfa", user.name, "--reason", "test: locked out by wrong codes")
    res = login_ok(server, user.name, user.password)
    assert res.body["amr"] == ["pwd"], res.body


# --------------------------------------------------------------------------
# 4. the CLI
# --------------------------------------------------------------------------

class Cli:
    """Runs `gatehouse` with its own home (credentials file) and no GATEHOUSE_* variables."""

    def __init__(self, server: Server, home: Path):
        self.server, self.home = server, home
        home.mkdir(parents=True, exist_ok=True)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
        env.update(HOME=str(self.home), XDG_CONFIG_HOME=str(self.home / "xdg"))
        return env

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        cp = subprocess.run([str(BINARY), *args], input=stdin, capture_output=True, text=True,
                            env=self.env(), timeout=120,
                            stdin=None if stdin is not None else subprocess.DEVNULL)
        assert "panicked" not in cp.stderr and "RUST_BACKTRACE" not in cp.stderr, cp.stderr
        assert "Traceback" not in cp.stderr, cp.stderr
        return cp

    def ok(self, *args: str, stdin: str | None = None) -> str:
        cp = self.run(*args, stdin=stdin)
        assert cp.returncode == 0, (args, cp.returncode, cp.stdout, cp.stderr)
        return cp.stdout

    def trust(self) -> list[str]:
        return ["--server", self.server.base, "--fingerprint", self.server.fingerprint]


def test_cli_login_reads_the_code_from_stdin_and_shows_the_status(gatehouse, tmp_path):
    server = start(gatehouse)
    user = create_user(server, tmp_path)
    e = enrol(server, user)
    cli = Cli(server, tmp_path / "home")
    code, _ = oathtool(e.secret)
    cp = cli.run("login", *cli.trust(), "--username", user.name, "--otp-stdin",
                 stdin=f"{user.password}\n{code}\n")
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    assert f"as {user.name}" in cp.stdout, cp.stdout
    for shown in (user.password, code):
        assert shown not in cp.stdout + cp.stderr
    session_out = cli.ok("auth", "session")
    assert "otp" in session_out, session_out
    out = cli.ok("mfa", "status")
    assert "2-Step Verification: On" in out, out
    assert "Recovery codes left: 10" in out, out
    assert "Authenticator app" in out, out
    status = json.loads(cli.ok("mfa", "status", "--json"))
    assert status["enabled"] is True and status["recovery_codes_left"] == 10, status

    # A recovery code on the second line works too, and is counted.
    other = Cli(server, tmp_path / "home2")
    cp = other.run("login", *other.trust(), "--username", user.name, "--otp-stdin",
                   stdin=f"{user.password}\n{e.recovery_codes[0]}\n")
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    assert e.recovery_codes[0] not in cp.stdout + cp.stderr
    assert "Recovery codes left: 9" in other.ok("mfa", "status")

    # The same code again: refused, plainly.
    third = Cli(server, tmp_path / "home3")
    cp = third.run("login", *third.trust(), "--username", user.name, "--otp-stdin",
                   stdin=f"{user.password}\n{code}\n")
    assert cp.returncode != 0, cp.stdout
    assert cp.stderr.strip().startswith("error:"), cp.stderr
    assert code not in cp.stdout + cp.stderr

    # No --otp-stdin and no terminal: a clear message, not a hang or a crash.
    cp = third.run("login", *third.trust(), "--username", user.name, stdin=f"{user.password}\n")
    assert cp.returncode not in (0, 101), (cp.returncode, cp.stdout, cp.stderr)
    assert "--otp-stdin" in cp.stderr and "2-step verification" in cp.stderr, cp.stderr
    # --otp-stdin with nothing after the password.
    cp = third.run("login", *third.trust(), "--username", user.name, "--otp-stdin", stdin=f"{user.password}\n")
    assert cp.returncode not in (0, 101), (cp.returncode, cp.stdout, cp.stderr)
    assert "code" in cp.stderr, cp.stderr
    assert not (third.home / "xdg/gatehouse/credentials.toml").exists()
    assert_codes_not_logged(gatehouse.servers, [code])


# --------------------------------------------------------------------------
# 5. the operator: reset-mfa and the organisation policy
# --------------------------------------------------------------------------

def test_admin_reset_mfa_removes_the_factor_ends_sessions_and_audits_the_reason(gatehouse, tmp_path):
    server = start(gatehouse)
    user = create_user(server, tmp_path)
    e = enrol(server, user)
    code, _ = oathtool(e.secret)
    b = assert_signed_in_with(server, second_step(server, password_step(server, user), code=code),
                              ["pwd", "otp", "mfa"])
    cp = server.admin("reset-mfa", user.name, check=False)
    assert cp.returncode != 0 and "--reason" in cp.stderr, (cp.stdout, cp.stderr)
    cp = server.admin("reset-mfa", user.name, "--reason", "   ", check=False)
    assert cp.returncode != 0 and "reason" in cp.stderr and "panicked" not in cp.stderr, cp.stderr
    assert mfa_status(b)["enabled"] is True, "a refused reset changed something"

    reason = f"lost phone, identity checked by video call ({uuid.uuid4().hex[:8]})"
    cp = server.admin("reset-mfa", user.name, "--reason", reason)
    assert "1 factor" in cp.stdout, cp.stdout
    # Its sessions end. The operator CLI is another process, so the server learns of it
    # as another node would: at its next invalidation poll (every 5 s), well before its
    # session cache (30 s) would expire them.
    for gone in (b, e.browser):
        deadline = time.monotonic() + 8
        while gone.get("/api/auth/session").status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert gone.get("/api/auth/session").status_code == 401, "a session outlived reset-mfa"
    # The password alone signs in again.
    res = login_ok(server, user.name, user.password)
    assert res.body["amr"] == ["pwd"], res.body
    assert extract_cookie(res.response, PENDING_COOKIE) is None
    status = mfa_status(Browser(server, res.cookie, res.csrf_token))
    assert status["enabled"] is False and status["factors"] == [] and status["recovery_codes_left"] == 0
    # The recovery codes went with it.
    assert login(server, user.name, user.password).body.get("mfa_required") is None

    audit = json.loads(server.admin("audit", "--limit", "200", "--json").stdout)
    resets = [a for a in audit if a["action"] == "mfa.reset_by_operator"]
    assert len(resets) == 1, [a["action"] for a in audit]
    assert reason in resets[0]["detail"], resets[0]
    assert resets[0]["user_id"] == res.body["user"]["id"], (resets[0], res.body["user"])
    # The table lists the event (its DETAIL, with the reason, is in --json).
    assert "mfa.reset_by_operator" in server.admin("audit", "--limit", "200").stdout
    # And the new setup works from scratch.
    enrol(server, user, Browser(server, res.cookie, res.csrf_token))


def test_require_mfa_policy_limits_a_member_to_setting_it_up(gatehouse, tmp_path):
    server = start(gatehouse)  # its own server: the policy is organisation-wide
    user = create_user(server, tmp_path)
    bystander = create_user(server, tmp_path)
    server.admin("policy", "--require-mfa", "true")
    try:
        assert "require_mfa                   = true" in server.admin("policy").stdout
        b = password_sign_in(server, user)
        s = b.get("/api/auth/session")
        assert s.status_code == 200 and s.json()["mfa_setup_required"] is True, s.text
        assert s.json()["amr"] == ["pwd"], s.json()
        for path in ["/api/api-keys", "/api/tokens", "/api/ssh-keys"]:
            assert_error(b.get(path), 403, "mfa_setup_required")
        assert_error(b.post("/api/api-keys", {"name": "early"}), 403, "mfa_setup_required")
        assert_error(b.post("/api/tokens", {"expires_in_hours": 1}), 403, "mfa_setup_required")
        status = mfa_status(b)
        assert status["required_by_organization"] is True and status["enabled"] is False, status

        e = enrol(server, user, b)
        after = e.browser
        assert b.get("/api/auth/session").status_code == 401, "the limited session outlived confirmation"
        s = after.get("/api/auth/session")
        assert s.status_code == 200 and not s.json().get("mfa_setup_required"), s.json()
        assert s.json()["amr"] == ["pwd", "otp", "mfa"], s.json()
        for path in ["/api/api-keys", "/api/tokens", "/api/ssh-keys"]:
            r = after.get(path)
            assert r.status_code == 200, (path, r.status_code, r.text)
        r = after.post("/api/api-keys", {"name": "after-setup"})
        assert r.status_code == 201, r.text
        remember(r.json()["key"])
        # Required: it cannot be turned off.
        assert_error(after.delete("/api/mfa"), 409, "conflict")
        # The next sign-in asks for the code and then opens a full session.
        code, _ = oathtool(e.secret)
        full = assert_signed_in_with(server, second_step(server, password_step(server, user), code=code),
                                     ["pwd", "otp", "mfa"])
        assert full.get("/api/api-keys").status_code == 200
    finally:
        server.admin("policy", "--require-mfa", "false")
    # Back to optional: a member without 2-step verification gets a full session again.
    b = password_sign_in(server, bystander)
    s = b.get("/api/auth/session")
    assert s.status_code == 200 and not s.json().get("mfa_setup_required"), s.json()
    assert b.get("/api/api-keys").status_code == 200
    assert_codes_not_logged(gatehouse.servers, [code])


# --------------------------------------------------------------------------
# 6. nothing leaks: not to the logs, not to the database
# --------------------------------------------------------------------------

def test_the_seed_and_the_codes_are_neither_logged_nor_stored_in_the_clear(gatehouse, tmp_path):
    server = start(gatehouse, RUST_LOG="trace,hyper=debug,h2=debug,rustls=debug,sqlx=debug")
    user = create_user(server, tmp_path)
    e = enrol(server, user)
    code, _ = oathtool(e.secret)
    assert_signed_in_with(server, second_step(server, password_step(server, user), code=code),
                          ["pwd", "otp", "mfa"])
    assert_signed_in_with(server, second_step(server, password_step(server, user),
                                              recovery_code=e.recovery_codes[0]), ["pwd", "recovery", "mfa"])
    # A refused code and a refused recovery code are not logged either.
    bad = wrong_code(e.secret)
    assert_refused_code(second_step(server, password_step(server, user), code=bad))
    assert_refused_code(second_step(server, password_step(server, user), recovery_code=e.recovery_codes[0]))
    # Re-authentication with a code (the next step's, once it comes).
    wait_for_next_step()
    reauth_code, _ = oathtool(e.secret)
    b = password_sign_in_mfa(server, user, e)
    r = b.post("/api/auth/reauthenticate", {"code": reauth_code})
    assert r.status_code == 200, r.text
    browser_of(server, r)

    # The database: the seed is sealed, the recovery codes hashed.
    sealed = sealed_secrets(server.store)
    assert len(sealed) == 1 and sealed[0], sealed
    forms = secret_forms(e.secret)
    for form in forms:
        assert form.decode("latin-1") not in sealed[0], "the stored seed is not sealed"
    dump = database_bytes(server.store)
    assert sealed[0].encode() in dump, "the dump does not hold the factor table"
    for form in forms:
        assert form not in dump, f"the seed is in the database in the clear ({form[:4]!r}...)"
    for rc in e.recovery_codes:
        for form in (rc, rc.replace("-", ""), rc.lower(), rc.replace("-", "").lower()):
            assert form.encode() not in dump, "a recovery code is in the database in the clear"

    # The logs (check_logs.py also checks every recorded secret at the end of the run).
    server.stop()
    text = server_logs([server])
    assert len(text) > 10_000, "the server logged too little for this check to mean anything"
    for secret in [e.grouped, e.secret, e.secret.lower(), e.uri, *e.recovery_codes]:
        assert secret not in text and urllib.parse.quote(secret, safe="") not in text, secret[:4]
    assert_codes_not_logged([server], [code, bad, reauth_code])


def password_sign_in_mfa(server: Server, user: User, e: Enrolment) -> Browser:
    """A full sign-in with the next unused recovery code (no TOTP step spent)."""
    rc = e.recovery_codes.pop()
    return assert_signed_in_with(server, second_step(server, password_step(server, user), recovery_code=rc),
                                 ["pwd", "recovery", "mfa"])
