"""`tidings db copy`: move a SQLite installation into PostgreSQL, row for row (issue 7).

Everything is copied as stored: UIDVALIDITY, UIDs, MODSEQs, flags, internal dates, the
change log and the content-addressed bodies. Clients that synced against the old store
therefore resync against the new one without downloading anything again (RFC 9051 §2.3.1.1:
same UIDVALIDITY, same UIDs; RFC 7162: same MODSEQs).

The source is read in one transaction (a consistent snapshot, even while a server still
runs on it); the target is filled in one transaction with COPY, so a failure leaves it as
it was, empty. A target that already holds mail is refused: merging two stores would need
new UIDVALIDITYs, which is what `tidings import` is for.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg

from tidings.core.errors import MailError, MailErrorKind
from tidings.storage.postgres import schema
from tidings.storage.sqlite.database import Database

# Rows sent per COPY batch: bounds memory (blob rows hold compressed bodies).
COPY_BATCH = 500

Progress = Callable[[str, int], None]  # (table, rows copied so far)


async def copy_sqlite_to_postgres(
    sqlite_path: Path, dsn: str, *, progress: Progress | None = None
) -> dict[str, int]:
    """Copy the SQLite store at `sqlite_path` into the (empty) PostgreSQL database at
    `dsn`, migrating both schemas first; return the rows copied per table. Raises
    MailError: NOTFOUND (no such file), EXISTS (the target holds data), TEMP (database)."""
    if not await asyncio.to_thread(sqlite_path.is_file):
        raise MailError(MailErrorKind.NOTFOUND, f"no SQLite store at {sqlite_path}")
    await (await Database.open(sqlite_path, None)).close()  # brings its schema up to date
    try:
        target = await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError) as error:
        raise MailError(MailErrorKind.TEMP, f"cannot connect to {_safe(dsn)}: {error}") from error
    try:
        await schema.migrate(target)
        await _require_empty(target)
        source = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
        try:
            source.execute("BEGIN")  # one snapshot for every table
            async with target.transaction():
                # The empty database's own floor gives way to the source's (the blob ids
                # are copied, and with them which blobs the full-text index holds).
                await target.execute("DELETE FROM meta WHERE key = 'text_index_floor'")
                counts = {
                    table: await _copy_table(source, target, table, identity, progress)
                    for table, identity in schema.TABLES
                }
            source.execute("COMMIT")
        finally:
            source.close()
    except asyncpg.PostgresError as error:
        raise MailError(MailErrorKind.TEMP, f"copy failed, nothing written: {error}") from error
    except sqlite3.Error as error:
        raise MailError(MailErrorKind.TEMP, f"cannot read {sqlite_path}: {error}") from error
    finally:
        await target.close()
    return counts


async def _require_empty(target: asyncpg.Connection) -> None:
    for table in ("accounts", "mailboxes", "blobs"):
        if await target.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):
            raise MailError(
                MailErrorKind.EXISTS,
                f"the target database already holds data (table {table}); copy into an"
                " empty database",
            )


async def _copy_table(
    source: sqlite3.Connection,
    target: asyncpg.Connection,
    table: str,
    identity: str | None,
    progress: Progress | None,
) -> int:
    types = {
        str(name): str(kind)
        for name, kind in await target.fetch(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = $1",
            table,
        )
    }
    present = {str(row[1]) for row in source.execute(f"PRAGMA table_info({table})")}
    columns = [name for name in types if name in present]
    cursor = source.execute(f"SELECT {', '.join(columns)} FROM {table}")
    convert = [_converter(types[name]) for name in columns]
    copied = 0
    while rows := cursor.fetchmany(COPY_BATCH):
        records = [tuple(c(v) for c, v in zip(convert, row, strict=True)) for row in rows]
        await target.copy_records_to_table(table, records=records, columns=columns)
        copied += len(records)
        if progress is not None:
            progress(table, copied)
        await asyncio.sleep(0)
    if identity is not None:  # new rows must not reuse a copied id
        await target.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', '{identity}'),"
            f" (SELECT coalesce(max({identity}), 0) + 1 FROM {table}), false)"
        )
    return copied


def _converter(data_type: str) -> Callable[[Any], Any]:
    """SQLite's loosely typed value as the PostgreSQL column's type."""
    if data_type == "bytea":
        return lambda value: None if value is None else bytes(value)
    if data_type == "text":
        return lambda value: None if value is None else str(value)
    if data_type == "bigint":
        return lambda value: None if value is None else int(value)
    return lambda value: value


def _safe(dsn: str) -> str:
    """`dsn` without its password, for messages."""
    scheme, sep, rest = dsn.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return dsn
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"
