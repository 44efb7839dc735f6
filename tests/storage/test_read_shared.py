"""Where SQLite reads run (issue 5), and `read_shared`. On a file, `read_small` and
`read_shared` run on the event loop's thread, each in a read transaction of its own that
sees every commit made before it was asked for, while `read` goes to a reader thread.
Identical `read_shared` reads asked for while one has not started yet share it (fifty IDLE
sessions woken by one delivery read the change log once), on a file and in memory."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tidings.core.errors import MailError, MailErrorKind
from tidings.storage.sqlite.database import READER_THREADS, Database, WriteTxn

calls: list[int] = []
lock = threading.Lock()


def slow_count(conn: sqlite3.Connection, label: str) -> int:
    with lock:
        calls.append(1)
    time.sleep(0.2)
    return int(conn.execute("SELECT count(*) FROM meta").fetchone()[0])


def count_and_thread(conn: sqlite3.Connection) -> tuple[int, int, bool]:
    count = int(conn.execute("SELECT count(*) FROM meta").fetchone()[0])
    return count, threading.get_ident(), conn.in_transaction


def add_row(txn: WriteTxn, key: str) -> None:
    txn.conn.execute("INSERT INTO meta (key, value) VALUES (?, 1)", (key,))


def broken_read(conn: sqlite3.Connection) -> None:
    conn.execute("SELECT * FROM no_such_table")


@pytest.mark.parametrize("where", ["file", "memory"])
def test_queued_identical_reads_share_one_run_and_later_reads_see_commits(
    where: str, tmp_path: Path
) -> None:
    async def main() -> None:
        calls.clear()
        if where == "file":
            db = await Database.open(tmp_path / "mail.db", None)
        else:
            db = await Database.open_memory(None)
        try:
            before = await db.read(
                lambda conn: conn.execute("SELECT count(*) FROM meta").fetchone()[0]
            )
            wanted = READER_THREADS * 3
            results = await asyncio.gather(
                *(db.read_shared(slow_count, "x") for _ in range(wanted))
            )
            assert results == [before] * wanted
            assert len(calls) == 1, calls  # the queued ones joined the pending read
            await db.write(add_row, "new-row")
            assert await db.read_shared(slow_count, "x") == before + 1  # a fresh snapshot
        finally:
            await db.close()

    asyncio.run(main())


def test_on_a_file_small_and_shared_reads_run_on_the_loop_and_see_each_commit(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        db = await Database.open(tmp_path / "mail.db", None)
        loop_thread = threading.get_ident()
        try:
            before, pool_thread, _ = await db.read(count_and_thread)
            assert pool_thread != loop_thread  # a big read: on a reader thread
            for serial in range(3):
                await db.write(add_row, f"row-{serial}")
                for read in (db.read_small, db.read_shared):
                    count, thread, in_transaction = await read(count_and_thread)
                    assert count == before + serial + 1
                    assert (thread, in_transaction) == (loop_thread, True)
            with pytest.raises(MailError) as failure:
                await db.read_small(broken_read)
            assert failure.value.kind is MailErrorKind.TEMP
            assert (await db.read_small(count_and_thread))[0] == before + 3  # still usable
        finally:
            await db.close()
        with pytest.raises(MailError):
            await db.read_small(count_and_thread)

    asyncio.run(main())
