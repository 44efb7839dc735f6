"""Threads and connections: the only place that touches sqlite3 connections directly.

SQLite calls block, so none runs on the event loop. All writes go through one thread with
one connection (SQLite allows a single writer anyway; serialising in-process avoids
SQLITE_BUSY between our own connections). Reads run on a small pool, one connection per
thread: in WAL mode readers see the last committed state without waiting for the writer.

Each write runs in `BEGIN IMMEDIATE ... COMMIT`; with `synchronous=FULL` the COMMIT has
reached the disk when the awaiting coroutine resumes, so an acknowledgement is never a lie.
Change notices collected by a write are published on the event loop after the commit.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tidings.core.errors import MailError, MailErrorKind
from tidings.notify.api import ChangeNotice
from tidings.notify.hub import NotificationHub
from tidings.storage.sqlite.schema import migrate

T = TypeVar("T")

# How long a connection waits for a lock held by another process (e.g. `tidings user add`
# while the server runs) before failing with SQLITE_BUSY.
BUSY_TIMEOUT_MS = 10_000
# Reader connections: enough for concurrent SELECT/FETCH, few enough to stay cheap.
READER_THREADS = 4
CACHE_KIB = 16 * 1024


@dataclass(slots=True)
class WriteTxn:
    """What a write function gets: the connection inside an open transaction, and a list
    where it records the notices to publish once the transaction has committed."""

    conn: sqlite3.Connection
    notices: list[ChangeNotice] = field(default_factory=list)

    def notify(self, account: str, mailbox_id: int | None, modseq: int) -> None:
        """Publish this notice after the commit."""
        self.notices.append(ChangeNotice(account, mailbox_id, modseq))


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so the sqlite3 module never
    # opens a transaction behind our back. check_same_thread=False only so close() can run
    # from the loop thread after the pools have stopped.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA synchronous = FULL")
    # 16 MiB of page cache per connection (default 2 MiB): SELECT of a large mailbox then
    # reads its message rows from memory on the second opening.
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    return conn


def _in_transaction(conn: sqlite3.Connection, begin: str, call: Callable[[], T]) -> T:
    """Run `call` between `begin` and COMMIT; roll back if it raises."""
    try:
        conn.execute(begin)
        try:
            result = call()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as error:
        raise _translate(error) from error
    return result


def _translate(error: sqlite3.Error) -> MailError:
    """Foreign exceptions become MailError once, here (DESIGN.md "Storage")."""
    text = str(error)
    if isinstance(error, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return MailError(MailErrorKind.INUSE, f"database busy: {text}")
    return MailError(MailErrorKind.TEMP, f"database error: {text}")


class Database:
    """One SQLite file: a writer thread, a reader pool, and the hub to publish to."""

    def __init__(self, path: Path, writer: sqlite3.Connection, hub: NotificationHub | None):
        self._path = path
        self._writer_conn = writer
        self._hub = hub
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tidings-db-w")
        self._readers = ThreadPoolExecutor(
            max_workers=READER_THREADS, thread_name_prefix="tidings-db-r"
        )
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    async def open(cls, path: Path, hub: NotificationHub | None) -> Database:
        """Open (creating if needed) the database at `path` and migrate its schema."""

        def setup() -> sqlite3.Connection:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = _connect(path)
            try:
                # WAL is persistent in the file; setting it each time is cheap and harmless.
                conn.execute("PRAGMA journal_mode = WAL")
                migrate(conn)
            except BaseException:
                conn.close()
                raise
            return conn

        try:
            conn = await asyncio.to_thread(setup)
        except sqlite3.Error as error:
            raise _translate(error) from error
        return cls(path, conn, hub)

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(txn, *args, **kwargs)` in one write transaction on the writer thread."""

        def run() -> tuple[T, list[ChangeNotice]]:
            txn = WriteTxn(self._writer_conn)
            result = _in_transaction(txn.conn, "BEGIN IMMEDIATE", lambda: fn(txn, *args, **kwargs))
            return result, txn.notices

        future = self._submit(self._writer, run)
        # Publish from a done-callback so notices go out even if the awaiting task was
        # cancelled after the commit; callbacks run on the loop, as the hub requires.
        future.add_done_callback(self._publish)
        result, _ = await future
        return result

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` in one read transaction (a consistent snapshot)."""

        def run() -> T:
            conn = self._reader()
            return _in_transaction(conn, "BEGIN", lambda: fn(conn, *args))

        return await self._submit(self._readers, run)

    async def compute(self, fn: Callable[..., T], *args: Any) -> T:
        """Run CPU-bound work (hashing, parsing, compressing) off the loop, on the pool."""
        return await self._submit(self._readers, lambda: fn(*args))

    async def close(self) -> None:
        """Finish queued work, stop the threads and close every connection."""
        if self._closed:
            return
        self._closed = True

        def shutdown() -> None:
            self._writer.shutdown(wait=True)
            self._readers.shutdown(wait=True)
            with self._lock:
                conns, self._reader_conns = self._reader_conns, []
            for conn in conns:
                conn.close()
            self._writer_conn.close()

        await asyncio.to_thread(shutdown)

    def _submit(self, pool: ThreadPoolExecutor, call: Callable[[], T]) -> asyncio.Future[T]:
        if self._closed:
            raise MailError(MailErrorKind.TEMP, "storage is closed")
        loop = asyncio.get_running_loop()
        try:
            return loop.run_in_executor(pool, call)
        except RuntimeError as error:  # the pool was shut down meanwhile
            raise MailError(MailErrorKind.TEMP, "storage is closed") from error

    def _publish(self, future: asyncio.Future[tuple[Any, list[ChangeNotice]]]) -> None:
        if self._hub is None or future.cancelled() or future.exception() is not None:
            return
        for notice in future.result()[1]:
            self._hub.publish(notice)

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self._path)
            conn.execute("PRAGMA query_only = 1")
            self._local.conn = conn
            with self._lock:
                self._reader_conns.append(conn)
        return conn
