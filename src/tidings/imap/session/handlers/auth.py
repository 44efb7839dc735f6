"""STARTTLS, AUTHENTICATE and LOGIN (RFC 9051 §6.2, SASL-IR RFC 4959, SCRAM RFC 7677)."""

from __future__ import annotations

import base64
import binascii

from tidings.auth.sasl import (
    PLAINTEXT_MECHANISMS,
    SaslAuthenticated,
    SaslChallenge,
    SaslCredentials,
    SaslFailure,
    start_mechanism,
)
from tidings.imap.proto import commands as c
from tidings.imap.session.core import CommandFailed, ImapSession
from tidings.imap.session.handlers.any_state import capability_text
from tidings.imap.session.registry import handles
from tidings.imap.session.state import SessionState

_PRIVACY_TEXT = "Plaintext authentication disallowed on non-secure connections."


@handles(c.StartTLS)
async def starttls(session: ImapSession, command: c.StartTLS) -> None:
    """RFC 9051 §6.2.1: OK, then the handshake; the driver drops anything pipelined."""
    if session.context.tls_context is None:
        raise CommandFailed("TLS is not configured.", status="BAD")
    if session.io.is_tls:
        raise CommandFailed("TLS is already active.", status="BAD")
    await session.tagged(command.tag, "OK", "Begin TLS negotiation now.")
    await session.io.flush()
    if not await session.io.start_tls():
        session.state = SessionState.LOGOUT


@handles(c.Login)
async def login(session: ImapSession, command: c.Login) -> None:
    """RFC 9051 §6.2.3; refused without TLS off loopback ([PRIVACYREQUIRED], RFC 5530)."""
    if not session.plaintext_allowed:
        raise CommandFailed(_PRIVACY_TEXT, "PRIVACYREQUIRED")
    await _verify(session, command.tag, command.username, command.password)


@handles(c.Authenticate)
async def authenticate(session: ImapSession, command: c.Authenticate) -> None:
    """RFC 9051 §6.2.2 with the SASL mechanisms of tidings.auth.sasl.

    PLAIN and LOGIN carry the password, so they need TLS or loopback; SCRAM-SHA-256 does
    not, and -PLUS binds to this connection's TLS channel (RFC 5802 §6).
    """
    authenticator = session.context.authenticator
    mechanism = start_mechanism(command.mechanism, channel_bindings=session.io.channel_bindings())
    if mechanism is None:
        raise CommandFailed("Unsupported authentication mechanism.")
    if mechanism.name in PLAINTEXT_MECHANISMS and not session.plaintext_allowed:
        raise CommandFailed(_PRIVACY_TEXT, "PRIVACYREQUIRED")
    initial = None
    if command.initial_response is not None:
        initial = _decode(command.initial_response)
    step = await authenticator.advance(mechanism, mechanism.start(initial))
    while isinstance(step, SaslChallenge):
        response = await _challenge(session, step.data)
        if response is None:
            return
        step = await authenticator.advance(mechanism, mechanism.step(response))
    if isinstance(step, SaslFailure):
        await authenticator.reject(session.io.peer_host)
        await _failed(session, command.tag, step.server_error)
        return
    if isinstance(step, SaslAuthenticated):
        # IMAP has no "additional data with success" (RFC 4422 §4, RFC 9051 §6.2.2): the
        # server-final message (v=ServerSignature) is a last challenge, answered empty.
        response = await _challenge(session, step.final)
        if response is None:
            return
        if response:
            await authenticator.reject(session.io.peer_host, step.username)
            await _failed(session, command.tag, "other-error")
            return
        account = authenticator.scram_succeeded(step.username, session.io.peer_host)
        await _logged_in(session, command.tag, account)
        return
    assert isinstance(step, SaslCredentials)
    await _verify(session, command.tag, step.username, step.password)


async def _challenge(session: ImapSession, data: bytes) -> bytes | None:
    """Send `+ base64` and return the client's decoded answer; None if the connection
    ended. Raises CommandFailed (BAD) when the client cancels with "*" or sends bad base64."""
    await session.io.send(b"+ " + base64.b64encode(data) + b"\r\n")
    await session.io.flush()
    line = await session.io.read_continuation()
    if line is None:
        session.state = SessionState.LOGOUT
        return None
    if line.strip() == "*":
        # RFC 9051 §6.2.2: the client cancelled; "the server MUST reject ... BAD".
        raise CommandFailed("Authentication aborted by client.", status="BAD")
    return _decode(line.strip())


def _decode(text: str) -> bytes:
    """SASL base64 (RFC 4959: "=" is an empty initial response)."""
    if text == "=":
        return b""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as error:
        raise CommandFailed("Invalid base64 data.", status="BAD") from error


async def _verify(session: ImapSession, tag: str, username: str, password: str) -> None:
    account = await session.context.authenticator.verify(username, password, session.io.peer_host)
    if account is None:
        await _failed(session, tag)
        return
    await _logged_in(session, tag, account)


async def _logged_in(session: ImapSession, tag: str, account: str) -> None:
    await session.login_succeeded(account)
    await session.tagged(tag, "OK", "Logged in", f"CAPABILITY {capability_text(session)}")


async def _failed(session: ImapSession, tag: str, scram_error: str = "") -> None:
    """NO [AUTHENTICATIONFAILED]; a SCRAM failure names its RFC 5802 §7 error, which is
    the same "invalid-proof" for a wrong password and an unknown user."""
    session.auth_failures += 1
    text = f"Authentication failed ({scram_error})." if scram_error else "Authentication failed."
    await session.tagged(tag, "NO", text, "AUTHENTICATIONFAILED")
    if session.auth_failures >= session.context.limits.max_auth_failures_per_connection:
        await session.untagged("BYE Too many failed authentication attempts.")
        session.state = SessionState.LOGOUT
