"""Per-user \\Seen on mailboxes other users share (schema v4 `private_seen`).

Everyone but a personal mailbox's owner keeps their own \\Seen, as Dovecot's and Cyrus's
shared mailboxes do: a team's members each have their own unread state, and a user reading
a colleague's shared folder does not mark the colleague's mail read. Every other flag is
shared. So a guest's view of a message is its shared flags without \\Seen, plus \\Seen when
the guest has a `private_seen` row for it.

A guest's \\Seen change still takes a new MODSEQ and a change-log row for the message
(RFC 7162 §3.1: a MODSEQ may also rise when nothing another user sees has changed), so the
guest's other sessions learn of it from the log like any other change; other users read the
row through their own overlay and at worst hear their unchanged flags again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tidings.storage.api import (
    AppendResult,
    Change,
    ChangeKind,
    ChangeLog,
    ConditionalStore,
    CopyResult,
    FlagOperation,
    MailboxSnapshot,
    MailboxStatus,
    MessageMeta,
)
from tidings.storage.sqlite import blobs, changelog, mailboxes, messages, names
from tidings.storage.sqlite.database import WriteTxn
from tidings.storage.sqlite.flags import SEEN, FlagDecoder
from tidings.storage.sqlite.records import (
    MESSAGE_COLUMNS,
    Owner,
    allocate,
    log_change,
    mailbox_by_id,
    mailbox_by_name,
    make_meta,
    uid_filter,
)
from tidings.storage.sqlite.sql import Connection

if TYPE_CHECKING:
    from tidings.storage.sqlite.snapshots import SnapshotCache

SEEN_FLAG = "\\Seen"


def seen_uids(conn: Connection, mailbox_id: int, viewer_id: int) -> frozenset[int]:
    """The UIDs the viewer has seen in the mailbox."""
    return frozenset(
        int(row[0])
        for row in conn.execute(
            "SELECT uid FROM private_seen WHERE mailbox_id = ? AND account_id = ?",
            (mailbox_id, viewer_id),
        )
    )


def overlay(meta: MessageMeta, seen: frozenset[int]) -> MessageMeta:
    """`meta` as the viewer sees it: the shared flags with the viewer's own \\Seen."""
    has = meta.uid in seen
    if (SEEN_FLAG in meta.flags) == has:
        return meta
    flags = meta.flags | {SEEN_FLAG} if has else meta.flags - {SEEN_FLAG}
    return dataclasses.replace(meta, flags=flags)


def _overlay_all(metas: Iterable[MessageMeta], seen: frozenset[int]) -> tuple[MessageMeta, ...]:
    return tuple(overlay(meta, seen) for meta in metas)


def _overlay_changes(changes: Iterable[Change], seen: frozenset[int]) -> tuple[Change, ...]:
    return tuple(
        change
        if change.meta is None
        else dataclasses.replace(change, meta=overlay(change.meta, seen))
        for change in changes
    )


def open_mailbox(
    conn: Connection,
    owner: Owner,
    viewer: Owner,
    name: str,
    snapshots: SnapshotCache | None = None,
) -> MailboxSnapshot:
    """messages.open_mailbox as `viewer` sees it."""
    snapshot = messages.open_mailbox(conn, owner, name, snapshots)
    seen = seen_uids(conn, snapshot.info.id, viewer.id)
    return dataclasses.replace(snapshot, messages=_overlay_all(snapshot.messages, seen))


def changes_since(
    conn: Connection, owner: Owner, viewer: Owner, mailbox_id: int, modseq: int
) -> list[Change]:
    """messages.changes_since as `viewer` sees it."""
    changes = messages.changes_since(conn, owner, mailbox_id, modseq)
    return list(_overlay_changes(changes, seen_uids(conn, mailbox_id, viewer.id)))


def change_log(
    conn: Connection, owner: Owner, viewer: Owner, mailbox_id: int, modseq: int
) -> ChangeLog:
    """changelog.change_log as `viewer` sees it."""
    log = changelog.change_log(conn, owner, mailbox_id, modseq)
    seen = seen_uids(conn, mailbox_id, viewer.id)
    current = None if log.current is None else _overlay_all(log.current, seen)
    return dataclasses.replace(log, changes=_overlay_changes(log.changes, seen), current=current)


def status(conn: Connection, owner: Owner, viewer: Owner, name: str) -> MailboxStatus:
    """mailboxes.status with UNSEEN counted from the viewer's own \\Seen."""
    counted = mailboxes.status(conn, owner, name)
    row = mailbox_by_name(conn, owner.id, names.normalize(name))
    (seen,) = conn.execute(
        "SELECT count(*) FROM private_seen p JOIN messages m"
        " ON m.mailbox_id = p.mailbox_id AND m.uid = p.uid"
        " WHERE p.mailbox_id = ? AND p.account_id = ?",
        (row.id, viewer.id),
    ).fetchone()
    return dataclasses.replace(counted, unseen=counted.messages - int(seen))


def store_flags(
    txn: WriteTxn,
    owner: Owner,
    viewer: Owner,
    mailbox_id: int,
    uids: Sequence[int],
    *,
    operation: FlagOperation,
    flags: Iterable[str],
) -> list[MessageMeta]:
    """messages.store_flags for a guest: \\Seen goes to the guest's own rows, the other
    flags to the shared ones (a REPLACE leaves the owner's \\Seen alone); the messages
    whose flags changed as the guest sees them, all with one new modseq."""
    conn = txn.conn
    row = mailbox_by_id(conn, owner.id, mailbox_id)
    flags = tuple(flags)
    wants_seen = any(flag.lower() == "\\seen" for flag in flags)
    others = tuple(flag for flag in flags if flag.lower() != "\\seen")
    existing = [
        int(r[0])
        for r in conn.execute(
            "SELECT uid FROM messages WHERE mailbox_id = ?"
            " AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid",
            (row.id, uid_filter(uids)),
        )
    ]
    before = seen_uids(conn, row.id, viewer.id)
    chosen = frozenset(existing)
    if operation is FlagOperation.REPLACE:
        after = (before - chosen) | (chosen if wants_seen else frozenset())
    elif operation is FlagOperation.ADD:
        after = before | chosen if wants_seen else before
    else:
        after = before - chosen if wants_seen else before
    changed: dict[int, MessageMeta] = {}
    if others or operation is FlagOperation.REPLACE:
        for meta in messages.store_flags(
            txn, owner, mailbox_id, existing, operation=operation, flags=others, keep=SEEN
        ):
            changed[meta.uid] = meta
    added, removed = after - before, before - after
    conn.executemany(
        "INSERT OR IGNORE INTO private_seen (mailbox_id, account_id, uid) VALUES (?, ?, ?)",
        ((row.id, viewer.id, uid) for uid in sorted(added)),
    )
    conn.executemany(
        "DELETE FROM private_seen WHERE mailbox_id = ? AND account_id = ? AND uid = ?",
        ((row.id, viewer.id, uid) for uid in sorted(removed)),
    )
    only_seen = sorted((added | removed) - changed.keys())
    if only_seen:
        changed.update(_bump(txn, owner, row.id, only_seen))
    return [overlay(changed[uid], after) for uid in sorted(changed)]


def _bump(txn: WriteTxn, owner: Owner, mailbox_id: int, uids: list[int]) -> dict[int, MessageMeta]:
    """A new modseq and a FLAGS change-log row for messages only the guest's \\Seen of
    which changed."""
    conn = txn.conn
    _, modseq = allocate(conn, mailbox_id, 0)
    conn.execute(
        "UPDATE messages SET modseq = ? WHERE mailbox_id = ?"
        " AND uid IN (SELECT value FROM json_each(?))",
        (modseq, mailbox_id, uid_filter(uids)),
    )
    decode = FlagDecoder()
    result = {}
    for uid, _modseq, bits, keywords, date, size in conn.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = ?"
        " AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid",
        (mailbox_id, uid_filter(uids)),
    ).fetchall():
        state = (bits, keywords, date, size)
        log_change(conn, mailbox_id, modseq, uid, ChangeKind.FLAGS, state=state)
        result[uid] = make_meta(decode, (uid, modseq, *state))
    txn.notify(owner.address, mailbox_id, modseq)
    return result


def store_if_unchanged(
    txn: WriteTxn,
    owner: Owner,
    viewer: Owner,
    mailbox_id: int,
    uids: Sequence[int],
    *,
    operation: FlagOperation,
    flags: Iterable[str],
    unchanged_since: int,
) -> ConditionalStore:
    """STORE (UNCHANGEDSINCE n) for a guest (RFC 7162 §3.1.3): messages whose modseq is
    above n are reported as modified and left alone; the others are stored."""
    conn = txn.conn
    row = mailbox_by_id(conn, owner.id, mailbox_id)
    passing: list[int] = []
    modified: list[int] = []
    for uid, modseq in conn.execute(
        "SELECT uid, modseq FROM messages WHERE mailbox_id = ?"
        " AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid",
        (row.id, uid_filter(uids)),
    ).fetchall():
        (passing if unchanged_since and modseq <= unchanged_since else modified).append(uid)
    if unchanged_since == 0:
        passing, modified = [], passing + modified
    changed = store_flags(txn, owner, viewer, mailbox_id, passing, operation=operation, flags=flags)
    return ConditionalStore(tuple(changed), tuple(modified), ())


def append(
    txn: WriteTxn,
    owner: Owner,
    viewer: Owner,
    name: str,
    prepared: blobs.PreparedMessage,
    *,
    flags: tuple[str, ...],
    internaldate: datetime,
) -> AppendResult:
    """messages.append for a guest: a \\Seen it asks for is its own."""
    seen = any(flag.lower() == "\\seen" for flag in flags)
    shared = tuple(flag for flag in flags if flag.lower() != "\\seen")
    result = messages.append(txn, owner, name, prepared, flags=shared, internaldate=internaldate)
    if seen:
        row = mailbox_by_name(txn.conn, owner.id, names.normalize(name))
        txn.conn.execute(
            "INSERT OR IGNORE INTO private_seen (mailbox_id, account_id, uid) VALUES (?, ?, ?)",
            (row.id, viewer.id, result.uid),
        )
    return result


def carried(  # noqa: PLR0917 - Database.write passes the operation's arguments on as they are
    txn: WriteTxn,
    operation: Callable[..., CopyResult],
    owner: Owner,
    mailbox_id: int,
    uids: Sequence[int],
    dest_name: str,
    **options: Any,
) -> CopyResult:
    """COPY or MOVE (`operation`, messages.copy or changelog.move_and_prune) within one
    account, every user's own \\Seen going with the messages to their new UIDs: a team
    member who files a message does not make it unread for the others."""
    conn = txn.conn
    seen = conn.execute(
        "SELECT account_id, uid FROM private_seen WHERE mailbox_id = ?"
        " AND uid IN (SELECT value FROM json_each(?))",
        (mailbox_id, uid_filter(uids)),
    ).fetchall()
    result = operation(txn, owner, mailbox_id, uids, dest_name, **options)
    if seen and result.dest_uids:
        dest = mailbox_by_name(conn, owner.id, names.normalize(dest_name))
        new_uid = dict(zip(result.source_uids, result.dest_uids, strict=True))
        conn.executemany(
            "INSERT OR IGNORE INTO private_seen (mailbox_id, account_id, uid) VALUES (?, ?, ?)",
            ((dest.id, account, new_uid[uid]) for account, uid in seen if uid in new_uid),
        )
    return result
