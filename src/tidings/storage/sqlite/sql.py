"""What the SQL modules need of a database connection, whichever engine runs them.

The functions in this package (mailboxes, messages, changelog, ...) are written in the
common subset of SQLite's and PostgreSQL's SQL, with `?` placeholders. On SQLite they get a
`Connection`; on PostgreSQL a `tidings.storage.postgres.bridge.BridgedConnection`
that translates each statement (`tidings.storage.postgres.dialect`). Both satisfy these
protocols, so the rules of the store are written once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Cursor(Protocol):
    """The rows of one statement."""

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """A connection inside an open transaction."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...


def engine_of(conn: Connection) -> str:
    """Which engine runs `conn`, "sqlite" or "postgresql": for the few statements that
    cannot be written in the common subset (full-text search, text_index.py)."""
    return str(getattr(conn, "engine", "sqlite"))


class SqlDatabase(Protocol):
    """Where the store runs its SQL: `tidings.storage.sqlite.database.Database` or
    `tidings.storage.postgres.database.PostgresDatabase`.

    `write` runs `fn(txn, *args)` as one atomic, durable transaction (`txn` is a
    `database.WriteTxn`) and returns once it is committed; `read` runs `fn(conn, *args)` on
    one consistent snapshot; `read_small` and `write_small` are `read` and `write` for a
    few rows by key (SQLite runs their statements on the event loop's thread); `compute`
    runs CPU-bound work off the event loop."""

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...

    async def write_small(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...

    async def read(self, fn: Callable[..., T], *args: Any) -> T: ...

    async def read_small(self, fn: Callable[..., T], *args: Any) -> T: ...

    async def read_shared(self, fn: Callable[..., T], *args: Any) -> T: ...

    async def compute(self, fn: Callable[..., T], *args: Any) -> T: ...

    async def close(self) -> None: ...
