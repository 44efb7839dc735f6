"""A PostgreSQL database as the store's `SqlDatabase` (tidings/storage/sqlite/sql.py).

Threads and loops: asyncpg connections live on a private event loop in the thread
"tidings-pg", so a busy server loop never delays the database's I/O and the database never
runs on the server's loop. A store function (synchronous, shared with SQLite) runs on a
worker thread against a `BridgedConnection` that hands each statement to that loop.

Writes (issue 7): each runs in its own SERIALIZABLE transaction. Two nodes appending to one
mailbox both update its row (uidnext, highestmodseq), so one waits for the other and then
fails with a serialization error; it is run again from the start and takes the next UID.
UIDs therefore follow commit order, never repeat, and quotas (counters kept by triggers on
the same rows) stay exact. A write is acknowledged only after its COMMIT returned.

Failures: a conflict (40001, 40P01) is retried up to WRITE_ATTEMPTS times. A lost
connection before COMMIT is retried on a new one for up to RECONNECT_WINDOW seconds, long
enough for a database restart; a connection lost during COMMIT leaves the outcome unknown
and is reported (MailError TEMP), never retried, so nothing is applied twice.

Notices: a write queues `pg_notify` in its transaction (tidings/storage/postgres/notices.py)
and, once committed, publishes to the local hub; a listening connection hears the other
nodes' and hands them to the hub. When that connection is lost, it is reopened, and then
every session resyncs from the change log (`NotificationHub.resync_all`), so nothing
committed meanwhile is missed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import random
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

import asyncpg

from tidings.core.errors import MailError, MailErrorKind
from tidings.notify.api import ChangeNotice
from tidings.notify.hub import NotificationHub
from tidings.storage.postgres import notices, schema
from tidings.storage.postgres.bridge import BridgedConnection
from tidings.storage.sqlite.database import WriteTxn

T = TypeVar("T")
logger = logging.getLogger("tidings.storage.postgres")

# Connections per node (asyncpg pool) and worker threads running store functions on them.
DEFAULT_POOL_SIZE = 10
# Times a write is run again after losing a serialization conflict to another writer.
WRITE_ATTEMPTS = 30
# How long a read or write waits for an unreachable database before failing with TEMP.
RECONNECT_WINDOW = 30.0
# How long to wait for a free pooled connection, and for a new connection.
ACQUIRE_TIMEOUT = 30.0
CONNECT_TIMEOUT = 5.0
# How long closing waits for the pool's connections before cutting them.
CLOSE_TIMEOUT = 5.0
# The listening connection is checked this often (a dead peer may not close the socket).
LISTEN_CHECK_SECONDS = 2.0

_CONFLICTS = (asyncpg.SerializationError, asyncpg.DeadlockDetectedError)
_UNREACHABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,  # a pooled connection broken mid-operation
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, crash, cannot connect now
)


class _CommitUnknown(Exception):
    """The connection went away while COMMIT was in flight."""


def _backoff(attempt: int) -> float:
    """Seconds before retry `attempt` (1-based): jittered, growing to a quarter second."""
    return random.uniform(0, min(0.25, 0.002 * 2**attempt))


def _temp(error: BaseException) -> MailError:
    return MailError(MailErrorKind.TEMP, f"database error: {error}")


def _set_on_close(lost: asyncio.Event, _conn: Any) -> None:
    lost.set()


class _LoopThread:
    """A private event loop in a daemon thread, for the asyncpg connections."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="tidings-pg")
        self._thread.daemon = True
        self._thread.start()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class PostgresDatabase:
    """A pool of connections to one PostgreSQL database, shared with the other nodes."""

    def __init__(
        self, dsn: str, hub: NotificationHub | None, pool_size: int = DEFAULT_POOL_SIZE
    ) -> None:
        self._dsn = dsn
        self._hub = hub
        self._pool_size = pool_size
        self.node_id = secrets.token_hex(8)
        self._io = _LoopThread()
        self._workers = concurrent.futures.ThreadPoolExecutor(
            max_workers=pool_size, thread_name_prefix="tidings-pg-w"
        )
        self._compute = concurrent.futures.ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="tidings-pg-c"
        )
        self._pool: asyncpg.Pool | None = None
        self._listener_task: asyncio.Task[None] | None = None
        self._main_loop: asyncio.AbstractEventLoop | None = None
        self._pending_reads: dict[tuple[Any, ...], asyncio.Future[Any]] = {}
        self._pending_lock = threading.Lock()
        self._closed = False

    # ------------------------------------------------------------------ life cycle
    @classmethod
    async def open(
        cls,
        dsn: str,
        hub: NotificationHub | None,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        migrate: bool = False,
    ) -> PostgresDatabase:
        """Connect to `dsn`; with `migrate`, bring the schema up to date first, else refuse
        a schema that is not this version's (TEMP, naming `tidings db migrate`)."""
        db = cls(dsn, hub, pool_size)
        db._main_loop = asyncio.get_running_loop()
        try:
            await db._on_io(db._start(migrate))
        except BaseException:
            await db.close()
            raise
        return db

    async def _start(self, migrate: bool) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=1,
                max_size=self._pool_size,
                timeout=CONNECT_TIMEOUT,
                command_timeout=None,
            )
            async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT) as conn:
                if migrate:
                    await schema.migrate(conn)
                version = await schema.schema_version(conn)
        except (asyncpg.PostgresError, *_UNREACHABLE) as error:
            raise MailError(MailErrorKind.TEMP, f"cannot open the database: {error}") from error
        except schema.SchemaTooNewError as error:
            raise MailError(MailErrorKind.TEMP, str(error)) from error
        if version != schema.SCHEMA_VERSION:
            raise MailError(
                MailErrorKind.TEMP,
                f"database schema is version {version}, this Tidings needs"
                f" {schema.SCHEMA_VERSION}: run `tidings db migrate`",
            )
        if self._hub is not None:
            heard = asyncio.Event()
            self._listener_task = asyncio.create_task(self._keep_listening(heard))
            await asyncio.wait_for(heard.wait(), RECONNECT_WINDOW)

    async def close(self) -> None:
        """Finish the work in flight, then close every connection and thread."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            await self._on_io(self._stop())
        await asyncio.to_thread(self._shut_threads)

    async def _stop(self) -> None:
        if self._listener_task is not None:
            self._listener_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener_task
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.close(), CLOSE_TIMEOUT)
            except TimeoutError:
                self._pool.terminate()

    def _shut_threads(self) -> None:
        self._workers.shutdown(wait=True)
        self._compute.shutdown(wait=True)
        self._io.stop()

    async def _on_io(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the database loop; a caller cancelled meanwhile does not stop
        it (a write runs to its end, committed or rolled back, and publishes its notices)."""
        future = asyncio.wrap_future(self._io.submit(coroutine))
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        return await asyncio.shield(future)

    def _check_open(self) -> None:
        if self._closed:
            raise MailError(MailErrorKind.TEMP, "storage is closed")

    # ------------------------------------------------------------------ writes
    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(txn, *args, **kwargs)` as one SERIALIZABLE transaction; return once it
        is committed (see the module docstring)."""
        self._check_open()
        return await self._on_io(self._write(lambda txn: fn(txn, *args, **kwargs)))

    async def _write(self, call: Callable[[WriteTxn], T]) -> T:
        deadline = time.monotonic() + RECONNECT_WINDOW
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._write_once(call)
            except _CONFLICTS as error:
                if attempt >= WRITE_ATTEMPTS:
                    raise MailError(
                        MailErrorKind.INUSE, f"too many concurrent changes: {error}"
                    ) from error
                await asyncio.sleep(_backoff(attempt))
            except _CommitUnknown as error:
                raise MailError(
                    MailErrorKind.TEMP, "database connection lost during commit; retry"
                ) from error.__cause__
            except _UNREACHABLE as error:
                if time.monotonic() >= deadline or self._closed:
                    raise _temp(error) from error
                logger.warning("database unreachable, retrying: %s", error)
                await asyncio.sleep(min(1.0, 0.05 * attempt))
            except asyncpg.PostgresError as error:
                raise _temp(error) from error

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection. Giving it back never raises: once a transaction's outcome
        is known, a database that went away meanwhile must not turn a committed write
        into a failure (or, retried, into a second copy). A connection that cannot be
        reset is closed by the pool itself instead of reused."""
        assert self._pool is not None
        conn = await self._pool.acquire(timeout=ACQUIRE_TIMEOUT)
        try:
            yield conn
        finally:
            try:
                await self._pool.release(conn)
            except Exception as error:  # the outcome is already decided
                logger.debug("dropped a broken database connection: %s", error)

    async def _write_once(self, call: Callable[[WriteTxn], T]) -> T:
        loop = asyncio.get_running_loop()
        outcome: tuple[T, WriteTxn] | None = None
        try:
            async with self._connection() as conn:
                transaction = conn.transaction(isolation="serializable")
                await transaction.start()
                try:
                    txn = WriteTxn(BridgedConnection(conn, loop))
                    result = await loop.run_in_executor(self._workers, call, txn)
                    for payload in notices.encode(self.node_id, txn.notices):
                        await conn.execute("SELECT pg_notify($1, $2)", notices.CHANNEL, payload)
                except BaseException:
                    with contextlib.suppress(Exception):
                        await transaction.rollback()
                    raise
                try:
                    await transaction.commit()
                except _CONFLICTS:
                    raise  # SSI may refuse at COMMIT: nothing was committed, run it again
                except _UNREACHABLE as error:
                    raise _CommitUnknown from error
                outcome = (result, txn)
        except Exception as error:
            if outcome is None:
                raise
            # Committed: whatever went wrong afterwards (giving the connection back to a
            # database that has just gone away) must neither fail nor repeat the write.
            logger.debug("after a committed write: %s", error)
        assert outcome is not None
        result, txn = outcome
        if txn.notices:
            self._publish_local(txn.notices)
        return result

    def _publish_local(self, committed: list[ChangeNotice]) -> None:
        if self._hub is None or self._main_loop is None:
            return
        hub = self._hub
        for notice in committed:
            self._main_loop.call_soon_threadsafe(hub.publish, notice)

    # ------------------------------------------------------------------ reads
    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` on one snapshot (REPEATABLE READ, READ ONLY)."""
        self._check_open()
        return await self._on_io(self._read(fn, args, None))

    async def write_small(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`write`: every statement goes over the network, so there is no cheaper way."""
        return await self.write(fn, *args, **kwargs)

    async def read_small(self, fn: Callable[..., T], *args: Any) -> T:
        """`read`: every statement goes over the network, so there is no cheaper way."""
        return await self.read(fn, *args)

    async def read_shared(self, fn: Callable[..., T], *args: Any) -> T:
        """`read`, shared with identical reads (same `fn`, same hashable `args`) asked for
        before this one took its snapshot: fifty IDLE sessions woken by one delivery read
        the change log once, and each still sees every change committed before it asked.
        The result is shared: it must be immutable."""
        self._check_open()
        key = (fn, args)
        with self._pending_lock:
            pending = self._pending_reads.get(key)
        if pending is not None:
            return await asyncio.shield(pending)

        def started() -> None:  # before the snapshot: from now on newcomers start their own
            with self._pending_lock:
                if self._pending_reads.get(key) is future:
                    del self._pending_reads[key]

        future: asyncio.Future[T] = asyncio.ensure_future(
            self._on_io(self._read(fn, args, started))
        )
        with self._pending_lock:
            self._pending_reads[key] = future
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        try:
            return await asyncio.shield(future)
        finally:
            started()

    async def _read(
        self, fn: Callable[..., T], args: tuple[Any, ...], started: Callable[[], None] | None
    ) -> T:
        deadline = time.monotonic() + RECONNECT_WINDOW
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._read_once(fn, args, started)
            except _UNREACHABLE as error:
                if time.monotonic() >= deadline or self._closed:
                    raise _temp(error) from error
                await asyncio.sleep(min(1.0, 0.05 * attempt))
            except asyncpg.PostgresError as error:
                raise _temp(error) from error

    async def _read_once(
        self, fn: Callable[..., T], args: tuple[Any, ...], started: Callable[[], None] | None
    ) -> T:
        loop = asyncio.get_running_loop()
        async with (
            self._connection() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            if started is not None:
                started()  # the snapshot is taken by the first statement, after this
            bridged = BridgedConnection(conn, loop)
            return await loop.run_in_executor(self._workers, lambda: fn(bridged, *args))

    async def compute(self, fn: Callable[..., T], *args: Any) -> T:
        """Run CPU-bound work (hashing, parsing, compressing) off the event loop."""
        self._check_open()
        return await asyncio.get_running_loop().run_in_executor(self._compute, fn, *args)

    # ------------------------------------------------------------------ notices
    async def _keep_listening(self, heard: asyncio.Event) -> None:
        """Hold a LISTEN connection for good: reopen it when lost, then resync."""
        attempt = 0
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT)
                lost = asyncio.Event()
                conn.add_termination_listener(functools.partial(_set_on_close, lost))
                await conn.add_listener(notices.CHANNEL, self._heard)
                if heard.is_set():
                    logger.info("listening for other nodes' changes again; resyncing")
                    self._resync()
                heard.set()
                attempt = 0
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), LISTEN_CHECK_SECONDS)
                    if not lost.is_set():
                        await asyncio.wait_for(conn.execute("SELECT 1"), LISTEN_CHECK_SECONDS)
                logger.warning("lost the database connection that listens for changes")
            except (asyncpg.PostgresError, *_UNREACHABLE) as error:
                logger.warning("cannot listen for changes: %s", error)
            finally:
                if conn is not None:
                    conn.terminate()
            attempt += 1
            await asyncio.sleep(min(2.0, 0.1 * attempt))

    def _heard(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            node, heard = notices.decode(payload)
        except ValueError as error:
            logger.warning("ignoring a malformed change notice: %s", error)
            return
        if node == self.node_id or self._hub is None or self._main_loop is None:
            return
        hub = self._hub
        for notice in heard:
            self._main_loop.call_soon_threadsafe(hub.publish_external, notice)

    def _resync(self) -> None:
        if self._hub is not None and self._main_loop is not None:
            self._main_loop.call_soon_threadsafe(self._hub.resync_all)
