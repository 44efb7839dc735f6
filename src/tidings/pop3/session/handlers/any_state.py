"""CAPA (RFC 2449 §5), valid in AUTHORIZATION and TRANSACTION."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidings.auth.sasl import SUPPORTED_MECHANISMS
from tidings.pop3.proto import commands as c
from tidings.pop3.proto import responses as r
from tidings.pop3.session.state import Pop3State

if TYPE_CHECKING:
    from tidings.pop3.session.core import Pop3Session


def capabilities(session: Pop3Session) -> list[str]:
    """The capability lines for this session's state, in Dovecot's order.

    RFC 2449 §5: capabilities may differ between states. Like Dovecot, STLS (RFC 2595 §4),
    USER (RFC 2449 §6.2) and SASL (RFC 2449 §6.3, RFC 5034 §3) are listed only in
    AUTHORIZATION, STLS only before TLS, and USER and SASL only where plaintext passwords
    are allowed (TLS or loopback).
    """
    lines = ["CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"]
    if session.state is Pop3State.AUTHORIZATION:
        if session.context.tls_context is not None and not session.io.is_tls:
            lines.append("STLS")
        if session.plaintext_allowed:
            lines.append("USER")
            lines.append(" ".join(("SASL", *SUPPORTED_MECHANISMS)))
    lines.append("IMPLEMENTATION Tidings")  # RFC 2449 §6.9
    return lines


async def capa(session: Pop3Session, command: c.Capa) -> None:
    """CAPA: "+OK" and one capability per line (RFC 2449 §5)."""
    await session.io.send(r.multiline(r.ok("Capability list follows"), capabilities(session)))
