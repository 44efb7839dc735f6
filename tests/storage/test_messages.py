"""Contract: append, read, flags, expunge, copy/move, the change log, recent, notices."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from tests.storage.storage_support import USER, Harness, message

from tidings.core import mime
from tidings.core.errors import MailError, MailErrorKind
from tidings.notify.api import ChangeNotice
from tidings.storage.api import ChangeKind, FlagOperation, MailStore


def inbox_id(harness: Harness, store: MailStore) -> int:
    return harness.run(store.get_mailbox("INBOX")).id


def fill(harness: Harness, store: MailStore, count: int, mailbox: str = "INBOX") -> list[int]:
    return [harness.run(store.append(mailbox, message(f"m{i}"))).uid for i in range(count)]


def flags_of(harness: Harness, store: MailStore, name: str = "INBOX") -> dict[int, frozenset[str]]:
    return {m.uid: m.flags for m in harness.run(store.open_mailbox(name, False)).messages}


def test_append_assigns_increasing_uids_and_modseqs(harness: Harness) -> None:
    store = harness.store()
    before = harness.run(store.get_mailbox("INBOX"))
    results = [harness.run(store.append("inbox", message(f"m{i}"))) for i in range(3)]
    assert [r.uid for r in results] == [1, 2, 3]
    assert {r.uidvalidity for r in results} == {before.uidvalidity}
    after = harness.run(store.get_mailbox("INBOX"))
    assert after.uidnext == 4
    changes = harness.run(store.changes_since(after.id, 0))
    modseqs = [c.modseq for c in changes]
    assert modseqs == sorted(set(modseqs)) and modseqs[0] > before.highestmodseq
    assert after.highestmodseq == modseqs[-1]


def test_uids_are_never_reused(harness: Harness) -> None:
    store = harness.store()
    fill(harness, store, 2)
    mailbox = inbox_id(harness, store)
    harness.run(store.store_flags(mailbox, [1, 2], FlagOperation.ADD, ["\\Deleted"]))
    assert harness.run(store.expunge(mailbox)) == [1, 2]
    assert harness.run(store.append("INBOX", message())).uid == 3


def test_append_stores_bytes_flags_and_date(harness: Harness) -> None:
    store = harness.store()
    when = datetime(2023, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=-5)))
    raw = message("dated", "body\r\n" * 100)
    harness.run(store.append("INBOX", raw, ["\\SEEN", "\\recent", "$Label1", "$label1"], when))
    snapshot = harness.run(store.open_mailbox("INBOX", False))
    (meta,) = snapshot.messages
    assert meta.flags == {"\\Seen", "$Label1", "$HasNoAttachment"}
    assert meta.internaldate == when and meta.internaldate.utcoffset() == timedelta(hours=-5)
    assert meta.size == len(raw)
    assert harness.run(store.read_message(snapshot.info.id, meta.uid)) == raw
    facts = harness.run(store.read_facts(snapshot.info.id, meta.uid))
    assert facts == mime.parse_message(raw)


def test_append_default_date_is_now_and_aware(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.append("INBOX", message()))
    (meta,) = harness.run(store.open_mailbox("INBOX", False)).messages
    assert meta.internaldate.tzinfo is not None
    assert abs(meta.internaldate - datetime.now(UTC)) < timedelta(minutes=1)


def test_append_errors(harness: Harness) -> None:
    store = harness.store()
    with pytest.raises(MailError) as caught:
        harness.run(store.append("Nope", message()))
    assert caught.value.kind is MailErrorKind.NOTFOUND
    harness.reopen(max_message_size=100)
    store = harness.store()
    with pytest.raises(MailError) as caught:
        harness.run(store.append("INBOX", b"x" * 101))
    assert caught.value.kind is MailErrorKind.TOOBIG
    assert harness.run(store.append("INBOX", b"Subject: s\r\n\r\nok\r\n")).uid == 1


def test_keywords_keep_first_spelling(harness: Harness) -> None:
    store = harness.store()
    fill(harness, store, 2)
    mailbox = inbox_id(harness, store)
    harness.run(store.store_flags(mailbox, [1], FlagOperation.ADD, ["Project"]))
    harness.run(store.store_flags(mailbox, [2], FlagOperation.ADD, ["PROJECT", "\\answered"]))
    assert flags_of(harness, store) == {
        1: {"Project", "$HasNoAttachment"},
        2: {"Project", "\\Answered", "$HasNoAttachment"},
    }
    changed = harness.run(store.store_flags(mailbox, [1, 2], FlagOperation.REMOVE, ["project"]))
    assert [m.uid for m in changed] == [1, 2]
    assert flags_of(harness, store) == {
        1: {"$HasNoAttachment"},
        2: {"\\Answered", "$HasNoAttachment"},
    }


def test_store_flags_operations_and_changed_only(harness: Harness) -> None:
    store = harness.store()
    fill(harness, store, 3)
    mailbox = inbox_id(harness, store)
    changed = harness.run(store.store_flags(mailbox, [1, 2, 99], FlagOperation.ADD, ["\\Seen"]))
    assert [m.uid for m in changed] == [1, 2]
    modseq = changed[0].modseq
    assert all(m.modseq == modseq and m.flags == {"\\Seen", "$HasNoAttachment"} for m in changed)
    assert harness.run(store.get_mailbox("INBOX")).highestmodseq == modseq
    # Nothing changes: nothing returned, no new modseq.
    assert harness.run(store.store_flags(mailbox, [1, 2], FlagOperation.ADD, ["\\seen"])) == []
    assert harness.run(store.store_flags(mailbox, [3], FlagOperation.REMOVE, ["\\Seen"])) == []
    assert harness.run(store.get_mailbox("INBOX")).highestmodseq == modseq
    replaced = harness.run(
        store.store_flags(mailbox, [1, 2, 3], FlagOperation.REPLACE, ["\\Seen", "\\Flagged"])
    )
    assert [m.uid for m in replaced] == [1, 2, 3]
    assert replaced[0].modseq > modseq
    assert flags_of(harness, store) == {u: {"\\Seen", "\\Flagged"} for u in (1, 2, 3)}
    harness.run(store.store_flags(mailbox, [2], FlagOperation.REPLACE, []))
    assert flags_of(harness, store)[2] == frozenset()
    # \Recent is not a storable flag.
    assert harness.run(store.store_flags(mailbox, [2], FlagOperation.ADD, ["\\Recent"])) == []


def test_expunge_only_deleted_and_only_among_uids(harness: Harness) -> None:
    store = harness.store()
    fill(harness, store, 5)
    mailbox = inbox_id(harness, store)
    harness.run(store.store_flags(mailbox, [4, 2, 5], FlagOperation.ADD, ["\\Deleted"]))
    assert harness.run(store.expunge(mailbox, [1, 2, 4])) == [2, 4]
    assert sorted(flags_of(harness, store)) == [1, 3, 5]
    assert harness.run(store.expunge(mailbox)) == [5]
    assert harness.run(store.expunge(mailbox)) == []
    with pytest.raises(MailError) as caught:
        harness.run(store.read_message(mailbox, 2))
    assert caught.value.kind is MailErrorKind.EXPUNGED
    with pytest.raises(MailError) as caught:
        harness.run(store.read_facts(mailbox, 2))
    assert caught.value.kind is MailErrorKind.EXPUNGED


def test_changes_since_records_every_change(harness: Harness) -> None:
    store = harness.store()
    mailbox = inbox_id(harness, store)
    start = harness.run(store.get_mailbox("INBOX")).highestmodseq
    fill(harness, store, 2)
    harness.run(store.store_flags(mailbox, [1], FlagOperation.ADD, ["\\Deleted"]))
    harness.run(store.expunge(mailbox))
    changes = harness.run(store.changes_since(mailbox, start))
    assert [(c.uid, c.kind) for c in changes] == [
        (1, ChangeKind.APPEND),
        (2, ChangeKind.APPEND),
        (1, ChangeKind.FLAGS),
        (1, ChangeKind.EXPUNGE),
    ]
    assert [c.modseq for c in changes] == sorted({c.modseq for c in changes})
    assert changes[2].meta is not None and changes[2].meta.flags == {
        "\\Deleted",
        "$HasNoAttachment",
    }
    assert changes[2].meta.modseq == changes[2].modseq
    assert changes[3].meta is None
    assert harness.run(store.changes_since(mailbox, changes[1].modseq)) == changes[2:]
    assert harness.run(store.changes_since(mailbox, changes[-1].modseq)) == []


def test_copy_preserves_flags_dates_and_orders_uids(harness: Harness) -> None:
    store = harness.store()
    when = datetime(2021, 1, 2, 3, 4, 5, tzinfo=UTC)
    for i in range(4):
        harness.run(store.append("INBOX", message(f"m{i}"), [f"kw{i}", "\\Flagged"], when))
    harness.run(store.create_mailbox("Dest"))
    harness.run(store.append("Dest", message("already there")))
    source = inbox_id(harness, store)
    result = harness.run(store.copy(source, [4, 2, 99, 3], "Dest"))
    dest = harness.run(store.get_mailbox("Dest"))
    assert result.uidvalidity == dest.uidvalidity
    assert result.source_uids == (2, 3, 4)
    assert result.dest_uids == (2, 3, 4)
    copied = {m.uid: m for m in harness.run(store.open_mailbox("Dest", False)).messages}
    assert (
        copied[3].flags == {"kw2", "\\Flagged", "$HasNoAttachment"}
        and copied[3].internaldate == when
    )
    assert harness.run(store.read_message(dest.id, 4)) == message("m3")
    assert len(flags_of(harness, store)) == 4  # source untouched


def test_copy_to_same_mailbox_and_empty_copy(harness: Harness) -> None:
    store = harness.store()
    fill(harness, store, 2)
    mailbox = inbox_id(harness, store)
    result = harness.run(store.copy(mailbox, [1, 2], "INBOX"))
    assert (result.source_uids, result.dest_uids) == ((1, 2), (3, 4))
    assert harness.run(store.read_message(mailbox, 4)) == message("m1")
    empty = harness.run(store.copy(mailbox, [42], "Trash"))
    assert (empty.source_uids, empty.dest_uids) == ((), ())


def test_copy_keywords_take_destination_spelling(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.append("Trash", message("t"), ["ToDo"]))
    harness.run(store.append("INBOX", message("i"), ["TODO"]))
    harness.run(store.copy(inbox_id(harness, store), [1], "Trash"))
    assert flags_of(harness, store, "Trash") == {
        1: {"ToDo", "$HasNoAttachment"},
        2: {"ToDo", "$HasNoAttachment"},
    }


def test_copy_and_move_to_missing_mailbox_are_notfound(harness: Harness) -> None:
    store = harness.store()
    fill(harness, store, 1)
    mailbox = inbox_id(harness, store)
    for coro in (store.copy(mailbox, [1], "Nope"), store.move(mailbox, [1], "Nope")):
        with pytest.raises(MailError) as caught:
            harness.run(coro)
        assert caught.value.kind is MailErrorKind.NOTFOUND
    assert list(flags_of(harness, store)) == [1]


def test_move_is_copy_plus_expunge(harness: Harness) -> None:
    store = harness.store()
    fill(harness, store, 3)
    source = inbox_id(harness, store)
    harness.run(store.store_flags(source, [2], FlagOperation.ADD, ["\\Seen"]))
    source_modseq = harness.run(store.get_mailbox("INBOX")).highestmodseq
    archive = harness.run(store.get_mailbox("Archive"))
    result = harness.run(store.move(source, [3, 2], "Archive"))
    assert (result.source_uids, result.dest_uids) == ((2, 3), (1, 2))
    assert list(flags_of(harness, store)) == [1]
    assert flags_of(harness, store, "Archive") == {
        1: {"\\Seen", "$HasNoAttachment"},
        2: {"$HasNoAttachment"},
    }
    expunges = harness.run(store.changes_since(source, source_modseq))
    assert [(c.uid, c.kind) for c in expunges] == [(2, ChangeKind.EXPUNGE), (3, ChangeKind.EXPUNGE)]
    appends = harness.run(store.changes_since(archive.id, archive.highestmodseq))
    assert [(c.uid, c.kind) for c in appends] == [(1, ChangeKind.APPEND), (2, ChangeKind.APPEND)]


def test_open_mailbox_and_recent(harness: Harness) -> None:
    store, other = harness.store(), harness.store()
    fill(harness, store, 3)
    examined = harness.run(store.open_mailbox("INBOX", False))
    assert [m.uid for m in examined.messages] == [1, 2, 3]
    assert examined.recent_uids == frozenset()
    selected = harness.run(store.open_mailbox("INBOX", True))
    assert selected.recent_uids == {1, 2, 3}
    assert harness.run(other.open_mailbox("INBOX", True)).recent_uids == frozenset()
    fill(harness, store, 2)  # UIDs 4 and 5
    mailbox = selected.info.id
    assert harness.run(other.claim_recent(mailbox, 4)) == {4}
    assert harness.run(store.claim_recent(mailbox, 100)) == {5}
    assert harness.run(store.claim_recent(mailbox, 100)) == frozenset()
    # Claiming beyond the last UID must not swallow later arrivals.
    fill(harness, store, 1)
    assert harness.run(store.status("INBOX")).recent == 1
    assert harness.run(other.claim_recent(mailbox, 6)) == {6}


def test_message_changes_notify_after_commit(harness: Harness) -> None:
    store = harness.store()
    subscription = harness.hub.subscribe(USER)
    mailbox = inbox_id(harness, store)

    async def append_and_check() -> None:
        await store.append("INBOX", message())
        # By the time append returns, the notice is there and the change readable.
        (notice,) = subscription.drain()
        assert notice.mailbox_id == mailbox
        reader = await harness.backend.mail_store(USER)
        info = await reader.get_mailbox("INBOX")
        assert notice == ChangeNotice(USER, mailbox, info.highestmodseq)

    harness.run(append_and_check())
    harness.run(store.store_flags(mailbox, [1], FlagOperation.ADD, ["\\Deleted"]))
    modseq = harness.run(store.get_mailbox("INBOX")).highestmodseq
    assert subscription.drain() == [ChangeNotice(USER, mailbox, modseq)]
    harness.run(store.store_flags(mailbox, [1], FlagOperation.ADD, ["\\Deleted"]))
    assert not subscription.has_pending  # no change, no notice
    harness.run(store.move(mailbox, [1], "Trash"))
    trash = harness.run(store.get_mailbox("Trash"))
    notices = {n.mailbox_id: n.modseq for n in subscription.drain()}
    assert notices == {mailbox: modseq + 1, trash.id: trash.highestmodseq}


def test_stores_see_each_others_commits(harness: Harness) -> None:
    first, second = harness.store(), harness.store()
    fill(harness, first, 1)
    mailbox = inbox_id(harness, first)
    assert harness.run(second.status("INBOX")).messages == 1
    harness.run(second.store_flags(mailbox, [1], FlagOperation.ADD, ["\\Seen"]))
    assert flags_of(harness, first) == {1: {"\\Seen", "$HasNoAttachment"}}


def test_concurrent_appends_get_distinct_uids(harness: Harness) -> None:
    first, second = harness.store(), harness.store()

    async def both() -> list[int]:
        appends = [s.append("INBOX", message(f"c{i}")) for i in range(20) for s in (first, second)]
        results = await asyncio.gather(*appends)
        return [r.uid for r in results]

    uids = harness.run(both())
    assert sorted(uids) == list(range(1, 41))
    snapshot = harness.run(first.open_mailbox("INBOX", False))
    modseqs = [m.modseq for m in snapshot.messages]
    assert len(set(modseqs)) == 40


def test_identical_messages_are_independent(harness: Harness) -> None:
    store = harness.store()
    raw = message("same")
    harness.run(store.append("INBOX", raw))
    harness.run(store.append("INBOX", raw))
    mailbox = inbox_id(harness, store)
    harness.run(store.store_flags(mailbox, [1], FlagOperation.ADD, ["\\Deleted"]))
    harness.run(store.expunge(mailbox))
    assert harness.run(store.read_message(mailbox, 2)) == raw


def test_large_mailbox_opens(harness: Harness) -> None:
    store = harness.store()
    big = harness.run(store.create_mailbox("Big"))
    harness.run(store.append("Big", message("big")))
    count = 1
    while count < 10_000:  # doubling by COPY: 10k appends would each wait for an fsync
        more = min(count, 10_000 - count)
        harness.run(store.copy(big.id, range(1, more + 1), "Big"))
        count += more
    snapshot = harness.run(store.open_mailbox("Big", True))
    assert [m.uid for m in snapshot.messages] == list(range(1, 10_001))
    assert len(snapshot.recent_uids) == 10_000
    assert harness.run(store.read_message(big.id, 10_000)) == message("big")
