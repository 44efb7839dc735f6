"""What POP3 needs from the store: INBOX with wire sizes at login (RFC 1939 §4), and the
removal of exactly the messages marked for deletion in the UPDATE state (RFC 1939 §6)."""

from __future__ import annotations

from collections.abc import Sequence

from tidings.storage.api import Maildrop, MaildropEntry
from tidings.storage.sqlite import names
from tidings.storage.sqlite.database import WriteTxn
from tidings.storage.sqlite.mailboxes import mailbox_info
from tidings.storage.sqlite.records import (
    Owner,
    mailbox_by_id,
    mailbox_by_name,
    remove_rows,
    uid_filter,
)
from tidings.storage.sqlite.sql import Connection


def open_maildrop(conn: Connection, owner: Owner) -> Maildrop:
    """INBOX and each message's (uid, wire size), from one read transaction."""
    row = mailbox_by_name(conn, owner.id, names.INBOX)
    entries = conn.execute(
        "SELECT m.uid, b.wire_size FROM messages m JOIN blobs b ON b.id = m.blob_id"
        " WHERE m.mailbox_id = ? ORDER BY m.uid",
        (row.id,),
    ).fetchall()
    return Maildrop(
        mailbox_info(conn, owner, row),
        tuple(MaildropEntry(int(uid), int(wire_size)) for uid, wire_size in entries),
    )


def delete_messages(txn: WriteTxn, owner: Owner, mailbox_id: int, uids: Sequence[int]) -> list[int]:
    """Expunge exactly those of `uids` still there, whatever their flags, logging EXPUNGE
    changes and notifying like `expunge`; the removed UIDs, ascending."""
    conn = txn.conn
    row = mailbox_by_id(conn, owner.id, mailbox_id)
    present = [
        int(found[0])
        for found in conn.execute(
            "SELECT uid FROM messages WHERE mailbox_id = ?"
            " AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid",
            (row.id, uid_filter(uids)),
        )
    ]
    modseq = remove_rows(conn, row.id, present)
    if modseq:
        txn.notify(owner.address, row.id, modseq)
    return present
