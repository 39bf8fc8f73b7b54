"""Security keys and passkeys end to end, against the real binary on the backend
E2E_DATABASE selects, with a scripted software authenticator (softkey.py).

The server is reached as a browser reaches it with no `server.public_origin`:
`https://localhost:PORT`, trusting the server's own certificate (data dir
`tls/cert.pem`, which names `localhost`), never with verification off. The relying
party is then `localhost`, on any port.

The authenticator's answers are checked by a second, independent verifier (PyPI
`webauthn`, py_webauthn) before they go to the server, so a happy path that passes is
a correct WebAuthn answer and not just one Gatehouse happens to accept.

Covered: adding a key (a passkey, with `credProps.rk`), listing, renaming and removing
it; the key as the second step of a sign-in and a passkey sign-in with no password;
refusals of replayed answers, wrong origin, wrong RP id, the wrong client data type, UP
or UV cleared, a signature counter that goes back (audited) while a key whose counter
is always 0 keeps working, made-up and wrong-kind ceremonies, another account's
ceremony, another account's credential id; a ceremony started on one node and finished
on another; the organisation's `enforce_security_key` and `passkey_sign_in` policies.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import webauthn as py_webauthn
from cryptography.hazmat.primitives import serialization

import harness
from conftest import Gatehouse
from harness import COOKIE_NAME, Server, Store, assert_error, extract_cookie, set_cookie_headers
from softkey import AT, UP, UV, SoftKey, Signed, b64u, client_data, unb64u
from test_mfa import (STEP, User, create_user, ensure_margin, oathtool, remember, remember_recovery_codes,
                      server_env)

PENDING_COOKIE = "gatehouse.mfa"
KEY_NAME = "YubiKey 5C"


# --------------------------------------------------------------------------
# servers, as https://localhost:PORT with the server's certificate trusted
# --------------------------------------------------------------------------

def start(gatehouse: Gatehouse, store: Store | None = None, **env: str) -> Server:
    srv = gatehouse.start(store=store, env=server_env(**env))
    assert srv.bootstrap_username == "admin" and srv.bootstrap_password, srv.lines
    return srv


def second_node(gatehouse: Gatehouse, first: Server, tmp_path: Path) -> Server:
    """Another server on the same store: on PostgreSQL its own data dir (so its own
    certificate) with the first one's master key; on SQLite the same data dir."""
    if harness.backend() == "postgres":
        data_dir = tmp_path / "node2"
        data_dir.mkdir()
        store = Store(data_dir=data_dir, database_url=first.store.database_url, starts=1)
        env = server_env(GATEHOUSE_SECRETS__MASTER_KEY_FILE=str(first.store.data_dir / "master.key"))
    else:
        store, env = first.store, server_env()
    node = gatehouse.start(store=store, env=env, expect_bootstrap=False)
    assert node.bootstrap_username is None, "the second node made another admin"
    return node


@dataclass
class Site:
    """One node as a browser on https://localhost:PORT sees it."""

    server: Server

    @property
    def origin(self) -> str:
        return f"https://localhost:{self.server.https_port}"

    @property
    def ca(self) -> str:
        return str(self.server.store.data_dir / "tls" / "cert.pem")

    def url(self, path: str) -> str:
        return self.origin + path

    def request(self, method: str, path: str, headers: dict[str, str] | None = None, **kw) -> requests.Response:
        with requests.Session() as s:
            s.verify = self.ca
            s.trust_env = False
            h = {"Origin": self.origin}
            h.update(headers or {})
            return s.request(method, self.url(path), headers=h, timeout=60, **kw)

    def post(self, path: str, body: dict | None = None, **headers: str) -> requests.Response:
        return self.request("POST", path, headers, json=body if body is not None else {})


@dataclass
class Browser:
    """A cookie session on one node."""

    site: Site
    cookie: str
    csrf: str

    def headers(self) -> dict[str, str]:
        return {"Cookie": f"{COOKIE_NAME}={self.cookie}", "X-CSRF-Token": self.csrf}

    def on(self, site: Site) -> "Browser":
        return Browser(site, self.cookie, self.csrf)

    def request(self, method: str, path: str, body: dict | None = None) -> requests.Response:
        if method in ("POST", "PATCH"):
            return self.site.request(method, path, self.headers(), json=body if body is not None else {})
        return self.site.request(method, path, self.headers())

    def get(self, path: str) -> requests.Response:
        return self.request("GET", path)

    def post(self, path: str, body: dict | None = None) -> requests.Response:
        return self.request("POST", path, body)

    def patch(self, path: str, body: dict) -> requests.Response:
        return self.request("PATCH", path, body)

    def delete(self, path: str) -> requests.Response:
        return self.request("DELETE", path)

    def alive(self) -> bool:
        return self.get("/api/auth/session").status_code == 200


def browser_of(site: Site, r: requests.Response, status: int = 200) -> Browser:
    assert r.status_code == status, (r.status_code, r.text)
    cookie = extract_cookie(r)
    assert cookie, f"no {COOKIE_NAME} cookie in {set_cookie_headers(r)!r}"
    return Browser(site, remember(cookie), remember(r.json()["csrf_token"]))


def assert_refused(r: requests.Response, status: int, code: str) -> None:
    assert_error(r, status, code)
    assert extract_cookie(r) is None, f"a refused answer set a session: {set_cookie_headers(r)!r}"


def remember_key(key: SoftKey) -> SoftKey:
    """The private key, for check_logs.py (hex scalar and base64 DER, one line each)."""
    remember(key.private_scalar_hex())
    der = key.private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    remember(base64.b64encode(der).decode())
    return key


def new_key(**kw) -> SoftKey:
    return remember_key(SoftKey(**kw))


# --------------------------------------------------------------------------
# sign-ins and ceremonies
# --------------------------------------------------------------------------

def password_only(site: Site, user: User) -> Browser:
    """A sign-in for an account without 2-step verification."""
    r = site.post("/api/auth/login", {"username": user.name, "password": user.password})
    b = browser_of(site, r)
    assert r.json()["amr"] == ["pwd"], r.json()
    return b


def password_step(site: Site, user: User, methods: list[str] | None = None) -> str:
    """The password step of an account with 2-step verification: the pending credential."""
    r = site.post("/api/auth/login", {"username": user.name, "password": user.password})
    assert r.status_code == 200, (r.status_code, r.text)
    body = r.json()
    assert body.get("mfa_required") is True, body
    if methods is not None:
        assert body["methods"] == methods, body
    assert "webauthn" in body["methods"], body
    assert extract_cookie(r) is None, "a password alone opened a session"
    pending = extract_cookie(r, PENDING_COOKIE)
    assert pending, set_cookie_headers(r)
    return remember(pending)


def pending_headers(pending: str) -> dict[str, str]:
    return {"Cookie": f"{PENDING_COOKIE}={pending}"}


def started(r: requests.Response) -> tuple[str, dict]:
    assert r.status_code == 200, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"ceremony", "options"}, body
    assert extract_cookie(r) is None
    return remember(body["ceremony"]), body["options"]


def key_step_start(site: Site, pending: str) -> tuple[str, dict]:
    ceremony, options = started(site.request("POST", "/api/auth/login/webauthn/start", pending_headers(pending),
                                             json={}))
    pk = options["publicKey"]
    assert pk["rpId"] == "localhost" and pk["userVerification"] == "required", pk
    assert pk["allowCredentials"], pk
    return ceremony, options


def key_step_finish(site: Site, pending: str, ceremony: str, credential: dict) -> requests.Response:
    return site.request("POST", "/api/auth/login/webauthn/finish", pending_headers(pending),
                        json={"ceremony": ceremony, "credential": credential})


def passkey_start(site: Site) -> tuple[str, dict]:
    ceremony, options = started(site.post("/api/auth/passkey/start"))
    pk = options["publicKey"]
    assert pk["rpId"] == "localhost" and pk["userVerification"] == "required", pk
    assert not pk.get("allowCredentials"), "a passkey sign-in must not name the account's keys"
    return ceremony, options


def passkey_finish(site: Site, ceremony: str, credential: dict) -> requests.Response:
    return site.post("/api/auth/passkey/finish", {"ceremony": ceremony, "credential": credential})


def register_start(b: Browser) -> tuple[str, dict]:
    ceremony, options = started(b.post("/api/mfa/webauthn/register/start"))
    pk = options["publicKey"]
    assert pk["rp"]["id"] == "localhost", pk["rp"]
    assert pk["authenticatorSelection"]["userVerification"] == "required", pk
    assert pk["authenticatorSelection"]["residentKey"] == "preferred", pk
    return ceremony, options


def register_finish(b: Browser, ceremony: str, credential: dict, name: str = KEY_NAME) -> requests.Response:
    return b.post("/api/mfa/webauthn/register/finish", {"ceremony": ceremony, "name": name,
                                                        "credential": credential})


def verified_by_py_webauthn(options: dict, signed: Signed, origin: str):
    """The second verifier: py_webauthn checks the registration the same way."""
    return py_webauthn.verify_registration_response(
        credential=signed.credential, expected_challenge=unb64u(options["publicKey"]["challenge"]),
        expected_rp_id="localhost", expected_origin=origin, require_user_verification=True)


def add_key(b: Browser, key: SoftKey, name: str = KEY_NAME, *, rk: bool | None = True,
            first: bool = False) -> tuple[Browser, dict]:
    """Adds `key` to the account; returns the re-issued session and the answer's body."""
    ceremony, options = register_start(b)
    signed = key.register(options, b.site.origin, rk=rk)
    verified = verified_by_py_webauthn(options, signed, b.site.origin)
    assert verified.credential_id == key.credential_id
    r = register_finish(b, ceremony, signed.credential, name)
    new = browser_of(b.site, r, 201)
    body = r.json()
    assert body["key"]["name"] == name and body["key"]["passkey"] is bool(rk), body
    if first:
        assert len(body["recovery_codes"]) == 10, body
        remember_recovery_codes(body["recovery_codes"])
    else:
        assert "recovery_codes" not in body, body
    assert new.cookie != b.cookie
    assert not b.alive(), "the cookie from before the key was added still works"
    assert new.alive()
    return new, body


def keys_of(b: Browser) -> list[dict]:
    r = b.get("/api/mfa/webauthn")
    assert r.status_code == 200, r.text
    return r.json()


def signed_in(site: Site, r: requests.Response, amr: list[str]) -> Browser:
    b = browser_of(site, r)
    s = b.get("/api/auth/session")
    assert s.status_code == 200, s.text
    assert s.json()["amr"] == amr, s.json()
    return b


def key_sign_in(site: Site, user: User, key: SoftKey, **tamper) -> requests.Response:
    pending = password_step(site, user)
    ceremony, options = key_step_start(site, pending)
    return key_step_finish(site, pending, ceremony, key.assertion(options, site.origin, **tamper).credential)


def audit_actions(server: Server) -> list[dict]:
    return json.loads(server.admin("audit", "--limit", "500", "--json").stdout)


# --------------------------------------------------------------------------
# 1. happy paths
# --------------------------------------------------------------------------

def test_a_passkey_is_added_signs_in_both_ways_is_renamed_and_removed(gatehouse, tmp_path):
    server = start(gatehouse)
    site = Site(server)
    user = create_user(server, tmp_path)
    key = new_key()
    b = password_only(site, user)
    assert keys_of(b) == []
    b, body = add_key(b, key, first=True)
    listed = keys_of(b)
    assert [(k["id"], k["name"], k["passkey"]) for k in listed] == [(body["key"]["id"], KEY_NAME, True)], listed
    assert listed[0]["last_used_at"] is None
    s = b.get("/api/auth/session").json()
    assert "hwk" in s["amr"], s
    mfa = b.get("/api/mfa").json()
    assert mfa["enabled"] is True, mfa

    # Sign out; the password now asks for the second step, with the key first.
    assert b.post("/api/auth/logout").status_code in (200, 204)
    assert not b.alive()
    pending = password_step(site, user, methods=["webauthn", "recovery_code"])
    ceremony, options = key_step_start(site, pending)
    assert [c["id"] for c in options["publicKey"]["allowCredentials"]] == [b64u(key.credential_id)]
    signed = key.assertion(options, site.origin)
    # py_webauthn agrees the answer is good.
    py_webauthn.verify_authentication_response(
        credential=signed.credential, expected_challenge=unb64u(options["publicKey"]["challenge"]),
        expected_rp_id="localhost", expected_origin=site.origin, credential_public_key=key.cose_public_key(),
        credential_current_sign_count=0, require_user_verification=True)
    r = key_step_finish(site, pending, ceremony, signed.credential)
    cleared = [h for h in set_cookie_headers(r) if h.startswith(PENDING_COOKIE + "=")]
    assert cleared and "Max-Age=0" in cleared[0], cleared
    b = signed_in(site, r, ["pwd", "hwk", "mfa"])
    assert keys_of(b)[0]["last_used_at"], "last_used_at is not set after a sign-in with the key"

    # A passkey sign-in: no password, no account named.
    ceremony, options = passkey_start(site)
    r = passkey_finish(site, ceremony, key.assertion(options, site.origin).credential)
    b = signed_in(site, r, ["hwk", "mfa"])
    assert r.json()["user"]["username"] == user.name, r.json()

    # Rename.
    kid = listed[0]["id"]
    r = b.patch(f"/api/mfa/webauthn/{kid}", {"name": "Blue key"})
    assert r.status_code == 204, r.text
    got = b.get(f"/api/mfa/webauthn/{kid}")
    assert got.status_code == 200 and got.json()["name"] == "Blue key", got.text
    assert_error(b.patch(f"/api/mfa/webauthn/{kid}", {"name": ""}), 422, "validation_failed")
    assert_error(b.get("/api/mfa/webauthn/mfa_nosuchkey"), 404, "not_found")

    # Remove, after re-authenticating with the password (the session is re-issued).
    r = b.post("/api/auth/reauthenticate", {"password": user.password})
    b = browser_of(site, r)
    r = b.delete(f"/api/mfa/webauthn/{kid}")
    assert r.status_code == 204, r.text
    assert keys_of(b) == []
    # The key no longer signs in, and the password alone does again.
    ceremony, options = passkey_start(site)
    assert_refused(passkey_finish(site, ceremony, key.assertion(options, site.origin).credential), 401,
                   "invalid_credentials")
    password_only(site, user)


def test_a_key_without_rk_is_not_a_passkey_and_a_second_key_turns_nothing_on_again(gatehouse, tmp_path):
    server = start(gatehouse)
    site = Site(server)
    user = create_user(server, tmp_path)
    first, second = new_key(), new_key()
    b, _ = add_key(password_only(site, user), first, "first", first=True)
    b, body = add_key(b, second, "no rk", rk=False)
    assert body["key"]["passkey"] is False
    # (Listed oldest first; two keys added in the same second may come in either order.)
    assert sorted((k["name"], k["passkey"]) for k in keys_of(b)) == [("first", True), ("no rk", False)]
    # Either key completes the second step.
    for key in (first, second):
        signed_in(site, key_sign_in(site, user, key), ["pwd", "hwk", "mfa"])
    # The same key again on the same account is refused (and excluded in the options).
    ceremony, options = register_start(b)
    assert {c["id"] for c in options["publicKey"]["excludeCredentials"]} == {
        b64u(first.credential_id), b64u(second.credential_id)}
    r = register_finish(b, ceremony, first.register(options, site.origin).credential, "again")
    assert_refused(r, 409, "conflict")
    assert b.alive() and len(keys_of(b)) == 2


# --------------------------------------------------------------------------
# 2. protocol attacks
# --------------------------------------------------------------------------

@pytest.fixture
def armed(gatehouse, tmp_path):
    """A server and an account with one passkey (counter increasing by 1)."""
    server = start(gatehouse)
    site = Site(server)
    user = create_user(server, tmp_path)
    key = new_key()
    b, _ = add_key(password_only(site, user), key, first=True)
    return server, site, user, key, b


def refused_key_step(site: Site, user: User, key: SoftKey, **tamper) -> None:
    assert_refused(key_sign_in(site, user, key, **tamper), 401, "invalid_code")


def test_second_step_answers_that_do_not_verify_are_refused(armed):
    server, site, user, key, b = armed
    before = successes(server)
    # Wrong origin in the client data (another site, plain http, another host on this port).
    for origin in ("https://evil.example", f"http://localhost:{server.https_port}",
                   f"https://127.0.0.1:{server.https_port}", f"https://localhost.evil.example:{server.https_port}"):
        pending = password_step(site, user)
        ceremony, options = key_step_start(site, pending)
        signed = key.assertion(options, origin)
        assert_refused(key_step_finish(site, pending, ceremony, signed.credential), 401, "invalid_code")
    # Wrong RP id hash in the authenticator data.
    refused_key_step(site, user, key, rp_id_hash=hashlib.sha256(b"evil.example").digest())
    # Client data of a registration used in a sign-in.
    refused_key_step(site, user, key, type_="webauthn.create")
    # User presence cleared; user verification cleared (the policy requires it).
    refused_key_step(site, user, key, flags=UV)
    refused_key_step(site, user, key, flags=UP)
    # Another challenge than the ceremony's; a signature by another key; a bad signature.
    refused_key_step(site, user, key, challenge=b64u(b"\x00" * 32))
    refused_key_step(site, user, key, signed_by=new_key())
    refused_key_step(site, user, key, signature=b"\x30\x06\x02\x01\x01\x02\x01\x01")
    # A credential id the account does not have.
    refused_key_step(site, user, key, credential_id=b"\x01" * 32)
    # The key is fine after all that.
    assert successes(server) == before, "a refused answer opened a session"
    failed = [a for a in audit_actions(server) if a["action"] == "login.mfa_failed"]
    assert len(failed) >= 12, len(failed)
    signed_in(site, key_sign_in(site, user, key), ["pwd", "hwk", "mfa"])
    assert successes(server) == before + 1


def successes(server: Server) -> int:
    """Sign-ins the audit trail records as successful."""
    return sum(1 for a in audit_actions(server) if a["action"] == "login.succeeded")


def test_a_replayed_assertion_is_refused(armed):
    server, site, user, key, b = armed
    pending = password_step(site, user)
    ceremony, options = key_step_start(site, pending)
    signed = key.assertion(options, site.origin)
    signed_in(site, key_step_finish(site, pending, ceremony, signed.credential), ["pwd", "hwk", "mfa"])
    # The same ceremony and answer again, on a new pending sign-in.
    pending = password_step(site, user)
    assert_refused(key_step_finish(site, pending, ceremony, signed.credential), 401, "invalid_code")
    # The same signed data for a new ceremony (its challenge is not the one signed).
    ceremony2, _ = key_step_start(site, pending)
    assert_refused(key_step_finish(site, pending, ceremony2, signed.credential), 401, "invalid_code")
    # The same authenticator data (same counter) signed again over the new challenge:
    # the counter did not move, so it is refused as a possible clone.
    pending = password_step(site, user)
    ceremony3, options3 = key_step_start(site, pending)
    again = SoftKey.resign(signed, key, client_data_json=client_data(
        "webauthn.get", options3["publicKey"]["challenge"], site.origin))
    assert_refused(key_step_finish(site, pending, ceremony3, again.credential), 401, "invalid_code")
    # Passkey sign-in: a finished ceremony cannot be replayed either.
    c, o = passkey_start(site)
    p = key.assertion(o, site.origin)
    signed_in(site, passkey_finish(site, c, p.credential), ["hwk", "mfa"])
    assert_refused(passkey_finish(site, c, p.credential), 401, "invalid_credentials")
    c2, _ = passkey_start(site)
    assert_refused(passkey_finish(site, c2, p.credential), 401, "invalid_credentials")


def test_a_counter_that_goes_back_is_refused_and_audited_and_a_zero_counter_keeps_working(armed, tmp_path):
    server, site, user, key, b = armed
    signed_in(site, key_sign_in(site, user, key, counter=5), ["pwd", "hwk", "mfa"])
    refused_key_step(site, user, key, counter=3)
    refused_key_step(site, user, key, counter=5)
    regressions = [a for a in audit_actions(server) if a["action"] == "mfa.security_key_counter_regression"]
    assert len(regressions) >= 2, [a["action"] for a in audit_actions(server)]
    assert regressions[0]["user_id"] == b.get("/api/auth/session").json()["user"]["id"], regressions[0]
    # Higher again: accepted (the refusals did not move the stored counter).
    signed_in(site, key_sign_in(site, user, key, counter=6), ["pwd", "hwk", "mfa"])
    # The same for a passkey sign-in.
    c, o = passkey_start(site)
    assert_refused(passkey_finish(site, c, key.assertion(o, site.origin, counter=4).credential), 401,
                   "invalid_credentials")

    # A key whose counter is always 0 (a synced passkey) signs in again and again.
    other = create_user(server, tmp_path)
    zero = new_key(counter_step=0)
    add_key(password_only(site, other), zero, "synced", first=True)
    for _ in range(3):
        signed_in(site, key_sign_in(site, other, zero), ["pwd", "hwk", "mfa"])
        c, o = passkey_start(site)
        signed_in(site, passkey_finish(site, c, zero.assertion(o, site.origin).credential), ["hwk", "mfa"])
    # ...but once it has counted, 0 is a regression.
    signed_in(site, key_sign_in(site, other, zero, counter=2), ["pwd", "hwk", "mfa"])
    refused_key_step(site, other, zero, counter=0)


def test_made_up_and_wrong_kind_ceremonies_are_refused(armed, tmp_path):
    server, site, user, key, b = armed
    # A made-up ceremony token.
    pending = password_step(site, user)
    _, options = key_step_start(site, pending)
    made_up = remember(b64u(b"\x07" * 32))
    assert_refused(key_step_finish(site, pending, made_up, key.assertion(options, site.origin).credential), 401,
                   "invalid_code")
    # A registration ceremony used for the sign-in (its challenge signed).
    reg, reg_options = register_start(b)
    pending = password_step(site, user)
    fake = {"publicKey": {"challenge": reg_options["publicKey"]["challenge"], "rpId": "localhost"}}
    assert_refused(key_step_finish(site, pending, reg, key.assertion(fake, site.origin).credential), 401,
                   "invalid_code")
    # A passkey ceremony used for the second step, and a second-step ceremony for a passkey sign-in.
    pc, po = passkey_start(site)
    assert_refused(key_step_finish(site, pending, pc, key.assertion(po, site.origin).credential), 401,
                   "invalid_code")
    sc, so = key_step_start(site, pending)
    assert_refused(passkey_finish(site, sc, key.assertion(so, site.origin).credential), 401,
                   "invalid_credentials")
    # A sign-in ceremony used to add a key.
    sc, so = key_step_start(site, password_step(site, user))
    intruder = new_key()
    fake = {"publicKey": {**so["publicKey"], "rp": {"id": "localhost", "name": "Gatehouse"},
                          "user": {"id": b64u(b"\x00" * 16), "name": user.name, "displayName": user.name},
                          "pubKeyCredParams": [{"type": "public-key", "alg": -7}]}}
    r = register_finish(b, sc, intruder.register(fake, site.origin).credential)
    assert r.status_code in (401, 422), (r.status_code, r.text)
    assert extract_cookie(r) is None
    assert len(keys_of(b)) == 1
    # A made-up ceremony for a passkey sign-in.
    _, po = passkey_start(site)
    assert_refused(passkey_finish(site, made_up, key.assertion(po, site.origin).credential), 401,
                   "invalid_credentials")
    # None of it broke the key.
    signed_in(site, key_sign_in(site, user, key), ["pwd", "hwk", "mfa"])


def test_another_accounts_ceremony_and_credential_are_refused(armed, tmp_path):
    server, site, user, key, b = armed
    other = create_user(server, tmp_path)
    other_key = new_key()
    ob, _ = add_key(password_only(site, other), other_key, "theirs", first=True)
    # The key step started for A, finished with B's pending sign-in (B's key and A's key).
    pending_a = password_step(site, user)
    ceremony_a, options_a = key_step_start(site, pending_a)
    pending_b = password_step(site, other)
    for k in (other_key, key):
        assert_refused(key_step_finish(site, pending_b, ceremony_a, k.assertion(options_a, site.origin).credential),
                       401, "invalid_code")
    # A's key on B's own ceremony.
    ceremony_b, options_b = key_step_start(site, pending_b)
    assert_refused(key_step_finish(site, pending_b, ceremony_b, key.assertion(options_b, site.origin).credential),
                   401, "invalid_code")
    # Passkey sign-in: A's credential claiming B's user handle.
    c, o = passkey_start(site)
    assert_refused(passkey_finish(site, c, key.assertion(o, site.origin, user_handle=other_key.user_handle)
                                  .credential), 401, "invalid_credentials")
    # No user handle at all.
    c, o = passkey_start(site)
    assert_refused(passkey_finish(site, c, key.assertion(o, site.origin, user_handle=None).credential), 401,
                   "invalid_credentials")
    # UV cleared on a passkey sign-in.
    c, o = passkey_start(site)
    assert_refused(passkey_finish(site, c, key.assertion(o, site.origin, flags=UP).credential), 401,
                   "invalid_credentials")
    # A's credential id registered on B: 409, nothing added, B's session unchanged.
    ceremony, options = register_start(ob)
    clone = SoftKey(credential_id=key.credential_id)
    remember_key(clone)
    r = register_finish(ob, ceremony, clone.register(options, site.origin).credential, "clone")
    assert_refused(r, 409, "conflict")
    assert ob.alive() and [k["name"] for k in keys_of(ob)] == ["theirs"]
    # The same key (same private key too) on B: still A's credential id, 409.
    ceremony, options = register_start(ob)
    same = SoftKey(credential_id=key.credential_id, private_key=key.private_key)
    r = register_finish(ob, ceremony, same.register(options, site.origin).credential, "same")
    assert_refused(r, 409, "conflict")
    # Both accounts still sign in with their own keys.
    signed_in(site, key_sign_in(site, user, key), ["pwd", "hwk", "mfa"])
    signed_in(site, key_sign_in(site, other, other_key), ["pwd", "hwk", "mfa"])


def test_registration_answers_that_do_not_verify_are_refused(gatehouse, tmp_path):
    server = start(gatehouse)
    site = Site(server)
    user = create_user(server, tmp_path)
    b = password_only(site, user)
    tampered = {
        "wrong origin": dict(origin="https://evil.example"),
        "plain http origin": dict(origin=f"http://localhost:{server.https_port}"),
        "wrong RP id hash": dict(rp_id_hash=hashlib.sha256(b"evil.example").digest()),
        "sign-in client data": dict(type_="webauthn.get"),
        "UP cleared": dict(flags=UV | AT),
        "UV cleared": dict(flags=UP | AT),
        "another challenge": dict(challenge=b64u(b"\x00" * 32)),
    }
    for what, change in tampered.items():
        ceremony, options = register_start(b)
        origin = change.pop("origin", site.origin)
        r = register_finish(b, ceremony, new_key().register(options, origin, **change).credential, what)
        assert_refused(r, 422, "validation_failed")
        assert b.alive(), what
    # A made-up ceremony; a used one: 422 on `ceremony` ("start again"), the session is
    # fine, and nothing is added.
    _, options = register_start(b)
    r = register_finish(b, remember(b64u(b"\x05" * 32)), new_key().register(options, site.origin).credential)
    assert r.status_code == 422 and extract_cookie(r) is None, (r.status_code, r.text)
    assert r.json()["field"] == "ceremony", r.text
    assert keys_of(b) == []
    ceremony, options = register_start(b)
    good = new_key()
    signed = good.register(options, site.origin)
    nb = browser_of(site, register_finish(b, ceremony, signed.credential), 201)
    r = register_finish(nb, ceremony, signed.credential)
    assert r.status_code == 422 and extract_cookie(r) is None, (r.status_code, r.text)
    assert r.json()["field"] == "ceremony", r.text
    assert len(keys_of(nb)) == 1
    # An API key may list keys but never add one.
    r = nb.post("/api/api-keys", {"name": "reader", "permissions": ["account:read"]})
    assert r.status_code == 201, r.text
    api_key = remember(r.json()["key"])
    auth = {"Authorization": "Basic " + base64.b64encode(f"{api_key}:".encode()).decode()}
    remember(auth["Authorization"])
    r = site.request("GET", "/api/mfa/webauthn", auth)
    assert r.status_code == 200 and len(r.json()) == 1, r.text
    assert_error(site.request("POST", "/api/mfa/webauthn/register/start", auth, json={}), 403, "forbidden")


# --------------------------------------------------------------------------
# 3. a ceremony started on one node and finished on another
# --------------------------------------------------------------------------

def test_ceremonies_started_on_one_node_finish_on_another(gatehouse, tmp_path):
    first = start(gatehouse)
    second = second_node(gatehouse, first, tmp_path)
    one, two = Site(first), Site(second)
    user = create_user(first, tmp_path)
    key = new_key()
    # Registration: started on node 1, finished on node 2.
    b = password_only(one, user)
    ceremony, options = register_start(b)
    signed = key.register(options, one.origin)
    r = register_finish(b.on(two), ceremony, signed.credential)
    nb = browser_of(two, r, 201)
    assert len(r.json()["recovery_codes"]) == 10
    remember_recovery_codes(r.json()["recovery_codes"])
    assert nb.on(one).alive() and nb.alive()
    # The second step: password on node 1, key step started on node 2, finished on node 1.
    pending = password_step(one, user)
    ceremony, options = key_step_start(two, pending)
    r = key_step_finish(one, pending, ceremony, key.assertion(options, two.origin).credential)
    signed_in(one, r, ["pwd", "hwk", "mfa"])
    # And back; the counter is shared: an older counter is refused on the other node.
    pending = password_step(two, user)
    ceremony, options = key_step_start(one, pending)
    old = key.assertion(options, one.origin)
    newer = key.assertion(options, one.origin)
    r = key_step_finish(two, pending, ceremony, newer.credential)
    signed_in(two, r, ["pwd", "hwk", "mfa"])
    pending = password_step(one, user)
    ceremony, options = key_step_start(two, pending)
    replay = SoftKey.resign(old, key, client_data_json=client_data(
        "webauthn.get", options["publicKey"]["challenge"], two.origin))
    assert_refused(key_step_finish(one, pending, ceremony, replay.credential), 401, "invalid_code")
    # A passkey sign-in across nodes; its ceremony is single-use on both.
    c, o = passkey_start(one)
    p = key.assertion(o, one.origin)
    signed_in(two, passkey_finish(two, c, p.credential), ["hwk", "mfa"])
    assert_refused(passkey_finish(one, c, p.credential), 401, "invalid_credentials")


# --------------------------------------------------------------------------
# 4. the organisation's policies
# --------------------------------------------------------------------------

def enrol_totp(b: Browser) -> tuple[Browser, str, list[str]]:
    """Sets up an authenticator app (oathtool as the app); returns the re-issued session,
    the secret and the recovery codes. The code used is the previous step's, so the current one is still unused."""
    r = b.post("/api/mfa/totp")
    assert r.status_code == 201, r.text
    body = r.json()
    secret = remember(body["secret"].replace(" ", ""))
    remember(body["secret"])
    remember(body["uri"])
    ensure_margin()
    code, _ = oathtool(secret, -STEP)
    r = b.post("/api/mfa/totp/confirm", {"code": code})
    assert r.status_code == 200, r.text
    codes = r.json()["recovery_codes"]
    remember_recovery_codes(codes)
    return browser_of(b.site, r), secret, codes


def test_enforce_security_key_limits_a_totp_member_until_a_key_is_added(gatehouse, tmp_path):
    server = start(gatehouse)
    site = Site(server)
    user = create_user(server, tmp_path)
    bystander = create_user(server, tmp_path)
    b, secret, recovery_codes = enrol_totp(password_only(site, user))
    server.admin("policy", "--enforce-security-key", "true")
    try:
        assert "enforce_security_key          = true" in server.admin("policy").stdout
        code, _ = oathtool(secret)
        r = site.request("POST", "/api/auth/login", json={"username": user.name, "password": user.password})
        assert r.status_code == 200 and r.json()["methods"] == ["totp", "recovery_code"], r.text
        pending = remember(extract_cookie(r, PENDING_COOKIE))
        r = site.request("POST", "/api/auth/login/mfa", pending_headers(pending), json={"code": code})
        limited = browser_of(site, r)
        s = limited.get("/api/auth/session").json()
        assert s["mfa_setup_required"] is True and s["amr"] == ["pwd", "otp", "mfa"], s
        for path in ["/api/api-keys", "/api/tokens", "/api/ssh-keys"]:
            assert_error(limited.get(path), 403, "mfa_setup_required")
        status = limited.get("/api/mfa").json()
        assert status["security_key_required_by_organization"] is True, status
        # Adding a key lifts the limit: the re-issued session is whole.
        key = new_key()
        whole, body = add_key(limited, key)
        s = whole.get("/api/auth/session").json()
        assert not s.get("mfa_setup_required"), s
        assert "hwk" in s["amr"], s
        r = whole.get("/api/api-keys")
        assert r.status_code == 200, r.text
        r = whole.post("/api/api-keys", {"name": "after-key"})
        assert r.status_code == 201, r.text
        remember(r.json()["key"])
        # The next sign-in with the key is whole too.
        k = signed_in(site, key_sign_in(site, user, key), ["pwd", "hwk", "mfa"])
        assert k.get("/api/api-keys").status_code == 200
        # A sign-in with a recovery code instead of the key stays limited: the organisation
        # wants the key.
        r = site.request("POST", "/api/auth/login/mfa", pending_headers(password_step(site, user)),
                         json={"recovery_code": recovery_codes[0]})
        again = browser_of(site, r)
        assert again.get("/api/auth/session").json()["mfa_setup_required"] is True
        assert_error(again.get("/api/api-keys"), 403, "mfa_setup_required")
        # The only key may go while the app remains (it is not the last factor); the member
        # is then limited to setting a key up again, which a limited session can do.
        kid = body["key"]["id"]
        r = k.delete(f"/api/mfa/webauthn/{kid}")
        assert r.status_code == 204, (r.status_code, r.text)
        assert keys_of(k) == []
        readded, _ = add_key(again, new_key(), "replacement")
        assert readded.get("/api/api-keys").status_code == 200
        # A member with no factor at all is limited too.
        nb = site.post("/api/auth/login", {"username": bystander.name, "password": bystander.password})
        nb = browser_of(site, nb)
        assert nb.get("/api/auth/session").json()["mfa_setup_required"] is True
        assert_error(nb.get("/api/api-keys"), 403, "mfa_setup_required")
    finally:
        server.admin("policy", "--enforce-security-key", "false")
    nb = password_only(site, bystander)
    assert not nb.get("/api/auth/session").json().get("mfa_setup_required")
    assert nb.get("/api/api-keys").status_code == 200


def test_passkey_sign_in_can_be_turned_off_by_the_organisation(gatehouse, tmp_path):
    server = start(gatehouse)
    site = Site(server)
    user = create_user(server, tmp_path)
    key = new_key()
    add_key(password_only(site, user), key, first=True)
    server.admin("policy", "--passkey-sign-in", "false")
    try:
        c, o = passkey_start(site)
        r = passkey_finish(site, c, key.assertion(o, site.origin).credential)
        assert_refused(r, 403, "forbidden")
        # The key still works as the second step.
        signed_in(site, key_sign_in(site, user, key), ["pwd", "hwk", "mfa"])
    finally:
        server.admin("policy", "--passkey-sign-in", "true")
    c, o = passkey_start(site)
    signed_in(site, passkey_finish(site, c, key.assertion(o, site.origin).credential), ["hwk", "mfa"])
