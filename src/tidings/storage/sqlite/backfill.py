"""`tidings db index`: the full-text texts and SORT values of mail stored before the index
existed (schema version 5), filled in a small batch at a time, newest first.

Blobs below the meta row `text_index_floor` have no `blob_text` (nor `blob_sort`) row;
SEARCH reads those messages (text_index.py). Each batch indexes the highest blobs below the
floor and lowers the floor past them in the same transaction, so at every moment "below
the floor" is exactly "not indexed", and a backfill stopped half-way loses nothing.
Batches are small because each holds the store's write lock while it parses.
"""

from __future__ import annotations

from tidings.storage.sqlite import blobs, text_index
from tidings.storage.sqlite.database import WriteTxn

BACKFILL_BATCH = 32
"""Blobs one transaction indexes: with about 2 ms of parsing each, the write lock is held for
well under a second."""


def index_batch(txn: WriteTxn, batch: int = BACKFILL_BATCH) -> tuple[int, int]:
    """Index up to `batch` of the blobs below the floor, the highest first, and lower the
    floor past them; (how many were indexed, how many are left below the new floor)."""
    conn = txn.conn
    floor = text_index.floor(conn)
    rows = conn.execute(
        "SELECT id, facts FROM blobs WHERE id < ? ORDER BY id DESC LIMIT ?", (floor, batch)
    ).fetchall()
    if not rows:
        return 0, 0
    raws = blobs.bodies(conn, (int(blob_id) for blob_id, _ in rows))
    for blob_id, stored_facts in rows:
        facts = blobs.load_facts(bytes(stored_facts))
        blobs.record_derived(conn, int(blob_id), *blobs.derived(raws[int(blob_id)], facts))
    lowest = min(int(blob_id) for blob_id, _ in rows)
    conn.execute(
        "UPDATE meta SET value = ? WHERE key = 'text_index_floor'",
        (str(lowest),),  # text, which SQLite stores as an integer (column affinity)
    )
    left = conn.execute("SELECT count(*) FROM blobs WHERE id < ?", (lowest,)).fetchone()
    return len(rows), int(left[0])
