"""SQLite-specific behaviour: file settings, blob sharing and collection, schema version,
and durability across `kill -9`."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.storage.storage_support import USER, Harness, message, open_sqlite

from tidings.core.errors import MailError, MailErrorKind
from tidings.storage.api import FlagOperation
from tidings.storage.sqlite import SqliteBackend
from tidings.storage.sqlite.schema import SCHEMA_VERSION, SchemaTooNewError


@pytest.fixture
def sqlite_harness(tmp_path: Path) -> Iterator[Harness]:
    """A SQLite backend with the account USER."""
    instance = Harness(open_sqlite, tmp_path, None)
    try:
        instance.run(instance.backend.add_account(USER, "hash"))
        yield instance
    finally:
        instance.close()


def db_path(harness: Harness) -> Path:
    return harness.path / "mail.sqlite"


def query(harness: Harness, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db_path(harness)) as conn:
        return conn.execute(sql).fetchall()


def test_wal_and_schema_version(sqlite_harness: Harness) -> None:
    assert query(sqlite_harness, "PRAGMA journal_mode") == [("wal",)]
    assert query(sqlite_harness, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


def test_blobs_are_shared_and_collected(sqlite_harness: Harness) -> None:
    harness = sqlite_harness
    store = harness.store()
    harness.run(store.append("INBOX", message("a")))
    harness.run(store.append("INBOX", message("a")))  # same bytes: same blob
    harness.run(store.append("INBOX", message("b")))
    inbox = harness.run(store.get_mailbox("INBOX"))
    harness.run(store.copy(inbox.id, [1, 3], "Archive"))
    assert query(harness, "SELECT count(*) FROM blobs") == [(2,)]
    harness.run(store.store_flags(inbox.id, [1, 2, 3], FlagOperation.ADD, ["\\Deleted"]))
    harness.run(store.expunge(inbox.id))
    assert query(harness, "SELECT count(*) FROM blobs") == [(2,)]  # Archive holds both
    archive = harness.run(store.get_mailbox("Archive"))
    harness.run(store.store_flags(archive.id, [2], FlagOperation.ADD, ["\\Deleted"]))
    harness.run(store.expunge(archive.id))
    assert query(harness, "SELECT count(*) FROM blobs") == [(1,)]
    harness.run(harness.backend.remove_account(USER))
    assert query(harness, "SELECT count(*) FROM blobs") == [(0,)]


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "mail.sqlite") as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaTooNewError):
        asyncio.run(SqliteBackend.open(tmp_path / "mail.sqlite"))


def test_closed_backend_refuses_work(sqlite_harness: Harness) -> None:
    harness = sqlite_harness
    store = harness.store()
    harness.run(harness.backend.close())
    with pytest.raises(MailError) as caught:
        harness.run(store.status("INBOX"))
    assert caught.value.kind is MailErrorKind.TEMP
    harness.backend = harness.run(open_sqlite(harness.path, harness.hub, None))


CHILD = textwrap.dedent(
    """
    import asyncio
    from pathlib import Path
    from tidings.storage.sqlite import SqliteBackend

    async def main() -> None:
        backend = await SqliteBackend.open(Path({db!r}))
        store = await backend.mail_store({user!r})
        result = await store.append("INBOX", {raw!r}, ["\\\\Flagged"])
        print(result.uid, flush=True)
        await asyncio.sleep(60)

    asyncio.run(main())
    """
)


def test_acknowledged_append_survives_kill_9(sqlite_harness: Harness) -> None:
    harness = sqlite_harness
    store = harness.store()
    harness.run(store.append("INBOX", message("before")))
    raw = message("survivor", "x" * 5000)
    script = CHILD.format(db=str(db_path(harness)), user=USER, raw=raw)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        os.kill(child.pid, signal.SIGKILL)  # right after the acknowledgement
    finally:
        child.kill()
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
    uid = int(line)
    harness.reopen()
    store = harness.store()
    inbox = harness.run(store.get_mailbox("INBOX"))
    assert harness.run(store.read_message(inbox.id, uid)) == raw
    flags = {m.uid: m.flags for m in harness.run(store.open_mailbox("INBOX", False)).messages}
    assert flags[uid] == {"\\Flagged", "$HasNoAttachment"}
    assert harness.run(store.append("INBOX", message("after"))).uid == uid + 1
