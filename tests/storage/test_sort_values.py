"""Contract: SORT's values stored at ingest (issue 5) are those worked out from the facts,
on every backend; expunged messages and messages stored before they were kept are absent."""

from __future__ import annotations

import sqlite3

from tests.storage.storage_support import Harness, message
from tests.storage.test_text_index import CRAFTED, _corpus

from tidings.core import mime
from tidings.core.sort_facts import sort_facts
from tidings.storage.api import FlagOperation


def test_stored_sort_values_are_the_ones_of_the_facts(harness: Harness) -> None:
    store = harness.store()
    raws = [*CRAFTED, *_corpus(30), b"Subject: no date, no from\r\n\r\nbody\r\n"]
    by_uid = {harness.run(store.append("INBOX", raw)).uid: raw for raw in raws}
    mailbox = harness.run(store.get_mailbox("INBOX")).id
    harness.run(store.store_flags(mailbox, [2], FlagOperation.ADD, ["\\Deleted"]))
    harness.run(store.expunge(mailbox))
    stored = harness.run(store.sort_facts_many(mailbox, [*by_uid, 999]))
    assert sorted(stored) == [uid for uid in sorted(by_uid) if uid != 2]
    for uid, values in stored.items():
        assert values == sort_facts(mime.parse_message(by_uid[uid])), uid
    assert stored[len(raws)].sent == 0.0 and stored[len(raws)].from_ == ""
    assert len({values.subject for values in stored.values()}) > 10


def test_messages_without_stored_values_are_absent(sqlite_harness: Harness) -> None:
    store = sqlite_harness.store()
    sqlite_harness.run(store.append("INBOX", message("one")))
    sqlite_harness.run(store.append("INBOX", message("two")))
    mailbox = sqlite_harness.run(store.get_mailbox("INBOX")).id
    with sqlite3.connect(sqlite_harness.path / "mail.sqlite") as conn:
        conn.execute("DELETE FROM blob_sort WHERE blob_id = 1")
    conn.close()
    assert sorted(sqlite_harness.run(store.sort_facts_many(mailbox, [1, 2]))) == [2]
