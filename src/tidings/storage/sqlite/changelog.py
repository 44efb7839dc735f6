"""Reading and pruning the change log, and the conditional STORE (RFC 7162).

The `changes` table holds one row per APPEND, FLAGS change and EXPUNGE, keyed by
(mailbox_id, modseq, uid), each with the time it was logged. Rows older than the retention
(`[imap] vanished_retention_days`) are pruned, and `mailboxes.vanished_floor` records the
modseq up to which that happened: the log holds every change with a modseq above the floor.
A reader asking for "changes since N" with N below the floor gets the mailbox as it is now
instead, and compares UIDs (RFC 7162 §3.2.5.2 allows a server to forget expunges; the
QRESYNC answer then comes from the client's known UIDs, so the client still ends exact).

Every function runs on a database thread inside a transaction opened by `Database`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from tidings.storage.api import (
    ChangeLog,
    ConditionalStore,
    CopyResult,
    FlagOperation,
    MessageMeta,
)
from tidings.storage.sqlite import messages
from tidings.storage.sqlite.database import WriteTxn
from tidings.storage.sqlite.flags import FlagDecoder, decode_keywords, split_flags
from tidings.storage.sqlite.records import (
    MESSAGE_COLUMNS,
    Owner,
    canonical_keywords,
    mailbox_by_id,
    make_meta,
    uid_filter,
)
from tidings.storage.sqlite.sql import Connection

# How long change rows (and so expunged UIDs) are kept by default: 30 days, so a phone or
# laptop that was offline for a month still resynchronises from the history.
DEFAULT_RETENTION = 30 * 24 * 3600.0
# Change rows one prune pass removes per mailbox at most: keeps an EXPUNGE (which prunes
# its own mailbox in the same transaction) cheap however much history has piled up.
PRUNE_BATCH = 1000
# Rows the start-up prune removes over all mailboxes at most: bounds the start-up time.
STARTUP_PRUNE_LIMIT = 200_000


def _floor(conn: Connection, mailbox_id: int) -> tuple[int, int]:
    row = conn.execute(
        "SELECT vanished_floor, highestmodseq FROM mailboxes WHERE id = ?", (mailbox_id,)
    ).fetchone()
    return int(row[0]), int(row[1])


def change_log(conn: Connection, owner: Owner, mailbox_id: int, modseq: int) -> ChangeLog:
    """The change rows after `modseq`; when the log no longer reaches back that far, the
    current messages instead (one consistent read either way). NOTFOUND if gone."""
    mailbox_by_id(conn, owner.id, mailbox_id)
    floor, highest = _floor(conn, mailbox_id)
    changes = tuple(messages.changes_since(conn, owner, mailbox_id, max(modseq, floor)))
    current = None
    if modseq < floor:
        current = messages.all_metas(conn, mailbox_id)
    return ChangeLog(changes, floor, highest, current)


def expunged_since(
    conn: Connection, owner: Owner, mailbox_id: int, modseq: int
) -> tuple[int, ...] | None:
    """UIDs expunged with a modseq above `modseq`, ascending; None when the log was pruned
    past `modseq`, so that it cannot tell (RFC 7162 §3.2.5.2)."""
    mailbox_by_id(conn, owner.id, mailbox_id)
    floor, _ = _floor(conn, mailbox_id)
    if modseq < floor:
        return None
    rows = conn.execute(
        "SELECT uid FROM changes WHERE mailbox_id = ? AND modseq > ? AND kind = 'expunge'",
        (mailbox_id, modseq),
    )
    return tuple(sorted(int(row[0]) for row in rows))


def prune_mailbox(conn: Connection, mailbox_id: int, cutoff: float) -> int:
    """Drop up to about PRUNE_BATCH of the oldest change rows logged before `cutoff` (unix
    time; rows without a time count as old) and raise the floor over them. Rows sharing a
    modseq go together, so the log stays complete above the floor. Returns rows removed."""
    rows = conn.execute(
        "SELECT modseq, logged_at FROM changes WHERE mailbox_id = ? ORDER BY modseq LIMIT ?",
        (mailbox_id, PRUNE_BATCH),
    ).fetchall()
    new_floor = 0
    for modseq, logged_at in rows:
        if logged_at is not None and logged_at >= cutoff:
            break
        new_floor = int(modseq)
    if not new_floor:
        return 0
    removed = len(
        conn.execute(
            "DELETE FROM changes WHERE mailbox_id = ? AND modseq <= ? RETURNING 1",
            (mailbox_id, new_floor),
        ).fetchall()
    )
    conn.execute(
        "UPDATE mailboxes SET vanished_floor = max(vanished_floor, ?) WHERE id = ?",
        (new_floor, mailbox_id),
    )
    return int(removed)


def prune_all(txn: WriteTxn, cutoff: float, limit: int = STARTUP_PRUNE_LIMIT) -> int:
    """Prune every mailbox's log as `prune_mailbox` does, up to `limit` rows in all (run at
    start-up, so a mailbox nobody expunges from still sheds old history)."""
    conn = txn.conn
    candidates = [
        int(row[0])
        for row in conn.execute(
            "SELECT DISTINCT mailbox_id FROM changes WHERE logged_at IS NULL OR logged_at < ?",
            (cutoff,),
        )
    ]
    removed = 0
    for mailbox_id in candidates:
        while removed < limit:
            batch = prune_mailbox(conn, mailbox_id, cutoff)
            removed += batch
            if batch == 0:
                break
    return removed


def cutoff_for(retention: float) -> float:
    """The unix time before which change rows are old, for `retention` seconds."""
    return time.time() - retention


def expunge_and_prune(
    txn: WriteTxn, owner: Owner, mailbox_id: int, uids: Sequence[int] | None, *, retention: float
) -> list[int]:
    """EXPUNGE, then prune the mailbox's old history in the same transaction."""
    expunged = messages.expunge(txn, owner, mailbox_id, uids)
    if expunged:
        prune_mailbox(txn.conn, mailbox_id, cutoff_for(retention))
    return expunged


def move_and_prune(
    txn: WriteTxn,
    owner: Owner,
    mailbox_id: int,
    uids: Sequence[int],
    dest_name: str,
    *,
    retention: float,
) -> CopyResult:
    """MOVE (RFC 6851), then prune the source mailbox's old history in the same transaction."""
    result = messages.copy(txn, owner, mailbox_id, uids, dest_name, move=True)
    if result.source_uids:
        prune_mailbox(txn.conn, mailbox_id, cutoff_for(retention))
    return result


def _requested_state(
    operation: FlagOperation, old_bits: int, old_keywords: list[str], bits: int, wanted: list[str]
) -> tuple[int, set[str]]:
    new_bits, new_keywords = messages.apply_operation(
        operation, (old_bits, old_keywords), bits, wanted
    )
    return new_bits, {k.lower() for k in new_keywords}


def _touches_existing(
    operation: FlagOperation, bits: int, wanted: list[str], old_keywords: list[str]
) -> bool:
    """RFC 7162 §3.1.3: with UNCHANGEDSINCE 0 the STORE fails if a metadata item it touches
    exists; a system flag always exists, a keyword only when the message has it."""
    if operation is FlagOperation.REPLACE or bits:
        return True
    present = {k.lower() for k in old_keywords}
    return any(k.lower() in present for k in wanted)


def store_if_unchanged(
    txn: WriteTxn,
    owner: Owner,
    mailbox_id: int,
    uids: Sequence[int],
    *,
    operation: FlagOperation,
    flags: Iterable[str],
    unchanged_since: int,
) -> ConditionalStore:
    """STORE (UNCHANGEDSINCE n), RFC 7162 §3.1.3, atomically: messages whose modseq is above
    n are left alone and reported as modified, unless they already are in the requested
    state (then they are reported with their current flags, like the RFC's Example 10);
    the others get the flags as an ordinary STORE would."""
    conn = txn.conn
    row = mailbox_by_id(conn, owner.id, mailbox_id)
    flags = tuple(flags)
    bits, wanted_map = split_flags(flags)
    wanted = canonical_keywords(conn, row.id, wanted_map) if wanted_map else []
    current = conn.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = ?"
        " AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid",
        (row.id, uid_filter(uids)),
    ).fetchall()
    decode = FlagDecoder()
    passing: list[int] = []
    modified: list[int] = []
    already: list[MessageMeta] = []
    for uid, modseq, old_bits, old_text, date, size in current:
        old_keywords = decode_keywords(old_text)
        untouched = unchanged_since == 0 and not _touches_existing(
            operation, bits, wanted, old_keywords
        )
        if untouched or modseq <= unchanged_since:
            passing.append(uid)
        elif unchanged_since and _requested_state(
            operation, old_bits, old_keywords, bits, wanted
        ) == (old_bits, {k.lower() for k in old_keywords}):
            already.append(make_meta(decode, (uid, modseq, old_bits, old_text, date, size)))
        else:
            modified.append(uid)
    changed = messages.store_flags(
        txn, owner, mailbox_id, passing, operation=operation, flags=flags
    )
    return ConditionalStore(tuple(changed), tuple(modified), tuple(already))
