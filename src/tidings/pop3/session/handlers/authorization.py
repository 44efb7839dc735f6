"""The AUTHORIZATION state: USER/PASS (RFC 1939 §7), AUTH (RFC 5034 §4), STLS (RFC 2595 §4).

Plaintext passwords (USER/PASS, and the PLAIN and LOGIN mechanisms) are refused unless the
connection is TLS or comes from loopback, as Dovecot's disable_plaintext_auth does; CAPA then
omits USER and those mechanisms, so clients know before they try. SCRAM-SHA-256 (RFC 7677)
never sends the password and is always offered; -PLUS on TLS. Every failure goes through the
shared `Authenticator`, which delays the answer (the same per-host throttle as IMAP's LOGIN).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidings.auth.sasl import (
    PLAINTEXT_MECHANISMS,
    SaslAuthenticated,
    SaslChallenge,
    SaslCredentials,
    SaslFailure,
    decode_sasl_base64,
    start_mechanism,
)
from tidings.pop3.proto import commands as c
from tidings.pop3.proto import responses as r
from tidings.pop3.proto.events import LineTooLong
from tidings.pop3.proto.responses import ResponseCode
from tidings.pop3.session.errors import CommandFailed
from tidings.pop3.session.handlers.any_state import sasl_mechanisms

if TYPE_CHECKING:
    from tidings.pop3.session.core import Pop3Session

# Dovecot's AUTH_PLAINTEXT_DISABLED_MSG, word for word.
PLAINTEXT_REFUSED = "Plaintext authentication disallowed on non-secure (SSL/TLS) connections."


def _require_plaintext_allowed(session: Pop3Session) -> None:
    if not session.plaintext_allowed:
        raise CommandFailed(PLAINTEXT_REFUSED, ResponseCode.AUTH)


async def user(session: Pop3Session, command: c.User) -> None:
    """USER name: remember the name for PASS. Like Dovecot, never say whether it exists."""
    _require_plaintext_allowed(session)
    session.pending_user = command.name
    await session.ok()


async def pass_(session: Pop3Session, command: c.Pass) -> None:
    """PASS string: check the password of the USER name given just before (RFC 1939 §7)."""
    _require_plaintext_allowed(session)
    name, session.pending_user = session.pending_user, None
    if name is None:
        raise CommandFailed("No username given.")
    await _verify(session, name, command.password)


async def auth(session: Pop3Session, command: c.Auth) -> None:
    """AUTH mechanism [initial-response] (RFC 5034 §4); bare AUTH lists the mechanisms."""
    if command.mechanism is None:
        await session.io.send(r.multiline(r.ok(), sasl_mechanisms(session)))
        return
    mechanism = start_mechanism(command.mechanism, channel_bindings=session.io.channel_bindings())
    if mechanism is None:
        raise CommandFailed("Unsupported authentication mechanism.", ResponseCode.AUTH)
    if mechanism.name in PLAINTEXT_MECHANISMS:
        _require_plaintext_allowed(session)  # PLAIN and LOGIN both carry the password as is
    authenticator = session.context.authenticator
    try:
        initial = None if command.initial_response is None else _decode(command.initial_response)
    except ValueError:
        await _garbled(session, "Invalid base64 data in initial response.")
        return
    step = await authenticator.advance(mechanism, mechanism.start(initial))
    while isinstance(step, SaslChallenge):
        response = await _challenge(session, step.data)
        if response is None:
            return
        step = await authenticator.advance(mechanism, mechanism.step(response))
    if isinstance(step, SaslFailure):
        await _garbled(session, f"Authentication failed: {step.reason}.")
        return
    if isinstance(step, SaslAuthenticated):
        # No "additional data with success" in POP3 either (RFC 5034 §4): the SCRAM
        # server-final message is a last challenge that the client answers empty.
        response = await _challenge(session, step.final)
        if response is None:
            return
        if response:
            await _garbled(session, "Authentication failed: unexpected response.")
            return
        account = authenticator.scram_succeeded(step.username, session.io.peer_host)
        await session.open_maildrop(account)
        await session.ok("Logged in.")
        return
    assert isinstance(step, SaslCredentials)
    await _verify(session, step.username, step.password)


async def _challenge(session: Pop3Session, data: bytes) -> bytes | None:
    """Send `+ base64` and return the decoded answer; None when the exchange is over (the
    connection ended, or a garbled answer was already failed). "*" raises CommandFailed."""
    await session.io.send(r.challenge(data))
    await session.io.flush()
    reply = await session.io.read_sasl_response()
    if reply is None:
        session.close()
        return None
    if isinstance(reply, LineTooLong):
        await _garbled(session, f"SASL response too long (limit {reply.limit} bytes).")
        return None
    text = reply.text.strip()
    if text == "*":
        # RFC 5034 §4: "the server MUST reject the AUTH command by sending an -ERR reply".
        raise CommandFailed("Authentication aborted by client.")
    try:
        return decode_sasl_base64(text)
    except ValueError:
        await _garbled(session, "Invalid base64 data in response.")
        return None


async def stls(session: Pop3Session, command: c.Stls) -> None:
    """STLS (RFC 2595 §4): +OK, then the handshake; the driver drops pipelined input, and
    the client must forget what it knew (and so do we: a pending USER)."""
    if session.context.tls_context is None:
        raise CommandFailed("TLS is not configured.")
    if session.io.is_tls:
        raise CommandFailed("TLS is already active.")
    await session.ok("Begin TLS negotiation now.")
    await session.io.flush()
    session.pending_user = None
    if not await session.io.start_tls():
        session.close()


def _decode(initial_response: str) -> bytes:
    """RFC 5034 §4: "=" is an initial response of zero length."""
    return b"" if initial_response == "=" else decode_sasl_base64(initial_response)


async def _verify(session: Pop3Session, username: str, password: str) -> None:
    account = await session.context.authenticator.verify(username, password, session.io.peer_host)
    if account is None:
        await _failed(session, "Authentication failed.")
        return
    await session.open_maildrop(account)
    await session.ok("Logged in.")


async def _garbled(session: Pop3Session, text: str) -> None:
    """A SASL exchange that failed before any password check: delayed and counted like a
    wrong password, so malformed attempts cost a client as much."""
    await session.context.authenticator.reject(session.io.peer_host)
    await _failed(session, text)


async def _failed(session: Pop3Session, text: str) -> None:
    """RFC 3206 §5: `[AUTH]`; after `max_auth_failures_per_connection`, hang up."""
    session.auth_failures += 1
    if session.auth_failures >= session.context.limits.max_auth_failures_per_connection:
        await session.err(f"{text} Too many failures, closing the connection.", ResponseCode.AUTH)
        session.close()
        return
    await session.err(text, ResponseCode.AUTH)
