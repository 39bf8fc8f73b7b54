"""HTTP/2 over TLS (ALPN h2) beside HTTP/1.1, with curl as the client: the same
answers, security headers, limits and sign-in checks on both, and the server's cipher
preference (AES-128-GCM with SHA-256 first)."""

from __future__ import annotations

import json
import subprocess

from harness import COOKIE_NAME, cookie_from_jar, curl, record_secret


def _version(tmp, url: str, *args: str) -> str:
    cp = subprocess.run(["curl", "-sS", "-k", "--max-time", "30", "-o", "/dev/null", "-w", "%{http_version}",
                         *args, url], capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout.strip()


def test_alpn_offers_h2_and_http11(server, tmp_path):
    assert _version(tmp_path, server.url("/healthz"), "--http2") == "2"
    assert _version(tmp_path, server.url("/healthz"), "--http1.1") == "1.1"


def test_the_same_answers_and_headers_over_both(server, tmp_path):
    for flag in ("--http2", "--http1.1"):
        ok = curl(tmp_path, flag, server.url("/healthz"))
        assert ok.status == 200 and ok.json() == {"status": "ok"}, (flag, ok.body)
        for h in ("Strict-Transport-Security", "X-Content-Type-Options", "X-Request-Id"):
            assert ok.header_values(h), (flag, h, ok.headers)
        # Unauthenticated: the same JSON 401 with its challenge.
        r = curl(tmp_path, flag, server.url("/api/auth/session"))
        assert r.status == 401 and r.json()["error"] and r.header_values("WWW-Authenticate"), (flag, r.body)
        # The header limit answers 431 in our format on both.
        big = curl(tmp_path, flag, "-H", "X-Big: " + "a" * 40_000, server.url("/healthz"))
        assert big.status == 431 and big.json()["error"], (flag, big.status, big.body)
        # The body limit answers 413.
        body = tmp_path / "big.json"
        body.write_text(json.dumps({"username": "x", "password": "y" * 2_000_000}))
        r = curl(tmp_path, flag, "-H", "Content-Type: application/json", "--data-binary", f"@{body}",
                 server.url("/api/auth/login"))
        assert r.status == 413 and r.json()["error"], (flag, r.status, r.body)


def test_cookie_sign_in_and_same_origin_checks_work_over_h2(server, tmp_path):
    """HTTP/2 has no Host header (the host is in :authority): the same-origin check must
    still accept this origin and refuse another."""
    jar = tmp_path / "jar"
    r = curl(tmp_path, "--http2", "-c", str(jar), "-H", "Content-Type: application/json",
             "--data", json.dumps({"username": "admin", "password": server.bootstrap_password}),
             server.url("/api/auth/login"))
    assert r.status == 200, r.body
    record_secret(cookie_from_jar(jar, COOKIE_NAME) or "")
    record_secret(r.json()["csrf_token"])
    s = curl(tmp_path, "--http2", "-b", str(jar), server.url("/api/auth/session"))
    assert s.status == 200 and s.json()["auth_method"] == "cookie", s.body
    # A state change with our own Origin (and no CSRF token) passes the origin check…
    own = curl(tmp_path, "--http2", "-b", str(jar), "-X", "POST", "-H", f"Origin: {server.origin}",
               server.url("/api/auth/logout"))
    assert own.status == 204, (own.status, own.body)
    # …and a foreign one is refused (a new sign-in first, the last one ended).
    curl(tmp_path, "--http2", "-c", str(jar), "-H", "Content-Type: application/json",
         "--data", json.dumps({"username": "admin", "password": server.bootstrap_password}),
         server.url("/api/auth/login"))
    record_secret(cookie_from_jar(jar, COOKIE_NAME) or "")
    foreign = curl(tmp_path, "--http2", "-b", str(jar), "-X", "POST", "-H", "Origin: https://evil.example",
                   server.url("/api/auth/logout"))
    assert foreign.status == 403 and foreign.json()["error"] == "csrf_failed", foreign.body


def test_the_server_prefers_aes_128_gcm(server):
    # A client that prefers AES-256 (and ChaCha20) still gets AES-128-GCM: the server's order wins.
    out = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{server.https_port}", "-tls1_3",
         "-ciphersuites", "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"],
        input="", capture_output=True, text=True, timeout=30)
    assert "TLS_AES_128_GCM_SHA256" in out.stdout, out.stdout[-1500:]
    out = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{server.https_port}", "-tls1_2",
         "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:"
                    "ECDHE-RSA-AES128-GCM-SHA256"],
        input="", capture_output=True, text=True, timeout=30)
    assert "AES128-GCM-SHA256" in out.stdout, out.stdout[-1500:]
