"""The sort values of each blob (tidings/core/sort_facts.py), written at ingest beside the
blob, so SORT reads one short row per message (issue 5: SORT of 100,000 messages without
decoding 100,000 facts). Blobs stored before schema version 5 have no row: SORT works their
values out from the facts, as it always did."""

from __future__ import annotations

from collections.abc import Sequence

from tidings.core.sort_facts import SortFacts
from tidings.storage.sqlite.records import mailbox_by_id, uid_filter
from tidings.storage.sqlite.sql import Connection

_COLUMNS = ("sent", "subject", "from_addr", "to_addr", "cc_addr", "display_from", "display_to")


def record(conn: Connection, blob_id: int, values: SortFacts) -> None:
    """Keep the sort values of the new blob `blob_id`."""
    conn.execute(
        f"INSERT INTO blob_sort (blob_id, {', '.join(_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            blob_id, values.sent, values.subject, values.from_, values.to, values.cc,
            values.display_from, values.display_to,
        ),
    )  # fmt: skip


def read_many(
    conn: Connection, account_id: int, mailbox_id: int, uids: Sequence[int]
) -> dict[int, SortFacts]:
    """The sort values of the messages among `uids` that have them (an expunged UID, or one
    stored before they were kept, is absent). NOTFOUND for another account's mailbox."""
    mailbox_by_id(conn, account_id, mailbox_id)
    rows = conn.execute(
        f"SELECT m.uid, {', '.join('s.' + column for column in _COLUMNS)}"
        " FROM messages m JOIN blob_sort s ON s.blob_id = m.blob_id"
        " WHERE m.mailbox_id = ? AND m.uid IN (SELECT value FROM json_each(?))",
        (mailbox_id, uid_filter(uids)),
    )
    return {
        int(uid): SortFacts(float(sent), subject, from_, to, cc, display_from, display_to)
        for uid, sent, subject, from_, to, cc, display_from, display_to in rows
    }
