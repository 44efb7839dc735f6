"""The TRANSACTION state (RFC 1939 §5, §7): STAT, LIST, UIDL, RETR, TOP, DELE, NOOP, RSET.

Everything answers from the snapshot taken at login; only RETR and TOP read storage, and a
message that another session expunged meanwhile fails alone ("-ERR Message 1 expunged.").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidings.core.errors import MailError, MailErrorKind
from tidings.pop3.proto import commands as c
from tidings.pop3.proto import responses as r
from tidings.pop3.proto.message import encode_message, top_end
from tidings.pop3.session.errors import CommandFailed

if TYPE_CHECKING:
    from tidings.pop3.session.core import Pop3Session


async def stat(session: Pop3Session, command: c.Stat) -> None:
    """RFC 1939 §5: exactly "+OK nn mm", messages not marked as deleted."""
    count, size = session.snapshot.totals()
    await session.ok(f"{count} {size}")


async def list_(session: Pop3Session, command: c.List) -> None:
    """LIST [msg] (RFC 1939 §5): "msg size" scan listings, sizes as RETR sends them."""
    snapshot = session.snapshot
    if command.message is not None:
        entry = snapshot.entry(command.message)
        await session.ok(f"{command.message} {entry.wire_size}")
        return
    numbers = snapshot.live_numbers()
    lines = (f"{n} {snapshot.entries[n - 1].wire_size}" for n in numbers)
    await session.io.send(r.multiline(r.ok(f"{len(numbers)} messages:"), lines))


async def uidl(session: Pop3Session, command: c.Uidl) -> None:
    """UIDL [msg] (RFC 1939 §7): "msg unique-id" listings."""
    snapshot = session.snapshot
    if command.message is not None:
        snapshot.entry(command.message)
        await session.ok(f"{command.message} {snapshot.unique_id(command.message)}")
        return
    lines = (f"{n} {snapshot.unique_id(n)}" for n in snapshot.live_numbers())
    await session.io.send(r.multiline(r.ok(), lines))


async def retr(session: Pop3Session, command: c.Retr) -> None:
    """RETR msg (RFC 1939 §5): the whole message; \\Seen is set in UPDATE (as Dovecot)."""
    entry = session.snapshot.entry(command.message)
    raw = await _read(session, command.message)
    await session.ok(f"{entry.wire_size} octets")
    for chunk in encode_message(raw):
        await session.io.send(chunk)
    session.snapshot.retrieved.add(command.message)


async def top(session: Pop3Session, command: c.Top) -> None:
    """TOP msg n (RFC 1939 §7): the header, the blank line, then n lines of the body."""
    session.snapshot.entry(command.message)
    raw = await _read(session, command.message)
    await session.ok()
    for chunk in encode_message(raw, top_end(raw, command.lines)):
        await session.io.send(chunk)


async def dele(session: Pop3Session, command: c.Dele) -> None:
    """DELE msg (RFC 1939 §5): mark it; the UPDATE state deletes it."""
    session.snapshot.mark_deleted(command.message)
    await session.ok("Marked to be deleted.")


async def noop(session: Pop3Session, command: c.Noop) -> None:
    """NOOP (RFC 1939 §5)."""
    await session.ok()


async def rset(session: Pop3Session, command: c.Rset) -> None:
    """RSET (RFC 1939 §5): unmark every message marked as deleted."""
    session.snapshot.reset()
    count, size = session.snapshot.totals()
    await session.ok(f"maildrop has {count} messages ({size} octets)")


async def _read(session: Pop3Session, number: int) -> bytes:
    entry = session.snapshot.entries[number - 1]
    try:
        return await session.store.read_message(session.snapshot.mailbox_id, entry.uid)
    except MailError as error:
        if error.kind is MailErrorKind.EXPUNGED:
            raise CommandFailed(f"Message {number} expunged.") from error
        raise
