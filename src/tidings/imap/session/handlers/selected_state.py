"""CLOSE, UNSELECT, EXPUNGE and UID EXPUNGE (RFC 9051 §6.4.1-§6.4.3, §6.4.9; RFC 4315)."""

from __future__ import annotations

from tidings.core.errors import MailError, MailErrorKind
from tidings.imap.proto import commands as c
from tidings.imap.session.core import CommandFailed, ImapSession
from tidings.imap.session.registry import handles


@handles(c.Close)
async def close(session: ImapSession, command: c.Close) -> None:
    """RFC 9051 §6.4.1: expunge silently (unless read-only), then deselect. Without the
    expunge right of a shared mailbox it only deselects (RFC 4314 §4: CLOSE never fails
    for want of "e")."""
    view = session.selected
    assert view is not None
    if not view.read_only:
        try:
            await session.store.expunge(view.mailbox_id, list(view.uids))
        except MailError as error:
            if error.kind is not MailErrorKind.NOPERM:
                raise
    session.deselect()
    await session.tagged(command.tag, "OK", "Close completed.")


@handles(c.Unselect)
async def unselect(session: ImapSession, command: c.Unselect) -> None:
    """RFC 3691: deselect without expunging."""
    session.deselect()
    await session.tagged(command.tag, "OK", "Unselect completed.")


@handles(c.Expunge)
async def expunge(session: ImapSession, command: c.Expunge) -> None:
    """EXPUNGE every \\Deleted message the client knows of, or only those in a UID set."""
    view = session.selected
    assert view is not None
    if view.read_only:
        raise CommandFailed("Mailbox is read-only.", "READ-ONLY")
    if command.uids is None:
        uids = list(view.uids)
    else:
        uids = [uid for _, uid in view.resolve(command.uids, True, session.saved_search)]
    expunged = await session.store.expunge(view.mailbox_id, uids)
    await session.announce_expunged(*view.remove_all(expunged))  # or VANISHED, RFC 7162 §3.2.7
    # For QRESYNC clients the OK carries the new HIGHESTMODSEQ (RFC 7162 §3.2.7, §3.2.9).
    await session.complete(command, "Expunge completed.")
