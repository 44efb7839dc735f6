"""RFC 8474 object ids (MAILBOXID, EMAILID, THREADID) and RFC 8514 save dates, derived from
what the schema already holds, so no column or table is needed for them.

- The ids are keyed HMAC-SHA-256 digests, truncated to 96 bits and written as a letter and
  24 lowercase hex digits (RFC 8474 §7: `objectid = 1*255(ALPHA / DIGIT / "_" / "-")`).
  The key is a random number made once per database (`meta.objectid_secret`), so ids are
  neither sequence numbers nor guessable, and the same message in two accounts gets two
  unrelated EMAILIDs.
- MAILBOXID ("F..."): of the mailbox row id and its UIDVALIDITY. RENAME keeps both, so the id
  survives it (§4); a mailbox deleted and created again gets a new UIDVALIDITY, so a new id
  even if SQLite reuses the row id.
- EMAILID ("M..."): of the account and the SHA-256 of the message bytes (the blob digest).
  COPY and MOVE share the blob, so the copy has the same EMAILID (§5.1); a message appended
  twice with identical bytes also shares it, which §5.1 allows for identical content.
- THREADID ("T..."): of the account and the thread root message-id (core/mime/threadroot.py);
  a message that names no root is a thread of its own (keyed by its digest).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime

from tidings.core import mime
from tidings.storage.api import MessageObjectIds
from tidings.storage.sqlite import blobs
from tidings.storage.sqlite.database import WriteTxn
from tidings.storage.sqlite.records import Owner, mailbox_by_id, uid_filter
from tidings.storage.sqlite.sql import Connection

SECRET_KEY = "objectid_secret"
# 96 bits: collisions are out of reach for any mailbox count, and the ids stay short.
ID_HEX_DIGITS = 24


def ensure_secret(txn: WriteTxn) -> None:
    """Create the database's object-id key if it has none (once, at open)."""
    txn.conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
        (SECRET_KEY, str(secrets.randbits(62))),  # SQLite stores it as an integer
    )


def has_secret(conn: Connection) -> bool:
    """Whether the key exists (so opening needs no write)."""
    return conn.execute("SELECT 1 FROM meta WHERE key = ?", (SECRET_KEY,)).fetchone() is not None


def _key(conn: Connection) -> bytes:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (SECRET_KEY,)).fetchone()
    return str(row[0] if row else 0).encode()


def _token(key: bytes, prefix: str, *parts: object) -> str:
    text = "\0".join(part.hex() if isinstance(part, bytes) else str(part) for part in parts)
    digest = hmac.new(key, f"{prefix}\0{text}".encode("utf-8", "surrogateescape"), hashlib.sha256)
    return prefix + digest.hexdigest()[:ID_HEX_DIGITS]


def mailbox_objectid(conn: Connection, mailbox_id: int, uidvalidity: int) -> str:
    """The MAILBOXID of a mailbox row (RFC 8474 §4)."""
    return _token(_key(conn), "F", mailbox_id, uidvalidity)


def _thread_root(conn: Connection, blob_id: int, facts_column: bytes) -> str:
    facts = blobs.load_facts(facts_column)
    if facts.thread_root is None:  # facts stored before they had it: derive it now
        facts = mime.with_derived_text(blobs.body(conn, blob_id), facts)
    return facts.thread_root or ""


def object_ids(
    conn: Connection, owner: Owner, mailbox_id: int, uids: Sequence[int]
) -> dict[int, MessageObjectIds]:
    """EMAILID and THREADID of the existing messages among `uids` (RFC 8474 §5)."""
    mailbox_by_id(conn, owner.id, mailbox_id)
    key = _key(conn)
    rows = conn.execute(
        "SELECT m.uid, b.id, b.digest, b.facts FROM messages m JOIN blobs b ON b.id = m.blob_id"
        " WHERE m.mailbox_id = ? AND m.uid IN (SELECT value FROM json_each(?))",
        (mailbox_id, uid_filter(uids)),
    ).fetchall()
    result = {}
    for uid, blob_id, digest_column, facts_column in rows:
        digest = bytes(digest_column)
        root = _thread_root(conn, int(blob_id), bytes(facts_column))
        result[int(uid)] = MessageObjectIds(
            emailid=_token(key, "M", owner.id, digest),
            threadid=_token(key, "T", owner.id, root if root else digest),
        )
    return result


def savedates(
    conn: Connection, owner: Owner, mailbox_id: int, uids: Sequence[int] | None
) -> dict[int, datetime | None]:
    """The save date of each existing message among `uids` (all when None); None for rows
    stored before schema version 3 (RFC 8514 §2: SAVEDATE is then NIL)."""
    mailbox_by_id(conn, owner.id, mailbox_id)
    if uids is None:
        rows = conn.execute(
            "SELECT uid, savedate FROM messages WHERE mailbox_id = ?", (mailbox_id,)
        )
    else:
        rows = conn.execute(
            "SELECT uid, savedate FROM messages WHERE mailbox_id = ?"
            " AND uid IN (SELECT value FROM json_each(?))",
            (mailbox_id, uid_filter(uids)),
        )
    return {int(uid): datetime.fromisoformat(value) if value else None for uid, value in rows}
