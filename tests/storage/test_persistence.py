"""Contract: what is acknowledged survives closing and reopening the backend."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.storage.storage_support import Harness, message

from tidings.storage.api import FlagOperation


def test_state_survives_reopen(harness: Harness) -> None:
    store = harness.store()
    when = datetime(2022, 2, 2, 2, 2, 2, tzinfo=UTC)
    harness.run(store.create_mailbox("Work/Q1"))
    harness.run(store.set_subscribed("Work/Q1", True))
    for i in range(3):
        harness.run(store.append("Work/Q1", message(f"m{i}"), ["$Important", "\\Answered"], when))
    mailbox = harness.run(store.get_mailbox("Work/Q1"))
    harness.run(store.store_flags(mailbox.id, [3], FlagOperation.ADD, ["\\Deleted"]))
    harness.run(store.expunge(mailbox.id))
    harness.run(store.open_mailbox("Work/Q1", True))
    before = harness.run(store.open_mailbox("Work/Q1", False))
    changes = harness.run(store.changes_since(mailbox.id, 0))

    harness.reopen()
    store = harness.store()
    after = harness.run(store.open_mailbox("Work/Q1", True))
    assert after.info == before.info
    assert after.messages == before.messages
    assert after.recent_uids == frozenset()
    assert after.messages[0].flags == {"$Important", "\\Answered", "$HasNoAttachment"}
    assert after.messages[0].internaldate == when
    assert harness.run(store.changes_since(mailbox.id, 0)) == changes
    assert harness.run(store.read_message(mailbox.id, 2)) == message("m1")
    assert "Work/Q1" in harness.run(store.list_subscriptions())
    # UIDNEXT is not reused after a restart, even for an expunged last message.
    assert harness.run(store.append("Work/Q1", message())).uid == 4
    assert harness.run(harness.backend.password_hash("ALICE@example.test")) == "hash-1"
