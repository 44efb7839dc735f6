"""Sans-IO SASL server mechanisms: PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login).

A mechanism is a small state machine: `start(initial_response)` then `step(response)` until it
returns `SaslCredentials` (the driver verifies them) or `SaslFailure`. Every value in and out
is raw bytes: base64 and the protocol's cancel token ("*" in IMAP, RFC 9051 §6.2.2) belong to
the driver, which knows its own framing; `decode_sasl_base64`/`encode_sasl_base64` help it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Protocol

SUPPORTED_MECHANISMS: tuple[str, ...] = ("PLAIN", "LOGIN")


@dataclass(frozen=True, slots=True)
class SaslChallenge:
    """Send `data` to the client (base64-encoded by the driver) and wait for its response."""

    data: bytes


@dataclass(frozen=True, slots=True)
class SaslCredentials:
    """The exchange is complete; the driver must check `username`/`password`.

    `authzid` is "" or equal to `username` (case-insensitively): we do not support proxy
    authorization, so a mechanism fails rather than hand out a different identity.
    """

    authzid: str
    username: str
    password: str

    def __repr__(self) -> str:
        # Credentials end up in tracebacks and debug logs; the password must not.
        return f"SaslCredentials(authzid={self.authzid!r}, username={self.username!r})"


@dataclass(frozen=True, slots=True)
class SaslFailure:
    """The exchange failed; `reason` is safe to show to the client and to log."""

    reason: str


SaslStep = SaslChallenge | SaslCredentials | SaslFailure


class SaslMechanism(Protocol):
    """One server-side SASL exchange."""

    name: str

    def start(self, initial_response: bytes | None) -> SaslStep:
        """Begin, with the client's initial response (RFC 4959 SASL-IR) if it sent one."""
        ...

    def step(self, response: bytes) -> SaslStep:
        """Feed the client's (decoded) response to the last challenge."""
        ...


def _decode_utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


class PlainMechanism:
    """RFC 4616: one message `[authzid] NUL authcid NUL passwd`, sent at once."""

    name = "PLAIN"

    def __init__(self) -> None:
        self._done = False

    def start(self, initial_response: bytes | None) -> SaslStep:
        """Parse the initial response, or ask for the message with an empty challenge."""
        if initial_response is None:
            # RFC 4616 §2: "the server ... sends an empty challenge" when there is no IR.
            return SaslChallenge(b"")
        return self.step(initial_response)

    def step(self, response: bytes) -> SaslStep:
        """Parse the one message PLAIN has."""
        if self._done:
            return SaslFailure("unexpected response")
        self._done = True
        return parse_plain_message(response)


def parse_plain_message(message: bytes) -> SaslCredentials | SaslFailure:
    """Split an RFC 4616 §2 message: `message = [authzid] UTF8NUL authcid UTF8NUL passwd`."""
    fields = message.split(b"\x00")
    if len(fields) != 3:
        return SaslFailure("malformed PLAIN message")
    decoded = [_decode_utf8(field) for field in fields]
    authzid, authcid, password = decoded
    if authzid is None or authcid is None or password is None:
        return SaslFailure("PLAIN message is not UTF-8")
    # authcid and passwd are 1*SAFE: neither may be empty.
    if not authcid or not password:
        return SaslFailure("empty user name or password")
    if authzid and authzid.lower() != authcid.lower():
        return SaslFailure("authorization identity not permitted")
    return SaslCredentials(authzid=authzid, username=authcid, password=password)


class LoginMechanism:
    """draft-murchison-sasl-login-00: challenges "Username:" then "Password:".

    Obsolete but still what Outlook and many phones use; the initial response, when a client
    sends one, is the user name (§2 of the draft).
    """

    name = "LOGIN"

    def __init__(self) -> None:
        self._username: str | None = None
        self._done = False

    def start(self, initial_response: bytes | None) -> SaslStep:
        """Ask for the user name, or take it from the initial response."""
        if initial_response is None:
            return SaslChallenge(b"Username:")
        return self.step(initial_response)

    def step(self, response: bytes) -> SaslStep:
        """Take the user name, then the password."""
        if self._done:
            return SaslFailure("unexpected response")
        text = _decode_utf8(response)
        if text is None:
            self._done = True
            return SaslFailure("LOGIN response is not UTF-8")
        if self._username is None:
            if not text:
                self._done = True
                return SaslFailure("empty user name")
            self._username = text
            return SaslChallenge(b"Password:")
        self._done = True
        return SaslCredentials(authzid="", username=self._username, password=text)


_MECHANISMS: dict[str, type[PlainMechanism] | type[LoginMechanism]] = {
    "PLAIN": PlainMechanism,
    "LOGIN": LoginMechanism,
}


def start_mechanism(name: str) -> SaslMechanism | None:
    """A fresh exchange for mechanism `name` (case-insensitive), None if unsupported."""
    factory = _MECHANISMS.get(name.upper())
    return factory() if factory is not None else None


def decode_sasl_base64(text: str | bytes) -> bytes:
    """Decode a client response strictly (RFC 4648 §4 alphabet, padding required).

    Raises ValueError for anything else, so the driver can answer BAD/-ERR. An empty string
    decodes to b"" (an empty response); "=" for an empty initial response (RFC 4959 §3) is
    the driver's to recognise before calling this.
    """
    data = text.encode("ascii", "strict") if isinstance(text, str) else bytes(text)
    try:
        return binascii.a2b_base64(data, strict_mode=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"invalid base64: {error}") from error


def encode_sasl_base64(data: bytes) -> str:
    """Base64 for a challenge, without line breaks."""
    return base64.b64encode(data).decode("ascii")
