"""Contract: SELECT's snapshot comes from the cache of recently opened mailboxes (issue 5)
and is always exactly what reading the mailbox gives: after appends, flag changes, copies,
moves and expunges (brought up to date from the change log), after the log was pruned past
it (read anew), after the mailbox was deleted and made again, and when another backend on
the same database (another node or worker) made the change."""

from __future__ import annotations

import random

import pytest
from tests.storage.storage_support import Harness, message, open_memory

from tidings.storage.api import FlagOperation, MailStore, MessageMeta
from tidings.storage.sqlite import changelog, messages
from tidings.storage.sqlite.snapshots import SnapshotCache

KEYWORDS = ("$Label1", "Work", "\\Seen", "\\Flagged", "\\Deleted")


def _read(harness: Harness, mailbox_id: int) -> tuple[MessageMeta, ...]:
    # What the mailbox holds, read past the cache.
    return harness.run(harness.backend._db.read(messages.all_metas, mailbox_id))  # type: ignore[attr-defined]


def _selected(harness: Harness, store: MailStore, name: str) -> tuple[MessageMeta, ...]:
    return harness.run(store.open_mailbox(name, claim_recent=False)).messages


def _random_change(harness: Harness, store: MailStore, rng: random.Random, serial: int) -> None:
    inbox = harness.run(store.get_mailbox("INBOX")).id
    uids = [meta.uid for meta in _read(harness, inbox)]
    action = rng.choice(["append", "append", "flags", "flags", "expunge", "copy", "move"])
    if action == "append" or not uids:
        for index in range(rng.randint(1, 3)):
            harness.run(
                store.append("INBOX", message(f"m{serial}-{index}"), [rng.choice(KEYWORDS)])
            )
        return
    chosen = rng.sample(uids, rng.randint(1, min(4, len(uids))))
    if action == "flags":
        operation = rng.choice([FlagOperation.ADD, FlagOperation.REMOVE, FlagOperation.REPLACE])
        harness.run(store.store_flags(inbox, chosen, operation, rng.sample(KEYWORDS, 2)))
    elif action == "expunge":
        harness.run(store.store_flags(inbox, chosen, FlagOperation.ADD, ["\\Deleted"]))
        harness.run(store.expunge(inbox, chosen))
    elif action == "copy":
        harness.run(store.copy(inbox, chosen, "Other"))
    else:
        harness.run(store.move(inbox, chosen, "Other"))


def test_select_after_every_kind_of_change_is_exact(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.create_mailbox("Other"))
    rng = random.Random(7)
    for serial in range(60):
        _random_change(harness, store, rng, serial)
        if rng.random() < 0.6:  # sometimes several changes between two SELECTs
            for name in ("INBOX", "Other"):
                box = harness.run(store.get_mailbox(name)).id
                assert _selected(harness, store, name) == _read(harness, box), (serial, name)
    inbox = harness.run(store.get_mailbox("INBOX")).id
    assert len(_read(harness, inbox)) > 5  # the run did leave messages to compare


def test_select_after_the_log_was_pruned_reads_anew(harness: Harness) -> None:
    store = harness.store()
    for index in range(5):
        harness.run(store.append("INBOX", message(f"p{index}")))
    inbox = harness.run(store.get_mailbox("INBOX")).id
    _selected(harness, store, "INBOX")  # cached at this modseq
    harness.run(store.store_flags(inbox, [2], FlagOperation.ADD, ["\\Deleted"]))
    harness.run(store.expunge(inbox))
    harness.run(store.store_flags(inbox, [3], FlagOperation.ADD, ["Pruned"]))
    db = harness.backend._db  # type: ignore[attr-defined]
    removed = harness.run(
        db.write(lambda txn: changelog.prune_mailbox(txn.conn, inbox, float("inf")))
    )
    assert removed > 0  # the expunge of 2 is forgotten: only reading again shows it
    assert _selected(harness, store, "INBOX") == _read(harness, inbox)
    assert [meta.uid for meta in _selected(harness, store, "INBOX")] == [1, 3, 4, 5]


def test_a_mailbox_made_anew_is_not_taken_for_the_old_one(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.create_mailbox("Again"))
    harness.run(store.append("Again", message("old one")))
    assert len(_selected(harness, store, "Again")) == 1
    harness.run(store.delete_mailbox("Again"))
    harness.run(store.create_mailbox("Again"))
    assert _selected(harness, store, "Again") == ()


def test_a_change_made_by_another_backend_is_seen(harness: Harness) -> None:
    # Two nodes (PostgreSQL) or two workers (SQLite) on one database, each with its cache.
    if harness.factory is open_memory:
        pytest.skip("an in-memory database has one backend only")
    mine = harness.store()
    harness.run(mine.append("INBOX", message("first")))
    assert len(_selected(harness, mine, "INBOX")) == 1
    other = harness.run(harness.factory(harness.path, harness.hub, None))
    try:
        theirs = harness.run(other.mail_store(mine.account))
        harness.run(theirs.append("INBOX", message("second")))
        inbox = harness.run(theirs.get_mailbox("INBOX")).id
        harness.run(theirs.store_flags(inbox, [1], FlagOperation.ADD, ["\\Answered"]))
    finally:
        harness.run(other.close())
    snapshot = _selected(harness, mine, "INBOX")
    assert [meta.uid for meta in snapshot] == [1, 2]
    assert "\\Answered" in snapshot[0].flags


def test_the_cache_holds_at_most_its_limit(harness: Harness) -> None:
    store = harness.store()
    cache = SnapshotCache(max_messages=5)
    for name, count in (("A", 3), ("B", 2), ("C", 4)):
        harness.run(store.create_mailbox(name))
        for index in range(count):
            harness.run(store.append(name, message(f"{name}{index}")))
    db = harness.backend._db  # type: ignore[attr-defined]
    account = store._owner  # type: ignore[attr-defined]
    for name in ("A", "B", "C"):
        snapshot = harness.run(db.read(messages.open_mailbox, account, name, cache))
        assert len(snapshot.messages) == {"A": 3, "B": 2, "C": 4}[name]
        assert cache.held() <= 5
    assert cache.held() == 4  # A and B gave way to C
