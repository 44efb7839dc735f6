"""RFC 5464 METADATA entries in the `metadata` table (schema version 3).

Rows are (account_id, mailbox_id, entry, value); mailbox_id 0 holds the server entries.
Entry names arrive lower-cased and validated by the protocol layer. A mailbox's entries
follow its row id, so RENAME keeps them; `records.drop_mailbox` deletes them with the
mailbox and account removal with the account.
"""

from __future__ import annotations

from collections.abc import Sequence

from tidings.core.errors import MailError, MailErrorKind
from tidings.storage.api import MetadataDepth, MetadataLimits
from tidings.storage.sqlite import names
from tidings.storage.sqlite.database import WriteTxn
from tidings.storage.sqlite.records import Owner, mailbox_by_name
from tidings.storage.sqlite.sql import Connection

SERVER = 0  # mailbox_id of the server entries (RFC 5464 §3.1: mailbox name "")

TOOMANY_REASON = "Too many metadata entries"
TOTAL_REASON = "Metadata storage limit reached"


def _mailbox_id(conn: Connection, owner: Owner, mailbox: str | None) -> int:
    if mailbox is None:
        return SERVER
    return mailbox_by_name(conn, owner.id, names.normalize(mailbox)).id


def _below(entry: str, depth: MetadataDepth, candidate: str) -> bool:
    if candidate == entry:
        return True
    if depth is MetadataDepth.ZERO or not candidate.startswith(entry + "/"):
        return False
    return depth is MetadataDepth.INFINITY or "/" not in candidate[len(entry) + 1 :]


def get_metadata(
    conn: Connection,
    owner: Owner,
    mailbox: str | None,
    entries: Sequence[str],
    depth: MetadataDepth,
) -> list[tuple[str, bytes]]:
    """The stored entries named by `entries` or below them to `depth` (RFC 5464 §4.2.2)."""
    mailbox_id = _mailbox_id(conn, owner, mailbox)
    found: dict[str, bytes] = {}
    for entry in entries:
        # "/" is 0x2F and "0" 0x30: entry + "/" <= name < entry + "0" is the subtree.
        rows = conn.execute(
            "SELECT entry, value FROM metadata WHERE account_id = ? AND mailbox_id = ?"
            " AND (entry = ? OR (entry > ? AND entry < ?))",
            (owner.id, mailbox_id, entry, entry + "/", entry + "0"),
        )
        for name, value in rows:
            if _below(entry, depth, str(name)):
                found[str(name)] = bytes(value)
    return sorted(found.items())


def set_metadata(
    txn: WriteTxn,
    owner: Owner,
    mailbox: str | None,
    changes: Sequence[tuple[str, bytes | None]],
    limits: MetadataLimits,
) -> None:
    """Apply `changes` (value None removes) in this transaction; LIMIT (changing nothing)
    if the mailbox would hold more than `limits.max_entries` entries or the account more
    than `limits.max_total_size` octets of names and values (RFC 5464 §4.3 TOOMANY)."""
    conn = txn.conn
    mailbox_id = _mailbox_id(conn, owner, mailbox)
    for entry, value in changes:
        if value is None:
            conn.execute(
                "DELETE FROM metadata WHERE account_id = ? AND mailbox_id = ? AND entry = ?",
                (owner.id, mailbox_id, entry),
            )
        else:
            conn.execute(
                "INSERT INTO metadata (account_id, mailbox_id, entry, value) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (account_id, mailbox_id, entry) DO UPDATE SET value = excluded.value",
                (owner.id, mailbox_id, entry, value),
            )
    if any(value is not None for _, value in changes):
        _check_limits(conn, owner, mailbox_id, limits)
    # No ChangeNotice: annotations are not in the change log, and only this process writes
    # them; the IMAP layer publishes NOTIFY's MetadataNotice (RFC 5465 §5.6, §5.7) itself.


def _check_limits(conn: Connection, owner: Owner, mailbox_id: int, limits: MetadataLimits) -> None:
    (count,) = conn.execute(
        "SELECT count(*) FROM metadata WHERE account_id = ? AND mailbox_id = ?",
        (owner.id, mailbox_id),
    ).fetchone()
    if count > limits.max_entries:
        raise MailError(MailErrorKind.LIMIT, TOOMANY_REASON)
    (total,) = conn.execute(
        "SELECT coalesce(sum(length(CAST(entry AS BLOB)) + length(value)), 0) FROM metadata"
        " WHERE account_id = ?",
        (owner.id,),
    ).fetchone()
    if total > limits.max_total_size:
        raise MailError(MailErrorKind.LIMIT, TOTAL_REASON)


def drop_account(conn: Connection, account_id: int) -> None:
    """Delete every entry of an account (server and mailboxes)."""
    conn.execute("DELETE FROM metadata WHERE account_id = ?", (account_id,))
