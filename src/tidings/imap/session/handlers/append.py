"""APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502), literal8 data (RFC 3516 §4.4), the
UTF8 data extension (RFC 6855 §4) and APPENDUID (RFC 4315 §3).

All messages of one command are stored in one transaction or none is (RFC 3502 §3): a
message that is empty or too big, a quota that cannot take them all, or a missing mailbox
fails the whole command. The driver has already refused, before `+`, a literal over
APPENDLIMIT (NO [TOOBIG]), a command over `max_command_size` (NO [LIMIT]) and, for a
synchronizing literal, a missing mailbox (NO [TRYCREATE]), a message past
`max_append_messages` (NO [LIMIT]) and one that cannot fit in the quota with those before it
(NO [OVERQUOTA]).
"""

from __future__ import annotations

from tidings.core.errors import OVERQUOTA_REASON, MailError, MailErrorKind
from tidings.core.seqset import SequenceSet
from tidings.imap.proto import commands as c
from tidings.imap.proto.append import pending_append
from tidings.imap.session.core import CommandFailed, ImapSession
from tidings.imap.session.flags import normalise_flags
from tidings.imap.session.handlers.quota import append_cannot_fit
from tidings.imap.session.registry import handles
from tidings.imap.session.state import SessionState
from tidings.storage.api import NewMessage


def _too_many(session: ImapSession) -> str:
    limit = session.context.limits.max_append_messages
    return f"Too many messages in one APPEND (limit {limit})."


def _new_message(session: ImapSession, item: c.AppendMessage, number: int) -> NewMessage:
    which = f"Message {number}: " if number else ""
    if item.utf8 and not session.utf8_accept:
        # RFC 6855 §4: the UTF8 data item belongs to clients that enabled UTF8=ACCEPT.
        raise CommandFailed(f"{which}UTF8 data needs ENABLE UTF8=ACCEPT.", status="BAD")
    if not item.message:
        raise CommandFailed(f"{which}Can't save a zero byte message.")
    if len(item.message) > session.context.limits.max_message_size:
        raise CommandFailed(f"{which}Message too large.", "TOOBIG")
    # RFC 3516 §4.4: binary (literal8) content is stored as sent; this store keeps any
    # octets, so there is never a reason for NO [UNKNOWN-CTE].
    flags = normalise_flags(item.flags, allow_recent=True) - {"\\Recent"}
    return NewMessage(item.message, tuple(sorted(flags)), item.internaldate)


@handles(c.Append)
async def append(session: ImapSession, command: c.Append) -> None:
    """Store every message of the command atomically; APPENDUID names their UIDs."""
    name = session.decode_mailbox(command.mailbox)
    items = command.messages
    if len(items) > session.context.limits.max_append_messages:
        raise CommandFailed(_too_many(session), "LIMIT")
    numbered = len(items) > 1
    batch = [
        _new_message(session, item, number if numbered else 0)
        for number, item in enumerate(items, 1)
    ]
    try:
        result = await session.store.append_many(name, batch)
    except MailError as error:
        if error.kind is MailErrorKind.NOTFOUND:
            raise CommandFailed("Mailbox doesn't exist.", "TRYCREATE") from error
        raise
    # RFC 4315 §3: append-uid = uniqueid / uid-set (a set for MULTIAPPEND, RFC 3502 §6).
    uids = SequenceSet.of(result.uids)
    await session.complete(command, "Append completed.", f"APPENDUID {result.uidvalidity} {uids}")


async def literal_refusal(
    session: ImapSession, pending: bytes, size: int
) -> tuple[str, str] | None:
    """(response code, text) to answer instead of `+` to the synchronizing literal of an
    APPEND message (`pending` is the command so far), so that the client does not upload in
    vain: TRYCREATE for a missing mailbox (RFC 3502 §7's A004 example; Dovecot does so) and
    OVERQUOTA when the message cannot fit with those before it. Advisory only: the append
    checks again in its transaction, and any doubt here lets the literal through."""
    if session.state not in (SessionState.AUTHENTICATED, SessionState.SELECTED):
        return None
    found = pending_append(pending)
    if found is None:
        return None
    if len(found.earlier_sizes) >= session.context.limits.max_append_messages:
        return "LIMIT", _too_many(session)
    if not found.earlier_sizes:
        try:
            await session.store.get_mailbox(session.decode_mailbox(found.mailbox))
        except CommandFailed:
            return None
        except MailError as error:
            if error.kind is MailErrorKind.NOTFOUND:
                return "TRYCREATE", "Mailbox doesn't exist."
            return None
    if await append_cannot_fit(session, pending, size):
        return "OVERQUOTA", OVERQUOTA_REASON
    return None
