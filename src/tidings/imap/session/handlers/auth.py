"""STARTTLS, AUTHENTICATE and LOGIN (RFC 9051 §6.2, SASL-IR RFC 4959)."""

from __future__ import annotations

import base64
import binascii

from tidings.auth.sasl import SaslChallenge, SaslCredentials, SaslFailure, SaslStep, start_mechanism
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
    """RFC 9051 §6.2.2 with the SASL mechanisms of tidings.auth.sasl."""
    mechanism = start_mechanism(command.mechanism.upper())
    if mechanism is None:
        raise CommandFailed("Unsupported authentication mechanism.")
    if not session.plaintext_allowed:
        raise CommandFailed(_PRIVACY_TEXT, "PRIVACYREQUIRED")
    initial = None
    if command.initial_response is not None:
        initial = _decode(command.initial_response)
    step: SaslStep = mechanism.start(initial)
    while isinstance(step, SaslChallenge):
        await session.io.send(b"+ " + base64.b64encode(step.data) + b"\r\n")
        await session.io.flush()
        line = await session.io.read_continuation()
        if line is None:
            session.state = SessionState.LOGOUT
            return
        if line.strip() == "*":
            # RFC 9051 §6.2.2: the client cancelled; "the server MUST reject ... BAD".
            raise CommandFailed("Authentication aborted by client.", status="BAD")
        step = mechanism.step(_decode(line.strip()))
    if isinstance(step, SaslFailure):
        await session.context.authenticator.reject(session.io.peer_host)
        await _failed(session, command.tag)
        return
    assert isinstance(step, SaslCredentials)
    await _verify(session, command.tag, step.username, step.password)


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
    await session.login_succeeded(account)
    await session.tagged(tag, "OK", "Logged in", f"CAPABILITY {capability_text(session)}")


async def _failed(session: ImapSession, tag: str) -> None:
    session.auth_failures += 1
    await session.tagged(tag, "NO", "Authentication failed.", "AUTHENTICATIONFAILED")
    if session.auth_failures >= session.context.limits.max_auth_failures_per_connection:
        await session.untagged("BYE Too many failed authentication attempts.")
        session.state = SessionState.LOGOUT
