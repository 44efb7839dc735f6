"""Contract and SQLite tests for RFC 7162: the change log with its floor, expunged UIDs, the
conditional STORE, and pruning after the retention (`[imap] vanished_retention_days`)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from tests.storage.storage_support import USER, Harness, message

from tidings.config import ConfigError, load_config
from tidings.storage.api import ChangeKind, FlagOperation, MailStore
from tidings.storage.sqlite import SqliteBackend, changelog


def _five(harness: Harness) -> tuple[MailStore, int]:
    store = harness.store()
    for index in range(5):
        harness.run(store.append("INBOX", message(f"m{index}")))
    return store, harness.run(store.get_mailbox("INBOX")).id


def test_change_log_and_expunged_since(harness: Harness) -> None:
    store, box = _five(harness)  # UIDs 1-5, modseqs 2-6
    harness.run(store.store_flags(box, [2, 4], FlagOperation.ADD, ["\\Deleted"]))  # 7
    assert harness.run(store.expunge(box)) == [2, 4]  # 8
    log = harness.run(store.change_log(box, 6))
    assert log.current is None and log.floor == 0 and log.highestmodseq == 8
    assert [(c.modseq, c.uid, c.kind) for c in log.changes] == [
        (7, 2, ChangeKind.FLAGS),
        (7, 4, ChangeKind.FLAGS),
        (8, 2, ChangeKind.EXPUNGE),
        (8, 4, ChangeKind.EXPUNGE),
    ]
    assert harness.run(store.expunged_since(box, 0)) == (2, 4)
    assert harness.run(store.expunged_since(box, 8)) == ()


def test_conditional_store(harness: Harness) -> None:
    """RFC 7162 §3.1.3: the test and the change in one transaction."""
    store, box = _five(harness)
    result = harness.run(
        store.store_flags_unchanged_since(box, [1, 2, 3], FlagOperation.ADD, ["\\Seen"], 3)
    )
    # UID 1 (modseq 2) and 2 (3) pass; UID 3 (4) fails.
    assert [meta.uid for meta in result.changed] == [1, 2]
    assert result.modified == (3,) and result.already == ()
    # UID 1 changed since 3 (now modseq 7) but already has \Seen: not a failure.
    again = harness.run(
        store.store_flags_unchanged_since(box, [1, 4], FlagOperation.ADD, ["\\Seen"], 3)
    )
    assert again.modified == (4,)
    assert [(meta.uid, meta.modseq) for meta in again.already] == [(1, 7)]
    # UNCHANGEDSINCE 0: fails on an existing keyword or any system flag, not on a new one.
    first = harness.run(
        store.store_flags_unchanged_since(box, [5], FlagOperation.ADD, ["$MDNSent"], 0)
    )
    assert [meta.uid for meta in first.changed] == [5] and first.modified == ()
    second = harness.run(
        store.store_flags_unchanged_since(box, [5], FlagOperation.ADD, ["$MDNSent"], 0)
    )
    assert second.changed == () and second.modified == (5,)
    system = harness.run(
        store.store_flags_unchanged_since(box, [4], FlagOperation.REMOVE, ["\\Draft"], 0)
    )
    assert system.modified == (4,)


def _open(path: Path, retention: float) -> SqliteBackend:
    async def run() -> SqliteBackend:
        return await SqliteBackend.open(path, change_retention=retention)

    return asyncio.run(run())


def test_expunge_prunes_with_short_retention(tmp_path: Path) -> None:
    """Retention 0: each EXPUNGE drops the older history and raises the floor; a reader
    below the floor gets the mailbox as it is instead (and no expunge list)."""

    async def scenario() -> None:
        backend = await SqliteBackend.open(tmp_path / "mail.db", change_retention=0)
        await backend.add_account(USER, "hash")
        store = await backend.mail_store(USER)
        for index in range(4):
            await store.append("INBOX", message(f"m{index}"))  # modseqs 2-5
        box = (await store.get_mailbox("INBOX")).id
        await store.store_flags(box, [1, 3], FlagOperation.ADD, ["\\Deleted"])  # 6
        assert await store.expunge(box) == [1, 3]  # 7, then pruned up to 7
        log = await store.change_log(box, 5)
        assert log.floor == 7 and log.changes == ()
        assert log.current is not None
        assert [meta.uid for meta in log.current] == [2, 4]
        assert await store.expunged_since(box, 5) is None
        assert await store.expunged_since(box, 7) == ()
        await store.store_flags(box, [2], FlagOperation.ADD, ["$Late"])  # 8, above the floor
        later = await store.change_log(box, 7)
        assert later.current is None and [c.uid for c in later.changes] == [2]
        await backend.close()

    asyncio.run(scenario())


def test_default_retention_keeps_history_and_startup_prune(tmp_path: Path) -> None:
    """With the default (30 days) nothing recent is pruned; at start-up, rows older than
    the retention go (here: rows from before version 3, without a time, count as old)."""
    path = tmp_path / "mail.db"

    async def fill() -> int:
        backend = await SqliteBackend.open(path)
        await backend.add_account(USER, "hash")
        store = await backend.mail_store(USER)
        for index in range(3):
            await store.append("INBOX", message(f"m{index}"))
        box = (await store.get_mailbox("INBOX")).id
        await store.store_flags(box, [2], FlagOperation.ADD, ["\\Deleted"])
        await store.expunge(box)
        assert (await store.change_log(box, 0)).floor == 0
        assert await store.expunged_since(box, 0) == (2,)
        await backend.close()
        return box

    box = asyncio.run(fill())
    with sqlite3.connect(path) as db:
        db.execute("UPDATE changes SET logged_at = NULL WHERE modseq <= 3")
    backend = _open(path, changelog.DEFAULT_RETENTION)  # start-up prune

    async def check() -> None:
        store = await backend.mail_store(USER)
        log = await store.change_log(box, 0)
        assert log.floor == 3 and log.current is not None
        assert [c.modseq for c in (await store.change_log(box, 3)).changes] == [4, 5, 6]
        assert await backend.prune_change_log(0) == 3
        assert (await store.change_log(box, 6)).floor == 6
        await backend.close()

    asyncio.run(check())


def test_prune_is_bounded_per_pass(tmp_path: Path) -> None:
    """One pass removes about PRUNE_BATCH rows of a mailbox; the floor follows exactly."""
    path = tmp_path / "mail.db"
    backend = _open(path, changelog.DEFAULT_RETENTION)

    async def fill() -> int:
        await backend.add_account(USER, "hash")
        store = await backend.mail_store(USER)
        await store.append("INBOX", message())
        box = (await store.get_mailbox("INBOX")).id
        for index in range(changelog.PRUNE_BATCH + 10):
            await store.store_flags(box, [1], FlagOperation.REPLACE, [f"$k{index}"])
        await backend.close()
        return box

    box = asyncio.run(fill())
    with sqlite3.connect(path) as db:
        db.execute("UPDATE changes SET logged_at = 0")
        removed = changelog.prune_mailbox(db, box, changelog.cutoff_for(0))
        (floor,) = db.execute(
            "SELECT vanished_floor FROM mailboxes WHERE id = ?", (box,)
        ).fetchone()
        (left,) = db.execute("SELECT count(*) FROM changes WHERE mailbox_id = ?", (box,)).fetchone()
    assert removed == changelog.PRUNE_BATCH
    assert floor == changelog.PRUNE_BATCH + 1  # the append was modseq 2
    assert left == 11


def test_config_key(tmp_path: Path) -> None:
    """`[imap] vanished_retention_days`: a number of days, not negative, no other keys."""
    config = tmp_path / "t.toml"
    config.write_text("[imap]\nvanished_retention_days = 0.5\n")
    assert load_config(config, {}, environ={}).vanished_retention_days == 0.5
    assert load_config(None, {}, environ={}).vanished_retention_days == 30.0
    for bad in ("vanished_retention_days = -1", "vanished_retention_days = 'x'", "other = 1"):
        config.write_text(f"[imap]\n{bad}\n")
        with pytest.raises(ConfigError):
            load_config(config, {}, environ={})
