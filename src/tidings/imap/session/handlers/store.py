"""STORE and UID STORE (RFC 9051 §6.4.6), with CONDSTORE's UNCHANGEDSINCE (RFC 7162 §3.1.3)."""

from __future__ import annotations

from tidings.imap.proto import commands as c
from tidings.imap.proto import responses as r
from tidings.imap.session import condstore
from tidings.imap.session.core import CommandFailed, ImapSession
from tidings.imap.session.flags import normalise_flags
from tidings.imap.session.registry import handles
from tidings.storage.api import FlagOperation, MessageMeta


@handles(c.Store)
async def store(session: ImapSession, command: c.Store) -> None:
    """Change flags; answer each message's new FLAGS unless .SILENT.

    CONDSTORE clients hear of each message whose modseq changed, with MODSEQ, and with
    .SILENT with MODSEQ alone (RFC 7162 §3.1.3: "An untagged FETCH response MUST be sent,
    even if the .SILENT suffix is specified")."""
    view = session.selected
    assert view is not None
    unchanged_since = condstore.unchanged_since(command)
    if view.read_only:
        raise CommandFailed("Mailbox is read-only.", "READ-ONLY")
    if not command.uid and not view.seq_range_valid(command.sequence_set):
        raise CommandFailed("Invalid messageset.", status="BAD")
    flags = normalise_flags(command.flags)
    pairs = view.live_targets(command.sequence_set, command.uid, session.saved_search)
    operation = FlagOperation(command.operation)
    uids = [uid for _, uid in pairs]
    modified: set[int] = set()
    already: tuple[MessageMeta, ...] = ()
    if unchanged_since is None:
        changed = await session.store.store_flags(view.mailbox_id, uids, operation, flags)
    else:
        await condstore.enable_condstore(session)  # RFC 7162 §3.1: an enabling command
        result = await session.store.store_flags_unchanged_since(
            view.mailbox_id, uids, operation, flags, unchanged_since
        )
        changed, modified, already = list(result.changed), set(result.modified), result.already
    view.update_flags(changed)
    view.update_flags(already)
    # Messages another session had already put in the requested state are told with their
    # flags even with .SILENT: the client's copy of them is out of date.
    shown = {meta.uid for meta in already}
    touched = {meta.uid for meta in changed} | shown
    for seq, uid in pairs:
        meta = view.messages.get(uid)
        if meta is None or uid in modified:
            continue
        line = _reply_line(session, command, seq, meta, touched=touched, show_flags=uid in shown)
        if line is not None:
            await session.untagged(line)
    failed = [uid if command.uid else seq for seq, uid in pairs if uid in modified]
    code = condstore.modified_code(failed)
    text = "Conditional store failed." if code else "Store completed."
    await session.complete(command, text, code)


def _reply_line(
    session: ImapSession,
    command: c.Store,
    seq: int,
    meta: MessageMeta,
    *,
    touched: set[int],
    show_flags: bool,
) -> bytes | None:
    uid = meta.uid
    if session.condstore:
        # Like Dovecot: only the messages this STORE changed (or found already changed).
        if uid not in touched:
            return None
        return condstore.fetch_flags_line(
            session,
            seq,
            meta,
            with_uid=command.uid or session.qresync,
            flags=show_flags or not command.silent,
            modseq_first=True,
        )
    if command.silent:
        return None
    uid_part = b"UID %d " % uid if command.uid else b""
    return b"%d FETCH (%sFLAGS %s)" % (
        seq,
        uid_part,
        r.flag_list(session.visible_flags(uid, meta.flags)),
    )
