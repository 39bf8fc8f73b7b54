"""The server's edges against real clients: slow and idle connections, the connection
cap, oversize bodies (Python requests, curl), and the modes of the files at rest."""

from __future__ import annotations

import json
import os
import pwd
import socket
import ssl
import subprocess
import time

from harness import (
    BINARY,
    COOKIE_NAME,
    assert_error,
    backend,
    curl,
    login_ok,
    run_admin,
    session,
)


def _tls(server, timeout: float = 10) -> ssl.SSLSocket:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", server.https_port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def _plain(server, timeout: float = 10) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.http_port), timeout=timeout)


def _seconds_until_closed(sock: socket.socket, limit: float = 20) -> float:
    """Waits for the server to close `sock` (no response bytes allowed); returns how long."""
    start = time.monotonic()
    sock.settimeout(limit)
    try:
        data = sock.recv(4096)
    except (ssl.SSLEOFError, ConnectionResetError):
        data = b""
    except TimeoutError:
        raise AssertionError(f"the connection was still open after {limit}s")
    assert data == b"", f"expected a close, got {data[:200]!r}"
    return time.monotonic() - start


def test_a_client_that_never_finishes_its_headers_is_disconnected(gatehouse):
    srv = gatehouse.start(env={"GATEHOUSE_SERVER__HEADER_READ_TIMEOUT_SECONDS": "2"})
    for open_conn in (_tls, _plain):
        with open_conn(srv) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            waited = _seconds_until_closed(sock)
            assert 1.5 <= waited <= 8, (open_conn.__name__, waited)


def test_a_connection_that_sends_nothing_after_the_handshake_is_disconnected(gatehouse):
    srv = gatehouse.start(env={"GATEHOUSE_SERVER__HEADER_READ_TIMEOUT_SECONDS": "2"})
    for open_conn in (_tls, _plain):
        with open_conn(srv) as sock:
            waited = _seconds_until_closed(sock)
            assert 1.5 <= waited <= 8, (open_conn.__name__, waited)
    # A request that is sent in time is answered as usual.
    with _tls(srv) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200"), "healthz over a raw TLS socket"


def _refused(open_conn, srv) -> bool:
    """Whether a new connection is closed without being served."""
    try:
        sock = open_conn(srv, timeout=5)
    except (ssl.SSLError, ConnectionError, OSError):
        return True
    with sock:
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            sock.settimeout(5)
            return sock.recv(4096) == b""
        except (ssl.SSLError, ConnectionError, OSError):
            return True


def test_connections_beyond_max_connections_are_closed_logged_and_served_again_later(gatehouse):
    cap = 4
    srv = gatehouse.start(env={"GATEHOUSE_SERVER__MAX_CONNECTIONS": str(cap)})
    time.sleep(0.5)  # the start-up health probe's connection has closed

    def log() -> str:  # this run's part of the (appended) log file
        return srv.stderr_log.read_bytes()[offset:].decode(errors="replace")

    offset = srv.stderr_log.stat().st_size

    held = [_tls(srv) for _ in range(cap)]
    try:
        # Every place is taken (handshakes done): one more connection on either listener
        # is closed before anything is read from it, and the log says why.
        assert _refused(_tls, srv), "TLS connection beyond the cap was served"
        assert _refused(_plain, srv), "plain connection beyond the cap was served"
        deadline = time.monotonic() + 10
        while "server.max_connections reached" not in log():
            assert time.monotonic() < deadline, "no log line about the connection cap"
            time.sleep(0.1)
    finally:
        for sock in held:
            sock.close()
    deadline, last = time.monotonic() + 10, None
    while True:
        try:
            r = session().get(srv.url("/healthz"), timeout=5)
            if r.status_code == 200:
                break
            last = r.status_code
        except Exception as e:  # noqa: BLE001 - the places are still being given back
            last = e
        assert time.monotonic() < deadline, f"not served again after the others closed: {last!r}"
        time.sleep(0.2)
    assert log().count("server.max_connections reached") == 1, "refusals are logged at most every 10 s"


# --------------------------------------------------------------------------- large bodies

def _big_json(size: int) -> bytes:
    return json.dumps({"username": "admin", "password": "x" * size}).encode()


def test_oversize_bodies_get_a_readable_413_from_python_requests(server):
    cookie = login_ok(server, "admin", server.bootstrap_password).cookie
    routes = [("/api/auth/login", {}),
              ("/api/api-keys", {"Cookie": f"{COOKIE_NAME}={cookie}", "Origin": server.origin})]
    # 6 MB is more than loopback's socket buffers hold: a server that closed without
    # reading the rest would reset the connection under the client, as 1 MB already
    # does over a real network.
    for size in (1_000_000, 200_000, 6_000_000):
        for path, headers in routes:
            # A fresh session per request: each oversize answer closes its connection.
            r = session().post(server.url(path), data=_big_json(size), timeout=30,
                               headers={"Content-Type": "application/json", **headers})
            body = assert_error(r, 413, "payload_too_large")
            assert r.headers.get("Strict-Transport-Security"), r.headers
            assert r.headers.get("X-Request-Id") == body["request_id"], (r.headers, body)
    # Without a Content-Length (chunked), the limit is found while reading.
    chunks = (b"x" * 16384 for _ in range(16))
    r = session().post(server.url("/api/auth/login"), data=chunks, timeout=30,
                       headers={"Content-Type": "application/json"})
    assert_error(r, 413, "payload_too_large")
    # The server is fine afterwards.
    login_ok(server, "admin", server.bootstrap_password)


def test_oversize_bodies_get_a_readable_413_from_curl(server, tmp_path):
    payload = tmp_path / "big.json"
    # With Expect: 100-continue the body is refused unsent; without it, after it is sent.
    for size, expect in [(1_000_000, "Expect: 100-continue"), (1_000_000, "Expect:"),
                         (6_000_000, "Expect: 100-continue"), (6_000_000, "Expect:")]:
        payload.write_bytes(_big_json(size))
        res = curl(tmp_path, "-H", "Content-Type: application/json", "-H", expect,
                   "--data-binary", f"@{payload}", server.url("/api/auth/login"))
        assert res.status == 413, (size, expect, res.status, res.body)
        body = res.json()
        assert body.get("error") == "payload_too_large" and body.get("request_id"), body
        assert any("json" in v for v in res.header_values("Content-Type")), res.headers


# --------------------------------------------------------------------------- files at rest

def _mode(path) -> int:
    return path.stat().st_mode & 0o777


def _assert_private(store) -> None:
    d = store.data_dir
    assert _mode(d) == 0o700, f"data folder is {oct(_mode(d))}"
    if backend() == "sqlite":
        for name in ("gatehouse.db", "gatehouse.db-wal", "gatehouse.db-shm"):
            assert (d / name).exists(), f"{name} missing while the server runs"
            assert _mode(d / name) == 0o600, f"{name} is {oct(_mode(d / name))}"
    for name in ("master.key", "tls/key.pem"):
        assert _mode(d / name) == 0o600, f"{name} is {oct(_mode(d / name))}"


def test_files_at_rest_are_private_whatever_the_umask(gatehouse):
    store = gatehouse.store()
    store.data_dir.rmdir()  # let the server create it, under umask 022
    srv = gatehouse.start(store=store, umask=0o022)
    _assert_private(store)
    run_admin(store, "list-users", umask=0o022)
    _assert_private(store)
    assert srv.stop() == 0


def test_an_existing_open_install_is_tightened_at_start(gatehouse):
    store = gatehouse.store()
    srv = gatehouse.start(store=store, umask=0o022)
    assert srv.stop() == 0
    # As an older version left it: world-readable folder, database and TLS folder.
    os.chmod(store.data_dir, 0o755)
    for f in [store.data_dir / "tls", *store.data_dir.glob("gatehouse.db*")]:
        os.chmod(f, 0o755 if f.is_dir() else 0o644)
    srv = gatehouse.start(store=store, expect_bootstrap=False, umask=0o022)
    _assert_private(store)
    assert _mode(store.data_dir / "tls") == 0o700
    assert srv.stop() == 0


def test_a_folder_others_can_write_or_another_user_owns_is_refused(gatehouse):
    store = gatehouse.store()
    srv = gatehouse.start(store=store)
    assert srv.stop() == 0
    os.chmod(store.data_dir, 0o770)
    for command in (_serve_once, _admin_once):
        out = command(store)
        assert out.returncode != 0, out
        assert "writable by other users" in out.stderr and "chmod 700" in out.stderr, out.stderr
    os.chmod(store.data_dir, 0o700)
    os.chown(store.data_dir, pwd.getpwnam("nobody").pw_uid, -1)
    try:
        for command in (_serve_once, _admin_once):
            out = command(store)
            assert out.returncode != 0, out
            assert "owned by" in out.stderr and "nobody" in out.stderr, out.stderr
    finally:
        os.chown(store.data_dir, os.getuid(), -1)
    srv = gatehouse.start(store=store, expect_bootstrap=False)
    assert srv.stop() == 0


def _serve_once(store) -> subprocess.CompletedProcess:
    """`gatehouse serve` that is expected to refuse to start."""
    cmd = [str(BINARY), "serve", "--listen", "127.0.0.1:0", *store.args()]
    try:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=20)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"the server started on {store.data_dir}: {e.stdout!r}") from None


def _admin_once(store) -> subprocess.CompletedProcess:
    return run_admin(store, "list-users", check=False)
