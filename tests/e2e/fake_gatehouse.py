"""A fake Gatehouse over HTTPS that answers `/api/ssh/authorized-keys/<user>` however a
test tells it to: well, endlessly, hugely, slowly, for the wrong user, with junk, with a
redirect or with an error status.

It has its own CA and a server certificate for 127.0.0.1 (generated per run with
`cryptography`), so the command under test can pin it by fingerprint or trust it through
`ca_file`, exactly as it would trust the real server.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Behaviour = Callable[["Handler", str], None]


def fingerprint_of(line: str) -> str:
    """The fingerprint Gatehouse sends beside a key line (`ssh-keygen -lf`'s form); a
    placeholder for lines that are not keys."""
    try:
        blob = base64.b64decode(line.split()[1], validate=True)
    except (IndexError, ValueError):
        return "SHA256:" + "A" * 43
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _certificates(folder: Path) -> tuple[Path, Path, Path, str]:
    """(CA file, certificate file, key file, certificate fingerprint as Gatehouse prints it)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake gatehouse test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_file, cert_file, key_file = folder / "fake-ca.pem", folder / "fake-cert.pem", folder / "fake-key.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    fingerprint = "SHA256:" + hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return ca_file, cert_file, key_file, fingerprint


class Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        fake = self.server.fake
        fake.requests.append(self.path)
        prefix = "/api/ssh/authorized-keys/"
        user = self.path[len(prefix):] if self.path.startswith(prefix) else ""
        try:
            fake.behaviour(self, user)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass  # the client gave up, as it should

    # -- building blocks for behaviours ------------------------------------------
    def send_json(self, body, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_status(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: "FakeGatehouse"


class FakeGatehouse:
    """Start with `FakeGatehouse(folder)`; set `behaviour`; read `requests`; `close()`."""

    def __init__(self, folder: Path):
        self.ca_file, cert_file, key_file, self.fingerprint = _certificates(folder)
        self.requests: list[str] = []
        self.behaviour: Behaviour = lambda h, user: h.send_status(404)
        self._stop = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._httpd.fake = self
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert_file, key_file)
        self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- behaviours --------------------------------------------------------------
    @staticmethod
    def answer(lines: list[str], *, username: str | None = None, fingerprints: list[str] | None = None,
               ) -> Behaviour:
        """A well-formed 200 naming `username` (default: the user asked) with these lines."""
        def run(h: Handler, user: str) -> None:
            keys = [{"line": line, "fingerprint": fingerprint_of(line)} for line in lines]
            for k, fp in zip(keys, fingerprints or []):
                k["fingerprint"] = fp
            h.send_json({"username": username or user, "keys": keys})
        return run

    @staticmethod
    def status(code: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Behaviour:
        return lambda h, user: h.send_status(code, headers, body)

    def endless(self, *, content_length: int | None = None) -> Behaviour:
        """A 200 whose JSON never ends (optionally announcing a huge Content-Length)."""
        def run(h: Handler, user: str) -> None:
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            if content_length is not None:
                h.send_header("Content-Length", str(content_length))
            h.end_headers()
            h.wfile.write(json.dumps({"username": user}).encode()[:-1] + b', "keys": [')
            filler = b" " * 65536
            deadline = time.monotonic() + 60
            while not self._stop.is_set() and time.monotonic() < deadline:
                h.wfile.write(filler)
        return run

    def drip(self, lines: list[str], every: float = 0.25) -> Behaviour:
        """A valid answer sent one byte at a time, far slower than any timeout."""
        def run(h: Handler, user: str) -> None:
            keys = [{"line": l, "fingerprint": fingerprint_of(l)} for l in lines]
            data = json.dumps({"username": user, "keys": keys}).encode()
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            for i in range(len(data)):
                if self._stop.is_set():
                    return
                h.wfile.write(data[i:i + 1])
                h.wfile.flush()
                time.sleep(every)
        return run
