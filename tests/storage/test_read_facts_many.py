"""Contract: read_facts_many, the bulk read SORT and THREAD use (RFC 5256)."""

from __future__ import annotations

from tests.storage.storage_support import Harness, message

from tidings.core import mime
from tidings.storage.api import FlagOperation


def test_read_facts_many_gives_the_facts_of_existing_messages(harness: Harness) -> None:
    store = harness.store()
    raws = [message(f"m{i}", f"body {i}\r\n") for i in range(4)]
    for raw in raws:
        harness.run(store.append("INBOX", raw))
    mailbox = harness.run(store.get_mailbox("INBOX")).id
    harness.run(store.store_flags(mailbox, [2], FlagOperation.ADD, ["\\Deleted"]))
    harness.run(store.expunge(mailbox))
    found = harness.run(store.read_facts_many(mailbox, [4, 1, 2, 3, 99]))
    # Expunged (2) and unknown (99) UIDs are absent; the others equal read_facts.
    assert sorted(found) == [1, 3, 4]
    for uid in (1, 3, 4):
        assert found[uid] == mime.parse_message(raws[uid - 1])
        assert found[uid] == harness.run(store.read_facts(mailbox, uid))
    assert harness.run(store.read_facts_many(mailbox, [])) == {}
