"""A scripted software authenticator (WebAuthn Level 2, ES256, attestation "none" or "packed").

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
- "packed" attestation with a certificate chain (WebAuthn § 8.2): attStmt = {"alg": -7,
  "sig": ECDSA-SHA-256 (DER) over authenticatorData | SHA-256(clientDataJSON) with the
  attestation key, "x5c": [attestation certificate (DER), intermediates…]}. The attestation
  certificate (§ 8.2.1) is X.509 v3, subject C / O / OU="Authenticator Attestation" / CN,
  basicConstraints CA=false, and carries id-fido-gen-ce-aaguid (1.3.6.1.4.1.45724.1.1.4,
  not critical): an OCTET STRING wrapping the 16 AAGUID bytes. `AttestationRoot` makes a
  test root CA and issues such certificates (`Attester`); a `SoftKey` with an `attester`
  answers with "packed", one without (the default) with "none".
- an assertion's signature = ECDSA-SHA-256 (DER) over authenticatorData | SHA-256(clientDataJSON).
- every binary value in the JSON is base64url without padding (`credential.toJSON()`).

CBOR is python-fido2's encoder (`fido2.cbor`), so the bytes are what a real key sends.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier
from fido2 import cbor

UP, UV, BE, BS, AT, ED = 0x01, 0x04, 0x08, 0x10, 0x40, 0x80

# A made-up AAGUID (attestation "none" does not vouch for it).
AAGUID = bytes.fromhex("6761746568f075736573656b65790001")

_UNSET: Any = object()

# id-fido-gen-ce-aaguid: the authenticator model, in its attestation certificate.
FIDO_AAGUID_OID = ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")


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


def _name(common_name: str, organisation: str, unit: str | None, country: str = "SE") -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, country),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation)]
    if unit is not None:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _der_octet_string(data: bytes) -> bytes:
    assert len(data) < 128
    return bytes([0x04, len(data)]) + data


@dataclass
class Attester:
    """An attestation key and its certificate chain (leaf first), as a key model's
    factory puts them into every key of that model."""

    private_key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    chain: list[x509.Certificate] = field(default_factory=list)   # intermediates, if any

    def x5c(self) -> list[bytes]:
        return [c.public_bytes(serialization.Encoding.DER) for c in [self.certificate, *self.chain]]

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data, ec.ECDSA(hashes.SHA256()))

    def statement(self, authenticator_data: bytes, client_data_json: bytes, *,
                  signature: bytes | None = None) -> dict:
        """A "packed" attStmt for this authenticator data and client data."""
        sig = signature if signature is not None else self.sign(
            authenticator_data + hashlib.sha256(client_data_json).digest())
        return {"alg": -7, "sig": sig, "x5c": self.x5c()}

    def private_scalar_hex(self) -> str:
        return format(self.private_key.private_numbers().private_value, "064x")


@dataclass
class AttestationRoot:
    """A test root CA for authenticator attestation (a vendor's, or the FIDO Metadata
    Service's, in real life). P-256, self-signed, CA=true, keyCertSign."""

    name: str = "Gatehouse Test Attestation Root"
    organisation: str = "Gatehouse Test Keys"
    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    certificate: x509.Certificate = field(init=False)

    def __post_init__(self) -> None:
        subject = _name(self.name, self.organisation, None)
        now = datetime.datetime.now(datetime.timezone.utc)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(self.private_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.private_key.public_key()), critical=False)
            .sign(self.private_key, hashes.SHA256())
        )

    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def issue(self, aaguid: bytes | None, *, common_name: str = "Gatehouse Test Key Attestation",
              unit: str | None = "Authenticator Attestation", ca: bool = False,
              aaguid_critical: bool = False, not_valid_after: datetime.datetime | None = None) -> Attester:
        """An attestation certificate for the model `aaguid` (None: without the AAGUID
        extension), signed by this root, with a fresh attestation key. The keyword
        arguments make certificates that break one of § 8.2.1's rules."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name, self.organisation, unit))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(not_valid_after or now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.private_key.public_key()),
                           critical=False)
        )
        if aaguid is not None:
            assert len(aaguid) == 16, aaguid
            builder = builder.add_extension(
                x509.UnrecognizedExtension(FIDO_AAGUID_OID, _der_octet_string(aaguid)), critical=aaguid_critical)
        return Attester(key, builder.sign(self.private_key, hashes.SHA256()))


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
    a value). With an `attester`, registrations carry "packed" attestation signed by it
    (the AAGUID in the authenticator data is still `aaguid`)."""

    rp_id: str = "localhost"
    counter: int = 0
    counter_step: int = 1
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    aaguid: bytes = AAGUID
    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    user_handle: bytes | None = None   # set by register() from options.user.id
    attester: Attester | None = None

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
                 rp_id_hash: bytes | None = None, rk: bool | None = True, fmt: str | None = None,
                 att_stmt: dict | None = None, client_data_json: bytes | None = None,
                 authenticator_data: bytes | None = None, credential_id: bytes | None = None,
                 extensions: Any = _UNSET, attestation_signature: bytes | None = None) -> Signed:
        """The answer to creation options `options` ({"publicKey": {...}}).

        The attestation is "packed" by `self.attester` when there is one, else "none";
        `fmt` and `att_stmt` override it ("packed" with no attester is self attestation,
        signed by the credential key), `attestation_signature` replaces the packed
        statement's signature."""
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
        if fmt is None:
            fmt = "packed" if self.attester is not None else "none"
        if att_stmt is None and fmt == "packed":
            if self.attester is not None:
                att_stmt = self.attester.statement(ad, cdj, signature=attestation_signature)
            else:  # self attestation: signed by the credential's own key, no certificate
                att_stmt = {"alg": -7, "sig": attestation_signature or self.sign(ad + hashlib.sha256(cdj).digest())}
        elif att_stmt is None:
            att_stmt = {}
        att = cbor.encode({"fmt": fmt, "attStmt": att_stmt, "authData": ad})
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
