"""The OpenAPI description at /api/openapi.json, checked against the live server.

The document is fetched from the real binary, validated as OpenAPI 3.1
(openapi-spec-validator), and then schemathesis (the PyPI package, CLI) fuzzes every
operation over HTTPS: without a credential; with an API key of the bootstrap owner that
carries every permission it may grant (HTTP Basic, `KEY:`); with a second such key over
the operations that can end the key they are called with; and with the owner's browser
session (the `cloud.sso` cookie and its `X-CSRF-Token`), which reaches the routes only a
session may use. The checks are `not_a_server_error`, `status_code_conformance`,
`content_type_conformance`, `response_schema_conformance` and
`response_headers_conformance`; each run must end with no failure. The server's certificate (the harness's `tls/cert.pem`) is the trust anchor.

The server runs with the per-key rate limit off and the per-address failure limit raised
(`api_keys.rate_limit_per_minute = 0`, `rate_limit.ip_max_failures = 1000000`): at the
defaults most of the few thousand requests would be answered 429, which is documented and
conforms, but leaves the logic behind each operation untested. Sign-in's per-account
backoff and every other limit stay as shipped.

What is left out, and why:

- `negative_data_rejection` and `positive_data_acceptance` are not run. The document
  describes the shape of bodies, not every rule behind them (password strength, name rules,
  permissions the caller may grant, known ids), so a well-shaped body is often refused
  with 422/404/409, as it should be; and several routes deliberately take what a schema
  would call invalid (an empty body for the optional ones, a form post for sign-in).
- The stateful phase is not run: links between operations are not described.
- schemathesis reuses the ids it sees in answers (and the key itself), so with the
  credential it soon disables, deletes or revokes the very key it fuzzes with, after which
  every operation answers 401: conforming, but no longer testing anything. The operations
  that can end the fuzzing credential (disabling, deleting or revoking an API key, personal
  or the organisation's, and signing out everywhere) are therefore left out of the main
  credentialed run and fuzzed in a run of their own, with a key of their own.
- The same holds for the session: the session run leaves out signing out, signing out
  everywhere, re-authenticating, changing the password, confirming an authenticator app or
  a security key (each re-issues or ends the session when it succeeds) and resetting a
  member's 2-step verification (the fuzzer finds the owner's own id, and a reset ends the
  member's sessions). Those are fuzzed in the other runs.
- SQLite only (E2E_DATABASE=postgres skips it): the document and the handlers are the
  same on both backends, and the run is the slowest of the e2e files.

429 answers (per-address sign-in limits) are documented where they can happen rather than
avoided.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from openapi_spec_validator import validate

import harness
from harness import login_ok, record_secret, session

pytestmark = pytest.mark.skipif(
    harness.backend() != "sqlite", reason="the API description is backend-independent"
)

CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
])

# Per operation and phase: enough to reach every documented status, small enough that
# both runs together stay within a few minutes on two cores.
MAX_EXAMPLES = int(os.environ.get("OPENAPI_FUZZ_EXAMPLES", "15"))

# Operations that can end the credential they are called with (see above).
ENDS_THE_CREDENTIAL = [
    "api_keys_disable",
    "api_keys_delete",
    "api_keys_revoke",
    "admin_keys_disable",
    "admin_keys_delete",
    "auth_logout_everywhere",
]

# Let the fuzzer past the per-key and per-address limits (see above).
FUZZ_ENV = {
    "GATEHOUSE_API_KEYS__RATE_LIMIT_PER_MINUTE": "0",
    "GATEHOUSE_RATE_LIMIT__IP_MAX_FAILURES": "1000000",
    "RUST_LOG": "info",
}


@pytest.fixture
def server(gatehouse):
    srv = gatehouse.start(env=FUZZ_ENV)
    assert srv.bootstrap_password, srv.lines
    return srv

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def _fetch(server) -> dict:
    cert = str(server.store.data_dir / "tls" / "cert.pem")
    r = requests.get(server.url("/api/openapi.json"), verify=cert, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers.get("Cache-Control") == "no-store"
    return r.json()


def _owner_key(server, name: str = "openapi-fuzz") -> str:
    """An API key of the bootstrap owner with every permission the owner may grant."""
    res = login_ok(server, "admin", server.bootstrap_password)
    s = session()
    h = {"Cookie": f"cloud.sso={res.cookie}", "X-CSRF-Token": res.body["csrf_token"]}
    options = s.get(server.url("/api/api-keys/options"), headers=h, timeout=30).json()
    perms = [p["name"] for p in options["permissions"] if p["grantable"]]
    r = s.post(server.url("/api/api-keys"), headers=h, timeout=30,
               json={"name": name, "permissions": perms, "expires_in_days": None})
    assert r.status_code == 201, r.text
    return record_secret(r.json()["key"])


def _schemathesis(server, cwd: Path, *extra: str) -> subprocess.CompletedProcess:
    cert = str(server.store.data_dir / "tls" / "cert.pem")
    cmd = [
        str(SCHEMATHESIS), "run", server.url("/api/openapi.json"),
        "--checks", CHECKS,
        "--max-examples", str(MAX_EXAMPLES),
        "--phases", "examples,coverage,fuzzing",
        "--tls-verify", cert,
        "--request-timeout", "20",
        "--no-color",
        "--seed", "1",
        "--generation-database", "none",
        "--report-dir", str(cwd / "schemathesis-report"),
        *extra,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=cwd)


def _assert_clean(cp: subprocess.CompletedProcess, what: str) -> None:
    out = cp.stdout + cp.stderr
    assert cp.returncode == 0, f"schemathesis {what} found problems:\n{out[-20000:]}"


def test_the_document_is_openapi_3_1_and_covers_the_api(server):
    doc = _fetch(server)
    assert doc["openapi"].startswith("3.1")
    validate(doc)
    paths = doc["paths"]
    for path, method in [
        ("/api/auth/login", "post"),
        ("/api/api-keys/{id}", "delete"),
        ("/api/admin/members", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/api/openapi.json", "get"),
    ]:
        assert method in paths[path], (path, method)
    assert not any(p.startswith("/scim/") for p in paths), "SCIM describes itself"
    schemes = doc["components"]["securitySchemes"]
    assert {"api_key", "bearer", "session"} <= set(schemes)
    # Every operation is a real route: none of them is the "no such route" 404.
    s = session()
    for path, item in paths.items():
        for method in item:
            url = server.url(path.replace("{id}", "x").replace("{username}", "x"))
            r = s.request(method.upper(), url, timeout=30)
            assert r.status_code != 405, (method, path, r.text)
            if r.status_code == 404:
                assert r.json().get("message") != "no such route", (method, path)


def test_schemathesis_finds_nothing_without_a_credential(server, tmp_path):
    _fetch(server)
    cp = _schemathesis(server, tmp_path)
    _assert_clean(cp, "without a credential")


# Operations that can end or re-issue the session they are called with (see above).
ENDS_THE_SESSION = [
    "auth_logout",
    "auth_logout_everywhere",
    "auth_reauthenticate",
    "auth_change_password",
    "mfa_confirm_totp",
    "webauthn_register_finish",
    "admin_members_reset_mfa",
]


def _excluding(ops: list[str]) -> list[str]:
    return [arg for op in ops for arg in ("--exclude-operation-id", op)]


def _including(ops: list[str]) -> list[str]:
    return [arg for op in ops for arg in ("--include-operation-id", op)]


def test_schemathesis_finds_nothing_with_an_api_key_holding_every_permission(server, tmp_path):
    key = _owner_key(server)
    cp = _schemathesis(server, tmp_path, "--auth", f"{key}:", *_excluding(ENDS_THE_CREDENTIAL))
    _assert_clean(cp, "with an API key")
    # The key survived the run, so the run tested with it throughout.
    r = session().get(server.url("/api/auth/session"), auth=(key, ""), timeout=30)
    assert r.status_code == 200, r.text


def test_schemathesis_finds_nothing_in_the_operations_that_can_end_the_credential(
        server, tmp_path):
    key = _owner_key(server, "openapi-fuzz-disposable")
    cp = _schemathesis(server, tmp_path, "--auth", f"{key}:", *_including(ENDS_THE_CREDENTIAL))
    _assert_clean(cp, "in the operations that can end the credential")


def test_schemathesis_finds_nothing_with_a_browser_session(server, tmp_path):
    res = login_ok(server, "admin", server.bootstrap_password)
    cp = _schemathesis(
        server, tmp_path,
        "--header", f"Cookie: cloud.sso={res.cookie}",
        "--header", f"X-CSRF-Token: {res.body['csrf_token']}",
        *_excluding(ENDS_THE_SESSION),
    )
    _assert_clean(cp, "with a browser session")
    r = session().get(server.url("/api/auth/session"), timeout=30,
                      headers={"Cookie": f"cloud.sso={res.cookie}"})
    assert r.status_code == 200, r.text
