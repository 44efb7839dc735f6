"""Row-level helpers shared by the mailbox and message operations.

Every function here runs on a database thread inside a transaction opened by `Database`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tidings.core.errors import MailError, MailErrorKind
from tidings.storage.api import ChangeKind, MessageMeta
from tidings.storage.sqlite import blobs
from tidings.storage.sqlite.flags import FlagDecoder, decode_keywords, encode_keywords
from tidings.storage.sqlite.sql import Connection

# UIDs and UIDVALIDITY are nz-number, a 32-bit unsigned value (RFC 9051 §9 `number`).
MAX_UID = 2**32 - 1

MAILBOX_COLUMNS = "id, name, uidvalidity, uidnext, highestmodseq, recent_floor, special_use"
MESSAGE_COLUMNS = "uid, modseq, sysflags, keywords, internaldate, size"


@dataclass(frozen=True, slots=True)
class Owner:
    """The account an operation acts for: its address (for notices) and row id."""

    address: str
    id: int


@dataclass(frozen=True, slots=True)
class MailboxRow:
    """A mailbox row as read inside the current transaction."""

    id: int
    name: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    recent_floor: int
    special_use: str | None


def mailbox_by_name(conn: Connection, account_id: int, name: str) -> MailboxRow:
    """The mailbox `name` (already normalised) of the account; NOTFOUND if none."""
    row = conn.execute(
        f"SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE account_id = ? AND name = ?",
        (account_id, name),
    ).fetchone()
    if row is None:
        raise MailError(MailErrorKind.NOTFOUND, f"Mailbox doesn't exist: {name}")
    return MailboxRow(*row)


def mailbox_by_id(conn: Connection, account_id: int, mailbox_id: int) -> MailboxRow:
    """The mailbox `mailbox_id`, only if it belongs to the account; NOTFOUND otherwise."""
    row = conn.execute(
        f"SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE account_id = ? AND id = ?",
        (account_id, mailbox_id),
    ).fetchone()
    if row is None:
        raise MailError(MailErrorKind.NOTFOUND, "Mailbox doesn't exist")
    return MailboxRow(*row)


def new_uidvalidity(conn: Connection) -> int:
    """A UIDVALIDITY never handed out before in this database: the current time, or one
    more than the last one if that is not larger, so a mailbox deleted and recreated within
    the same second still gets a new value (RFC 9051 §2.3.1.1)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'last_uidvalidity'").fetchone()
    last = int(row[0]) if row else 0
    value = max(int(time.time()), last + 1)
    if value > MAX_UID:
        raise MailError(MailErrorKind.LIMIT, "UIDVALIDITY space exhausted")
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('last_uidvalidity', ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(value),),  # text, which SQLite stores as an integer (column affinity)
    )
    return value


def allocate(conn: Connection, mailbox_id: int, uid_count: int) -> tuple[int, int]:
    """Reserve `uid_count` UIDs and one new MODSEQ in the mailbox; (first uid, modseq).

    One modseq per command and mailbox: RFC 7162 §3.1 lets messages changed together share it.
    """
    uidnext, modseq = conn.execute(
        "UPDATE mailboxes SET uidnext = uidnext + ?, highestmodseq = highestmodseq + 1"
        " WHERE id = ? RETURNING uidnext, highestmodseq",
        (uid_count, mailbox_id),
    ).fetchone()
    if uidnext - 1 > MAX_UID:
        raise MailError(MailErrorKind.LIMIT, "Mailbox UID space exhausted")
    return int(uidnext) - uid_count, int(modseq)


def uid_filter(uids: Sequence[int]) -> str:
    """The JSON array `json_each` expands: one bound parameter for any number of UIDs."""
    return json.dumps(list(uids))


def canonical_keywords(conn: Connection, mailbox_id: int, keywords: dict[str, str]) -> list[str]:
    """The mailbox's spelling of each keyword ({folded: as given}), recording new ones."""
    result = []
    for folded, given in keywords.items():
        conn.execute(
            "INSERT INTO mailbox_keywords (mailbox_id, folded, name) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (mailbox_id, folded, given),
        )
        row = conn.execute(
            "SELECT name FROM mailbox_keywords WHERE mailbox_id = ? AND folded = ?",
            (mailbox_id, folded),
        ).fetchone()
        result.append(str(row[0]))
    return result


def log_change(
    conn: Connection,
    mailbox_id: int,
    modseq: int,
    uid: int,
    kind: ChangeKind,
    *,
    state: tuple[int, str, str, int] | None = None,
) -> None:
    """Add a change-log row; `state` is (sysflags, keywords, internaldate, size) after it.
    `logged_at` (unix time) is what pruning goes by (see changelog.py)."""
    sysflags, keywords, internaldate, size = state if state else (None, None, None, None)
    conn.execute(
        "INSERT INTO changes (mailbox_id, modseq, uid, kind, sysflags, keywords,"
        " internaldate, size, logged_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            mailbox_id,
            modseq,
            uid,
            kind.value,
            sysflags,
            keywords,
            internaldate,
            size,
            int(time.time()),
        ),
    )


def savedate_now() -> str:
    """The RFC 8514 save date of a message stored now, as `messages.savedate` holds it:
    ISO 8601 in UTC, to the second like INTERNALDATE."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def make_meta(decode: FlagDecoder, row: tuple[int, int, int, str, str, int]) -> MessageMeta:
    """A MessageMeta from stored columns (in MESSAGE_COLUMNS order)."""
    uid, modseq, bits, keywords, date, size = row
    return MessageMeta(uid, modseq, decode(bits, keywords), datetime.fromisoformat(date), size)


def copy_rows(
    conn: Connection, source: MailboxRow, uids: Sequence[int], dest: MailboxRow
) -> tuple[list[int], list[int], int]:
    """Copy the existing messages among `uids` from `source` to `dest`, sharing blobs and
    keeping flags and dates; new UIDs follow ascending source UIDs (RFC 4315 COPYUID).
    Returns (source uids, dest uids, dest modseq); modseq 0 if nothing was copied."""
    rows = conn.execute(
        "SELECT uid, sysflags, keywords, internaldate, size, blob_id FROM messages"
        " WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid",
        (source.id, uid_filter(uids)),
    ).fetchall()
    if not rows:
        return [], [], 0
    first_uid, modseq = allocate(conn, dest.id, len(rows))
    savedate = savedate_now()  # RFC 8514 §1: a copy or move is saved anew
    spelling: dict[str, str] = {}
    source_uids, dest_uids = [], []
    for offset, (uid, bits, stored_keywords, date, size, blob_id) in enumerate(rows):
        keywords = stored_keywords
        if keywords and dest.id != source.id:
            # The destination may already know a keyword in another spelling.
            given = decode_keywords(keywords)
            missing = {k.lower(): k for k in given if k.lower() not in spelling}
            spelling.update(zip(missing, canonical_keywords(conn, dest.id, missing), strict=True))
            keywords = encode_keywords(spelling[k.lower()] for k in given)
        new_uid = first_uid + offset
        conn.execute(
            "INSERT INTO messages (mailbox_id, uid, modseq, sysflags, keywords, internaldate,"
            " size, blob_id, savedate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (dest.id, new_uid, modseq, bits, keywords, date, size, blob_id, savedate),
        )
        log_change(
            conn, dest.id, modseq, new_uid, ChangeKind.APPEND, state=(bits, keywords, date, size)
        )
        source_uids.append(uid)
        dest_uids.append(new_uid)
    return source_uids, dest_uids, modseq


def remove_rows(conn: Connection, mailbox_id: int, uids: Sequence[int]) -> int:
    """Expunge those of `uids` that exist, with EXPUNGE log rows, freeing blobs no longer
    referenced. Returns the new modseq, 0 if nothing was removed."""
    if not uids:
        return 0
    removed = conn.execute(
        "DELETE FROM messages WHERE mailbox_id = ? AND uid IN"
        " (SELECT value FROM json_each(?)) RETURNING uid, blob_id",
        (mailbox_id, uid_filter(uids)),
    ).fetchall()
    if not removed:
        return 0
    _, modseq = allocate(conn, mailbox_id, 0)
    for uid, _blob_id in sorted(removed):
        log_change(conn, mailbox_id, modseq, uid, ChangeKind.EXPUNGE)
    blobs.collect(conn, (blob_id for _uid, blob_id in removed))
    return modseq


def drop_mailbox(conn: Connection, mailbox_id: int) -> None:
    """Delete a mailbox with its messages, change log and keywords; free unshared blobs."""
    blob_ids = [
        int(row[0])
        for row in conn.execute(
            "DELETE FROM messages WHERE mailbox_id = ? RETURNING blob_id", (mailbox_id,)
        )
    ]
    conn.execute("DELETE FROM changes WHERE mailbox_id = ?", (mailbox_id,))
    conn.execute("DELETE FROM mailbox_keywords WHERE mailbox_id = ?", (mailbox_id,))
    conn.execute("DELETE FROM metadata WHERE mailbox_id = ?", (mailbox_id,))  # RFC 5464
    conn.execute("DELETE FROM mailboxes WHERE id = ?", (mailbox_id,))
    blobs.collect(conn, blob_ids)
