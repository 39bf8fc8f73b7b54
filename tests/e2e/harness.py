"""Helpers shared by the end-to-end tests.

Everything here drives the real `gatehouse` binary as a subprocess and talks
to it over real sockets (Python requests, and the real `curl` binary).

Environment:
  E2E_DATABASE                 sqlite (default) or postgres
  GATEHOUSE_TEST_POSTGRES_URL  postgres:///postgres?host=<socket dir>&user=postgres
                               (required when E2E_DATABASE=postgres)
  GATEHOUSE_BIN                path of the binary (default target/debug/gatehouse)
  GATEHOUSE_TEST_ARTIFACTS     artifacts folder (default <repo>/test-artifacts)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import signal
import ssl
import string
import subprocess
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests
import urllib3

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("GATEHOUSE_BIN", str(ROOT / "target" / "debug" / "gatehouse")))
ARTIFACTS = Path(os.environ.get("GATEHOUSE_TEST_ARTIFACTS", str(ROOT / "test-artifacts")))
LOG_DIR = ARTIFACTS / "logs"
SECRETS_FILE = ARTIFACTS / "secrets.txt"

COOKIE_NAME = "cloud.sso"
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0

LISTEN_RE = re.compile(r"^Gatehouse listening on (https://127\.0\.0\.1:(\d+))$")
FINGERPRINT_RE = re.compile(r"^TLS certificate SHA-256 fingerprint: (SHA256:[0-9a-f]{64})$")
HTTP_RE = re.compile(r"^Plain HTTP listener \(never authenticates\): (http://127\.0\.0\.1:(\d+))$")
BOOTSTRAP_PW_RE = re.compile(r"^(Bootstrap account created: username=(\S+) password=)(\S+)$")
BOOTSTRAP_FILE_RE = re.compile(r"^Bootstrap account created: username=(\S+) \(password from file\)$")
BOOTSTRAP_ANY_PREFIX = "Bootstrap account created"

_secret_lock = threading.Lock()


# --------------------------------------------------------------------------
# secrets bookkeeping (read back by check_logs.py)
# --------------------------------------------------------------------------

def record_secret(value: str) -> str:
    """Append a secret the tests used, so check_logs.py can look for it in the logs."""
    if not value:
        raise ValueError("refusing to record an empty secret")
    if "\n" in value or "\r" in value:
        raise ValueError("secrets must be single-line")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with _secret_lock, open(SECRETS_FILE, "a", encoding="utf-8") as f:
        f.write(value + "\n")
    return value


def new_password(length: int = 24) -> str:
    """A fresh random password (recorded as a secret)."""
    alphabet = string.ascii_letters + string.digits
    return record_secret("".join(secrets.choice(alphabet) for _ in range(length)))


def random_token(prefix: str = "") -> str:
    return record_secret(prefix + secrets.token_urlsafe(24))


# --------------------------------------------------------------------------
# database backends
# --------------------------------------------------------------------------

def backend() -> str:
    value = os.environ.get("E2E_DATABASE", "sqlite")
    if value not in ("sqlite", "postgres"):
        raise RuntimeError(f"E2E_DATABASE must be sqlite or postgres, not {value!r}")
    return value


def postgres_socket_dir() -> str:
    url = os.environ.get("GATEHOUSE_TEST_POSTGRES_URL")
    if not url:
        raise RuntimeError("E2E_DATABASE=postgres needs GATEHOUSE_TEST_POSTGRES_URL")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    hosts = query.get("host")
    if not hosts or not hosts[0].startswith("/"):
        raise RuntimeError(f"GATEHOUSE_TEST_POSTGRES_URL has no unix socket host=: {url}")
    return hosts[0]


def create_postgres_database() -> str:
    """Create a fresh database on the throwaway cluster; return its URL for --database-url."""
    sock = postgres_socket_dir()
    name = "e2e_" + uuid.uuid4().hex[:16]
    subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", sock, "-U", "postgres",
         "-d", "postgres", "-c", f'CREATE DATABASE "{name}"'],
        check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
    )
    return f"postgres:///{name}?host={sock}&user=postgres"


# --------------------------------------------------------------------------
# the store (data dir + database) and the server process
# --------------------------------------------------------------------------

@dataclass
class Store:
    """A data dir plus, for PostgreSQL, a database: what survives a restart."""

    data_dir: Path
    database_url: str | None = None
    starts: int = 0

    @classmethod
    def create(cls, parent: Path, name: str) -> "Store":
        data_dir = parent / name
        data_dir.mkdir(parents=True, exist_ok=False)
        url = create_postgres_database() if backend() == "postgres" else None
        return cls(data_dir=data_dir, database_url=url)

    def args(self) -> list[str]:
        out = ["--data-dir", str(self.data_dir)]
        if self.database_url:
            out += ["--database-url", self.database_url]
        return out


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:120]


@dataclass
class Server:
    store: Store
    log_name: str
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None
    umask: int = -1  # -1: inherit the test runner's

    proc: subprocess.Popen | None = None
    lines: list[str] = field(default_factory=list)
    https_url: str = ""
    https_port: int = 0
    http_url: str = ""
    http_port: int = 0
    fingerprint: str = ""
    bootstrap_username: str | None = None
    bootstrap_password: str | None = None
    bootstrap_from_file: bool = False
    returncode: int | None = None

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self._reader: threading.Thread | None = None
        self._eof = False

    # -- paths ------------------------------------------------------------
    @property
    def stdout_log(self) -> Path:
        return LOG_DIR / f"{self.log_name}.stdout.log"

    @property
    def stderr_log(self) -> Path:
        return LOG_DIR / f"{self.log_name}.stderr.log"

    @property
    def base(self) -> str:
        return self.https_url

    @property
    def origin(self) -> str:
        return self.https_url

    def url(self, path: str) -> str:
        return self.https_url + path

    # -- lifecycle --------------------------------------------------------
    def command(self) -> list[str]:
        return [str(BINARY), "serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                *self.store.args(), *self.extra_args]

    def start(self, expect_bootstrap: bool | None = None) -> "Server":
        if not BINARY.exists():
            raise RuntimeError(f"{BINARY} does not exist; run `cargo build --bins` first")
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        if expect_bootstrap is None:
            expect_bootstrap = self.store.starts == 0
        self.store.starts += 1
        env = dict(os.environ)
        # Run the server at a chatty level: leaks tend to hide in debug logs.
        env.setdefault("RUST_LOG", os.environ.get("E2E_SERVER_LOG_LEVEL", "debug"))
        if self.env:
            env.update(self.env)
        stderr = open(self.stderr_log, "ab")
        try:
            self.proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=stderr, env=env, cwd=str(self.store.data_dir.parent),
                text=True, encoding="utf-8", errors="replace", bufsize=1, umask=self.umask,
            )
        finally:
            stderr.close()
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        try:
            self._wait_for_startup(expect_bootstrap)
            self._wait_healthy()
        except BaseException:
            self.kill()
            raise
        return self

    def _read_stdout(self) -> None:
        assert self.proc and self.proc.stdout
        with open(self.stdout_log, "a", encoding="utf-8") as log:
            for raw in self.proc.stdout:
                line = raw.rstrip("\r\n")
                logged = line
                m = BOOTSTRAP_PW_RE.match(line)
                if m:
                    # The bootstrap password is shown to the operator on stdout
                    # by design (once). Record it as a secret and keep it out of
                    # the captured copy, so check_logs.py still catches any
                    # *other* place the server prints or logs it.
                    record_secret(m.group(3))
                    logged = m.group(1) + "<redacted-by-test-harness>"
                log.write(logged + "\n")
                log.flush()
                with self._cond:
                    self.lines.append(line)
                    self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _parse(self) -> None:
        for line in self.lines:
            if m := LISTEN_RE.match(line):
                self.https_url, self.https_port = m.group(1), int(m.group(2))
            elif m := FINGERPRINT_RE.match(line):
                self.fingerprint = m.group(1)
            elif m := HTTP_RE.match(line):
                self.http_url, self.http_port = m.group(1), int(m.group(2))
            elif m := BOOTSTRAP_PW_RE.match(line):
                self.bootstrap_username, self.bootstrap_password = m.group(2), m.group(3)
            elif m := BOOTSTRAP_FILE_RE.match(line):
                self.bootstrap_username, self.bootstrap_from_file = m.group(1), True

    def _ready(self, expect_bootstrap: bool) -> bool:
        self._parse()
        if not (self.https_url and self.fingerprint and self.http_url):
            return False
        if expect_bootstrap and not self.bootstrap_username:
            return False
        return True

    def _wait_for_startup(self, expect_bootstrap: bool) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        with self._cond:
            while not self._ready(expect_bootstrap):
                if self._eof or (self.proc and self.proc.poll() is not None):
                    raise RuntimeError(
                        f"gatehouse exited during startup (code {self.proc.wait() if self.proc else '?'});"
                        f" stdout so far: {self.lines!r}\nstderr tail:\n{self.stderr_tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(
                        f"gatehouse did not print its startup lines within {STARTUP_TIMEOUT}s;"
                        f" stdout so far: {self.lines!r}\nstderr tail:\n{self.stderr_tail()}")
                self._cond.wait(min(left, 0.5))

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last: object = None
        while time.monotonic() < deadline:
            try:
                r = requests.get(self.url("/healthz"), verify=False, timeout=5)
                if r.status_code == 200:
                    return
                last = r.status_code
            except requests.RequestException as e:  # not accepting yet
                last = e
            time.sleep(0.1)
        raise RuntimeError(f"/healthz never returned 200 (last: {last!r})")

    def stdout_text(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def stderr_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.stderr_log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "<no stderr log>"

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        assert self.proc is not None
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"gatehouse did not exit within {timeout}s of SIGTERM")
        if self._reader:
            self._reader.join(timeout=10)
        return self.returncode

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None:
            raise RuntimeError("server was never started")
        if self.proc.poll() is None:
            self.terminate()
        return self.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc is not None:
            self.returncode = self.proc.returncode

    # -- TLS --------------------------------------------------------------
    def presented_fingerprint(self) -> str:
        pem = ssl.get_server_certificate(("127.0.0.1", self.https_port), timeout=10)
        der = ssl.PEM_cert_to_DER_cert(pem)
        return "SHA256:" + hashlib.sha256(der).hexdigest()

    # -- admin CLI ---------------------------------------------------------
    def admin(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run_admin(self.store, *args, check=check)


def run_admin(store: Store, *args: str, check: bool = True,
              umask: int = -1) -> subprocess.CompletedProcess:
    """`gatehouse admin <store flags> <subcommand...>`"""
    cmd = [str(BINARY), "admin", *store.args(), *args]
    cp = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
                        umask=umask)
    log = LOG_DIR / "admin-cli.log"
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as f:
        f.write(f"$ gatehouse admin {' '.join(args)}  (exit {cp.returncode})\n{cp.stdout}{cp.stderr}\n")
    if check and cp.returncode != 0:
        raise AssertionError(f"{cmd!r} exited {cp.returncode}\nstdout:{cp.stdout}\nstderr:{cp.stderr}")
    return cp


# --------------------------------------------------------------------------
# HTTP helpers (Python requests)
# --------------------------------------------------------------------------

def session() -> requests.Session:
    s = requests.Session()
    s.verify = False
    s.trust_env = False
    return s


def set_cookie_headers(resp: requests.Response) -> list[str]:
    return list(resp.raw.headers.getlist("Set-Cookie"))


def extract_cookie(resp: requests.Response, name: str = COOKIE_NAME) -> str | None:
    for header in set_cookie_headers(resp):
        first = header.split(";", 1)[0]
        k, _, v = first.partition("=")
        if k.strip() == name:
            return v.strip()
    return None


@dataclass
class Login:
    status: int
    body: dict
    cookie: str | None
    csrf_token: str | None
    response: requests.Response


def login(server: Server, username: str, password: str, *, s: requests.Session | None = None,
          timeout: float = 30) -> Login:
    s = s or session()
    r = s.post(server.url("/api/auth/login"), json={"username": username, "password": password},
               timeout=timeout)
    try:
        body = r.json()
    except ValueError:
        body = {}
    cookie = extract_cookie(r)
    csrf = body.get("csrf_token") if isinstance(body, dict) else None
    if cookie:
        record_secret(cookie)
    if csrf:
        record_secret(csrf)
    return Login(r.status_code, body if isinstance(body, dict) else {}, cookie, csrf, r)


def login_ok(server: Server, username: str, password: str) -> Login:
    result = login(server, username, password)
    assert result.status == 200, (result.status, result.response.text)
    assert result.cookie, f"no {COOKIE_NAME} cookie in {set_cookie_headers(result.response)!r}"
    return result


def get_session(server: Server, cookie: str | None, **headers: str) -> requests.Response:
    h = dict(headers)
    if cookie is not None:
        h["Cookie"] = f"{COOKIE_NAME}={cookie}"
    return session().get(server.url("/api/auth/session"), headers=h, timeout=30)


def assert_error(resp: requests.Response, status: int, code: str) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.text)
    ctype = resp.headers.get("Content-Type", "")
    assert "application/json" in ctype, f"error body is not JSON: {ctype!r} {resp.text!r}"
    body = resp.json()
    assert body.get("error") == code, body
    assert isinstance(body.get("message"), str) and body["message"], body
    assert isinstance(body.get("request_id"), str) and body["request_id"], body
    return body


# --------------------------------------------------------------------------
# curl helpers (the real curl binary)
# --------------------------------------------------------------------------

@dataclass
class CurlResult:
    status: int
    headers: list[tuple[str, str]]
    body: str

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self) -> dict:
        return json.loads(self.body)


def curl(tmp: Path, *args: str, stdin: str | None = None) -> CurlResult:
    tmp.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    hdr, body = tmp / f"curl-{tag}.headers", tmp / f"curl-{tag}.body"
    cmd = ["curl", "-sS", "-k", "--max-time", "30", "--noproxy", "*",
           "-D", str(hdr), "-o", str(body), "-w", "%{http_code}", *args]
    cp = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, f"curl failed ({cp.returncode}): {cp.stderr}"
    headers: list[tuple[str, str]] = []
    for line in hdr.read_text(errors="replace").splitlines():
        if ":" in line and not line.startswith("HTTP/"):
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
    return CurlResult(int(cp.stdout.strip()), headers, body.read_text(errors="replace"))


def cookie_from_jar(jar: Path, name: str = COOKIE_NAME) -> str | None:
    """Read a cookie value from a curl (Netscape format) cookie jar."""
    for line in jar.read_text().splitlines():
        if line.startswith("#HttpOnly_"):
            line = line[len("#HttpOnly_"):]
        elif not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) >= 7 and fields[5] == name:
            return fields[6]
    return None
