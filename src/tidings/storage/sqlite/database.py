"""Threads and connections: the only place that touches sqlite3 connections directly.

SQLite calls block, so the long ones run off the event loop. All writes go through one
thread with one connection (SQLite allows a single writer anyway; serialising in-process avoids
SQLITE_BUSY between our own connections). Reads run on a small pool, one connection per
thread: in WAL mode readers see the last committed state without waiting for the writer.

Small reads (`read_small`: a few rows by key, a snapshot the cache holds) run on the event
loop's thread instead, on a connection of its own: handing them to a reader costs more
than the read. Besides the two thread switches, the sqlite3 module lets go of the GIL
around every SQLite call, and a reader thread then waits to take it back from a busy loop
thread, once per statement and per row (issue 5, measured with 50 mixed sessions: with the
small reads on the loop, 860 -> 1,700 operations per second at half the CPU per
operation). The big reads stay on the pool, so the loop is never held for long. Small
writes (`write_small`) likewise: the writer thread opens the group commit's transaction,
hands the small writes of a loop to that loop's thread in one go, waits for them, and
commits; their statements never wait for the GIL one by one.

Writes are group-committed: the writer thread takes every write queued at that moment (at
most `GROUP_COMMIT_MAX`), runs each inside its own SAVEPOINT within one `BEGIN IMMEDIATE
... COMMIT`, and hands each its result only after that COMMIT. A write that fails is rolled
back to its savepoint alone and gets its error; the others commit. With `synchronous=FULL`
the COMMIT has reached the disk when an awaiting coroutine resumes, so an acknowledgement
is never a lie, and ten concurrent deliveries cost one fsync instead of ten. Change notices
collected by a write are published on the event loop after the commit.

In memory (`open_memory`: the "memory" backend, for tests and throwaway servers) the one
connection is the writer's: reads are queued to the writer thread too, and each runs alone
between two group commits, so it sees committed data only.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
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
from tidings.storage.sqlite.sql import Connection

T = TypeVar("T")

# How long a connection waits for a lock held by another process (e.g. `tidings user add`
# while the server runs) before failing with SQLITE_BUSY.
BUSY_TIMEOUT_MS = 10_000
# Reader connections: enough for concurrent SELECT/FETCH, few enough to stay cheap.
READER_THREADS = 4
# Writes committed together at most (each in its own savepoint): bounds how long the first
# of a burst waits for the others.
GROUP_COMMIT_MAX = 64
CACHE_KIB = 16 * 1024
# How long the writer thread waits for a loop to start the small writes it handed over
# (write_small) before running them itself: a loop that is busy starts them within
# milliseconds; one that has stopped never would.
LOOP_START_SECONDS = 2.0


@dataclass(slots=True)
class WriteTxn:
    """What a write function gets: the connection inside an open transaction, and a list
    where it records the notices to publish once the transaction has committed."""

    conn: Connection
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


@dataclass(slots=True)
class _WriteJob:
    """One queued write and the future its caller awaits."""

    fn: Callable[[WriteTxn], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    read: Callable[[], Any] | None = None  # in memory: a read to run between commits
    small: bool = False  # its statements run on its loop's thread (write_small)


_Outcome = tuple[bool, Any, list[ChangeNotice]]


@dataclass
class _LoopRun:
    """Small writes the writer thread has handed to their loop's thread, inside its open
    transaction; `abandoned` if the loop did not start them in time (it may have stopped)."""

    jobs: list[_WriteJob]
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: threading.Event = field(default_factory=threading.Event)
    started: bool = False
    abandoned: bool = False
    outcomes: list[_Outcome] = field(default_factory=list)
    error: BaseException | None = None


class Database:
    """One SQLite file: a writer thread, a reader pool, and the hub to publish to."""

    def __init__(self, path: Path, writer: sqlite3.Connection, hub: NotificationHub | None):
        self._path = path
        self._writer_conn = writer
        self._hub = hub
        self._jobs: queue.SimpleQueue[_WriteJob | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="tidings-db-w", daemon=True)
        self._writer.start()
        self._readers = ThreadPoolExecutor(
            max_workers=READER_THREADS, thread_name_prefix="tidings-db-r"
        )
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._pending_reads: dict[tuple[Any, ...], asyncio.Future[Any]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._in_memory = False

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

    @classmethod
    async def open_memory(cls, hub: NotificationHub | None) -> Database:
        """A new, empty database that lives in memory only, gone when closed."""

        def setup() -> sqlite3.Connection:
            conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            migrate(conn)
            return conn

        db = cls(Path(":memory:"), await asyncio.to_thread(setup), hub)
        db._in_memory = True
        return db

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(txn, *args, **kwargs)` as one atomic write on the writer thread; return
        once it is committed (see the module docstring: group commit)."""
        if self._closed:
            raise MailError(MailErrorKind.TEMP, "storage is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_WriteJob(lambda txn: fn(txn, *args, **kwargs), loop, future))
        return await future

    async def write_small(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`write` for a write known to be small (a few rows by key): committed in the same
        group commit, but its statements run on the caller's loop thread while the writer
        thread holds the transaction open, so they do not wait for the GIL one by one."""
        if self._closed:
            raise MailError(MailErrorKind.TEMP, "storage is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        job = _WriteJob(lambda txn: fn(txn, *args, **kwargs), loop, future, small=True)
        self._jobs.put(job)
        return await future

    def _write_loop(self) -> None:
        """The writer thread: take what is queued, commit it as one transaction."""
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if job.read is not None:
                self._run_read(job)
                continue
            batch = [job]
            stop = False
            read_after: _WriteJob | None = None
            while len(batch) < GROUP_COMMIT_MAX:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                if more.read is not None:
                    read_after = more
                    break
                batch.append(more)
            self._commit(batch)
            if read_after is not None:
                self._run_read(read_after)
            if stop:
                return

    def _run_read(self, job: _WriteJob) -> None:
        """In memory, on the writer thread: one read, alone between two commits."""
        assert job.read is not None
        try:
            outcome: tuple[bool, Any, list[ChangeNotice]] = (True, job.read(), [])
        except BaseException as error:  # handed to its caller
            failure = _translate(error) if isinstance(error, sqlite3.Error) else error
            outcome = (False, failure, [])
        job.loop.call_soon_threadsafe(self._settle, job.future, outcome)

    def _commit(self, batch: list[_WriteJob]) -> None:
        conn = self._writer_conn
        outcomes: list[_Outcome] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            at = 0
            while at < len(batch):
                job = batch[at]
                if not job.small:
                    outcomes.append(self._one_write(job))
                    at += 1
                    continue
                end = at + 1  # the small writes that follow, from the same loop
                while end < len(batch) and batch[end].small and batch[end].loop is job.loop:
                    end += 1
                outcomes.extend(self._on_loop(batch[at:end]))
                at = end
            conn.execute("COMMIT")
        except sqlite3.Error as error:
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            failure = _translate(error)
            outcomes = [(False, failure, []) for _ in batch]
        for job, outcome in zip(batch, outcomes, strict=True):
            job.loop.call_soon_threadsafe(self._settle, job.future, outcome)

    def _one_write(self, job: _WriteJob) -> _Outcome:
        """One write in its own savepoint of the open transaction; a failure rolls back
        to the savepoint and is the write's outcome. Raises sqlite3.Error if the
        savepoint itself fails (the whole batch then fails)."""
        conn = self._writer_conn
        txn = WriteTxn(conn)
        conn.execute("SAVEPOINT one_write")
        try:
            result = job.fn(txn)
        except BaseException as error:  # handed to its caller
            conn.execute("ROLLBACK TO one_write")
            conn.execute("RELEASE one_write")
            failure = _translate(error) if isinstance(error, sqlite3.Error) else error
            return (False, failure, [])
        conn.execute("RELEASE one_write")
        return (True, result, txn.notices)

    def _on_loop(self, jobs: list[_WriteJob]) -> list[_Outcome]:
        """On the writer thread, inside the open transaction: run `jobs` (small writes of
        one loop) on that loop's thread and wait for them. If the loop has not started
        them within LOOP_START_SECONDS (stopped, or closed), they run here instead."""
        run = _LoopRun(jobs)

        def on_loop() -> None:
            with run.lock:
                if run.abandoned:
                    return
                run.started = True
            try:
                run.outcomes = [self._one_write(job) for job in jobs]
            except BaseException as error:  # re-raised on the writer thread
                run.error = error
            finally:
                run.done.set()

        try:
            jobs[0].loop.call_soon_threadsafe(on_loop)
        except RuntimeError:  # the loop is closed
            return [self._one_write(job) for job in jobs]
        if not run.done.wait(LOOP_START_SECONDS):
            with run.lock:
                run.abandoned = not run.started
            if run.abandoned:
                return [self._one_write(job) for job in jobs]
            run.done.wait()
        if run.error is not None:
            raise run.error
        return run.outcomes

    def _settle(
        self, future: asyncio.Future[Any], outcome: tuple[bool, Any, list[ChangeNotice]]
    ) -> None:
        """On the loop: publish the committed notices (even if the caller was cancelled
        meanwhile), then hand the caller its result or error."""
        ok, value, notices = outcome
        if self._hub is not None:
            for notice in notices:
                self._hub.publish(notice)
        if future.done():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` in one read transaction (a consistent snapshot)."""
        return await self._submit_read(lambda: self._read_now(fn, args))

    def _read_now(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """On a reader thread (or the loop's): `fn(conn, *args)` in one read transaction."""
        conn = self._reader()
        return _in_transaction(conn, "BEGIN", lambda: fn(conn, *args))

    async def read_small(self, fn: Callable[..., T], *args: Any) -> T:
        """`read` for a read known to be small (module docstring): on the loop's thread."""
        if self._in_memory:
            return await self.read(fn, *args)
        if self._closed:
            raise MailError(MailErrorKind.TEMP, "storage is closed")
        return self._read_now(fn, args)

    async def read_shared(self, fn: Callable[..., T], *args: Any) -> T:
        """`read`, shared with identical reads (same `fn`, same hashable `args`) asked for
        while this one has not started yet: when a delivery wakes fifty IDLE sessions of one
        mailbox, they read its change log once. Only a read that has not begun is joined, so
        every caller still gets a snapshot taken after it asked. The result is shared: it
        must be immutable. On a file it is a small read: it runs on the loop's thread at the
        loop's next turn, after every session woken with the first has asked (the change log
        is small; only a session it was pruned past, one that missed days of notices, gets
        every message of the mailbox)."""
        key = (fn, args)
        pending = self._pending_reads.get(key)
        if pending is not None:
            return await asyncio.shield(pending)

        def run() -> T:
            self._pending_reads.pop(key, None)  # from now on, newcomers start their own
            return self._read_now(fn, args)

        future = self._submit_read(run) if self._in_memory else self._run_soon(run)
        self._pending_reads[key] = future
        future.add_done_callback(lambda _: self._forget_read(key, future))
        return await asyncio.shield(future)

    def _run_soon(self, call: Callable[[], T]) -> asyncio.Future[T]:
        """A future for `call()`, run on the loop's thread at its next turn."""
        if self._closed:
            raise MailError(MailErrorKind.TEMP, "storage is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def run() -> None:
            try:
                if self._closed:
                    raise MailError(MailErrorKind.TEMP, "storage is closed")
                future.set_result(call())
            except BaseException as error:  # handed to the callers
                future.set_exception(error)

        loop.call_soon(run)
        return future

    def _forget_read(self, key: tuple[Any, ...], future: asyncio.Future[Any]) -> None:
        if self._pending_reads.get(key) is future:
            del self._pending_reads[key]
        if not future.cancelled():
            future.exception()  # retrieved: a failure every joiner saw is not "never retrieved"

    async def compute(self, fn: Callable[..., T], *args: Any) -> T:
        """Run CPU-bound work (hashing, parsing, compressing) off the loop, on the pool."""
        return await self._submit(self._readers, lambda: fn(*args))

    async def close(self) -> None:
        """Finish queued work, stop the threads and close every connection."""
        if self._closed:
            return
        self._closed = True

        def shutdown() -> None:
            self._jobs.put(None)  # after every write queued before it
            self._writer.join()
            self._readers.shutdown(wait=True)
            with self._lock:
                conns, self._reader_conns = self._reader_conns, []
            for conn in conns:
                conn.close()
            self._writer_conn.close()

        await asyncio.to_thread(shutdown)

    def _submit_read(self, call: Callable[[], T]) -> asyncio.Future[T]:
        if not self._in_memory:
            return self._submit(self._readers, call)
        if self._closed:
            raise MailError(MailErrorKind.TEMP, "storage is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_WriteJob(lambda txn: None, loop, future, read=call))
        return future

    def _submit(self, pool: ThreadPoolExecutor, call: Callable[[], T]) -> asyncio.Future[T]:
        if self._closed:
            raise MailError(MailErrorKind.TEMP, "storage is closed")
        loop = asyncio.get_running_loop()
        try:
            return loop.run_in_executor(pool, call)
        except RuntimeError as error:  # the pool was shut down meanwhile
            raise MailError(MailErrorKind.TEMP, "storage is closed") from error

    def _reader(self) -> sqlite3.Connection:
        if self._in_memory:
            return self._writer_conn  # on the writer thread, between commits
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self._path)
            conn.execute("PRAGMA query_only = 1")
            self._local.conn = conn
            with self._lock:
                self._reader_conns.append(conn)
        return conn
