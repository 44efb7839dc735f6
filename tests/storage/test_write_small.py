"""`Database.write_small` (issue 5): a small write joins the writer thread's group commit,
but its statements run on the caller's loop thread while the writer holds the transaction
open. It is committed when its caller resumes, a failing one rolls back alone, it mixes
with writes run on the writer thread in one batch, and a loop that does not take the
writes in time (blocked, or stopped) has them run on the writer thread instead, once."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tidings.storage.sqlite import database
from tidings.storage.sqlite.database import Database, WriteTxn


def insert(txn: WriteTxn, key: str) -> int:
    txn.conn.execute("INSERT INTO meta (key, value) VALUES (?, 1)", (key,))
    return threading.get_ident()


def insert_then_fail(txn: WriteTxn, key: str) -> None:
    txn.conn.execute("INSERT INTO meta (key, value) VALUES (?, 1)", (key,))
    raise ValueError(key)  # the write's own failure


def keys(path: Path) -> list[str]:
    # Read on a connection of its own: what is committed, not what is pending.
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT key FROM meta WHERE key LIKE 'k-%' ORDER BY key")
        return [str(row[0]) for row in rows]
    finally:
        conn.close()


def test_small_writes_run_on_the_loop_and_are_committed_when_awaited(tmp_path: Path) -> None:
    path = tmp_path / "mail.db"

    async def main() -> None:
        db = await Database.open(path, None)
        loop_thread = threading.get_ident()
        try:
            assert await db.write_small(insert, "k-1") == loop_thread
            assert keys(path) == ["k-1"]  # durable before the caller resumed
            assert await db.write(insert, "k-2") != loop_thread  # on the writer thread
            assert keys(path) == ["k-1", "k-2"]
        finally:
            await db.close()

    asyncio.run(main())


def test_a_batch_of_small_and_big_writes_commits_all_but_the_one_that_failed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mail.db"

    async def main() -> None:
        db = await Database.open(path, None)
        try:
            results = await asyncio.gather(
                db.write_small(insert, "k-a"),
                db.write(insert, "k-b"),
                db.write_small(insert_then_fail, "k-c"),
                db.write_small(insert, "k-d"),
                db.write(insert_then_fail, "k-e"),
                db.write_small(insert, "k-f"),
                return_exceptions=True,
            )
            failed = [
                index for index, result in enumerate(results) if isinstance(result, Exception)
            ]
            assert failed == [2, 4]
            assert keys(path) == ["k-a", "k-b", "k-d", "k-f"]
        finally:
            await db.close()

    asyncio.run(main())


def test_a_loop_that_does_not_take_its_writes_in_time_has_them_run_once_by_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "LOOP_START_SECONDS", 0.2)
    path = tmp_path / "mail.db"

    async def main() -> None:
        db = await Database.open(path, None)
        loop_thread = threading.get_ident()
        try:
            pending = asyncio.ensure_future(db.write_small(insert, "k-late"))
            await asyncio.sleep(0)  # queued
            time.sleep(0.6)  # noqa: ASYNC251 - the loop blocked past LOOP_START_SECONDS
            thread = await pending
            assert thread != loop_thread  # the writer thread ran it
            await asyncio.sleep(0.05)  # the loop's late turn finds it abandoned
            assert keys(path) == ["k-late"]  # once
            assert await db.write_small(insert, "k-next") == loop_thread  # back to normal
        finally:
            await db.close()

    asyncio.run(main())
