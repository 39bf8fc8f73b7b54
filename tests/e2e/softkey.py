"""A scripted software authenticator (WebAuthn Level 2, ES256, attestation "none").

It answers the options Gatehouse sends (`{"publicKey": {...}}`) the way a browser plus a
security key would: it builds the client data, the authenticator data and the signature
itself, so a test can change any one of them (origin, RP id hash, flags, counter, type,
challenge, user handle, signature) and check that the server refuses the answer.

Encodings, from the WebAuthn specification:
- authenticatorData = SHA-256(rpId) | flags (UP 0x01, UV 0x04, BE 0x08, BS 0x10, AT 0x40,
  ED 0x80) | signCount (u32, big-endian) | attestedCredentialData (registration only:
  AAGUID (16 bytes) | credential id length (u16, big-endian) | credential id | COSE key).
- COSE key of an ES256 key: {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}.
- attestationObject = CBOR {"fmt": "none", "attStmt": {}, "authData": authenticatorData}.
- an assertion's signature = ECDSA-SHA-256 (DER) over authenticatorData | SHA-256(clientDataJSON).
- every binary value in the JSON is base64url without padding (`credential.toJSON()`).

CBOR is python-fido2's encoder (`fido2.cbor`), so the bytes are what a real key sends.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fido2 import cbor

UP, UV, BE, BS, AT, ED = 0x01, 0x04, 0x08, 0x10, 0x40, 0x80

# A made-up AAGUID (attestation "none" does not vouch for it).
AAGUID = bytes.fromhex("6761746568f075736573656b65790001")

_UNSET: Any = object()


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def client_data(type_: str, challenge: str, origin: str, cross_origin: bool = False,
                **extra: Any) -> bytes:
    """clientDataJSON as a browser serialises it (key order: type, challenge, origin, crossOrigin)."""
    d: dict[str, Any] = {"type": type_, "challenge": challenge, "origin": origin, "crossOrigin": cross_origin}
    d.update(extra)
    return json.dumps(d, separators=(",", ":")).encode()


@dataclass
class Signed:
    """What a ceremony answer was made of, so a test can reuse or tamper with the parts."""

    credential: dict
    client_data_json: bytes
    authenticator_data: bytes
    signature: bytes = b""


@dataclass
class SoftKey:
    """One credential on a software authenticator.

    `counter_step` 0 makes a key whose signature counter is always 0 (as synced passkeys);
    otherwise the counter grows by that much at every signature (set `counter` to force
    a value)."""

    rp_id: str = "localhost"
    counter: int = 0
    counter_step: int = 1
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    aaguid: bytes = AAGUID
    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    user_handle: bytes | None = None   # set by register() from options.user.id

    # -- key material -------------------------------------------------------
    def cose_public_key(self) -> bytes:
        numbers = self.private_key.public_key().public_numbers()
        return cbor.encode({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})

    def private_pem(self) -> str:
        return self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()).decode()

    def private_scalar_hex(self) -> str:
        return format(self.private_key.private_numbers().private_value, "064x")

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data, ec.ECDSA(hashes.SHA256()))

    def next_counter(self, counter: int | None) -> int:
        if counter is not None:
            self.counter = counter
        elif self.counter_step:
            self.counter += self.counter_step
        return self.counter

    def auth_data(self, *, flags: int, counter: int, rp_id_hash: bytes | None = None,
                  attested: bytes = b"", extensions: bytes = b"") -> bytes:
        rp_hash = rp_id_hash if rp_id_hash is not None else hashlib.sha256(self.rp_id.encode()).digest()
        return rp_hash + bytes([flags]) + counter.to_bytes(4, "big") + attested + extensions

    def attested_credential_data(self) -> bytes:
        return (self.aaguid + len(self.credential_id).to_bytes(2, "big") + self.credential_id
                + self.cose_public_key())

    # -- navigator.credentials.create ---------------------------------------
    def register(self, options: dict, origin: str, *, flags: int = UP | UV | AT, counter: int | None = None,
                 type_: str = "webauthn.create", challenge: str | None = None,
                 rp_id_hash: bytes | None = None, rk: bool | None = True, fmt: str = "none",
                 att_stmt: dict | None = None, client_data_json: bytes | None = None,
                 authenticator_data: bytes | None = None, credential_id: bytes | None = None,
                 extensions: Any = _UNSET) -> Signed:
        """The answer to creation options `options` ({"publicKey": {...}})."""
        pk = options["publicKey"]
        assert pk["rp"]["id"] == self.rp_id, pk["rp"]
        assert any(p.get("alg") == -7 for p in pk["pubKeyCredParams"]), pk["pubKeyCredParams"]
        self.user_handle = unb64u(pk["user"]["id"])
        cdj = client_data_json if client_data_json is not None else client_data(
            type_, challenge if challenge is not None else pk["challenge"], origin)
        if counter is not None:
            self.counter = counter
        ad = authenticator_data if authenticator_data is not None else self.auth_data(
            flags=flags, counter=self.counter, rp_id_hash=rp_id_hash, attested=self.attested_credential_data())
        att = cbor.encode({"fmt": fmt, "attStmt": att_stmt if att_stmt is not None else {}, "authData": ad})
        cred_id = credential_id if credential_id is not None else self.credential_id
        if extensions is _UNSET:
            extensions = {"credProps": {"rk": rk}} if rk is not None else {}
        credential = {
            "id": b64u(cred_id),
            "rawId": b64u(cred_id),
            "type": "public-key",
            "response": {"attestationObject": b64u(att), "clientDataJSON": b64u(cdj),
                         "transports": ["usb"]},
            "extensions": extensions,
        }
        return Signed(credential, cdj, ad)

    # -- navigator.credentials.get ------------------------------------------
    def assertion(self, options: dict, origin: str, *, flags: int = UP | UV, counter: int | None = None,
                  type_: str = "webauthn.get", challenge: str | None = None, rp_id_hash: bytes | None = None,
                  user_handle: bytes | None | Any = _UNSET, client_data_json: bytes | None = None,
                  authenticator_data: bytes | None = None, signature: bytes | None = None,
                  signed_by: "SoftKey | None" = None, credential_id: bytes | None = None) -> Signed:
        """The answer to request options `options` ({"publicKey": {...}})."""
        pk = options["publicKey"]
        assert pk.get("rpId", self.rp_id) == self.rp_id, pk
        cdj = client_data_json if client_data_json is not None else client_data(
            type_, challenge if challenge is not None else pk["challenge"], origin)
        ad = authenticator_data if authenticator_data is not None else self.auth_data(
            flags=flags, counter=self.next_counter(counter), rp_id_hash=rp_id_hash)
        sig = signature if signature is not None else (signed_by or self).sign(ad + hashlib.sha256(cdj).digest())
        handle = self.user_handle if user_handle is _UNSET else user_handle
        cred_id = credential_id if credential_id is not None else self.credential_id
        credential = {
            "id": b64u(cred_id),
            "rawId": b64u(cred_id),
            "type": "public-key",
            "response": {"authenticatorData": b64u(ad), "clientDataJSON": b64u(cdj), "signature": b64u(sig),
                         "userHandle": b64u(handle) if handle is not None else None},
            "extensions": {},
        }
        return Signed(credential, cdj, ad, sig)

    @staticmethod
    def resign(signed: Signed, key: "SoftKey", *, client_data_json: bytes) -> Signed:
        """The same authenticator data signed again over other client data (a new challenge)."""
        sig = key.sign(signed.authenticator_data + hashlib.sha256(client_data_json).digest())
        cred = json.loads(json.dumps(signed.credential))
        cred["response"]["clientDataJSON"] = b64u(client_data_json)
        cred["response"]["signature"] = b64u(sig)
        return Signed(cred, client_data_json, signed.authenticator_data, sig)
