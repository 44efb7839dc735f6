"""STORE and UID STORE (RFC 9051 §6.4.6)."""

from __future__ import annotations

from tidings.imap.proto import commands as c
from tidings.imap.proto import responses as r
from tidings.imap.session.core import CommandFailed, ImapSession
from tidings.imap.session.flags import normalise_flags
from tidings.imap.session.registry import handles
from tidings.storage.api import FlagOperation


@handles(c.Store)
async def store(session: ImapSession, command: c.Store) -> None:
    """Change flags; answer each message's new FLAGS unless .SILENT."""
    view = session.selected
    assert view is not None
    if command.modifiers:
        raise CommandFailed(f"Unknown STORE modifier {command.modifiers[0][0]}", status="BAD")
    if view.read_only:
        raise CommandFailed("Mailbox is read-only.", "READ-ONLY")
    if not command.uid and not view.seq_range_valid(command.sequence_set):
        raise CommandFailed("Invalid messageset.", status="BAD")
    flags = normalise_flags(command.flags)
    pairs = view.live_targets(command.sequence_set, command.uid, session.saved_search)
    operation = FlagOperation(command.operation)
    changed = await session.store.store_flags(
        view.mailbox_id, [uid for _, uid in pairs], operation, flags
    )
    view.update_flags(changed)
    if not command.silent:
        for seq, uid in pairs:
            meta = view.messages.get(uid)
            if meta is None:
                continue
            uid_part = b"UID %d " % uid if command.uid else b""
            await session.untagged(
                b"%d FETCH (%sFLAGS %s)"
                % (seq, uid_part, r.flag_list(session.visible_flags(uid, meta.flags)))
            )
    await session.complete(command, "Store completed.")
