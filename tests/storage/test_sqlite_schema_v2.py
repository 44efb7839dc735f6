"""SQLite schema version 2: the upgrade of a version-1 file (usage counters and wire sizes
backfilled), the migration runner, and quota exactness between processes."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from tests.storage.storage_support import OTHER_USER, USER, message

from tidings.storage.api import MaildropEntry, Quota
from tidings.storage.sqlite import SqliteBackend, blobs
from tidings.storage.sqlite.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    V1_SCRIPT,
    migrate,
    run_script,
)

LF_MESSAGE = b"Subject: lf\n\nbody line\nsecond line\n"  # 4 bare LFs
CRLF_MESSAGE = message("crlf", "Hello.")


def _insert_message(
    conn: sqlite3.Connection, mailbox_id: int, uid: int, raw: bytes, sysflags: int = 0
) -> None:
    prepared = blobs.prepare(raw)
    # A version-1 blob row: no wire_size column yet.
    conn.execute(
        "INSERT INTO blobs (digest, size, body, facts) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (digest) DO NOTHING",
        (prepared.digest, prepared.size, prepared.body, prepared.facts),
    )
    (blob_id,) = conn.execute(
        "SELECT id FROM blobs WHERE digest = ?", (prepared.digest,)
    ).fetchone()
    conn.execute(
        "INSERT INTO messages (mailbox_id, uid, modseq, sysflags, keywords, internaldate, size,"
        " blob_id) VALUES (?, ?, 2, ?, '', '2024-01-01T10:00:00+00:00', ?, ?)",
        (mailbox_id, uid, sysflags, len(raw), blob_id),
    )


def make_v1_database(path: Path) -> None:
    """A version-1 file as the first release wrote it: two accounts, messages in several
    mailboxes (one blob shared between the accounts), one \\Deleted message."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.executescript(V1_SCRIPT)
        conn.execute("PRAGMA user_version = 1")
        mailboxes = [(1, 1, "INBOX"), (2, 1, "Sent"), (3, 2, "INBOX"), (4, 1, "Trash")]
        conn.executemany("INSERT INTO accounts VALUES (?, ?, 'hash')", [(1, USER), (2, OTHER_USER)])
        conn.executemany(
            "INSERT INTO mailboxes (id, account_id, name, uidvalidity, uidnext, highestmodseq)"
            " VALUES (?, ?, ?, ?, 10, 2)",
            [
                (mailbox_id, account, name, 100 + mailbox_id)
                for mailbox_id, account, name in mailboxes
            ],
        )
        _insert_message(conn, 1, 1, CRLF_MESSAGE)
        _insert_message(conn, 1, 2, LF_MESSAGE)
        _insert_message(conn, 2, 1, b"Subject: sent\r\n\r\n" + b"s" * 500 + b"\r\n")
        _insert_message(conn, 4, 1, b"Subject: gone\r\n\r\nbye\r\n", sysflags=8)  # \Deleted
        _insert_message(conn, 3, 1, LF_MESSAGE)  # bob shares alice's blob
    finally:
        conn.close()


def test_version_1_file_is_upgraded_with_counters_and_wire_sizes(tmp_path: Path) -> None:
    path = tmp_path / "mail.db"
    make_v1_database(path)
    with sqlite3.connect(path) as conn:
        expected = {
            account: conn.execute(
                "SELECT sum(m.size), count(*) FROM messages m JOIN mailboxes b"
                " ON b.id = m.mailbox_id WHERE b.account_id = ?",
                (account,),
            ).fetchone()
            for account in (1, 2)
        }
    conn.close()

    async def check() -> None:
        backend = await SqliteBackend.open(path)
        try:
            alice = await backend.mail_store(USER)
            bob = await backend.mail_store(OTHER_USER)
            assert await alice.quota() == Quota(None, None, *expected[1])
            assert await bob.quota() == Quota(None, None, *expected[2])
            drop = await alice.open_maildrop()
            assert drop.messages == (
                MaildropEntry(1, len(CRLF_MESSAGE)),
                MaildropEntry(2, len(LF_MESSAGE) + 4),
            )
            assert (await bob.open_maildrop()).messages == (MaildropEntry(1, len(LF_MESSAGE) + 4),)
            assert (await alice.settings()).junk_routing is None
            # The triggers run from now on: new mail counts, freed mail is subtracted.
            new = b"Subject: new\r\n\r\n12345\r\n"
            await alice.append("INBOX", new)
            await alice.delete_messages(drop.info.id, [1])
            used = expected[1][0] + len(new) - len(CRLF_MESSAGE)
            assert await alice.quota() == Quota(None, None, used, expected[1][1])
        finally:
            await backend.close()

    asyncio.run(check())
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert conn.execute("SELECT count(*) FROM blobs WHERE wire_size IS NULL").fetchone() == (0,)
    conn.close()


def test_a_fresh_database_runs_every_step(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    asyncio.run(_open_and_close(path))
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
        triggers = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        }
    conn.close()
    assert triggers == {
        "usage_after_insert",
        "usage_after_delete",
        "usage_after_update",
        "private_seen_after_delete",  # v4: per-user \\Seen goes with its message
        "acl_after_mailbox_delete",  # v4: an ACL goes with its mailbox
        "blob_text_after_insert",  # v5: the full-text index follows blob_text
        "blob_text_after_delete",
    }


async def _open_and_close(path: Path) -> None:
    backend = await SqliteBackend.open(path)
    await backend.close()


def _fail(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO t VALUES (2)")
    raise RuntimeError("step failed")


def test_a_failing_step_is_rolled_back_and_keeps_the_version(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "steps.db", isolation_level=None)
    try:
        steps = ("CREATE TABLE t (x INTEGER);\nINSERT INTO t VALUES (1);", _fail)
        with pytest.raises(RuntimeError, match="step failed"):
            migrate(conn, steps)
        assert conn.execute("PRAGMA user_version").fetchone() == (1,)
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
        assert not conn.in_transaction
    finally:
        conn.close()


def test_scripts_split_on_complete_statements_not_on_every_semicolon(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "script.db", isolation_level=None)
    try:
        run_script(
            conn,
            "CREATE TABLE a (x);\nCREATE TABLE log (y);\n"
            "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n"
            "  INSERT INTO log VALUES (NEW.x; );\n".replace("; )", ")")
            + "  INSERT INTO log VALUES ('two;three');\nEND;\n",
        )
        conn.execute("INSERT INTO a VALUES (7)")
        assert conn.execute("SELECT y FROM log ORDER BY rowid").fetchall() == [(7,), ("two;three",)]
        with pytest.raises(ValueError, match="incomplete SQL statement"):
            run_script(conn, "CREATE TABLE b (x")
    finally:
        conn.close()


APPENDER = textwrap.dedent(
    """
    import asyncio, json, time
    from pathlib import Path
    from tidings.core.errors import MailError
    from tidings.storage.sqlite import SqliteBackend

    async def main() -> None:
        backend = await SqliteBackend.open(Path({db!r}))
        store = await backend.mail_store({user!r})
        go = Path({go!r})
        while not go.exists():
            time.sleep(0.005)
        results = []
        for i in range({count}):
            raw = b"Subject: p%d-%d\\r\\n\\r\\nhi\\r\\n" % ({child}, i)
            try:
                results.append(await store.append("INBOX", raw))
            except Exception as error:
                results.append(error)
            time.sleep(0.002)  # give the other processes a turn at the write lock
        kinds = sorted({{r.kind.value for r in results if isinstance(r, MailError)}})
        others = [
            repr(r) for r in results if isinstance(r, Exception) and not isinstance(r, MailError)
        ]
        stored = sum(1 for r in results if not isinstance(r, Exception))
        print(json.dumps([stored, kinds, others]), flush=True)
        await backend.close()

    asyncio.run(main())
    """
)


def test_processes_appending_to_one_file_never_overshoot_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    go = tmp_path / "go"

    async def setup() -> None:
        backend = await SqliteBackend.open(path)
        await backend.add_account(USER, "h")
        await backend.set_quota(USER, None, 25)
        await backend.close()

    asyncio.run(setup())
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                APPENDER.format(db=str(path), user=USER, go=str(go), child=child, count=15),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for child in range(3)
    ]
    try:
        time.sleep(0.3)  # let every child open the database before the race starts
        go.touch()
        outputs = [json.loads(child.communicate(timeout=60)[0]) for child in children]
    finally:
        for child in children:
            child.kill()
            child.wait(timeout=30)
    assert all(kinds in ([], ["overquota"]) and not others for _, kinds, others in outputs), outputs
    assert sum(stored for stored, _, _ in outputs) == 25
    with sqlite3.connect(path) as conn:
        counters = conn.execute("SELECT storage_used, messages_used FROM accounts").fetchone()
        actual = conn.execute("SELECT sum(size), count(*) FROM messages").fetchone()
    conn.close()
    assert counters == actual and actual[1] == 25
