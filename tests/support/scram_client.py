"""A client-side SCRAM-SHA-256 for the tests, written from RFC 5802 §3 and §7 alone.

It imports nothing from tidings: the server is checked against an independent reading of
the RFC, not against itself (and the same client logs in to Dovecot, in
tests/differential/test_rfc7677_scram_vs_dovecot.py). It can also misbehave on purpose
(wrong binding data, a tampered nonce, the `y` flag), which a real client library would not
let a test do. `Imap` and `scram` run it over a raw IMAP connection.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import socket
import ssl

from cryptography import x509


def b64(data: bytes) -> str:
    """Base64 text of `data`."""
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    """Strict base64 decoding."""
    return base64.b64decode(text.encode("ascii"), validate=True)


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def escape_saslname(name: str) -> str:
    """RFC 5802 §5.1: "," as "=2C" and "=" as "=3D"."""
    return name.replace("=", "=3D").replace(",", "=2C")


def server_end_point(sock: ssl.SSLSocket) -> bytes:
    """tls-server-end-point (RFC 5929 §4.1) of the certificate the server presented: its
    DER hashed with the signature's hash (SHA-256 for MD5 and SHA-1)."""
    der = sock.getpeercert(binary_form=True)
    assert der is not None
    algorithm = x509.load_der_x509_certificate(der).signature_hash_algorithm
    assert algorithm is not None
    name = "sha256" if algorithm.name in ("md5", "sha1") else algorithm.name
    return hashlib.new(name, der).digest()


class ScramClient:
    """One SCRAM-SHA-256 client exchange: `first()`, `final(server_first)`, `verify(...)`."""

    def __init__(
        self,
        username: str,
        password: str,
        *,
        cbind_flag: str = "n",
        cb_name: str = "",
        cb_data: bytes = b"",
        authzid: str = "",
        nonce: str | None = None,
    ) -> None:
        self.username = username
        self.password = password
        flag = f"p={cb_name}" if cbind_flag == "p" else cbind_flag
        authz = f"a={escape_saslname(authzid)}" if authzid else ""
        self.gs2_header = f"{flag},{authz},"
        self.cb_data = cb_data
        self.nonce = nonce or b64(secrets.token_bytes(18))
        self.bare = f"n={escape_saslname(username)},r={self.nonce}"
        self.server_first = ""
        self.salt = b""
        self.iterations = 0
        self._server_signature = b""

    def first(self) -> bytes:
        """client-first-message."""
        return (self.gs2_header + self.bare).encode("utf-8")

    def final(self, server_first: bytes, *, nonce: str | None = None) -> bytes:
        """client-final-message for `server_first` (`nonce` overrides the echoed one)."""
        self.server_first = server_first.decode("ascii")
        fields = dict(part.split("=", 1) for part in self.server_first.split(","))
        combined = fields["r"]
        assert combined.startswith(self.nonce) and len(combined) > len(self.nonce)
        self.salt = unb64(fields["s"])
        self.iterations = int(fields["i"])
        salted = hashlib.pbkdf2_hmac(
            "sha256", self.password.encode("utf-8"), self.salt, self.iterations
        )
        client_key = _hmac(salted, b"Client Key")
        stored_key = hashlib.sha256(client_key).digest()
        channel = b64(self.gs2_header.encode("utf-8") + self.cb_data)
        without_proof = f"c={channel},r={nonce or combined}"
        auth_message = f"{self.bare},{self.server_first},{without_proof}".encode()
        proof = bytes(
            a ^ b for a, b in zip(client_key, _hmac(stored_key, auth_message), strict=True)
        )
        self._server_signature = _hmac(_hmac(salted, b"Server Key"), auth_message)
        return f"{without_proof},p={b64(proof)}".encode("ascii")

    def verify(self, server_final: bytes) -> bool:
        """Whether `server_final` is `v=` the ServerSignature this client expects."""
        return hmac.compare_digest(server_final, b"v=" + b64(self._server_signature).encode())


class Imap:
    """A raw IMAP connection, plain, after STARTTLS or over implicit TLS."""

    def __init__(self, port: int, *, tls: bool = False, tls12: bool = False) -> None:
        self.sock: socket.socket = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.buffer = b""
        self.tls12 = tls12
        if tls:
            self._wrap()
        self.greeting = self.line()

    def _wrap(self) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if self.tls12:
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        self.sock = context.wrap_socket(self.sock, server_hostname="localhost")

    @property
    def tls(self) -> ssl.SSLSocket:
        assert isinstance(self.sock, ssl.SSLSocket)
        return self.sock

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode() + b"\r\n")

    def line(self) -> str:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed; buffered {self.buffer!r}")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line.decode()

    def command(self, tag: str, text: str) -> list[str]:
        self.send(f"{tag} {text}")
        lines = [self.line()]
        while not lines[-1].startswith(tag + " "):
            lines.append(self.line())
        return lines

    def starttls(self) -> None:
        assert self.command("S1", "STARTTLS")[-1].startswith("S1 OK")
        self._wrap()

    def capabilities(self) -> list[str]:
        untagged = self.command("C1", "CAPABILITY")[0]
        assert untagged.startswith("* CAPABILITY ")
        return untagged.split()[2:]

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Imap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def scram(
    imap: Imap,
    client: ScramClient,
    mechanism: str = "SCRAM-SHA-256",
    *,
    initial: bool = False,
    final_nonce: str | None = None,
) -> str:
    """Run AUTHENTICATE with `client`; the tagged reply (asserting the server's signature
    when the server sends one)."""
    if initial:  # RFC 4959 SASL-IR
        imap.send(f"A1 AUTHENTICATE {mechanism} {b64(client.first())}")
    else:
        imap.send(f"A1 AUTHENTICATE {mechanism}")
        first_challenge = imap.line()
        if not first_challenge.startswith("+"):
            return first_challenge
        assert first_challenge == "+ "  # RFC 5802 §5: the client speaks first
        imap.send(b64(client.first()))
    reply = imap.line()
    if not reply.startswith("+ "):
        return reply
    imap.send(b64(client.final(unb64(reply[2:]), nonce=final_nonce)))
    reply = imap.line()
    if not reply.startswith("+ "):
        return reply
    assert client.verify(unb64(reply[2:])), "the server's signature must verify"
    imap.send("")  # no additional data with success in IMAP: answer the v= empty
    reply = imap.line()
    while not reply.startswith("A1 "):  # Dovecot sends an untagged CAPABILITY first
        reply = imap.line()
    return reply
