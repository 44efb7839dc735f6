"""CAPABILITY, NOOP, LOGOUT, ID and ENABLE (RFC 9051 §6.1, RFC 2971, RFC 5161)."""

from __future__ import annotations

from tidings import __version__
from tidings.imap.proto import commands as c
from tidings.imap.proto import responses as r
from tidings.imap.session import condstore
from tidings.imap.session.capabilities import capabilities
from tidings.imap.session.core import ImapSession
from tidings.imap.session.registry import handles
from tidings.imap.session.state import SessionState


def capability_text(session: ImapSession) -> str:
    """The space-separated capability list for this session right now."""
    return " ".join(
        capabilities(
            session.state,
            tls_active=session.io.is_tls,
            tls_available=session.context.tls_context is not None,
            plaintext_allowed=session.plaintext_allowed,
            append_limit=session.context.limits.max_message_size,
            channel_binding=bool(session.io.channel_bindings()),
            scram=session.context.authenticator.scram_offered,
        )
    )


@handles(c.Capability)
async def capability(session: ImapSession, command: c.Capability) -> None:
    """RFC 9051 §6.1.1."""
    await session.untagged(f"CAPABILITY {capability_text(session)}")
    await session.complete(command, "Capability completed.")


@handles(c.Noop, c.Check)
async def noop(session: ImapSession, command: c.Noop | c.Check) -> None:
    """RFC 9051 §6.1.2 NOOP; CHECK (RFC 3501 §6.4.1) is a NOOP here: every change is
    already committed. Both report pending mailbox updates, as Dovecot's shared sync path."""
    name = "NOOP" if isinstance(command, c.Noop) else "Check"
    await session.complete(command, f"{name.capitalize()} completed.")


@handles(c.Logout)
async def logout(session: ImapSession, command: c.Logout) -> None:
    """RFC 9051 §6.1.3: BYE, then the tagged OK, then the server closes."""
    await session.untagged("BYE Logging out")
    await session.tagged(command.tag, "OK", "Logout completed.")
    session.state = SessionState.LOGOUT


@handles(c.Id)
async def identify(session: ImapSession, command: c.Id) -> None:
    """RFC 2971: say who we are; the client's parameters are only logged."""
    fields = (("name", "Tidings"), ("version", __version__), ("vendor", "Tidings"))
    body = b" ".join(r.quoted(key) + b" " + r.quoted(value) for key, value in fields)
    await session.untagged(b"ID (" + body + b")")
    await session.complete(command, "ID completed.")


@handles(c.Enable)
async def enable(session: ImapSession, command: c.Enable) -> None:
    """RFC 5161 §3.1: enable what we support, list what got enabled (and only that)."""
    enabled = []
    for name in command.capabilities:
        if name.upper() == "IMAP4REV2" and not session.rev2:
            session.rev2 = True
            enabled.append("IMAP4rev2")
        elif (
            name.upper() == "UTF8=ACCEPT"
            and not session.utf8_accept
            # RFC 6855 §3: only in the authenticated state; once a mailbox is selected it
            # is simply not enabled (RFC 5161 §3.1 lets a server leave a name out).
            and session.state is SessionState.AUTHENTICATED
        ):
            session.utf8_accept = True
            enabled.append("UTF8=ACCEPT")
    rfc7162 = condstore.enable_names(session, command.capabilities)
    enabled += rfc7162
    await session.untagged(" ".join(["ENABLED", *enabled]))
    if rfc7162:
        await condstore.enable_condstore(session)  # HIGHESTMODSEQ if a mailbox is selected
    await session.complete(command, "Enabled.")
