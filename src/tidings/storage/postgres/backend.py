"""`PostgresBackend`: the scale-out storage backend (issue 7).

The store's rules are the SQLite backend's, unchanged: the same SQL modules run on a
`PostgresDatabase`, whose transactions make them safe for several nodes at once (see
tidings/storage/postgres/database.py). Message bodies are stored once, content-addressed
and compressed, in the `blobs` table (tidings/storage/sqlite/blobs.py is the one module
that writes them).
"""

from __future__ import annotations

from tidings.notify.hub import NotificationHub
from tidings.storage.postgres.database import DEFAULT_POOL_SIZE, PostgresDatabase
from tidings.storage.sqlite import changelog
from tidings.storage.sqlite.backend import SqliteBackend


class PostgresBackend(SqliteBackend):
    """Accounts and mail in one PostgreSQL database, shared by every node."""

    @classmethod
    async def connect(
        cls,
        dsn: str,
        hub: NotificationHub | None = None,
        *,
        max_message_size: int | None = None,
        change_retention: float = changelog.DEFAULT_RETENTION,
        pool_size: int = DEFAULT_POOL_SIZE,
        migrate: bool = False,
    ) -> PostgresBackend:
        """Connect to the database at `dsn` (migrating its schema first if `migrate`);
        notices of every node go to `hub` if given."""
        db = await PostgresDatabase.open(dsn, hub, pool_size=pool_size, migrate=migrate)
        return await cls.on(
            db, max_message_size=max_message_size, change_retention=change_retention
        )
