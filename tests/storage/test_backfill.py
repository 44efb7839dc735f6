"""Contract: `tidings db index` (storage/sqlite/backfill.py) fills in the full-text texts
and SORT values of mail stored before they existed, a batch at a time, newest first, on
every backend; the CLI command on a SQLite data dir."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import run_cli
from tests.storage.storage_support import Harness, message
from tests.storage.test_text_index import CRAFTED, KNOWN, Scanner, _corpus

from tidings.core import mime
from tidings.core.sort_facts import sort_facts
from tidings.storage.sqlite import SqliteBackend

MAKE_OLD = (
    "DELETE FROM blob_text",
    "DELETE FROM blob_text_skipped",
    "DELETE FROM blob_sort",
    "UPDATE meta SET value = (SELECT coalesce(max(id), 0) + 1 FROM blobs)"
    " WHERE key = 'text_index_floor'",
)
"""What a store upgraded to schema version 5 looks like: no texts, the floor above them."""


def _make_old(harness: Harness) -> None:
    def run(txn: object) -> None:
        for statement in MAKE_OLD:
            txn.conn.execute(statement)  # type: ignore[attr-defined]

    harness.run(harness.backend._db.write(run))  # type: ignore[attr-defined]


def test_old_mail_is_indexed_newest_first_until_none_is_left(harness: Harness) -> None:
    store = harness.store()
    raws = [*CRAFTED, *_corpus(20)]
    by_uid = {harness.run(store.append("INBOX", raw)).uid: raw for raw in raws}
    mailbox = harness.run(store.get_mailbox("INBOX")).id
    _make_old(harness)
    needles = list(KNOWN)
    before = harness.run(store.text_search(mailbox, needles))
    assert all(answer.unindexed == set(by_uid) for answer in before.values())
    assert harness.run(store.sort_facts_many(mailbox, list(by_uid))) == {}
    progress = []
    while True:
        done, left = harness.run(harness.backend.index_old_mail(batch=7))  # type: ignore[attr-defined]
        progress.append((done, left))
        if not left:
            break
        # Half-way: the newest are answered by the index, the rest still read.
        middle = harness.run(store.text_search(mailbox, needles))[needles[0]]
        assert middle.unindexed == set(sorted(by_uid)[:left])
    assert progress[0] == (7, len(raws) - 7)
    assert sum(done for done, _ in progress) == len(raws)
    assert harness.run(harness.backend.index_old_mail()) == (0, 0)  # type: ignore[attr-defined]
    after = harness.run(store.text_search(mailbox, needles))
    scanner = Scanner(by_uid)
    for needle, scope in needles:
        assert after[(needle, scope)].unindexed == frozenset()
        assert after[(needle, scope)].hits >= scanner.find(needle, scope), needle
        if scope != "headers":
            assert after[(needle, scope)].hits == scanner.find(needle, scope), needle
    stored = harness.run(store.sort_facts_many(mailbox, list(by_uid)))
    assert stored == {uid: sort_facts(mime.parse_message(raw)) for uid, raw in by_uid.items()}


def test_db_index_on_a_sqlite_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert (
        run_cli(data, "user", "add", "a@example.test", "--password-stdin", stdin="pw\n").returncode
        == 0
    )

    async def fill_and_age() -> None:
        backend = await SqliteBackend.open(data / "mail.db")
        store = await backend.mail_store("a@example.test")
        for index in range(40):
            await store.append("INBOX", message(f"old {index}", f"an aardvark {index}\r\n"))
        await backend._db.write(  # type: ignore[attr-defined]
            lambda txn: [txn.conn.execute(statement) for statement in MAKE_OLD]
        )
        await backend.close()

    asyncio.run(fill_and_age())
    first = run_cli(data, "db", "index")
    assert first.returncode == 0, first.stderr
    assert "indexed 40 messages stored before the full-text index" in first.stdout
    second = run_cli(data, "db", "index")
    assert "every message is indexed already" in second.stdout

    async def search() -> set[int]:
        backend = await SqliteBackend.open(data / "mail.db")
        store = await backend.mail_store("a@example.test")
        mailbox = (await store.get_mailbox("INBOX")).id
        answer = (await store.text_search(mailbox, [("aardvark 3", "body")]))[
            ("aardvark 3", "body")
        ]
        await backend.close()
        assert answer.unindexed == frozenset()
        return set(answer.hits)

    assert asyncio.run(search()) == {4, *range(31, 41)}
