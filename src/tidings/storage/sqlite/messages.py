"""Message-level operations: open, recent, change log, append, flags, expunge, copy, move,
read. Each function runs on a database thread inside a transaction opened by `Database`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from tidings.core import mime
from tidings.core.errors import MailError, MailErrorKind
from tidings.storage.api import (
    AppendManyResult,
    AppendResult,
    Change,
    ChangeKind,
    CopyResult,
    FlagOperation,
    MailboxSnapshot,
    MessageMeta,
)
from tidings.storage.sqlite import blobs, facts_cache, names
from tidings.storage.sqlite.database import WriteTxn
from tidings.storage.sqlite.flags import (
    DELETED,
    FlagDecoder,
    decode_keywords,
    encode_keywords,
    split_flags,
)
from tidings.storage.sqlite.mailboxes import mailbox_info
from tidings.storage.sqlite.quota import ensure_room
from tidings.storage.sqlite.records import (
    MESSAGE_COLUMNS,
    MailboxRow,
    Owner,
    allocate,
    canonical_keywords,
    copy_rows,
    log_change,
    mailbox_by_id,
    mailbox_by_name,
    make_meta,
    remove_rows,
    savedate_now,
    uid_filter,
)
from tidings.storage.sqlite.sql import Connection

if TYPE_CHECKING:
    from tidings.storage.sqlite.snapshots import SnapshotCache


def all_metas(conn: Connection, mailbox_id: int) -> tuple[MessageMeta, ...]:
    """Every message of the mailbox, ascending by UID."""
    # One range scan of the clustered primary key; shared flag sets keep this cheap for
    # large mailboxes (a 100k-message SELECT must not take seconds).
    decode = FlagDecoder()
    fromiso = datetime.fromisoformat
    rows = conn.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = ? ORDER BY uid",
        (mailbox_id,),
    ).fetchall()
    return tuple(
        MessageMeta(uid, modseq, decode(bits, keywords), fromiso(date), size)
        for uid, modseq, bits, keywords, date, size in rows
    )


def open_mailbox(
    conn: Connection, owner: Owner, name: str, snapshots: SnapshotCache | None = None
) -> MailboxSnapshot:
    """The mailbox and all its messages, ascending by UID, with no \\Recent claimed; from
    `snapshots` when it holds the mailbox (snapshots.py)."""
    row = mailbox_by_name(conn, owner.id, names.normalize(name))
    metas = all_metas(conn, row.id) if snapshots is None else snapshots.messages(conn, owner, row)
    return MailboxSnapshot(mailbox_info(conn, owner, row), metas, frozenset())


def open_held_mailbox(
    conn: Connection, owner: Owner, name: str, snapshots: SnapshotCache
) -> MailboxSnapshot | None:
    """`open_mailbox` when `snapshots` holds the mailbox, so that no message row is read
    (a small read); None when every message must be read."""
    row = mailbox_by_name(conn, owner.id, names.normalize(name))
    metas = snapshots.held_messages(conn, owner, row)
    if metas is None:
        return None
    return MailboxSnapshot(mailbox_info(conn, owner, row), metas, frozenset())


def _raise_floor(conn: Connection, row: MailboxRow, up_to_uid: int) -> None:
    conn.execute(
        "UPDATE mailboxes SET recent_floor = max(recent_floor, ?) WHERE id = ?",
        (up_to_uid, row.id),
    )


def claim_recent(txn: WriteTxn, owner: Owner, mailbox_id: int, up_to_uid: int) -> frozenset[int]:
    """The UIDs in (recent floor, up_to_uid] that exist; raises the floor to `up_to_uid`,
    so exactly one session gets each message as \\Recent (RFC 3501 §2.3.2)."""
    row = mailbox_by_id(txn.conn, owner.id, mailbox_id)
    if up_to_uid <= row.recent_floor:
        return frozenset()
    won = txn.conn.execute(
        "SELECT uid FROM messages WHERE mailbox_id = ? AND uid > ? AND uid <= ?",
        (row.id, row.recent_floor, up_to_uid),
    )
    result = frozenset(int(r[0]) for r in won)
    _raise_floor(txn.conn, row, min(up_to_uid, row.uidnext - 1))
    return result


def changes_since(conn: Connection, owner: Owner, mailbox_id: int, modseq: int) -> list[Change]:
    """Change-log rows after `modseq`, ascending by (modseq, uid)."""
    mailbox_by_id(conn, owner.id, mailbox_id)
    decode = FlagDecoder()
    rows = conn.execute(
        "SELECT modseq, uid, kind, sysflags, keywords, internaldate, size FROM changes"
        " WHERE mailbox_id = ? AND modseq > ? ORDER BY modseq, uid",
        (mailbox_id, modseq),
    )
    changes = []
    for change_modseq, uid, kind, bits, keywords, date, size in rows:
        change_kind = ChangeKind(kind)
        meta = None
        if change_kind is not ChangeKind.EXPUNGE:
            meta = make_meta(decode, (uid, change_modseq, bits, keywords, date, size))
        changes.append(Change(change_modseq, uid, change_kind, meta))
    return changes


def append(
    txn: WriteTxn,
    owner: Owner,
    name: str,
    message: blobs.PreparedMessage,
    *,
    flags: Iterable[str],
    internaldate: datetime,
) -> AppendResult:
    """Store a prepared message in `name` with `flags`, as one new UID and modseq."""
    result = append_many(txn, owner, name, [(message, tuple(flags), internaldate)])
    return AppendResult(result.uidvalidity, result.uids[0])


PreparedAppend = tuple[blobs.PreparedMessage, Iterable[str], datetime]


def append_many(
    txn: WriteTxn,
    owner: Owner,
    name: str,
    items: Sequence[PreparedAppend],
    *,
    uids: Sequence[int] | None = None,
) -> AppendManyResult:
    """Store prepared (message, flags, internaldate) items in `name`, all or none (RFC 3502
    §3): one quota check for the total, consecutive UIDs in order, one shared modseq.
    With `uids` (ascending, one per item: an import keeping the source's), those UIDs are
    used instead; CANNOT if the first is below the mailbox's UIDNEXT. Each message gets
    `$HasAttachment` or `$HasNoAttachment` (mime.with_attachment_keyword): every ingest
    path (APPEND, LMTP, deliver, import) comes here, COPY and MOVE do not."""
    conn = txn.conn
    row = mailbox_by_name(conn, owner.id, names.normalize(name))
    ensure_room(conn, owner, sum(message.size for message, _, _ in items), len(items))
    if uids is None:
        first_uid, modseq = allocate(conn, row.id, len(items))
        uids = tuple(range(first_uid, first_uid + len(items)))
    else:
        uids = tuple(uids)
        if uids[0] < row.uidnext:
            raise MailError(
                MailErrorKind.CANNOT, f"UID {uids[0]} is below the mailbox's UIDNEXT {row.uidnext}"
            )
        first_uid, modseq = allocate(conn, row.id, uids[-1] - row.uidnext + 1)
    for uid, item in zip(uids, items, strict=True):
        _insert_message(conn, row, uid, modseq, item)
    txn.notify(owner.address, row.id, modseq)
    return AppendManyResult(row.uidvalidity, uids)


def _insert_message(
    conn: Connection,
    row: MailboxRow,
    uid: int,
    modseq: int,
    item: PreparedAppend,
) -> None:
    message, flags, internaldate = item
    blob_id = blobs.put(conn, message)
    bits, wanted = split_flags(mime.with_attachment_keyword(flags, message.has_attachment))
    keywords = encode_keywords(canonical_keywords(conn, row.id, wanted))
    date = internaldate.isoformat()
    conn.execute(
        "INSERT INTO messages (mailbox_id, uid, modseq, sysflags, keywords, internaldate,"
        " size, blob_id, savedate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (row.id, uid, modseq, bits, keywords, date, message.size, blob_id, savedate_now()),
    )
    log_change(
        conn, row.id, modseq, uid, ChangeKind.APPEND, state=(bits, keywords, date, message.size)
    )


def apply_operation(
    operation: FlagOperation,
    old: tuple[int, list[str]],
    bits: int,
    keywords: list[str],
    keep: int = 0,
) -> tuple[int, list[str]]:
    """The (bits, keywords) a STORE `operation` leaves on a message that had `old`; a
    REPLACE leaves the system flags in `keep` as they were (another user's \\Seen)."""
    old_bits, old_keywords = old
    if operation is FlagOperation.REPLACE:
        return bits | (old_bits & keep), keywords
    if operation is FlagOperation.ADD:
        merged = {k.lower(): k for k in old_keywords}
        for keyword in keywords:
            merged.setdefault(keyword.lower(), keyword)
        return old_bits | bits, list(merged.values())
    removed = {k.lower() for k in keywords}
    return old_bits & ~bits, [k for k in old_keywords if k.lower() not in removed]


def store_flags(
    txn: WriteTxn,
    owner: Owner,
    mailbox_id: int,
    uids: Sequence[int],
    *,
    operation: FlagOperation,
    flags: Iterable[str],
    keep: int = 0,
) -> list[MessageMeta]:
    """Change the flags of the existing `uids`; return those that changed, with one new
    modseq shared by all of them (RFC 7162 §3.1 allows that within one command). A
    REPLACE leaves the system flags in `keep` alone."""
    conn = txn.conn
    row = mailbox_by_id(conn, owner.id, mailbox_id)
    bits, wanted = split_flags(flags)
    keywords = canonical_keywords(conn, row.id, wanted) if wanted else []
    current = conn.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = ?"
        " AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid",
        (row.id, uid_filter(uids)),
    ).fetchall()
    changed = []
    for uid, _modseq, old_bits, old_text, date, size in current:
        new_bits, new_keywords = apply_operation(
            operation, (old_bits, decode_keywords(old_text)), bits, keywords, keep
        )
        new_text = encode_keywords(new_keywords)
        if (new_bits, new_text) != (old_bits, old_text):
            changed.append((uid, new_bits, new_text, date, size))
    if not changed:
        return []
    _, modseq = allocate(conn, row.id, 0)
    conn.executemany(
        "UPDATE messages SET sysflags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ?"
        " AND uid = ?",
        ((new_bits, new_text, modseq, row.id, uid) for uid, new_bits, new_text, _, _ in changed),
    )
    decode = FlagDecoder()
    result = []
    for uid, new_bits, new_text, date, size in changed:
        state = (new_bits, new_text, date, size)
        log_change(conn, row.id, modseq, uid, ChangeKind.FLAGS, state=state)
        result.append(make_meta(decode, (uid, modseq, *state)))
    txn.notify(owner.address, row.id, modseq)
    return result


def expunge(txn: WriteTxn, owner: Owner, mailbox_id: int, uids: Sequence[int] | None) -> list[int]:
    """Remove the \\Deleted messages (among `uids` if given); the removed UIDs, ascending."""
    conn = txn.conn
    row = mailbox_by_id(conn, owner.id, mailbox_id)
    query = "SELECT uid FROM messages WHERE mailbox_id = ? AND (sysflags & ?) != 0"
    params: tuple[object, ...] = (row.id, DELETED)
    if uids is not None:
        query += " AND uid IN (SELECT value FROM json_each(?))"
        params += (uid_filter(uids),)
    doomed = [int(r[0]) for r in conn.execute(query + " ORDER BY uid", params)]
    modseq = remove_rows(conn, row.id, doomed)
    if modseq:
        txn.notify(owner.address, row.id, modseq)
    return doomed


def copy(
    txn: WriteTxn, owner: Owner, mailbox_id: int, uids: Sequence[int], dest_name: str, *, move: bool
) -> CopyResult:
    """COPY (RFC 9051 §6.4.7), or MOVE (RFC 6851) when `move`: both in one transaction.

    A copy must fit in the quota as a whole or nothing is copied (RFC 9208 §4.1: OVERQUOTA);
    a move leaves usage as it was, so it is never refused for quota."""
    conn = txn.conn
    source = mailbox_by_id(conn, owner.id, mailbox_id)
    dest = mailbox_by_name(conn, owner.id, names.normalize(dest_name))
    if not move:
        octets, count = conn.execute(
            "SELECT coalesce(sum(size), 0), count(*) FROM messages WHERE mailbox_id = ?"
            " AND uid IN (SELECT value FROM json_each(?))",
            (source.id, uid_filter(uids)),
        ).fetchone()
        if count:
            ensure_room(conn, owner, int(octets), int(count))
    source_uids, dest_uids, dest_modseq = copy_rows(conn, source, uids, dest)
    if dest_modseq:
        txn.notify(owner.address, dest.id, dest_modseq)
    if move and source_uids:
        txn.notify(owner.address, source.id, remove_rows(conn, source.id, source_uids))
    return CopyResult(dest.uidvalidity, tuple(source_uids), tuple(dest_uids))


def _blob_of(conn: Connection, owner: Owner, mailbox_id: int, uid: int) -> tuple[int, bytes]:
    """The blob id and the stored facts column of a message; NOTFOUND if the mailbox is
    not the account's, EXPUNGED if the message is gone. One statement when it is there
    (FETCH reads a message at a time)."""
    row = conn.execute(
        "SELECT b.id, b.facts FROM messages m JOIN mailboxes x ON x.id = m.mailbox_id"
        " JOIN blobs b ON b.id = m.blob_id"
        " WHERE m.mailbox_id = ? AND m.uid = ? AND x.account_id = ?",
        (mailbox_id, uid, owner.id),
    ).fetchone()
    if row is None:
        mailbox_by_id(conn, owner.id, mailbox_id)  # NOTFOUND, or else:
        raise MailError(MailErrorKind.EXPUNGED, "Message was expunged")
    return int(row[0]), bytes(row[1])


def read_message(conn: Connection, owner: Owner, mailbox_id: int, uid: int) -> bytes:
    """The raw message; EXPUNGED if it is gone."""
    blob_id, _facts = _blob_of(conn, owner, mailbox_id, uid)
    return blobs.body(conn, blob_id)


def read_facts(conn: Connection, owner: Owner, mailbox_id: int, uid: int) -> mime.MessageFacts:
    """The facts parsed at append; EXPUNGED if the message is gone."""
    return facts_cache.facts_for(_blob_of(conn, owner, mailbox_id, uid)[1])


def read_facts_many(
    conn: Connection, owner: Owner, mailbox_id: int, uids: Sequence[int]
) -> dict[int, mime.MessageFacts]:
    """The facts of the existing messages among `uids` in one query (SORT and THREAD read
    thousands); an expunged UID is simply absent."""
    mailbox_by_id(conn, owner.id, mailbox_id)
    rows = conn.execute(
        "SELECT m.uid, b.facts FROM messages m JOIN blobs b ON b.id = m.blob_id"
        " WHERE m.mailbox_id = ? AND m.uid IN (SELECT value FROM json_each(?))",
        (mailbox_id, uid_filter(uids)),
    )
    # Not kept in facts_cache: the bulk readers (SORT and THREAD of a whole mailbox, an
    # import's duplicate check) would only push out what FETCH and SEARCH reuse.
    return {int(uid): blobs.load_facts(bytes(facts)) for uid, facts in rows}


def read_messages_many(
    conn: Connection, owner: Owner, mailbox_id: int, uids: Sequence[int]
) -> dict[int, tuple[bytes, mime.MessageFacts]]:
    """Raw bytes and facts of the existing messages among `uids`, in one query (SEARCH
    reads them a chunk at a time); an expunged UID is simply absent."""
    mailbox_by_id(conn, owner.id, mailbox_id)
    rows = conn.execute(
        "SELECT m.uid, b.id, b.facts FROM messages m JOIN blobs b ON b.id = m.blob_id"
        " WHERE m.mailbox_id = ? AND m.uid IN (SELECT value FROM json_each(?))",
        (mailbox_id, uid_filter(uids)),
    ).fetchall()
    raw = blobs.bodies(conn, (int(blob_id) for _uid, blob_id, _facts in rows))
    return {
        int(uid): (raw[int(blob_id)], facts_cache.facts_for(bytes(facts)))
        for uid, blob_id, facts in rows
    }
