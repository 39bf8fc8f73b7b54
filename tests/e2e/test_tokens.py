"""Bearer tokens end to end, against the real binary on the backend E2E_DATABASE selects.

Covered: the documented curl / requests lines, issue/list/revoke, lifetime validation and
the organisation policy, offline verification with PyJWT against the published JWKS,
forged tokens, audience, expiry and not-before under a real clock shift (libfaketime),
revocation (sign out everywhere, disabling the owner), signing-key rotation, what the
database holds at rest, and the plain-HTTP listener.

Tests that do not interfere share one server (`shared`); tests that restart servers, change
the organisation policy, rotate keys or shorten the cache TTL get their own store.

Every refusal is checked for the exact `WWW-Authenticate` challenge and, through the request
id, for the reason the server logged (`bearer token refused`, debug level), so that a
refusal for the wrong reason (say a 401 because a shifted clock broke something else) does
not pass for the one under test.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import harness
from conftest import Gatehouse
from harness import COOKIE_NAME, Login, Server, assert_error, login_ok, new_password, record_secret, session

CHALLENGE = 'Bearer realm="gatehouse", error="invalid_token"'
REFUSED_CODE = "invalid_credentials"
FAKETIME_LIB = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
CLOCK_SKEW = 60
ROTATION_WAIT = 10.0
# The claims of a Gatehouse token, exactly.
CLAIMS = {"iss", "sub", "aud", "iat", "nbf", "exp", "jti", "scope"}
# Ed25519 PKCS#8 prefix (RFC 8410): raw DER, hex, and how every base64 (PEM) form begins.
PKCS8_ED25519_DER = bytes.fromhex("302e020100300506032b657004220420")
PKCS8_ED25519_B64 = "MC4CAQAwBQYDK2VwBCIEI"


# --------------------------------------------------------------------------
# server environment
# --------------------------------------------------------------------------

def server_env(**extra: str) -> dict[str, str]:
    level = os.environ.get("RUST_LOG") or os.environ.get("E2E_SERVER_LOG_LEVEL", "debug")
    env = {
        # Dozens of forged tokens are refused on purpose; keep the per-address limit on
        # failed authentications (50 per 5 minutes by default) from turning them into 429s.
        "GATEHOUSE_RATE_LIMIT__IP_MAX_FAILURES": "100000",
        # Refusal reasons are logged at debug level; the tests read them (see refusal_reason).
        "RUST_LOG": level if level in ("debug", "trace") else f"{level},gatehouse_core::service::tokens=debug",
    }
    env.update(extra)
    return env


def faketime_env(offset: str, **extra: str) -> dict[str, str]:
    """Run the server with its clock shifted by `offset` (libfaketime syntax: +2h, -10m, +3620).

    libfaketime is preloaded directly rather than through the `faketime` wrapper: the wrapper
    forks and waits, so the harness's SIGTERM would reach the wrapper and orphan the server.
    The monotonic clock is left alone (timers and timeouts), only the wall clock moves.
    """
    assert FAKETIME_LIB.is_file(), f"libfaketime is not installed at {FAKETIME_LIB}"
    return server_env(LD_PRELOAD=str(FAKETIME_LIB), FAKETIME=offset, FAKETIME_DONT_FAKE_MONOTONIC="1", **extra)


def server_clock_offset(server: Server) -> float:
    """Seconds the server's wall clock is ahead of ours, from its Date header (±1 s)."""
    before = time.time()
    r = session().get(server.url("/healthz"), timeout=30)
    after = time.time()
    assert r.status_code == 200, r.text
    return parsedate_to_datetime(r.headers["Date"]).timestamp() - (before + after) / 2


# --------------------------------------------------------------------------
# secrets, clients, accounts
# --------------------------------------------------------------------------

_recorded: set[str] = set()


def remember(value: str) -> str:
    """record_secret once per value (tokens are used many times)."""
    if value not in _recorded:
        _recorded.add(value)
        record_secret(value)
    return value


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for a token; the header value and the token are secrets."""
    value = remember("Bearer " + token)
    if len(token) >= 8:  # check_logs.py refuses (rightly) to search for shorter strings
        remember(token)
    return {"Authorization": value}


@dataclass
class Client:
    server: Server
    headers: dict[str, str]

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                **kw) -> requests.Response:
        with session() as s:
            return s.request(method, self.server.url(path), headers={**self.headers, **(headers or {})},
                             timeout=30, **kw)

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.request("POST", path, **kw)

    def delete(self, path: str, **kw) -> requests.Response:
        return self.request("DELETE", path, **kw)


def bearer_client(server: Server, token: str) -> Client:
    return Client(server, bearer(token))


@dataclass
class Account:
    username: str
    password: str
    login: Login

    @property
    def user_id(self) -> str:
        return self.login.body["user"]["id"]

    @property
    def cookie(self) -> str:
        assert self.login.cookie
        return self.login.cookie

    def client(self, server: Server, csrf: bool = True) -> Client:
        """Cookie-authenticated, with the CSRF header unless told otherwise."""
        headers = {"Cookie": f"{COOKIE_NAME}={self.cookie}"}
        if csrf:
            assert self.login.csrf_token
            headers["X-CSRF-Token"] = self.login.csrf_token
        return Client(server, headers)


def sign_in(server: Server, username: str, password: str) -> Account:
    return Account(username, password, login_ok(server, username, password))


def sign_in_admin(server: Server, password: str | None = None) -> Account:
    password = password or server.bootstrap_password
    assert password, "no bootstrap password to sign in with"
    return sign_in(server, "admin", password)


def create_account(server: Server) -> Account:
    """A new (non-admin) account made with the operator CLI, signed in."""
    name = "u" + uuid.uuid4().hex[:10]
    password = new_password()
    pw_file = server.store.data_dir.parent / f"pw-{name}"
    pw_file.write_text(password)
    os.chmod(pw_file, 0o600)
    server.admin("create-user", name, "--email", f"{name}@example.test", "--password-file", str(pw_file))
    return sign_in(server, name, password)


# --------------------------------------------------------------------------
# tokens
# --------------------------------------------------------------------------

def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64u_json(value: object) -> str:
    return b64u(json.dumps(value, separators=(",", ":")).encode())


def parts(token: str) -> tuple[str, str, str]:
    h, p, s = token.split(".")
    return h, p, s


def header_of(token: str) -> dict:
    return json.loads(unb64u(parts(token)[0]))


def claims_of(token: str) -> dict:
    return json.loads(unb64u(parts(token)[1]))


def unix(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def mint(client: Client, *, raw_body: bool = False, **body) -> dict:
    """POST /api/tokens → 201; returns the response body (the token recorded as a secret)."""
    r = client.post("/api/tokens") if raw_body else client.post("/api/tokens", json=body)
    assert r.status_code == 201, (body, r.status_code, r.text)
    assert r.headers.get("Cache-Control") == "no-store", r.headers
    created = r.json()
    bearer(created["token"])
    assert set(created) == {"id", "name", "scopes", "created_at", "expires_at", "created_via", "token"}, created
    return created


def who(server: Server, token: str) -> requests.Response:
    return bearer_client(server, token).get("/api/auth/session")


def assert_accepted(server: Server, token: str, created: dict | None = None) -> dict:
    r = who(server, token)
    assert r.status_code == 200, (r.status_code, r.text)
    body = r.json()
    assert body["auth_method"] == "bearer", body
    assert not r.headers.get("Set-Cookie"), r.headers
    if created is not None:
        assert body["token"]["id"] == created["id"], body
        assert body["token"]["scopes"] == created["scopes"], body
        assert body["token"]["expires_at"] == created["expires_at"], body
        assert body["expires_at"] == created["expires_at"], body
    return body


def refusal_reason(server: Server, resp: requests.Response, timeout: float = 5.0) -> str | None:
    """The reason the server logged for refusing this request's token (matched by request id)."""
    rid = resp.headers.get("X-Request-Id")
    assert rid, resp.headers
    deadline = time.monotonic() + timeout
    while True:
        for line in server.stderr_log.read_text(errors="replace").splitlines():
            if rid not in line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("message") == "bearer token refused" and event.get("span", {}).get("request_id") == rid:
                return event.get("reason")
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)


def assert_refused_response(server: Server, r: requests.Response, reason: str | None) -> None:
    assert r.status_code == 401, (r.status_code, r.text)
    assert r.headers.get("WWW-Authenticate") == CHALLENGE, r.headers
    body = assert_error(r, 401, REFUSED_CODE)
    assert set(body) == {"error", "message", "request_id"}, body
    assert not r.headers.get("Set-Cookie"), r.headers
    if reason is not None:
        assert refusal_reason(server, r) == reason, f"expected the refusal reason {reason!r}"


def assert_refused(server: Server, token: str, reason: str | None) -> None:
    """401 with JSON and the Bearer invalid_token challenge; `reason` as logged by the server."""
    assert_refused_response(server, who(server, token), reason)


def wait_refused(server: Server, token: str, within: float) -> requests.Response:
    deadline = time.monotonic() + within
    while True:
        r = who(server, token)
        if r.status_code != 200 or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def fetch_jwks(server: Server) -> dict:
    r = session().get(server.url("/.well-known/jwks.json"), timeout=30)  # no credential at all
    assert r.status_code == 200, r.text
    return r.json()


def verify_offline(server: Server, token: str, *, audience: str = "gatehouse",
                   issuer: str = "gatehouse") -> dict:
    """The README's three lines: PyJWT with nothing but the published JWKS."""
    jwks = jwt.PyJWKSet.from_dict(fetch_jwks(server))
    key = next(k for k in jwks.keys if k.key_id == jwt.get_unverified_header(token)["kid"])
    return jwt.decode(token, key.key, algorithms=["EdDSA"], audience=audience, issuer=issuer)


def thumbprint(x: str) -> str:
    """RFC 7638 thumbprint of an Ed25519 OKP JWK."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    return b64u(hashlib.sha256(canonical.encode()).digest())


class Attacker:
    """An Ed25519 key pair the server has never seen."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.x = b64u(self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
        self.kid = thumbprint(self.x)
        self.jwk = {"kty": "OKP", "crv": "Ed25519", "x": self.x}

    def sign(self, header: dict, claims: dict) -> str:
        signing_input = f"{b64u_json(header)}.{b64u_json(claims)}"
        return f"{signing_input}.{b64u(self.key.sign(signing_input.encode()))}"


def hmac_token(header: dict, claims: dict, secret: bytes, digest=hashlib.sha256) -> str:
    signing_input = f"{b64u_json(header)}.{b64u_json(claims)}"
    return f"{signing_input}.{b64u(hmac.new(secret, signing_input.encode(), digest).digest())}"


def unsigned(header: dict, claims: dict, signature: str = "") -> str:
    return f"{b64u_json(header)}.{b64u_json(claims)}.{signature}"


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One server for the tests that do not restart it or change organisation-wide state."""
    gh = Gatehouse(tmp_path_factory.mktemp("tokens-shared"), "test_tokens-shared")
    srv = gh.start(env=server_env())
    assert srv.bootstrap_username == "admin" and srv.bootstrap_password, srv.lines
    yield srv
    problems = gh.finish()
    if problems:
        pytest.fail("server shutdown problems:\n" + "\n".join(problems))


@pytest.fixture(scope="module")
def admin(shared) -> Account:
    return sign_in_admin(shared)


@pytest.fixture(scope="module")
def admin_token(shared, admin) -> dict:
    """A full-permission admin token (2 h), for tests that only need a valid one."""
    return mint(admin.client(shared), expires_in_hours=2, name="shared")


# --------------------------------------------------------------------------
# 1. the documented examples
# --------------------------------------------------------------------------

def _docs_env(server: Server, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")}
    env.update(TOKEN=token, HOST=server.base.removeprefix("https://"),
               CERT=str(server.store.data_dir / "tls" / "cert.pem"),
               NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    return env


def test_documented_curl_line_with_the_servers_certificate(shared, admin):
    created = mint(admin.client(shared), expires_in_hours=3, name="docs-curl")
    env = _docs_env(shared, created["token"])

    # Not trusting the self-signed certificate must fail, so the lines below really verify it.
    cp = subprocess.run(["bash", "-c", "curl -sS -o /dev/null https://$HOST/healthz"],
                        env=env, capture_output=True, text=True, timeout=60)
    assert cp.returncode == 60, (cp.returncode, cp.stderr)

    for line, extra in (
        # the README line exactly, trusting the certificate through curl's environment variable
        ('curl -H "Authorization: Bearer $TOKEN" https://$HOST/api/auth/session', {"CURL_CA_BUNDLE": env["CERT"]}),
        # and with an explicit --cacert
        ('curl --cacert "$CERT" -H "Authorization: Bearer $TOKEN" https://$HOST/api/auth/session', {}),
    ):
        cp = subprocess.run(["bash", "-c", line], env={**env, **extra}, capture_output=True, text=True, timeout=60)
        assert cp.returncode == 0, (line, cp.returncode, cp.stderr)
        body = json.loads(cp.stdout)
        assert body["auth_method"] == "bearer", body
        assert body["user"]["username"] == "admin", body
        assert body["token"]["id"] == created["id"], body
        assert set(body["token"]) == {"id", "scopes", "issued_at", "expires_at"}, body
        assert body["token"]["scopes"] == created["scopes"], body
        assert body["permissions"] == created["scopes"], body
        assert body["token"]["expires_at"] == created["expires_at"] == body["expires_at"], body
        assert body["token"]["issued_at"] == created["created_at"], body
        assert "csrf_token" not in body, body


def test_documented_python_line(shared, admin):
    created = mint(admin.client(shared), expires_in_hours=1, name="docs-python",
                   permissions=["account:read"])
    script = (
        "import os, requests\n"
        "token = os.environ['TOKEN']\n"
        "URL = 'https://' + os.environ['HOST'] + '/api/auth/session'\n"
        'r = requests.get(URL, headers={"Authorization": f"Bearer {token}"})\n'
        "print(r.status_code)\n"
        "print(r.text)\n"
    )
    env = _docs_env(shared, created["token"])
    env["REQUESTS_CA_BUNDLE"] = env["CERT"]
    cp = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    status, text = cp.stdout.split("\n", 1)
    assert status == "200", cp.stdout
    body = json.loads(text)
    assert body["auth_method"] == "bearer", body
    assert body["token"]["id"] == created["id"], body
    assert body["token"]["scopes"] == ["account:read"] == body["permissions"], body
    assert body["expires_at"] == created["expires_at"], body


# --------------------------------------------------------------------------
# 2. issue, list, revoke
# --------------------------------------------------------------------------

def test_issue_list_and_revoke(shared, admin):
    c = admin.client(shared)
    session_permissions = c.get("/api/auth/session").json()["permissions"]

    before = time.time()
    created = mint(c, expires_in_hours=2, name="ci")
    assert created["id"].startswith("tok_"), created
    assert created["name"] == "ci" and created["created_via"] == "session", created
    assert created["scopes"] == session_permissions, (created, session_permissions)
    assert unix(created["expires_at"]) - unix(created["created_at"]) == 2 * 3600, created
    assert before - 2 <= unix(created["created_at"]) <= time.time() + 2, created
    assert_accepted(shared, created["token"], created)

    # Cookie callers need the CSRF header (or a same-origin Origin) to issue one.
    r = admin.client(shared, csrf=False).post("/api/tokens", json={"expires_in_hours": 1})
    assert_error(r, 403, "csrf_failed")
    via_origin = mint(Client(shared, {"Cookie": f"{COOKIE_NAME}={admin.cookie}", "Origin": shared.origin}),
                      expires_in_hours=1)
    # An empty body gives the organisation default, 24 hours.
    default = mint(c, raw_body=True)
    assert default["name"] == "token", default
    assert unix(default["expires_at"]) - unix(default["created_at"]) == 24 * 3600, default

    r = c.get("/api/tokens")
    assert r.status_code == 200, r.text
    assert r.headers.get("Cache-Control") == "no-store", r.headers
    listed = {t["id"]: t for t in r.json()}
    for t in (created, via_origin, default):
        assert t["id"] in listed, (t["id"], listed)
        assert t["token"] not in r.text
        assert listed[t["id"]] == {k: v for k, v in t.items() if k != "token"}, listed[t["id"]]
    assert all(set(t) == {"id", "name", "scopes", "created_at", "expires_at", "created_via"} for t in listed.values())
    # A token with tokens:write lists the same tokens.
    r = bearer_client(shared, created["token"]).get("/api/tokens")
    assert r.status_code == 200 and {t["id"] for t in r.json()} == set(listed), r.text

    # Another user's tokens: not listed, and not revocable (404, and it keeps working).
    other = create_account(shared)
    theirs = mint(other.client(shared), expires_in_hours=1)
    assert theirs["id"] not in listed
    mine_again = {t["id"] for t in c.get("/api/tokens").json()}
    assert theirs["id"] not in mine_again
    assert {t["id"] for t in other.client(shared).get("/api/tokens").json()} == {theirs["id"]}
    assert_error(c.delete(f"/api/tokens/{theirs['id']}"), 404, "not_found")
    assert_error(bearer_client(shared, created["token"]).delete(f"/api/tokens/{theirs['id']}"), 404, "not_found")
    assert_accepted(shared, theirs["token"], theirs)

    # Revoking: 204, then 401 at once with the Bearer challenge; gone from the list; 404 again.
    assert_accepted(shared, via_origin["token"])  # cached now, revocation must still be immediate
    r = c.delete(f"/api/tokens/{via_origin['id']}")
    assert r.status_code == 204, r.text
    assert_refused(shared, via_origin["token"], "revoked")
    assert via_origin["id"] not in {t["id"] for t in c.get("/api/tokens").json()}
    assert_error(c.delete(f"/api/tokens/{via_origin['id']}"), 404, "not_found")
    assert_error(c.delete("/api/tokens/tok_doesnotexist000000000000"), 404, "not_found")
    # Cookie callers need CSRF for DELETE too.
    assert_error(admin.client(shared, csrf=False).delete(f"/api/tokens/{default['id']}"), 403, "csrf_failed")
    assert_accepted(shared, default["token"])

    # A token can revoke itself.
    r = bearer_client(shared, default["token"]).delete(f"/api/tokens/{default['id']}")
    assert r.status_code == 204, r.text
    assert_refused(shared, default["token"], "revoked")
    assert_accepted(shared, created["token"], created)


def jwt_claims(token: str) -> dict:
    """The claims of a JWT, unverified (the server already verified it)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_a_token_never_holds_more_than_its_creator(shared, admin, admin_token):
    c = admin.client(shared)
    narrow = mint(c, expires_in_hours=1, permissions=["account:read"])
    assert narrow["scopes"] == ["account:read"], narrow
    body = assert_accepted(shared, narrow["token"], narrow)
    assert body["permissions"] == ["account:read"], body
    nc = bearer_client(shared, narrow["token"])
    for r in (nc.post("/api/tokens", json={"expires_in_hours": 1}), nc.get("/api/tokens"),
              nc.get("/api/tokens/options"), nc.delete(f"/api/tokens/{narrow['id']}")):
        assert_error(r, 403, "insufficient_permissions")
    assert_accepted(shared, narrow["token"])

    # A member cannot mint an administrator-only permission.
    member = create_account(shared)
    mc = member.client(shared)
    assert "ssh_keys:read_all" not in mc.get("/api/auth/session").json()["permissions"]
    assert_error(mc.post("/api/tokens", json={"permissions": ["ssh_keys:read_all"]}), 403, "insufficient_permissions")
    assert_error(mc.post("/api/tokens", json={"permissions": ["no_such:scope"]}), 422, "validation_failed")
    assert mc.get("/api/tokens").json() == [], "a refused request left a token behind"

    # Tokens minted by a token: no wider, no longer-lived, and revoked with their parent.
    parent = mint(c, expires_in_hours=3, permissions=["account:read", "tokens:write"])
    pc = bearer_client(shared, parent["token"])
    assert_error(pc.post("/api/tokens", json={"expires_in_hours": 1, "permissions": ["api_keys:write"]}),
                 403, "insufficient_permissions")
    # A longer lifetime is clamped to the parent's expiry (checked in the JWT itself).
    longer = mint(pc, expires_in_hours=4)
    assert longer["expires_at"] == parent["expires_at"], (longer, parent)
    assert jwt_claims(longer["token"])["exp"] == jwt_claims(parent["token"])["exp"]
    leaf = mint(pc, expires_in_hours=1, permissions=["account:read"])
    child = mint(pc, expires_in_hours=2)
    assert child["created_via"] == leaf["created_via"] == "token", (child, leaf)
    assert child["scopes"] == parent["scopes"], child
    grandchild = mint(bearer_client(shared, child["token"]), expires_in_hours=1, permissions=["account:read"])
    for t in (leaf, child, grandchild):
        assert_accepted(shared, t["token"], t)
    assert c.delete(f"/api/tokens/{parent['id']}").status_code == 204
    for t in (parent, longer, leaf, child, grandchild):
        assert_refused(shared, t["token"], "revoked")

    # API keys: tokens:write must be granted to the key; its tokens die with it.
    def api_key(permissions: list[str]) -> dict:
        r = c.post("/api/api-keys", json={"name": "tok-" + uuid.uuid4().hex[:6], "permissions": permissions})
        assert r.status_code == 201, r.text
        remember(r.json()["key"])
        return r.json()

    def basic(key: str) -> Client:
        return Client(shared, {"Authorization": remember("Basic " + base64.b64encode(f"{key}:".encode()).decode())})

    plain_key = api_key(["account:read"])
    assert_error(basic(plain_key["key"]).post("/api/tokens", json={"expires_in_hours": 1}),
                 403, "insufficient_permissions")
    key = api_key(["account:read", "tokens:write"])
    from_key = mint(basic(key["key"]), expires_in_hours=1)
    assert from_key["created_via"] == "api_key", from_key
    assert sorted(from_key["scopes"]) == ["account:read", "tokens:write"], from_key
    assert_accepted(shared, from_key["token"], from_key)
    assert c.post(f"/api/api-keys/{key['id']}/disable").status_code in (200, 204)
    assert_refused(shared, from_key["token"], "revoked")
    assert_accepted(shared, admin_token["token"], admin_token)


def test_one_credential_per_request(shared, admin, admin_token):
    r = Client(shared, {"Cookie": f"{COOKIE_NAME}={admin.cookie}", **bearer(admin_token["token"])}).get("/api/auth/session")
    assert_error(r, 400, "multiple_auth_methods")
    # an empty Bearer is a refused credential, not an anonymous request
    r = Client(shared, {"Authorization": "Bearer "}).get("/api/auth/session")
    assert_refused_response(shared, r, "malformed")


# --------------------------------------------------------------------------
# 3. lifetimes and the organisation policy (own store: the policy is organisation-wide)
# --------------------------------------------------------------------------

def test_lifetime_validation_and_policy(gatehouse):
    srv = gatehouse.start(env=server_env())
    c = sign_in_admin(srv).client(srv)

    def options() -> dict:
        r = c.get("/api/tokens/options")
        assert r.status_code == 200, r.text
        return r.json()

    def refused(hours, raw: str | None = None) -> dict:
        r = (c.post("/api/tokens", data=raw, headers={"Content-Type": "application/json"}) if raw is not None
             else c.post("/api/tokens", json={"expires_in_hours": hours}))
        body = assert_error(r, 422, "validation_failed")
        assert body.get("field") == "expires_in_hours", body
        return body

    def hours_of(created: dict) -> float:
        lifetime = unix(created["expires_at"]) - unix(created["created_at"])
        claims = claims_of(created["token"])
        assert claims["exp"] - claims["iat"] == lifetime, (claims, created)
        return lifetime / 3600

    assert options() == {"hours": list(range(1, 25)), "default_hours": 24, "max_hours": 24, "user_may_choose": True}
    for bad in (0, 25, -1, 1.5, 2.0, "3", "", True, False, [1], {"hours": 1}, 2 ** 32 + 1, 2 ** 64):
        refused(bad)
    for raw in ('{"expires_in_hours": 1e1}', '{"expires_in_hours": 3.0}', '{"expires_in_hours": 24.5}'):
        refused(None, raw)
    assert c.get("/api/tokens").json() == [], "a refused request created a token"

    assert hours_of(mint(c, expires_in_hours=1)) == 1
    assert hours_of(mint(c, expires_in_hours=24)) == 24
    assert hours_of(mint(c, expires_in_hours=None)) == 24
    assert hours_of(mint(c)) == 24

    # A maximum of 4 hours (the default must fit under it, so it moves to 3).
    srv.admin("policy", "--token-max-hours", "4", "--token-default-hours", "3")
    assert options() == {"hours": [1, 2, 3, 4], "default_hours": 3, "max_hours": 4, "user_may_choose": True}
    for too_long in (5, 24):
        assert "at most 4 hours" in refused(too_long)["message"]
    assert hours_of(mint(c, expires_in_hours=4)) == 4
    assert hours_of(mint(c, expires_in_hours=1)) == 1
    assert hours_of(mint(c)) == 3
    refused(0)

    # Members may not choose: only the default is accepted, and leaving it out gives it.
    srv.admin("policy", "--token-user-choice", "false")
    assert options() == {"hours": [3], "default_hours": 3, "max_hours": 4, "user_may_choose": False}
    for other in (1, 2, 4):
        assert "leave it out" in refused(other)["message"]
    assert hours_of(mint(c, expires_in_hours=3)) == 3
    assert hours_of(mint(c)) == 3

    # The CLI refuses a policy whose default would exceed its maximum, and changes nothing.
    cp = srv.admin("policy", "--token-max-hours", "2", check=False)
    assert cp.returncode != 0, cp.stdout
    assert options()["max_hours"] == 4


# --------------------------------------------------------------------------
# 4. offline verification with PyJWT and the JWKS
# --------------------------------------------------------------------------

def test_pyjwt_verifies_with_only_the_published_jwks(shared, admin):
    r = session().get(shared.url("/.well-known/jwks.json"), timeout=30)
    assert r.status_code == 200, r.text
    assert "application/json" in r.headers.get("Content-Type", ""), r.headers
    assert not r.headers.get("Set-Cookie")
    keys = r.json()["keys"]
    assert len(keys) == 1, keys
    jwk = keys[0]
    assert set(jwk) == {"kty", "crv", "x", "kid", "alg", "use"}, jwk
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("OKP", "Ed25519", "EdDSA", "sig"), jwk
    assert len(unb64u(jwk["x"])) == 32 and b64u(unb64u(jwk["x"])) == jwk["x"], jwk
    assert jwk["kid"] == thumbprint(jwk["x"]), "kid is not the RFC 7638 thumbprint"

    created = mint(admin.client(shared), expires_in_hours=3, name="offline",
                   permissions=["account:read", "api_keys:read"])
    token = created["token"]
    assert jwt.get_unverified_header(token) == {"typ": "JWT", "alg": "EdDSA", "kid": jwk["kid"]}
    claims = verify_offline(shared, token)
    assert set(claims) == CLAIMS, claims
    assert claims["iss"] == "gatehouse" and claims["aud"] == "gatehouse", claims
    assert claims["sub"] == admin.user_id and claims["sub"].startswith("usr_"), claims
    assert claims["jti"] == created["id"], claims
    assert claims["scope"].split(" ") == created["scopes"] == ["account:read", "api_keys:read"], claims
    assert claims["exp"] - claims["iat"] == 3 * 3600, claims
    assert claims["nbf"] == claims["iat"] == int(unix(created["created_at"])), claims
    assert claims["exp"] == int(unix(created["expires_at"])), claims
    assert abs(claims["iat"] - time.time()) < 30, claims

    # The verification above is real: a wrong audience, issuer or key fails it.
    key = jwt.PyJWK(jwk).key
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, key, algorithms=["EdDSA"], audience="other", issuer="gatehouse")
    with pytest.raises(jwt.InvalidIssuerError):
        jwt.decode(token, key, algorithms=["EdDSA"], audience="gatehouse", issuer="https://evil.example")
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, Attacker().key.public_key(), algorithms=["EdDSA"], audience="gatehouse")


# --------------------------------------------------------------------------
# 5. forged tokens
# --------------------------------------------------------------------------

def test_forged_tokens_are_refused(shared, admin, admin_token):
    c = admin.client(shared)
    real = admin_token["token"]
    narrow = mint(c, expires_in_hours=1, permissions=["account:read"])
    jwk = fetch_jwks(shared)["keys"][0]
    kid, public_raw = jwk["kid"], unb64u(jwk["x"])
    h, p, s = parts(real)
    nh, np_, ns = parts(narrow["token"])
    claims = claims_of(real)
    other = create_account(shared)
    attacker = Attacker()
    good = {"alg": "EdDSA", "typ": "JWT", "kid": kid}

    def with_claims(base: str, **changes) -> str:
        """base's header and signature around changed claims."""
        bh, bp, bs = parts(base)
        return f"{bh}.{b64u_json({**json.loads(unb64u(bp)), **changes})}.{bs}"

    sig = unb64u(s)
    # The last base64url character of a 64-byte signature carries 4 unused bits: set one.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    noncanonical_sig = s[:-1] + alphabet[alphabet.index(s[-1]) | 1]
    assert unb64u(noncanonical_sig) == sig and noncanonical_sig != s

    cases: list[tuple[str, str, str | None]] = [
        # alg none (and its spellings), with and without a signature
        ("alg none, empty signature", unsigned({"alg": "none", "typ": "JWT", "kid": kid}, claims), "algorithm"),
        ("alg none without kid", unsigned({"alg": "none", "typ": "JWT"}, claims), "algorithm"),
        ("alg None", unsigned({"alg": "None", "kid": kid}, claims), "algorithm"),
        ("alg NONE", unsigned({"alg": "NONE", "kid": kid}, claims), "algorithm"),
        ("alg none, real signature kept", unsigned({"alg": "none", "typ": "JWT", "kid": kid}, claims, s), "algorithm"),
        ("no alg", unsigned({"typ": "JWT", "kid": kid}, claims, s), "algorithm"),
        ("alg eddsa (case)", attacker.sign({"alg": "eddsa", "typ": "JWT", "kid": kid}, claims), "algorithm"),
        # HMAC keyed with the published public key
        ("HS256 with the raw public key bytes", hmac_token({"alg": "HS256", "typ": "JWT", "kid": kid}, claims, public_raw), "algorithm"),
        ("HS256 with the base64url x string", hmac_token({"alg": "HS256", "typ": "JWT", "kid": kid}, claims, jwk["x"].encode()), "algorithm"),
        ("HS256 with the JWK JSON", hmac_token({"alg": "HS256", "typ": "JWT", "kid": kid}, claims, json.dumps(jwk).encode()), "algorithm"),
        ("HS256 without kid", hmac_token({"alg": "HS256", "typ": "JWT"}, claims, public_raw), "algorithm"),
        ("HS512 with the raw public key bytes", hmac_token({"alg": "HS512", "kid": kid}, claims, public_raw, hashlib.sha512), "algorithm"),
        # keys and key locations carried in the token, attacker-signed
        ("embedded jwk (attacker kid)", attacker.sign({**good, "kid": attacker.kid, "jwk": attacker.jwk}, claims), "header_member"),
        ("embedded jwk (server kid)", attacker.sign({**good, "jwk": attacker.jwk}, claims), "header_member"),
        ("embedded jwk, no kid", attacker.sign({"alg": "EdDSA", "typ": "JWT", "jwk": attacker.jwk}, claims), "header_member"),
        ("jku elsewhere", attacker.sign({**good, "kid": attacker.kid, "jku": "https://127.0.0.1:9/jwks.json"}, claims), "header_member"),
        ("jku = the server's own JWKS", attacker.sign({**good, "jku": shared.url("/.well-known/jwks.json")}, claims), "header_member"),
        ("x5u elsewhere", attacker.sign({**good, "kid": attacker.kid, "x5u": "https://127.0.0.1:9/cert.pem"}, claims), "header_member"),
        ("x5c", attacker.sign({**good, "x5c": ["MIIBfake"]}, claims), "header_member"),
        ("crit", attacker.sign({**good, "crit": ["exp"]}, claims), "header_member"),
        ("typ other than JWT", attacker.sign({**good, "typ": "at+jwt"}, claims), "header_member"),
        # keys we do not have
        ("unknown kid", attacker.sign({**good, "kid": attacker.kid}, claims), "unknown_kid"),
        ("no kid", attacker.sign({"alg": "EdDSA", "typ": "JWT"}, claims), "unknown_kid"),
        ("path-like kid", attacker.sign({**good, "kid": "../../../../dev/null"}, claims), "unknown_kid"),
        ("SQL-like kid", attacker.sign({**good, "kid": "x' OR '1'='1"}, claims), "unknown_kid"),
        ("attacker key with the server's kid", attacker.sign(good, claims), "invalid"),
        # tampered payloads, original signature kept
        ("scope widened", with_claims(narrow["token"], scope=claims["scope"]), "invalid"),
        ("sub swapped", with_claims(real, sub=other.user_id), "invalid"),
        ("exp extended", with_claims(narrow["token"], exp=claims_of(narrow["token"])["exp"] + 3600), "invalid"),
        ("jti swapped", with_claims(real, jti=narrow["id"]), "invalid"),
        ("aud changed", with_claims(real, aud="other"), "invalid"),
        ("claims of one token, signature of another", f"{h}.{np_}.{s}", "invalid"),
        ("signature of another token", f"{h}.{p}.{ns}", "invalid"),
        ("empty signature", f"{h}.{p}.", "invalid"),
        ("non-canonical signature encoding", f"{h}.{p}.{noncanonical_sig}", "invalid"),
        ("flipped signature byte", f"{h}.{p}.{b64u(bytes([sig[0] ^ 1]) + sig[1:])}", "invalid"),
        # garbage
        ("not a JWT", "not-a-token", "malformed"),
        ("a.b.c", "a.b.c", "malformed"),
        ("four parts", real + ".x", "malformed"),
        ("two parts", f"{h}.{p}", "malformed"),
        ("dots only", "....", "malformed"),
        ("header is an array", "W10.e30.e30", "malformed"),
        ("header is not base64url", "!!!.e30.e30", "malformed"),
        ("padded base64", f"{h}=.{p}.{s}", "malformed"),
        ("an API key", "gwk_" + "A" * 38, "malformed"),
        ("a session cookie", admin.cookie, "malformed"),
        ("empty header object", "e30.e30.e30", "algorithm"),
        # oversize (the server's limit is 4096 characters)
        ("4097 characters", "a" * 4097, "malformed"),
        ("a long real token", real + "A" * (4097 - len(real)), "malformed"),
        ("attacker-signed, huge claims", attacker.sign(good, {**claims, "scope": "account:read " * 400}), "malformed"),
        ("20000 characters", "eyJ" + "A" * 20000, "malformed"),
    ]
    assert len({t for _, t, _ in cases}) == len(cases), "two cases build the same token"
    failures = []
    for label, token, reason in cases:
        r = who(shared, token)
        try:
            assert_refused_response(shared, r, reason)
        except AssertionError as e:
            failures.append(f"{label}: {e}")
    assert not failures, "\n".join(failures)

    # Schemes other than Bearer (with a valid token) are refused the same way.
    for scheme in ("Token", "JWT", "Bearer:"):
        r = Client(shared, {"Authorization": remember(f"{scheme} {real}")}).get("/api/auth/session")
        assert_refused_response(shared, r, None)

    # None of that locked out or damaged the real tokens.
    assert_accepted(shared, real, admin_token)
    assert_accepted(shared, narrow["token"], narrow)


def test_a_token_for_another_audience_is_refused(gatehouse):
    first = gatehouse.start(env=server_env())
    admin = sign_in_admin(first)
    ours = mint(admin.client(first), expires_in_hours=1)
    assert claims_of(ours["token"])["aud"] == "gatehouse"
    assert_accepted(first, ours["token"], ours)
    assert first.stop() == 0

    other = gatehouse.start(store=first.store, env=server_env(GATEHOUSE_TOKENS__AUDIENCE="other"))
    assert_refused(other, ours["token"], "invalid")
    theirs = mint(admin.client(other), expires_in_hours=1)  # the session survives the restart
    assert claims_of(theirs["token"])["aud"] == "other"
    assert_accepted(other, theirs["token"], theirs)
    assert other.stop() == 0

    back = gatehouse.start(store=first.store, env=server_env())
    assert_refused(back, theirs["token"], "invalid")
    assert_accepted(back, ours["token"], ours)  # restarting alone refuses nothing
    # Offline, the signature is good and only the audience differs.
    assert verify_offline(back, theirs["token"], audience="other")["jti"] == theirs["id"]
    with pytest.raises(jwt.InvalidAudienceError):
        verify_offline(back, theirs["token"])


# --------------------------------------------------------------------------
# 6. expiry and not-before with a real clock shift
# --------------------------------------------------------------------------

def test_expired_token_is_refused_after_a_clock_jump(gatehouse):
    on_time = gatehouse.start(env=server_env())
    password = on_time.bootstrap_password
    assert abs(server_clock_offset(on_time)) < 5
    t = mint(sign_in_admin(on_time).client(on_time), expires_in_hours=1)
    assert_accepted(on_time, t["token"], t)
    exp = claims_of(t["token"])["exp"]
    assert on_time.stop() == 0

    later = gatehouse.start(store=on_time.store, env=faketime_env("+2h"))
    # The shift is real: the server's Date header and the iat of a token it mints.
    assert abs(server_clock_offset(later) - 7200) < 60, server_clock_offset(later)
    probe = mint(sign_in_admin(later, password).client(later), expires_in_hours=1)
    assert abs(claims_of(probe["token"])["iat"] - (time.time() + 7200)) < 60, claims_of(probe["token"])
    assert_accepted(later, probe["token"], probe)
    assert_refused(later, t["token"], "expired")
    assert later.stop() == 0

    # Control: 30 s past exp is within the 60 s skew, so the same token is still accepted.
    offset = int(exp - time.time()) + CLOCK_SKEW // 2
    skewed = gatehouse.start(store=on_time.store, env=faketime_env(f"+{offset}"))
    assert abs(server_clock_offset(skewed) - offset) < 10
    assert_accepted(skewed, t["token"], t)
    assert skewed.stop() == 0


def test_a_revoked_token_stays_refused_within_the_skew_after_its_expiry(gatehouse):
    on_time = gatehouse.start(env=server_env())
    c = sign_in_admin(on_time).client(on_time)
    live = mint(c, expires_in_hours=1)
    revoked = mint(c, expires_in_hours=1)
    exp = claims_of(live["token"])["exp"]
    assert abs(claims_of(revoked["token"])["exp"] - exp) <= 2
    assert c.delete(f"/api/tokens/{revoked['id']}").status_code == 204
    assert_refused(on_time, revoked["token"], "revoked")
    assert on_time.stop() == 0

    # Restart with the clock 30 s past exp: within the skew, so an unrevoked token is accepted.
    offset = int(exp - time.time()) + CLOCK_SKEW // 2
    skewed = gatehouse.start(store=on_time.store, env=faketime_env(f"+{offset}"))
    assert abs(server_clock_offset(skewed) - offset) < 10
    assert_accepted(skewed, live["token"], live)
    # A node starting inside that window still knows the revocation.
    r = who(skewed, revoked["token"])
    assert_refused_response(skewed, r, "revoked")
    assert skewed.stop() == 0


def test_not_yet_valid_token_is_refused_by_a_server_behind(gatehouse):
    on_time = gatehouse.start(env=server_env())
    password = on_time.bootstrap_password
    t = mint(sign_in_admin(on_time).client(on_time), expires_in_hours=1)
    assert_accepted(on_time, t["token"], t)
    assert on_time.stop() == 0

    behind = gatehouse.start(store=on_time.store, env=faketime_env("-10m"))
    assert abs(server_clock_offset(behind) + 600) < 60, server_clock_offset(behind)
    probe = mint(sign_in_admin(behind, password).client(behind), expires_in_hours=1)
    assert abs(claims_of(probe["token"])["iat"] - (time.time() - 600)) < 60, claims_of(probe["token"])
    assert_accepted(behind, probe["token"], probe)
    assert_refused(behind, t["token"], "not_yet_valid")
    assert behind.stop() == 0

    # Control: 30 s behind is within the skew, so the token is accepted there.
    slightly = gatehouse.start(store=on_time.store, env=faketime_env("-30"))
    assert abs(server_clock_offset(slightly) + 30) < 10
    assert_accepted(slightly, t["token"], t)
    assert slightly.stop() == 0


# --------------------------------------------------------------------------
# 7. revocation
# --------------------------------------------------------------------------

def test_logout_everywhere_with_a_token_revokes_every_token_and_session(shared, admin, admin_token):
    user = create_account(shared)
    c = user.client(shared)
    used = mint(c, expires_in_hours=2)
    unused = mint(c, expires_in_hours=1)
    narrow = mint(c, expires_in_hours=1, permissions=["account:read"])
    assert_accepted(shared, used["token"], used)  # cached on the server now

    # A narrow credential may not: signing out everywhere needs sessions:revoke_all.
    r = bearer_client(shared, narrow["token"]).post("/api/auth/logout-everywhere")
    body = assert_error(r, 403, "insufficient_permissions")
    assert "sessions:revoke_all" in body["message"], body
    assert_accepted(shared, used["token"], used)
    assert harness.get_session(shared, user.cookie).status_code == 200

    # A token that holds it (tokens made in the browser do, by default) may.
    panic_button = mint(c, expires_in_hours=1, permissions=["account:read", "sessions:revoke_all"])
    r = bearer_client(shared, panic_button["token"]).post("/api/auth/logout-everywhere")
    assert r.status_code == 204, r.text
    assert not r.headers.get("Set-Cookie"), r.headers
    for t in (used, unused, narrow, panic_button):
        assert_refused(shared, t["token"], "revoked")
    assert harness.get_session(shared, user.cookie).status_code == 401
    assert c.get("/api/tokens").status_code == 401

    # Other users are untouched; the user can sign in and make working tokens again.
    assert_accepted(shared, admin_token["token"], admin_token)
    assert harness.get_session(shared, admin.cookie).status_code == 200
    again = sign_in(shared, user.username, user.password)
    fresh = mint(again.client(shared), expires_in_hours=1)
    assert_accepted(shared, fresh["token"], fresh)
    assert [t["id"] for t in again.client(shared).get("/api/tokens").json()] == [fresh["id"]]


def test_logout_everywhere_with_a_cookie_needs_csrf(shared, admin_token):
    user = create_account(shared)
    t = mint(user.client(shared), expires_in_hours=1)
    assert_accepted(shared, t["token"], t)

    r = user.client(shared, csrf=False).post("/api/auth/logout-everywhere")
    assert_error(r, 403, "csrf_failed")
    assert_accepted(shared, t["token"], t)

    r = user.client(shared).post("/api/auth/logout-everywhere")
    assert r.status_code == 204, r.text
    cleared = harness.set_cookie_headers(r)
    assert any(h.startswith(f"{COOKIE_NAME}=;") and "Max-Age=0" in h for h in cleared), cleared
    assert_refused(shared, t["token"], "revoked")
    assert harness.get_session(shared, user.cookie).status_code == 401
    assert_accepted(shared, admin_token["token"], admin_token)


def test_disabling_the_owner_revokes_its_tokens(gatehouse):
    # The operator CLI is another process, so the server learns of it like another node
    # would: at its next poll of revocations and invalidations (every 5 s). The token
    # cache TTL (15 minutes by default) is shortened to 2 s here only for the last part,
    # which checks that old tokens are still refused when judged afresh. The session
    # cache keeps its default (30 s), so only the invalidation can end the session in time.
    ttl = 2
    within = 7
    srv = gatehouse.start(env=server_env(GATEHOUSE_TOKENS__CACHE_TTL_SECONDS=str(ttl)))
    bob, carol = create_account(srv), create_account(srv)
    used = mint(bob.client(srv), expires_in_hours=2)
    unused = mint(bob.client(srv), expires_in_hours=2)
    carols = mint(carol.client(srv), expires_in_hours=2)
    assert_accepted(srv, used["token"], used)  # cached, and so is its owner
    assert_accepted(srv, carols["token"], carols)

    srv.admin("disable-user", bob.username)
    for t in (used, unused):
        r = wait_refused(srv, t["token"], within)
        assert_refused_response(srv, r, None)
        assert refusal_reason(srv, r) in ("owner_disabled", "revoked", "before_not_before")
    deadline = time.monotonic() + within
    while harness.get_session(srv, bob.cookie).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert harness.get_session(srv, bob.cookie).status_code == 401
    assert_accepted(srv, carols["token"], carols)

    # Re-enabling does not bring the old tokens back, even once every cache has been
    # refreshed; tokens made afterwards work.
    srv.admin("enable-user", bob.username)
    again = sign_in(srv, bob.username, bob.password)
    fresh = mint(again.client(srv), expires_in_hours=1)
    deadline = time.monotonic() + within
    while who(srv, fresh["token"]).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert_accepted(srv, fresh["token"], fresh)
    time.sleep(ttl + 0.5)  # past the cache TTL: the old tokens are judged afresh
    for t in (used, unused):
        r = who(srv, t["token"])
        assert_refused_response(srv, r, None)
        assert refusal_reason(srv, r) in ("revoked", "before_not_before")
    assert harness.get_session(srv, bob.cookie).status_code == 401
    assert [t["id"] for t in again.client(srv).get("/api/tokens").json()] == [fresh["id"]]
    assert_accepted(srv, carols["token"], carols)


# --------------------------------------------------------------------------
# 8. signing-key rotation
# --------------------------------------------------------------------------

def test_rotating_the_signing_key_while_running(gatehouse):
    srv = gatehouse.start(env=server_env())
    c = sign_in_admin(srv).client(srv)
    old = mint(c, expires_in_hours=2)
    (old_key,) = fetch_jwks(srv)["keys"]
    assert header_of(old["token"])["kid"] == old_key["kid"]

    cp = srv.admin("rotate-signing-key")
    started = time.monotonic()
    new_kid = cp.stdout.split("new signing key ", 1)[1].split(";", 1)[0].strip()
    assert new_kid and new_kid != old_key["kid"], cp.stdout
    while True:
        kids = {k["kid"] for k in fetch_jwks(srv)["keys"]}
        if len(kids) == 2 or time.monotonic() - started > ROTATION_WAIT:
            break
        time.sleep(0.25)
    assert kids == {old_key["kid"], new_kid}, f"JWKS after {time.monotonic() - started:.1f}s: {kids}"

    new = mint(c, expires_in_hours=2)
    assert header_of(new["token"])["kid"] == new_kid
    gone = mint(c, expires_in_hours=2)
    assert c.delete(f"/api/tokens/{gone['id']}").status_code == 204
    assert_accepted(srv, old["token"], old)
    assert_accepted(srv, new["token"], new)
    for t in (old, new):
        assert verify_offline(srv, t["token"])["jti"] == t["id"]

    # Both keys persist across a restart, the new one keeps signing, and the revocation holds.
    assert srv.stop() == 0
    again = gatehouse.start(store=srv.store, env=server_env())
    assert {k["kid"] for k in fetch_jwks(again)["keys"]} == {old_key["kid"], new_kid}
    assert_refused(again, gone["token"], "revoked")
    assert_accepted(again, old["token"], old)
    assert_accepted(again, new["token"], new)
    assert header_of(mint(Client(again, c.headers), expires_in_hours=1)["token"])["kid"] == new_kid


# --------------------------------------------------------------------------
# 9. the database at rest
# --------------------------------------------------------------------------

def _sqlite_rows(db: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _sqlite_dump(db: Path) -> str:
    """Every value of every table, as text."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        out = []
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                out.append(" | ".join(v.hex() if isinstance(v, bytes) else str(v) for v in row))
        return "\n".join(out)
    finally:
        con.close()


def _psql_rows(url: str, sql: str) -> list[list[str]]:
    cp = subprocess.run(["psql", "-X", "-q", "--csv", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert cp.returncode == 0, cp.stderr
    return list(csv.reader(io.StringIO(cp.stdout)))[1:]


def _pg_dump(url: str) -> str:
    cp = subprocess.run(["pg_dump", "--data-only", "--no-owner", "-d", url],
                        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout


def test_database_at_rest(shared, admin):
    created = mint(admin.client(shared), expires_in_hours=1, name="at-rest")
    token = created["token"]
    signature = parts(token)[2]
    data_dir = shared.store.data_dir

    master = data_dir / "master.key"
    assert stat.S_IMODE(master.stat().st_mode) == 0o600, oct(master.stat().st_mode)
    master_lines = [line.split() for line in master.read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
    assert master_lines and all(len(f) == 2 for f in master_lines), "unexpected master.key format"
    master_secrets = [remember(f[1]) for f in master_lines]

    if shared.store.database_url:  # PostgreSQL
        url = shared.store.database_url
        keys = [tuple(r) for r in _psql_rows(url, "SELECT kid, public_key, sealed_private_key FROM signing_key")]
        rows = _psql_rows(url, f"SELECT token_hash FROM token WHERE token_id = '{created['id']}'")
        everything = _pg_dump(url)
        raw_files: list[bytes] = []
    else:
        db = data_dir / "gatehouse.db"
        assert db.is_file(), list(data_dir.iterdir())
        keys = _sqlite_rows(db, "SELECT kid, public_key, sealed_private_key FROM signing_key")
        rows = _sqlite_rows(db, f"SELECT token_hash FROM token WHERE token_id = '{created['id']}'")
        everything = _sqlite_dump(db)
        raw_files = [f.read_bytes() for f in data_dir.iterdir() if f.name.startswith("gatehouse.db")]

    # Signing keys: sealed, and the published ones.
    jwks = fetch_jwks(shared)["keys"]
    assert {k[0] for k in keys} == {k["kid"] for k in jwks}, (keys, jwks)
    for kid, public_key, sealed in keys:
        assert sealed.startswith("gh1."), f"signing key {kid} is not sealed: {sealed[:8]}..."
        assert len(sealed) > 60, sealed
    # The token: only its SHA-256, in hex.
    assert rows and rows[0][0] == hashlib.sha256(token.encode()).hexdigest(), rows
    assert everything.strip(), "read nothing from the database"
    assert created["id"] in everything, "the dump does not include the token table"
    for needle, what in ((token, "the token"), (signature, "the token's signature"),
                         (PKCS8_ED25519_B64, "a base64 Ed25519 private key"),
                         (PKCS8_ED25519_DER.hex(), "a hex Ed25519 private key"),
                         ("PRIVATE KEY", "a PEM private key"),
                         *((m, "the master key") for m in master_secrets)):
        assert needle not in everything, f"the database holds {what}"
    for blob in raw_files:
        for needle in (token.encode(), signature.encode(), PKCS8_ED25519_DER, b"PRIVATE KEY",
                       *(m.encode() for m in master_secrets)):
            assert needle not in blob, "a database file holds a secret in clear"
    assert_accepted(shared, token, created)


# --------------------------------------------------------------------------
# 10. the plain HTTP listener
# --------------------------------------------------------------------------

def test_plain_http_listener_never_accepts_a_token(shared, admin_token):
    headers = bearer(admin_token["token"])
    with session() as s:
        r = s.get(shared.http_url + "/api/auth/session", headers=headers, timeout=30, allow_redirects=False)
        assert_error(r, 403, "https_required")
        assert not r.headers.get("Set-Cookie"), r.headers
        r = s.post(shared.http_url + "/api/tokens", headers=headers, json={"expires_in_hours": 1},
                   timeout=30, allow_redirects=False)
        assert_error(r, 403, "https_required")
        r = s.get(shared.http_url + "/api/tokens", headers=headers, timeout=30, allow_redirects=False)
        assert_error(r, 403, "https_required")
    assert_accepted(shared, admin_token["token"], admin_token)
