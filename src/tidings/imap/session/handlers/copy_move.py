"""COPY, MOVE and their UID forms (RFC 9051 §6.4.7, §6.4.8; COPYUID from RFC 4315 §3)."""

from __future__ import annotations

from tidings.core.errors import MailError, MailErrorKind
from tidings.core.seqset import SequenceSet
from tidings.imap.proto import commands as c
from tidings.imap.session.core import CommandFailed, ImapSession
from tidings.imap.session.registry import handles


@handles(c.Copy)
async def copy_or_move(session: ImapSession, command: c.Copy) -> None:
    """Copy (or move) messages; MOVE announces COPYUID untagged, then the EXPUNGEs."""
    view = session.selected
    assert view is not None
    verb = "Move" if command.move else "Copy"
    if command.move and view.read_only:
        raise CommandFailed("Mailbox is read-only.", "READ-ONLY")
    if not command.uid and not view.seq_range_valid(command.sequence_set):
        raise CommandFailed("Invalid messageset.", status="BAD")
    destination = session.decode_mailbox(command.mailbox)
    targets = view.live_targets(command.sequence_set, command.uid, session.saved_search)
    uids = [uid for _, uid in targets]
    if not uids:
        await session.complete(command, f"{verb} completed.")
        return
    operation = session.store.move if command.move else session.store.copy
    try:
        result = await operation(view.mailbox_id, uids, destination)
    except MailError as error:
        if error.kind is MailErrorKind.NOTFOUND:
            raise CommandFailed("Mailbox doesn't exist.", "TRYCREATE") from error
        raise
    copyuid = None
    if result.source_uids:
        copyuid = (
            f"COPYUID {result.uidvalidity} {SequenceSet.of(result.source_uids)} "
            f"{SequenceSet.of(result.dest_uids)}"
        )
    if not command.move:
        await session.complete(command, "Copy completed.", copyuid)
        return
    # RFC 6851 §4.3: COPYUID in an untagged OK before the EXPUNGE responses.
    if copyuid is not None:
        await session.untagged(f"OK [{copyuid}] Moved UIDs.")
    # EXPUNGE responses, or VANISHED for QRESYNC clients (RFC 6851 §4.4, RFC 7162 §3.2.10.2).
    await session.announce_expunged(*view.remove_all(result.source_uids))
    await session.complete(command, "Move completed.")  # [HIGHESTMODSEQ n] after VANISHED
