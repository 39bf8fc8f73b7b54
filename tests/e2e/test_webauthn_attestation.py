"""Approved security key models end to end: `admin policy --security-key-models` with
`mfa.attestation_roots_file`, against the real binary on the backend E2E_DATABASE selects.

The software authenticator (softkey.py) answers with "packed" attestation: an attestation
certificate made here with `cryptography`, signed by a test root CA whose PEM is written
to the test's folder and named by `GATEHOUSE_MFA__ATTESTATION_ROOTS_FILE`. The good
answers are also checked by py_webauthn against the same root, so an accepted answer is
correct WebAuthn and not just one Gatehouse happens to take.

Covered: an approved model registers and signs in; refused with 422 and no key added:
"none" attestation, self attestation, a model not listed, a certificate naming another
model than the authenticator data, a chain to an untrusted root (with another name, and
with the same name as the trusted one), a tampered or wrong attestation signature,
certificates that break the packed certificate rules (OU, CA=true, expired), and
synchronised (backup-eligible) keys; a server with models listed but no roots (409); `any`
lifting the restriction, and keys from before the list keep working; a server whose
roots file is not a certificate refuses to start.

A registration started before the list was set is held to it when it finishes; a roots
file with two roots of one subject name is refused at start (webauthn-rs would try only
one of them).

Every test starts its own server: the policy is organisation-wide.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
import webauthn as py_webauthn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers.structs import AttestationFormat

import harness
from conftest import Gatehouse
from harness import BINARY, Server, Store, assert_error, extract_cookie
from softkey import AAGUID, AT, BE, BS, UP, UV, AttestationRoot, Attester, SoftKey, unb64u
from test_mfa import create_user, remember, remember_recovery_codes, server_env
from test_webauthn import (KEY_NAME, Browser, Site, add_key, browser_of, key_sign_in, keys_of, new_key,
                           passkey_finish, passkey_start, password_only, register_finish, register_start,
                           signed_in)

# The approved model (softkey's AAGUID) and one the organisation does not list.
APPROVED = str(uuid.UUID(bytes=AAGUID))
OTHER_AAGUID = bytes.fromhex("6761746568f075736573656b65790002")
ROOTS_ENV = "GATEHOUSE_MFA__ATTESTATION_ROOTS_FILE"


# --------------------------------------------------------------------------
# roots, attested keys and servers
# --------------------------------------------------------------------------

def remember_private_key(key: ec.EllipticCurvePrivateKey) -> None:
    """A private key, for check_logs.py (hex scalar and base64 DER, one line each)."""
    remember(format(key.private_numbers().private_value, "064x"))
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    remember(base64.b64encode(der).decode())


def new_root(**kw) -> AttestationRoot:
    root = AttestationRoot(**kw)
    remember_private_key(root.private_key)
    return root


def issued(root: AttestationRoot, aaguid: bytes | None = AAGUID, **kw) -> Attester:
    attester = root.issue(aaguid, **kw)
    remember_private_key(attester.private_key)
    return attester


def attested_key(root: AttestationRoot, aaguid: bytes = AAGUID, **kw) -> SoftKey:
    """A key of model `aaguid` whose attestation certificate `root` signed."""
    return new_key(aaguid=aaguid, attester=issued(root, aaguid, **kw))


def write_roots(tmp_path: Path, *roots: AttestationRoot) -> Path:
    path = tmp_path / f"attestation-roots-{uuid.uuid4().hex[:8]}.pem"
    path.write_text("".join(r.pem() for r in roots), encoding="ascii")
    return path


def start(gatehouse: Gatehouse, roots_file: Path | None, store: Store | None = None) -> Server:
    env = {ROOTS_ENV: str(roots_file)} if roots_file is not None else {}
    srv = gatehouse.start(store=store, env=server_env(**env))
    assert srv.bootstrap_username == "admin" and srv.bootstrap_password, srv.lines
    return srv


def approve(server: Server, models: str) -> None:
    server.admin("policy", "--security-key-models", models)
    shown = server.admin("policy").stdout
    assert f"security_key_models           = {models}" in shown, shown
    listed = json.loads(server.admin("policy", "--json").stdout)["security_key_models"]
    assert listed == ([] if models == "any" else models.split(",")), listed


def attested_start(b: Browser) -> tuple[str, dict]:
    """register/start under an approved-models policy: direct attestation, packed or TPM."""
    ceremony, options = register_start(b)
    pk = options["publicKey"]
    assert pk["attestation"] == "direct", pk
    assert set(pk.get("attestationFormats", ["packed", "tpm"])) == {"packed", "tpm"}, pk
    return ceremony, options


def py_webauthn_verifies(options: dict, credential: dict, origin: str, root: AttestationRoot):
    """The second verifier: py_webauthn checks the attestation up to the same root."""
    return py_webauthn.verify_registration_response(
        credential=credential, expected_challenge=unb64u(options["publicKey"]["challenge"]),
        expected_rp_id="localhost", expected_origin=origin, require_user_verification=True,
        pem_root_certs_bytes_by_fmt={AttestationFormat.PACKED: [root.pem().encode()]})


def add_attested_key(b: Browser, key: SoftKey, root: AttestationRoot, name: str = KEY_NAME,
                     first: bool = False) -> tuple[Browser, dict]:
    ceremony, options = attested_start(b)
    signed = key.register(options, b.site.origin)
    verified = py_webauthn_verifies(options, signed.credential, b.site.origin, root)
    assert verified.fmt == AttestationFormat.PACKED and verified.aaguid == str(uuid.UUID(bytes=key.aaguid))
    r = register_finish(b, ceremony, signed.credential, name)
    new = browser_of(b.site, r, 201)
    body = r.json()
    assert body["key"]["name"] == name and body["key"]["passkey"] is True, body
    assert ("recovery_codes" in body) is first, body
    if first:
        remember_recovery_codes(body["recovery_codes"])
    assert not b.alive() and new.alive()
    return new, body


# What webauthn-rs says for each kind of refusal (the server logs it at info level).
NOT_ATTESTED = "not a format valid for CA chain validation"
MODEL_NOT_LISTED = "limits the aaguids allowed"
AAGUID_MISMATCH = "aaguid does not match the aaguid of the token"
UNTRUSTED = "not trusted by one of the selected CA certificates"
BAD_SIGNATURE = "attestation statement signature is not valid"
CERT_RULES = "packed-attestation-cert-requirements are not met"
SYNCHRONISED = "not truly bound to hardware"


def refusal_reasons(server: Server) -> list[str]:
    """The reasons the server logged for refused registrations, oldest first."""
    out = []
    for line in server.stderr_log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("message") == "security key registration refused":
            out.append(entry.get("reason", ""))
    return out


def reasons_logged() -> bool:
    return os.environ.get("E2E_SERVER_LOG_LEVEL", "debug") in ("trace", "debug", "info")


def refused_registration(b: Browser, key: SoftKey, what: str, reason: str, **change) -> None:
    """The answer is refused with 422 for `reason`, the session is untouched and no key
    is added."""
    before = keys_of(b)
    logged = len(refusal_reasons(b.site.server))
    ceremony, options = attested_start(b)
    r = register_finish(b, ceremony, key.register(options, b.site.origin, **change).credential, what)
    assert r.status_code == 422, (what, r.status_code, r.text)
    body = assert_error(r, 422, "validation_failed")
    assert body.get("field") == "credential", (what, body)
    assert extract_cookie(r) is None, what
    assert b.alive(), what
    assert keys_of(b) == before, what
    if reasons_logged():
        reasons = refusal_reasons(b.site.server)[logged:]
        assert len(reasons) == 1 and reason in reasons[0], (what, reason, reasons)


# --------------------------------------------------------------------------
# 1. an approved model
# --------------------------------------------------------------------------

def test_an_approved_model_with_packed_attestation_registers_and_is_the_second_step(gatehouse, tmp_path):
    root = new_root()
    server = start(gatehouse, write_roots(tmp_path, root))
    site = Site(server)
    user = create_user(server, tmp_path)
    approve(server, APPROVED)
    key = attested_key(root)
    b = password_only(site, user)
    b, body = add_attested_key(b, key, root, first=True)
    assert [(k["id"], k["name"]) for k in keys_of(b)] == [(body["key"]["id"], KEY_NAME)]
    assert "hwk" in b.get("/api/auth/session").json()["amr"]
    # The key is the second step of the next sign-in, and a passkey on its own.
    assert b.post("/api/auth/logout").status_code in (200, 204)
    signed_in(site, key_sign_in(site, user, key), ["pwd", "hwk", "mfa"])
    ceremony, options = passkey_start(site)
    signed_in(site, passkey_finish(site, ceremony, key.assertion(options, site.origin).credential),
              ["hwk", "mfa"])
    # A second key of the same model, with its own attestation certificate, is welcome too.
    b = signed_in(site, key_sign_in(site, user, key), ["pwd", "hwk", "mfa"])
    b, _ = add_attested_key(b, attested_key(root), root, "second")
    assert sorted(k["name"] for k in keys_of(b)) == sorted([KEY_NAME, "second"])
    actions = [e["action"] for e in json.loads(server.admin("audit", "--limit", "500", "--json").stdout)]
    assert actions.count("mfa.security_key_added") == 2, actions


# --------------------------------------------------------------------------
# 2. answers an approved-models policy refuses
# --------------------------------------------------------------------------

def test_keys_without_a_trusted_attestation_of_an_approved_model_are_refused(gatehouse, tmp_path):
    root = new_root()
    server = start(gatehouse, write_roots(tmp_path, root))
    site = Site(server)
    user = create_user(server, tmp_path)
    approve(server, APPROVED)
    b = password_only(site, user)
    stranger = new_root(name="Untrusted Attestation Root", organisation="Elsewhere")
    namesake = new_root()   # the trusted root's name, another key
    assert namesake.certificate.subject == root.certificate.subject
    expired = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)

    # No attestation, or one that vouches for nothing.
    refused_registration(b, new_key(), '"none" attestation', NOT_ATTESTED)
    refused_registration(b, new_key(), "self attestation", NOT_ATTESTED, fmt="packed")
    # A valid attestation of a model the organisation does not list.
    refused_registration(b, attested_key(root, OTHER_AAGUID), "model not listed", MODEL_NOT_LISTED)
    # The certificate names another model than the authenticator data claims.
    refused_registration(b, new_key(attester=issued(root, OTHER_AAGUID)), "certificate of another model",
                         AAGUID_MISMATCH)
    # Chains to roots that are not configured.
    refused_registration(b, attested_key(stranger), "untrusted root", UNTRUSTED)
    refused_registration(b, attested_key(namesake), "untrusted root with the trusted root's name", UNTRUSTED)
    # The attestation signature: tampered, over other data, by the credential key.
    key = attested_key(root)
    refused_registration(b, key, "signature by the credential key", BAD_SIGNATURE,
                         attestation_signature=key.sign(b"\x00" * 69))
    refused_registration(b, key, "signature over other data", BAD_SIGNATURE,
                         attestation_signature=key.attester.sign(b"other data"))
    good = key.attester.sign(b"x")  # a valid DER signature to spoil
    spoiled = bytearray(good)
    spoiled[-1] ^= 0x01
    refused_registration(b, key, "tampered signature", BAD_SIGNATURE, attestation_signature=bytes(spoiled))
    refused_registration(b, key, "empty signature", BAD_SIGNATURE, attestation_signature=b"")
    # Certificates that break the packed attestation certificate rules.
    refused_registration(b, attested_key(root, unit="Security Keys"), "OU not Authenticator Attestation",
                         CERT_RULES)
    refused_registration(b, attested_key(root, unit=None), "no OU", CERT_RULES)
    refused_registration(b, attested_key(root, ca=True), "attestation certificate is a CA", CERT_RULES)
    refused_registration(b, attested_key(root, aaguid_critical=True), "AAGUID extension critical", CERT_RULES)
    refused_registration(b, attested_key(root, not_valid_after=expired), "expired attestation certificate",
                         UNTRUSTED)
    # Synchronised keys: backup eligible, and backed up.
    refused_registration(b, attested_key(root), "backup eligible", SYNCHRONISED, flags=UP | UV | AT | BE)
    refused_registration(b, attested_key(root), "backed up", SYNCHRONISED, flags=UP | UV | AT | BE | BS)
    assert keys_of(b) == []
    actions = [e["action"] for e in json.loads(server.admin("audit", "--limit", "500", "--json").stdout)]
    assert "mfa.security_key_added" not in actions, actions

    # After all that, a good answer from the same session still registers.
    add_attested_key(b, attested_key(root), root, first=True)


# --------------------------------------------------------------------------
# 3. models listed on a server with no roots
# --------------------------------------------------------------------------

def test_models_listed_without_attestation_roots_is_a_409_at_register_start(gatehouse, tmp_path):
    server = start(gatehouse, None)
    site = Site(server)
    user = create_user(server, tmp_path)
    approve(server, APPROVED)
    b = password_only(site, user)
    r = b.post("/api/mfa/webauthn/register/start")
    body = assert_error(r, 409, "conflict")
    assert "approved security key models" in body["message"], body
    assert "mfa.attestation_roots_file" in body["message"], body
    assert "ceremony" not in body and extract_cookie(r) is None, body
    assert b.alive() and keys_of(b) == []
    # `any` lifts the restriction: the same server adds a key again.
    approve(server, "any")
    add_key(b, new_key(), first=True)


# --------------------------------------------------------------------------
# 4. `any`, and keys from before the list
# --------------------------------------------------------------------------

def test_any_lifts_the_restriction_and_keys_from_before_the_list_keep_working(gatehouse, tmp_path):
    root = new_root()
    server = start(gatehouse, write_roots(tmp_path, root))
    site = Site(server)
    user = create_user(server, tmp_path)
    old = new_key()   # "none" attestation, registered while any model is accepted
    b, _ = add_key(password_only(site, user), old, "old", first=True)

    approve(server, APPROVED)
    # The old key still signs in, as the second step and as a passkey.
    b = signed_in(site, key_sign_in(site, user, old), ["pwd", "hwk", "mfa"])
    ceremony, options = passkey_start(site)
    signed_in(site, passkey_finish(site, ceremony, old.assertion(options, site.origin).credential),
              ["hwk", "mfa"])
    # A new key without attestation is refused; an approved model is added.
    refused_registration(b, new_key(), '"none" attestation', NOT_ATTESTED)
    b, _ = add_attested_key(b, attested_key(root), root, "approved")

    approve(server, "any")
    ceremony, options = register_start(b)
    assert options["publicKey"].get("attestation", "none") == "none", options["publicKey"]
    b, _ = add_key(b, new_key(), "after any")
    assert sorted(k["name"] for k in keys_of(b)) == ["after any", "approved", "old"]
    signed_in(site, key_sign_in(site, user, old), ["pwd", "hwk", "mfa"])


# --------------------------------------------------------------------------
# 5. a roots file that is not a certificate
# --------------------------------------------------------------------------

def test_a_server_whose_attestation_roots_file_is_not_a_certificate_refuses_to_start(gatehouse, tmp_path):
    root = new_root()
    attester = issued(root)
    key_pem = attester.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()).decode()
    cases = {
        "text": ("this is not a certificate\n", "holds no PEM certificate"),
        "empty": ("", "holds no PEM certificate"),
        "a private key": (key_pem, "holds no PEM certificate"),
        "bad base64": ("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
                       "does not parse"),
        "a good root then garbage": (root.pem() + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                                     "does not parse"),
        "DER instead of PEM": (None, "is not PEM text"),
        "two roots of one name": (root.pem() + new_root().pem(), "holds two roots named"),
        "missing": (False, "No such file"),
    }
    for what, (content, message) in cases.items():
        path = tmp_path / f"roots-{what.replace(' ', '-')}.pem"
        if content is None:
            path.write_bytes(root.certificate.public_bytes(serialization.Encoding.DER))
        elif content is not False:
            path.write_text(content)
        store = gatehouse.store()
        cmd = [str(BINARY), "serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", *store.args()]
        cp = subprocess.run(cmd, env={**os.environ, **server_env(**{ROOTS_ENV: str(path)})},
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
                            cwd=str(tmp_path))
        log = harness.LOG_DIR / f"{gatehouse.prefix}-{what.replace(' ', '-')}.log"
        log.write_text(f"exit {cp.returncode}\nstdout:\n{cp.stdout}\nstderr:\n{cp.stderr}")
        assert cp.returncode not in (0, None) and cp.returncode > 0, (what, cp.returncode, cp.stderr)
        assert "panicked" not in cp.stderr and "RUST_BACKTRACE" not in cp.stderr, (what, cp.stderr)
        assert "Gatehouse listening" not in cp.stdout, (what, cp.stdout)
        last = cp.stderr.strip().splitlines()[-1]
        assert "mfa.attestation_roots_file" in last and message in last and str(path) in last, (what, last)
    # The good root alone starts.
    start(gatehouse, write_roots(tmp_path, root))


# --------------------------------------------------------------------------
# 6. the rules change during a ceremony
# --------------------------------------------------------------------------

def test_a_registration_started_before_the_list_was_set_is_held_to_it(gatehouse, tmp_path):
    root = new_root()
    server = start(gatehouse, write_roots(tmp_path, root))
    site = Site(server)
    user = create_user(server, tmp_path)
    b = password_only(site, user)
    ceremony, options = register_start(b)   # while any model is accepted
    approve(server, APPROVED)
    r = register_finish(b, ceremony, new_key().register(options, site.origin).credential, "unapproved")
    if r.status_code == 201:
        remember_recovery_codes(r.json().get("recovery_codes", []))
        b = browser_of(site, r, 201)
    assert r.status_code == 422, (r.status_code, r.text)
    assert r.json()["field"] == "ceremony", r.text
    assert keys_of(b) == []

