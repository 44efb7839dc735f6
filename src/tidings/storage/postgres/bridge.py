"""The SQL modules' connection protocol (tidings/storage/sqlite/sql.py) over asyncpg.

The store's rules are synchronous functions of a connection, shared with SQLite. On
PostgreSQL such a function runs on a worker thread, and each statement it executes is
handed to the asyncpg connection on the database's event-loop thread and waited for. The
function never touches the event loop itself; the asyncpg connection is only ever used
from its own loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import asyncpg

from tidings.storage.postgres.dialect import translate


class Rows:
    """The rows of one statement (`sqlite3.Cursor`'s reading half)."""

    __slots__ = ("_position", "_records")

    def __init__(self, records: list[asyncpg.Record]) -> None:
        self._records = records
        self._position = 0

    def fetchone(self) -> asyncpg.Record | None:
        if self._position >= len(self._records):
            return None
        self._position += 1
        return self._records[self._position - 1]

    def fetchall(self) -> list[asyncpg.Record]:
        rest = self._records[self._position :]
        self._position = len(self._records)
        return rest

    def __iter__(self) -> Iterator[asyncpg.Record]:
        return iter(self.fetchall())


class BridgedConnection:
    """An asyncpg connection inside an open transaction, driven from a worker thread."""

    engine = "postgresql"  # see tidings.storage.sqlite.sql.engine_of

    def __init__(self, conn: asyncpg.Connection, loop: asyncio.AbstractEventLoop) -> None:
        self._conn = conn
        self._loop = loop

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Rows:
        records = self._wait(self._conn.fetch(translate(sql), *parameters))
        return Rows(records)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Rows:
        batch = [tuple(row) for row in parameters]
        if batch:
            self._wait(self._conn.executemany(translate(sql), batch))
        return Rows([])

    def _wait(self, statement: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(statement, self._loop).result()
