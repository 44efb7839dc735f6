"""What `tidings db ...` does to a store, apart from the command line (issue 7)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from tidings.core.errors import MailError, MailErrorKind


async def migrate_storage(kind: str, url: str | None, database_path: Path) -> tuple[int, int]:
    """Create or upgrade the schema of the store of `kind` ([storage] backend) at `url`
    (PostgreSQL) or `database_path` (SQLite); the versions before and after."""
    if kind == "memory":
        raise MailError(MailErrorKind.CANNOT, "the memory backend has no schema to migrate")
    if kind == "postgresql":
        return await _migrate_postgres(url or "")
    from tidings.storage.sqlite.database import Database  # noqa: PLC0415

    def version() -> int:
        return _sqlite_version(database_path) if database_path.exists() else 0

    before = await asyncio.to_thread(version)
    database_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    await (await Database.open(database_path, None)).close()
    return before, await asyncio.to_thread(version)


async def _migrate_postgres(url: str) -> tuple[int, int]:
    import asyncpg  # noqa: PLC0415 - only PostgreSQL installations need it

    from tidings.storage.postgres import schema  # noqa: PLC0415

    try:
        conn = await asyncpg.connect(url)
    except (OSError, asyncpg.PostgresError) as error:
        reason = f"cannot connect to the database: {error}"
        raise MailError(MailErrorKind.TEMP, reason) from error
    try:
        return await schema.migrate(conn)
    except schema.SchemaTooNewError as error:
        raise MailError(MailErrorKind.TEMP, str(error)) from error
    finally:
        await conn.close()


def _sqlite_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def parse_sqlite_source(text: str) -> Path:
    """`sqlite:PATH` (the store file, or a data dir holding mail.db) as the file's path.
    Raises ValueError."""
    scheme, colon, rest = text.partition(":")
    if scheme != "sqlite" or not colon or not rest:
        raise ValueError(f"--from must be sqlite:PATH, not {text!r}")
    path = Path(rest.removeprefix("//"))
    return path / "mail.db" if path.is_dir() else path
