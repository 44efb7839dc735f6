"""SCRAM-SHA-256 and SCRAM-SHA-256-PLUS servers (RFC 5802, RFC 7677), sans-IO.

The exchange (RFC 5802 §5), as this state machine sees it:

    client-first  -> SaslNeedSecrets(username)     the driver looks the account up
    supply(...)   -> SaslChallenge(server-first)   r=<nonces>,s=<salt>,i=<iterations>
    client-final  -> SaslAuthenticated(v=...)      or SaslFailure(server_error=...)

Channel binding (RFC 5802 §6): the driver passes the binding data it can offer on this
connection (`ChannelBindings`, e.g. tls-server-end-point, RFC 5929 §4). -PLUS insists on
`p=<type>` with one of them; the non-PLUS mechanism refuses `p=`, and refuses `y` (the
client can bind but believes we cannot) whenever we could: that is a downgrade (§6).
Unknown and SCRAM-less accounts get decoy secrets from the driver, so every failure after
the first message is the same `invalid-proof` (no user enumeration).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from tidings.auth.sasl_steps import (
    ChannelBindings,
    SaslAuthenticated,
    SaslChallenge,
    SaslFailure,
    SaslNeedSecrets,
    SaslStep,
    ScramAccount,
)
from tidings.auth.scram_secrets import hmac_sha256

MECHANISM = "SCRAM-SHA-256"
MECHANISM_PLUS = "SCRAM-SHA-256-PLUS"
# Random bytes in the server's part of the nonce (RFC 5802 §5.1 asks for a fresh,
# unpredictable one): 18 bytes are 24 base64 characters, none of them a comma.
SERVER_NONCE_BYTES = 18

# RFC 5802 §7: printable = %x21-2B / %x2D-7E (no comma); cb-name = 1*(ALPHA / DIGIT / "." / "-").
_PRINTABLE = re.compile(r"[\x21-\x2b\x2d-\x7e]+")
_CB_NAME = re.compile(r"[A-Za-z0-9.\-]+")
_SASLNAME_ESCAPE = re.compile(r"=(2C|3D)?")


class ScramError(Exception):
    """A client message SCRAM must refuse; `server_error` is the RFC 5802 §7 value."""

    def __init__(self, server_error: str, reason: str) -> None:
        super().__init__(reason)
        self.server_error = server_error
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ClientFirst:
    """A parsed client-first-message (RFC 5802 §7)."""

    gs2_header: str  # "n,,", "y,a=...,", "p=tls-server-end-point,," as sent
    cbind_flag: str  # "n", "y" or "p"
    cbind_type: str  # the cb-name after "p=", else ""
    authzid: str
    username: str
    nonce: str
    bare: str  # client-first-message-bare, part of the AuthMessage


@dataclass(frozen=True, slots=True)
class ClientFinal:
    """A parsed client-final-message (RFC 5802 §7)."""

    channel_binding: bytes  # c=, decoded: gs2-header plus cbind-data
    nonce: str
    proof: bytes
    without_proof: str  # client-final-message-without-proof, part of the AuthMessage


def decode_saslname(text: str) -> str:
    """RFC 5802 §5.1: "=2C" is ",", "=3D" is "="; any other "=" MUST fail."""

    def unescape(match: re.Match[str]) -> str:
        if match.group(1) is None:
            raise ScramError("invalid-username-encoding", "bad '=' escape in a name")
        return "," if match.group(1) == "2C" else "="

    return _SASLNAME_ESCAPE.sub(unescape, text)


def encode_saslname(name: str) -> str:
    """The inverse of `decode_saslname` ("=" first, so "," does not become "=3D2C")."""
    return name.replace("=", "=3D").replace(",", "=2C")


def _text(message: bytes) -> str:
    try:
        return message.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ScramError("invalid-encoding", "message is not UTF-8") from error


def parse_client_first(message: bytes) -> ClientFirst:
    """Parse `gs2-header client-first-message-bare`; raises ScramError."""
    text = _text(message)
    flag, comma1, rest = text.partition(",")
    authz_field, comma2, bare = rest.partition(",")
    if not comma1 or not comma2:
        raise ScramError("invalid-encoding", "malformed GS2 header")
    # gs2-cbind-flag = ("p=" cb-name) / "n" / "y"
    cbind_type = ""
    if flag.startswith("p="):
        cbind_type = flag[2:]
        if not _CB_NAME.fullmatch(cbind_type):
            raise ScramError("invalid-encoding", "malformed channel binding name")
        flag = "p"
    elif flag not in ("n", "y"):
        raise ScramError("invalid-encoding", "malformed GS2 channel binding flag")
    # authzid = "a=" saslname, optional
    authzid = ""
    if authz_field:
        if not authz_field.startswith("a=") or len(authz_field) == 2:
            raise ScramError("invalid-encoding", "malformed authorization identity")
        authzid = decode_saslname(authz_field[2:])
    fields = bare.split(",")
    # reserved-mext = "m=" 1*(value-char): a mandatory extension we cannot know.
    if fields[0].startswith("m="):
        raise ScramError("extensions-not-supported", "mandatory extension not supported")
    if len(fields) < 2 or not fields[0].startswith("n=") or not fields[1].startswith("r="):
        raise ScramError("invalid-encoding", "expected n=username,r=nonce")
    username = decode_saslname(fields[0][2:])
    if not username:
        raise ScramError("invalid-username-encoding", "empty user name")
    nonce = fields[1][2:]
    if not _PRINTABLE.fullmatch(nonce):
        raise ScramError("invalid-encoding", "malformed client nonce")
    # Further attr-val extensions "MUST be ignored" (RFC 5802 §7).
    return ClientFirst(
        gs2_header=text[: len(text) - len(bare)],
        cbind_flag=flag,
        cbind_type=cbind_type,
        authzid=authzid,
        username=username,
        nonce=nonce,
        bare=bare,
    )


def parse_client_final(message: bytes) -> ClientFinal:
    """Parse `c=...,r=...[,extensions],p=...`; raises ScramError."""
    text = _text(message)
    fields = text.split(",")
    if (
        len(fields) < 3
        or not fields[0].startswith("c=")
        or not fields[1].startswith("r=")
        or not fields[-1].startswith("p=")
    ):
        raise ScramError("invalid-encoding", "expected c=...,r=...,p=...")
    return ClientFinal(
        channel_binding=_unbase64(fields[0][2:]),
        nonce=fields[1][2:],
        proof=_unbase64(fields[-1][2:]),
        without_proof=",".join(fields[:-1]),
    )


def _unbase64(text: str) -> bytes:
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError) as error:
        raise ScramError("invalid-encoding", "invalid base64") from error


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class ScramSha256Mechanism:
    """The server side of one SCRAM-SHA-256 or SCRAM-SHA-256-PLUS exchange."""

    def __init__(
        self,
        *,
        plus: bool,
        channel_bindings: ChannelBindings,
        server_nonce: str | None = None,
    ) -> None:
        self.name = MECHANISM_PLUS if plus else MECHANISM
        self._plus = plus
        self._bindings = dict(channel_bindings)
        self._server_nonce = server_nonce or _b64(secrets.token_bytes(SERVER_NONCE_BYTES))
        self._state = "client-first"
        self._first: ClientFirst | None = None
        self._account: ScramAccount | None = None
        self._server_first = ""

    def start(self, initial_response: bytes | None) -> SaslStep:
        """RFC 5802 §5: the client speaks first; without SASL-IR, ask with an empty challenge."""
        if initial_response is None:
            return SaslChallenge(b"")
        return self.step(initial_response)

    def step(self, response: bytes) -> SaslStep:
        """Take client-first (then the driver must `supply`) or client-final."""
        state, self._state = self._state, "done"
        try:
            if state == "client-first":
                return self._client_first(response)
            if state == "client-final":
                return self._client_final(response)
        except ScramError as error:
            return SaslFailure(f"SCRAM: {error.reason}", error.server_error)
        return SaslFailure("SCRAM: unexpected message", "other-error")

    def supply(self, account: ScramAccount) -> SaslStep:
        """The account's secrets (or decoys) after `SaslNeedSecrets`: send server-first."""
        if self._state != "secrets" or self._first is None:
            self._state = "done"
            return SaslFailure("SCRAM: secrets were not asked for", "other-error")
        self._account = account
        stored = account.secrets
        # server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count
        self._server_first = (
            f"r={self._first.nonce}{self._server_nonce},s={_b64(stored.salt)},i={stored.iterations}"
        )
        self._state = "client-final"
        return SaslChallenge(self._server_first.encode("ascii"))

    # ------------------------------------------------------------------ steps
    def _client_first(self, message: bytes) -> SaslStep:
        first = parse_client_first(message)
        self._check_binding_choice(first)
        if first.authzid and first.authzid.lower() != first.username.lower():
            # No proxy authorization, as for PLAIN.
            raise ScramError("other-error", "authorization identity not permitted")
        self._first = first
        self._state = "secrets"
        return SaslNeedSecrets(first.username)

    def _check_binding_choice(self, first: ClientFirst) -> None:
        """RFC 5802 §6 and §7 on the gs2-cbind-flag, given what this connection offers."""
        if self._plus:
            if first.cbind_flag != "p":
                raise ScramError("other-error", f"{MECHANISM_PLUS} needs channel binding (p=)")
            if first.cbind_type not in self._bindings:
                offered = ", ".join(sorted(self._bindings)) or "none"
                raise ScramError(
                    "unsupported-channel-binding-type",
                    f"channel binding type {first.cbind_type} not supported (offered: {offered})",
                )
            return
        if first.cbind_flag == "p":
            raise ScramError("other-error", f"channel binding needs {MECHANISM_PLUS}")
        if first.cbind_flag == "y" and self._bindings:
            # §6: the client can bind and thinks we cannot, but we advertised -PLUS here:
            # someone removed it from what the client saw.
            raise ScramError(
                "server-does-support-channel-binding", "channel binding downgrade detected"
            )

    def _client_final(self, message: bytes) -> SaslStep:
        first, account = self._first, self._account
        assert first is not None and account is not None
        final = parse_client_final(message)
        cbind_data = self._bindings[first.cbind_type] if first.cbind_flag == "p" else b""
        expected = first.gs2_header.encode("utf-8") + cbind_data
        if not hmac.compare_digest(final.channel_binding, expected):
            raise ScramError("channel-bindings-dont-match", "channel binding does not match")
        if final.nonce != first.nonce + self._server_nonce:
            raise ScramError("other-error", "nonce does not match")
        auth_message = ",".join((first.bare, self._server_first, final.without_proof))
        stored = account.secrets
        # RFC 5802 §3: ClientKey := ClientProof XOR HMAC(StoredKey, AuthMessage), and the
        # proof is right when H(ClientKey) = StoredKey.
        signature = hmac_sha256(stored.stored_key, auth_message.encode("utf-8"))
        if len(final.proof) != len(signature):
            raise ScramError("invalid-proof", "wrong proof")
        client_key = bytes(a ^ b for a, b in zip(final.proof, signature, strict=True))
        matches = hmac.compare_digest(hashlib.sha256(client_key).digest(), stored.stored_key)
        if not (matches and account.genuine):
            raise ScramError("invalid-proof", "wrong proof")
        server_signature = hmac_sha256(stored.server_key, auth_message.encode("utf-8"))
        return SaslAuthenticated(first.username, f"v={_b64(server_signature)}".encode("ascii"))
