"""CAPA (RFC 2449 §5), valid in AUTHORIZATION and TRANSACTION."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidings.auth.sasl import mechanism_names
from tidings.pop3.proto import commands as c
from tidings.pop3.proto import responses as r
from tidings.pop3.session.state import Pop3State

if TYPE_CHECKING:
    from tidings.pop3.session.core import Pop3Session


def capabilities(session: Pop3Session) -> list[str]:
    """The capability lines for this session's state, in Dovecot's order.

    RFC 2449 §5: capabilities may differ between states. Like Dovecot, STLS (RFC 2595 §4),
    USER (RFC 2449 §6.2) and SASL (RFC 2449 §6.3, RFC 5034 §3) are listed only in
    AUTHORIZATION, STLS only before TLS, and USER only where plaintext passwords are
    allowed (TLS or loopback). SASL lists PLAIN and LOGIN there too, SCRAM-SHA-256 always
    and SCRAM-SHA-256-PLUS on TLS, once every account has SCRAM secrets
    (`tidings.auth.sasl.mechanism_names`).
    """
    lines = ["CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"]
    if session.state is Pop3State.AUTHORIZATION:
        if session.context.tls_context is not None and not session.io.is_tls:
            lines.append("STLS")
        if session.plaintext_allowed:
            lines.append("USER")
        if mechanisms := sasl_mechanisms(session):
            lines.append(" ".join(("SASL", *mechanisms)))
    lines.append("IMPLEMENTATION Tidings")  # RFC 2449 §6.9
    return lines


def sasl_mechanisms(session: Pop3Session) -> tuple[str, ...]:
    """The SASL mechanisms AUTH accepts on this connection (RFC 5034 §4)."""
    return mechanism_names(
        plaintext_allowed=session.plaintext_allowed,
        channel_binding=bool(session.io.channel_bindings()),
        scram=session.context.authenticator.scram_offered,
    )


async def capa(session: Pop3Session, command: c.Capa) -> None:
    """CAPA: "+OK" and one capability per line (RFC 2449 §5)."""
    await session.io.send(r.multiline(r.ok("Capability list follows"), capabilities(session)))
