"""The four checks an operator would run by hand, with the real curl binary."""

from __future__ import annotations

import base64
import json

from harness import COOKIE_NAME, cookie_from_jar, curl, record_secret, random_token


def _assert_error(res, status: int, code: str) -> dict:
    assert res.status == status, (res.status, res.body)
    body = res.json()
    assert body.get("error") == code, body
    assert body.get("message"), body
    assert body.get("request_id"), body
    return body


def test_session_without_credentials_is_401_json(server, tmp_path):
    res = curl(tmp_path, server.url("/api/auth/session"))
    assert res.status == 401, (res.status, res.body)
    body = res.json()
    assert body.get("error") and body.get("message") and body.get("request_id"), body
    assert any("json" in v for v in res.header_values("Content-Type")), res.headers
    assert res.header_values("WWW-Authenticate"), f"401 without WWW-Authenticate: {res.headers}"
    assert not res.header_values("Set-Cookie")


def test_login_with_cookie_jar_then_session(server, tmp_path):
    jar = tmp_path / "jar.txt"
    payload = json.dumps({"username": "admin", "password": server.bootstrap_password})
    res = curl(tmp_path, "-c", str(jar), "-H", "Content-Type: application/json",
               "--data-binary", "@-", server.url("/api/auth/login"), stdin=payload)
    assert res.status == 200, res.body
    login = res.json()
    record_secret(login["csrf_token"])
    cookie = cookie_from_jar(jar)
    assert cookie, f"curl stored no {COOKIE_NAME} cookie: {jar.read_text()!r}"
    record_secret(cookie)

    res = curl(tmp_path, "-b", str(jar), server.url("/api/auth/session"))
    assert res.status == 200, res.body
    body = res.json()
    assert body["auth_method"] == "cookie", body
    assert body["user"]["username"] == "admin", body
    if body.get("csrf_token"):
        record_secret(body["csrf_token"])


def test_logout_with_origin_invalidates_old_cookie(server, tmp_path):
    jar = tmp_path / "jar.txt"
    payload = json.dumps({"username": "admin", "password": server.bootstrap_password})
    res = curl(tmp_path, "-c", str(jar), "-H", "Content-Type: application/json",
               "--data-binary", "@-", server.url("/api/auth/login"), stdin=payload)
    assert res.status == 200, res.body
    record_secret(res.json()["csrf_token"])
    cookie = cookie_from_jar(jar)
    assert cookie
    record_secret(cookie)
    old_jar = tmp_path / "old-jar.txt"
    old_jar.write_text(jar.read_text())

    res = curl(tmp_path, "-b", str(jar), "-X", "POST", "-H", f"Origin: {server.origin}",
               server.url("/api/auth/logout"))
    assert res.status == 204, (res.status, res.body)

    # Replay the cookie as it was before logout: it must be dead server-side.
    res = curl(tmp_path, "-b", str(old_jar), server.url("/api/auth/session"))
    assert res.status == 401, (res.status, res.body)
    assert res.json().get("error"), res.body
    # and the same with an explicit Cookie header
    res = curl(tmp_path, "-H", f"Cookie: {COOKIE_NAME}={cookie}", server.url("/api/auth/session"))
    assert res.status == 401, (res.status, res.body)


def test_plain_http_listener_refuses_credentials(server, tmp_path):
    record_secret("Basic " + base64.b64encode(b"x:").decode())
    res = curl(tmp_path, "-u", "x:", server.http_url + "/api/auth/session")
    _assert_error(res, 403, "https_required")
    assert not res.header_values("Set-Cookie"), res.headers

    fake = random_token("fake-")
    res = curl(tmp_path, "-H", f"Cookie: {COOKIE_NAME}={fake}", server.http_url + "/api/auth/session")
    _assert_error(res, 403, "https_required")
    assert not res.header_values("Set-Cookie"), res.headers

    # A login attempt that carries a Cookie is refused on plain HTTP as well.
    payload = json.dumps({"username": "admin", "password": server.bootstrap_password})
    res = curl(tmp_path, "-H", f"Cookie: {COOKIE_NAME}={fake}", "-H", "Content-Type: application/json",
               "--data-binary", "@-", server.http_url + "/api/auth/login", stdin=payload)
    _assert_error(res, 403, "https_required")
    assert not res.header_values("Set-Cookie"), res.headers


def test_tls_older_than_1_2_is_refused_and_1_2_and_1_3_work(server, tmp_path):
    import subprocess
    base = ["curl", "-sS", "-k", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}"]
    old = subprocess.run([*base, "--tlsv1.0", "--tls-max", "1.1", server.url("/healthz")],
                         capture_output=True, text=True, timeout=60)
    assert old.returncode != 0, f"a TLS 1.0/1.1 handshake succeeded: {old.stdout}"
    for version in ("1.2", "1.3"):
        ok = subprocess.run([*base, f"--tlsv{version}", "--tls-max", version, server.url("/healthz")],
                            capture_output=True, text=True, timeout=60)
        assert ok.returncode == 0 and ok.stdout == "200", (version, ok.stdout, ok.stderr)
