"""Startup output, bootstrap, restarts and graceful shutdown of the real process."""

from __future__ import annotations

import os
import threading
import time

import requests

from harness import (
    BOOTSTRAP_ANY_PREFIX,
    COOKIE_NAME,
    get_session,
    login_ok,
    new_password,
    record_secret,
    session,
)


def test_startup_lines_and_fingerprint(server):
    assert server.https_url.startswith("https://127.0.0.1:") and server.https_port > 0
    assert server.http_url.startswith("http://127.0.0.1:") and server.http_port > 0
    assert server.http_port != server.https_port
    assert server.presented_fingerprint() == server.fingerprint, "printed fingerprint is not the served cert's"
    boot = [line for line in server.lines if line.startswith(BOOTSTRAP_ANY_PREFIX)]
    assert len(boot) == 1, server.lines
    # The bootstrap password is 12..=128 characters, like every password.
    assert 12 <= len(server.bootstrap_password) <= 128


def test_bootstrap_password_file(gatehouse, tmp_path):
    password = new_password(32)
    pw_file = tmp_path / "bootstrap-password"
    pw_file.write_text(password)
    os.chmod(pw_file, 0o600)
    srv = gatehouse.start(extra_args=["--bootstrap-password-file", str(pw_file)], expect_bootstrap=True)
    assert srv.bootstrap_from_file, srv.lines
    assert srv.bootstrap_username == "admin"
    assert srv.bootstrap_password is None
    assert password not in srv.stdout_text(), "the bootstrap password from the file was printed on stdout"
    login_ok(srv, "admin", password)
    time.sleep(0.3)  # let any late output arrive before the final look
    assert password not in srv.stdout_text()


def test_restart_keeps_identity_sessions_and_prints_no_bootstrap(gatehouse):
    first = gatehouse.start()
    password = first.bootstrap_password
    fingerprint = first.fingerprint
    cookie = login_ok(first, "admin", password).cookie
    assert first.stop() == 0

    second = gatehouse.start(store=first.store, expect_bootstrap=False)
    time.sleep(0.5)  # give a (wrong) bootstrap line time to show up
    assert not [line for line in second.lines if line.startswith(BOOTSTRAP_ANY_PREFIX)], second.lines
    assert second.fingerprint == fingerprint, "TLS identity changed across a restart on the same data dir"
    assert second.presented_fingerprint() == fingerprint
    r = get_session(second, cookie)
    assert r.status_code == 200, f"session did not survive a restart: {r.text}"
    login_ok(second, "admin", password)


def test_sigterm_exits_zero(server):
    assert server.stop() == 0


def test_graceful_drain_under_concurrent_logins(gatehouse):
    """SIGTERM while logins are in flight: the server drains, exits 0, and every
    login that was answered 200 holds a session that survives the restart."""
    srv = gatehouse.start()
    password = srv.bootstrap_password
    n = 16
    barrier = threading.Barrier(n + 1)
    first_done = threading.Event()
    lock = threading.Lock()
    results: list[dict] = []
    term_sent_at: list[float] = []

    def worker(i: int) -> None:
        s = session()
        barrier.wait()
        started = time.monotonic()
        outcome: dict = {"i": i, "started": started}
        try:
            # Connection: close, so no idle keep-alive connection outlives the request.
            r = s.post(srv.url("/api/auth/login"), json={"username": "admin", "password": password},
                       headers={"Connection": "close"}, timeout=60)
            outcome["status"] = r.status_code
            for header in r.raw.headers.getlist("Set-Cookie"):
                k, _, v = header.split(";", 1)[0].partition("=")
                if k.strip() == COOKIE_NAME:
                    outcome["cookie"] = record_secret(v.strip())
            try:
                token = r.json().get("csrf_token")
                if token:
                    record_secret(token)
            except ValueError:
                pass
        except requests.RequestException as e:
            outcome["error"] = repr(e)
        finally:
            s.close()
        outcome["finished"] = time.monotonic()
        with lock:
            results.append(outcome)
            if outcome.get("status") == 200:
                first_done.set()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    assert first_done.wait(60), f"no login succeeded: {results}"
    with lock:
        done_before_term = len(results)
    term_sent_at.append(time.monotonic())
    srv.terminate()
    for t in threads:
        t.join(90)
    code = srv.wait()
    assert code == 0, f"exit code {code} after SIGTERM\n{srv.stderr_tail()}"

    assert len(results) == n
    ok = [r for r in results if r.get("status") == 200]
    # 429 (a login burst limit) and 503 (load shedding while draining) are acceptable answers.
    bad = [r for r in results if "status" in r and r["status"] not in (200, 429, 503)]
    assert not bad, f"unexpected statuses during drain: {bad}"
    assert all(r.get("cookie") for r in ok), "a 200 login without a session cookie"
    assert done_before_term < n, "every login had finished before SIGTERM; the drain was not exercised"
    drained = [r for r in ok if r["finished"] > term_sent_at[0]]
    print(f"{len(ok)}/{n} logins answered 200 ({len(drained)} of them after SIGTERM); "
          f"{n - len(ok)} refused, 429 or 503")
    assert drained, ("no in-flight login was completed after SIGTERM: "
                     f"{[(r.get('status'), r.get('error')) for r in results]}")

    again = gatehouse.start(store=srv.store, expect_bootstrap=False)
    for r in ok:
        resp = get_session(again, r["cookie"])
        assert resp.status_code == 200, f"cookie from login #{r['i']} no longer authenticates: {resp.text}"
        assert resp.json()["auth_method"] == "cookie"
