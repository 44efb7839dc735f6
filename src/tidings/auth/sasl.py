"""Sans-IO SASL server mechanisms: PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login),
and the registry that also starts SCRAM-SHA-256[-PLUS] (tidings.auth.scram).

A mechanism is a small state machine: `start(initial_response)` then `step(response)` until it
returns `SaslCredentials` (the driver verifies the password), `SaslAuthenticated` (SCRAM
verified the client itself) or `SaslFailure`; SCRAM asks for the account's secrets in
between (`SaslNeedSecrets`, answered with `supply`). Every value in and out is raw bytes:
base64 and the protocol's cancel token ("*" in IMAP, RFC 9051 §6.2.2) belong to the driver,
which knows its own framing; `decode_sasl_base64`/`encode_sasl_base64` help it.
"""

from __future__ import annotations

import base64
import binascii

from tidings.auth.sasl_steps import (
    ChannelBindings,
    SaslAuthenticated,
    SaslChallenge,
    SaslCredentials,
    SaslFailure,
    SaslMechanism,
    SaslNeedSecrets,
    SaslStep,
    ScramAccount,
)
from tidings.auth.scram import MECHANISM, MECHANISM_PLUS, ScramSha256Mechanism

__all__ = [
    "PLAINTEXT_MECHANISMS",
    "ChannelBindings",
    "LoginMechanism",
    "PlainMechanism",
    "SaslAuthenticated",
    "SaslChallenge",
    "SaslCredentials",
    "SaslFailure",
    "SaslMechanism",
    "SaslNeedSecrets",
    "SaslStep",
    "ScramAccount",
    "decode_sasl_base64",
    "encode_sasl_base64",
    "mechanism_names",
    "parse_plain_message",
    "start_mechanism",
]

# The mechanisms that carry the password itself: only over TLS or from loopback.
PLAINTEXT_MECHANISMS: tuple[str, ...] = ("PLAIN", "LOGIN")


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

    def supply(self, account: ScramAccount) -> SaslStep:
        """PLAIN never asks for stored secrets."""
        return SaslFailure("unexpected secrets")


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

    def supply(self, account: ScramAccount) -> SaslStep:
        """LOGIN never asks for stored secrets."""
        return SaslFailure("unexpected secrets")


def mechanism_names(
    *, plaintext_allowed: bool, channel_binding: bool, scram: bool = True
) -> tuple[str, ...]:
    """The mechanisms to advertise on a connection (RFC 9051 §6.1.1 AUTH=, RFC 5034 SASL).

    SCRAM never sends the password, so it is offered without TLS too (as Dovecot offers its
    non-plaintext mechanisms with LOGINDISABLED); -PLUS only where there is something to
    bind to (RFC 5802 §6: a TLS connection with a binding type we can compute). `scram`
    False leaves SCRAM out (`Authenticator.scram_offered`: some account has no secrets).
    """
    names = list(PLAINTEXT_MECHANISMS) if plaintext_allowed else []
    if scram:
        names.append(MECHANISM)
        if channel_binding:
            names.append(MECHANISM_PLUS)
    return tuple(names)


def start_mechanism(
    name: str, *, channel_bindings: ChannelBindings | None = None
) -> SaslMechanism | None:
    """A fresh exchange for mechanism `name` (case-insensitive), None if unsupported.

    `channel_bindings` are the connection's (tidings.net.channel_binding); without any,
    SCRAM-SHA-256-PLUS is unsupported, as it is then not advertised.
    """
    bindings = channel_bindings or {}
    upper = name.upper()
    if upper == "PLAIN":
        return PlainMechanism()
    if upper == "LOGIN":
        return LoginMechanism()
    if upper == MECHANISM:
        return ScramSha256Mechanism(plus=False, channel_bindings=bindings)
    if upper == MECHANISM_PLUS and bindings:
        return ScramSha256Mechanism(plus=True, channel_bindings=bindings)
    return None


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
