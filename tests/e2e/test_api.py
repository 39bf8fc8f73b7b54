"""HTTP API behaviour, through Python requests against the real server."""

from __future__ import annotations

import re
import time
import uuid
from urllib.parse import urlsplit

from harness import (
    COOKIE_NAME,
    assert_error,
    get_session,
    login,
    login_ok,
    new_password,
    random_token,
    record_secret,
    session,
    set_cookie_headers,
)


def _assert_common_headers(resp, what: str) -> None:
    h = resp.headers
    hsts = h.get("Strict-Transport-Security")
    assert hsts and "max-age=" in hsts, f"{what}: Strict-Transport-Security missing or bad: {hsts!r}"
    m = re.search(r"max-age=(\d+)", hsts)
    assert m and int(m.group(1)) > 0, f"{what}: HSTS max-age must be positive: {hsts!r}"
    assert h.get("X-Content-Type-Options", "").lower() == "nosniff", f"{what}: {dict(h)!r}"
    server = h.get("Server")
    assert server is None or not re.search(r"\d", server), f"{what}: Server banner leaks a version: {server!r}"
    assert "X-Powered-By" not in h, f"{what}: X-Powered-By present"


def test_security_headers(server):
    s = session()
    checks = {
        "GET /healthz": s.get(server.url("/healthz"), timeout=30),
        "GET /readyz": s.get(server.url("/readyz"), timeout=30),
        "GET /api/auth/session (401)": s.get(server.url("/api/auth/session"), timeout=30),
        "POST /api/auth/login (401)": s.post(server.url("/api/auth/login"),
                                             json={"username": "nobody-here", "password": new_password()},
                                             timeout=30),
        "GET /login": s.get(server.url("/login"), timeout=30, allow_redirects=False),
        "GET /does-not-exist": s.get(server.url("/does-not-exist"), timeout=30, allow_redirects=False),
    }
    ok = login_ok(server, "admin", server.bootstrap_password)
    checks["POST /api/auth/login (200)"] = ok.response
    for what, resp in checks.items():
        _assert_common_headers(resp, what)

    page = checks["GET /login"]
    assert page.status_code == 200, page.status_code
    assert "text/html" in page.headers.get("Content-Type", ""), page.headers
    csp = page.headers.get("Content-Security-Policy", "")
    assert re.search(r"frame-ancestors\s+'none'", csp), f"HTML page CSP lacks frame-ancestors 'none': {csp!r}"
    assert 'id="login-form"' in page.text, "login page has no #login-form"


def test_json_errors_have_code_message_request_id(server):
    r = session().get(server.url("/api/auth/session"), timeout=30)
    body = assert_error(r, 401, r.json().get("error", "<none>"))
    assert r.headers.get("WWW-Authenticate"), "401 without WWW-Authenticate"
    r2 = session().get(server.url("/api/auth/session"), timeout=30)
    assert r2.json()["request_id"] != body["request_id"], "request_id is not per request"


def test_login_response_shape_and_cookie_attributes(server):
    res = login_ok(server, "admin", server.bootstrap_password)
    body = res.body
    assert body["auth_method"] == "cookie", body
    assert set(body["user"]) >= {"id", "username", "email", "display_name"}, body
    assert body["user"]["username"] == "admin", body
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", body["expires_at"]), body
    assert isinstance(body["csrf_token"], str) and len(body["csrf_token"]) >= 16, body

    cookies = [c for c in set_cookie_headers(res.response) if c.split("=", 1)[0].strip() == COOKIE_NAME]
    assert len(cookies) == 1, set_cookie_headers(res.response)
    parts = [p.strip() for p in cookies[0].split(";")]
    value = parts[0].split("=", 1)[1]
    assert len(value) >= 20, "session cookie value is suspiciously short"
    attrs = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        attrs[k.strip().lower()] = v.strip()
    assert "secure" in attrs, cookies[0]
    assert "httponly" in attrs, cookies[0]
    assert attrs.get("samesite", "").lower() == "lax", cookies[0]
    assert attrs.get("path") == "/", cookies[0]
    assert "domain" not in attrs, f"cookie must be host-only: {cookies[0]}"

    # The session endpoint returns the same shape, without the CSRF token.
    r = get_session(server, res.cookie)
    assert r.status_code == 200, r.text
    sess = r.json()
    assert sess["auth_method"] == "cookie", sess
    assert sess["user"] == body["user"], (sess, body)
    assert sess.get("expires_at"), sess


def test_session_response_repeats_the_sessions_own_csrf_token(server):
    # The CSRF token is bound to the cookie, so returning it to a cookie caller lets
    # non-browser clients (curl with a cookie jar) make state changes. No CORS is
    # served, so another origin cannot read it.
    res = login_ok(server, "admin", server.bootstrap_password)
    login_token = res.body["csrf_token"]
    record_secret(login_token)
    r = get_session(server, res.cookie)
    assert r.status_code == 200, r.text
    sess = r.json()
    assert sess.get("csrf_token") == login_token, sorted(sess)
    assert "Access-Control-Allow-Origin" not in r.headers


def test_unknown_user_and_wrong_password_are_indistinguishable(server):
    unknown = login(server, "no-such-user-" + uuid.uuid4().hex[:8], new_password())
    wrong = login(server, "admin", new_password())
    for res in (unknown, wrong):
        assert_error(res.response, 401, "invalid_credentials")
        assert res.cookie is None and not set_cookie_headers(res.response), set_cookie_headers(res.response)
    a = {k: v for k, v in unknown.body.items() if k != "request_id"}
    b = {k: v for k, v in wrong.body.items() if k != "request_id"}
    assert a == b, (a, b)
    assert unknown.status == wrong.status
    assert unknown.response.headers.get("Content-Type") == wrong.response.headers.get("Content-Type")


def test_repeated_failures_are_rate_limited(server):
    wrong = new_password()
    seen = []
    for _ in range(60):
        res = login(server, "admin", wrong)
        seen.append(res.status)
        if res.status == 429:
            body = assert_error(res.response, 429, res.body.get("error", "<none>"))
            retry = res.response.headers.get("Retry-After")
            assert retry and retry.isdigit() and int(retry) > 0, f"429 without a usable Retry-After: {retry!r}"
            assert body
            break
        assert res.status == 401, (res.status, res.response.text)
    else:
        raise AssertionError(f"60 failed logins never produced a 429: {seen}")


def test_logout_requires_origin_or_csrf_token(server):
    res = login_ok(server, "admin", server.bootstrap_password)
    cookie = {"Cookie": f"{COOKIE_NAME}={res.cookie}"}
    s = session()

    r = s.post(server.url("/api/auth/logout"), headers=cookie, timeout=30)
    assert_error(r, 403, "csrf_failed")
    # a foreign Origin is no better than none
    r = s.post(server.url("/api/auth/logout"), headers={**cookie, "Origin": "https://evil.example"}, timeout=30)
    assert_error(r, 403, "csrf_failed")
    # nor is a wrong token
    r = s.post(server.url("/api/auth/logout"), headers={**cookie, "X-CSRF-Token": random_token("bad-")},
               timeout=30)
    assert_error(r, 403, "csrf_failed")
    assert get_session(server, res.cookie).status_code == 200, "a refused logout must not end the session"

    r = s.post(server.url("/api/auth/logout"), headers={**cookie, "X-CSRF-Token": res.csrf_token}, timeout=30)
    assert r.status_code == 204, (r.status_code, r.text)
    r = get_session(server, res.cookie)
    assert r.status_code == 401, r.text
    assert r.headers.get("WWW-Authenticate"), "401 without WWW-Authenticate"


def test_a_sign_out_on_one_node_ends_the_session_on_another_within_its_poll(gatehouse, server):
    # A second server over the same store caches sessions for 30 s; only the 5 s
    # invalidation poll can end the session there sooner.
    other = gatehouse.start(store=server.store, expect_bootstrap=False)
    res = login_ok(server, "admin", server.bootstrap_password)
    assert get_session(other, res.cookie).status_code == 200  # cached on the other node
    r = session().post(server.url("/api/auth/logout"),
                       headers={"Cookie": f"{COOKIE_NAME}={res.cookie}", "X-CSRF-Token": res.csrf_token},
                       timeout=30)
    assert r.status_code == 204, r.text
    start = time.monotonic()
    while get_session(other, res.cookie).status_code == 200 and time.monotonic() - start < 8:
        time.sleep(0.2)
    assert get_session(other, res.cookie).status_code == 401, "the other node still accepts the session"


def test_cookie_and_authorization_together_is_400(server):
    res = login_ok(server, "admin", server.bootstrap_password)
    bearer = record_secret("Bearer " + random_token("tok-"))
    r = get_session(server, res.cookie, Authorization=bearer)
    assert_error(r, 400, "multiple_auth_methods")
    assert not set_cookie_headers(r)
    # the cookie alone still works
    assert get_session(server, res.cookie).status_code == 200


def test_invalid_cookie_is_401(server):
    r = get_session(server, random_token("forged-"))
    assert r.status_code == 401, r.text
    assert r.headers.get("WWW-Authenticate")
    assert r.json().get("error")


def test_health_and_readiness(server):
    s = session()
    assert s.get(server.url("/healthz"), timeout=30).status_code == 200
    r = s.get(server.url("/readyz"), timeout=30)
    assert r.status_code == 200, r.text


def test_plain_http_redirects_pages_to_https(server):
    r = session().get(server.http_url + "/login", allow_redirects=False, timeout=30)
    assert r.status_code == 308, (r.status_code, r.text)
    loc = r.headers.get("Location", "")
    assert loc == f"https://127.0.0.1:{server.https_port}/login", f"bad redirect target {loc!r}"
    assert not set_cookie_headers(r)
    # A forged Host header never chooses the target (no open redirect).
    r = session().get(server.http_url + "/login", headers={"Host": "evil.example"},
                      allow_redirects=False, timeout=30)
    assert r.status_code == 308, (r.status_code, r.text)
    loc = r.headers.get("Location", "")
    assert loc == f"https://127.0.0.1:{server.https_port}/login", f"Host chose the target: {loc!r}"


def test_account_pages_redirect_to_login_when_signed_out(server):
    s = session()
    for tab in ("api-keys", "tokens", "ssh-keys", "ssh-private-keys", "2-step-verification"):
        path = f"/account/authentication/{tab}"
        r = s.get(server.url(path), allow_redirects=False, timeout=30)
        assert r.status_code in (302, 303, 307), (path, r.status_code)
        assert urlsplit(r.headers.get("Location", "")).path == "/login", (path, r.headers.get("Location"))
    # /account may first go to its default tab; it must end on the sign-in page.
    r = s.get(server.url("/account"), timeout=30)
    assert r.history and all(h.status_code in (302, 303, 307, 308) for h in r.history), r.history
    assert urlsplit(r.url).path == "/login", r.url
    assert r.status_code == 200 and 'id="login-form"' in r.text


def test_account_redirects_to_api_keys_when_signed_in(server):
    res = login_ok(server, "admin", server.bootstrap_password)
    s = session()
    r = s.get(server.url("/account"), headers={"Cookie": f"{COOKIE_NAME}={res.cookie}"},
              allow_redirects=False, timeout=30)
    assert r.status_code in (302, 303, 307, 308), r.status_code
    assert r.headers.get("Location", "").endswith("/account/authentication/api-keys"), r.headers.get("Location")
    r = s.get(server.url("/account/authentication/api-keys"), headers={"Cookie": f"{COOKIE_NAME}={res.cookie}"},
              allow_redirects=False, timeout=30)
    assert r.status_code == 200, r.status_code
    assert "text/html" in r.headers.get("Content-Type", "")
    _assert_common_headers(r, "GET /account/authentication/api-keys")
    assert re.search(r"frame-ancestors\s+'none'", r.headers.get("Content-Security-Policy", "")), r.headers
    assert 'id="tab-title"' in r.text and "API Keys" in r.text
