"""`Database.read_shared`: identical reads asked for while one has not started yet share
it (fifty IDLE sessions woken by one delivery read the change log once); a read asked for
after a commit always sees it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

from tidings.storage.sqlite.database import READER_THREADS, Database, WriteTxn

calls: list[int] = []
lock = threading.Lock()


def slow_count(conn: sqlite3.Connection, label: str) -> int:
    with lock:
        calls.append(1)
    time.sleep(0.2)
    return int(conn.execute("SELECT count(*) FROM meta").fetchone()[0])


def add_row(txn: WriteTxn, key: str) -> None:
    txn.conn.execute("INSERT INTO meta (key, value) VALUES (?, 1)", (key,))


def test_queued_identical_reads_share_one_run_and_later_reads_see_commits(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        db = await Database.open(tmp_path / "mail.db", None)
        try:
            before = await db.read(
                lambda conn: conn.execute("SELECT count(*) FROM meta").fetchone()[0]
            )
            wanted = READER_THREADS * 3
            results = await asyncio.gather(
                *(db.read_shared(slow_count, "x") for _ in range(wanted))
            )
            assert results == [before] * wanted
            assert len(calls) < wanted, calls  # the queued ones joined a pending read
            await db.write(add_row, "new-row")
            assert await db.read_shared(slow_count, "x") == before + 1  # a fresh snapshot
        finally:
            await db.close()

    asyncio.run(main())
