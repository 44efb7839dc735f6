"""Errors raised by the IMAP client driver."""

from __future__ import annotations

from dataclasses import dataclass

from tidings.imap.proto.client_responses import Tagged


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect: tls is "implicit", "starttls" or "none"."""

    host: str
    port: int
    tls: str
    ca_file: str | None = None
    fingerprint: str | None = None  # sha256 of the DER certificate, hex, colons allowed
    verify: bool = True


class ImapError(Exception):
    """Any failure of the IMAP client."""


class ConnectionLost(ImapError):
    """EOF, reset, timeout, BYE or garbage from the server."""


class CertificateProblem(ImapError):
    """The server certificate failed verification or the fingerprint pin."""


class AuthenticationFailed(ImapError):
    """The server refused the credentials."""


class CommandFailed(ImapError):
    """A command completed with NO or BAD."""

    def __init__(self, tagged: Tagged) -> None:
        super().__init__(f"{tagged.status} {tagged.text}".strip())
        self.tagged = tagged
