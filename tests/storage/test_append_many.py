"""Contract: append_many stores several messages atomically (RFC 3502 MULTIAPPEND)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.storage.storage_support import USER, Harness, message

from tidings.core.errors import MailError, MailErrorKind
from tidings.notify.api import ChangeNotice
from tidings.storage.api import ChangeKind, MailStore, NewMessage


def _count(harness: Harness, store: MailStore, name: str = "INBOX") -> int:
    return len(harness.run(store.open_mailbox(name, False)).messages)


def test_append_many_stores_all_in_order_with_one_modseq(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.append("INBOX", message("first")))
    when = datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)
    subscription = harness.hub.subscribe(USER)
    batch = [
        NewMessage(message("a"), ("\\Seen",), when),
        NewMessage(message("b"), ("$Work",)),
        NewMessage(b"x\x00y\r\n"),  # binary content (RFC 3516 literal8) is stored as is
    ]
    result = harness.run(store.append_many("inbox", batch))
    info = harness.run(store.get_mailbox("INBOX"))
    assert result.uidvalidity == info.uidvalidity
    assert result.uids == (2, 3, 4)
    assert info.uidnext == 5
    snapshot = harness.run(store.open_mailbox("INBOX", False))
    metas = {meta.uid: meta for meta in snapshot.messages}
    assert metas[2].flags == {"\\Seen", "$HasNoAttachment"} and metas[2].internaldate == when
    assert metas[3].flags == {"$Work", "$HasNoAttachment"}
    assert len({metas[uid].modseq for uid in result.uids}) == 1
    for uid, new in zip(result.uids, batch, strict=True):
        assert harness.run(store.read_message(info.id, uid)) == new.raw
    changes = harness.run(store.changes_since(info.id, metas[1].modseq))
    assert [(c.uid, c.kind) for c in changes] == [(uid, ChangeKind.APPEND) for uid in (2, 3, 4)]
    assert subscription.drain() == [ChangeNotice(USER, info.id, info.highestmodseq)]


def test_append_many_missing_mailbox_stores_nothing(harness: Harness) -> None:
    store = harness.store()
    with pytest.raises(MailError) as caught:
        harness.run(store.append_many("Nope", [NewMessage(message())]))
    assert caught.value.kind is MailErrorKind.NOTFOUND


def test_append_many_checks_quota_for_the_total(harness: Harness) -> None:
    store = harness.store()
    one = message("q")
    # Room for two messages of this size, not three: each fits alone, the batch does not.
    harness.run(harness.backend.set_quota(USER, 2 * len(one) + 1, None))
    with pytest.raises(MailError) as caught:
        harness.run(store.append_many("INBOX", [NewMessage(one)] * 3))
    assert caught.value.kind is MailErrorKind.OVERQUOTA
    assert _count(harness, store) == 0
    assert harness.run(store.quota()).storage_used == 0
    assert harness.run(store.append_many("INBOX", [NewMessage(one)] * 2)).uids == (1, 2)
    harness.run(harness.backend.set_quota(USER, None, 3))
    with pytest.raises(MailError) as caught:
        harness.run(store.append_many("INBOX", [NewMessage(one)] * 2))
    assert caught.value.kind is MailErrorKind.OVERQUOTA
    assert _count(harness, store) == 2


def test_append_many_one_too_big_stores_none(harness: Harness) -> None:
    harness.reopen(max_message_size=100)
    store = harness.store()
    with pytest.raises(MailError) as caught:
        harness.run(store.append_many("INBOX", [NewMessage(b"ok\r\n"), NewMessage(b"x" * 101)]))
    assert caught.value.kind is MailErrorKind.TOOBIG
    assert _count(harness, store) == 0
    info = harness.run(store.get_mailbox("INBOX"))
    assert info.uidnext == 1  # no UID was used up either


def test_append_many_of_nothing_is_refused(harness: Harness) -> None:
    store = harness.store()
    with pytest.raises(MailError) as caught:
        harness.run(store.append_many("INBOX", []))
    assert caught.value.kind is MailErrorKind.CANNOT


def test_append_many_keeps_given_uids_and_moves_uidnext_past_them(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.create_mailbox("Imported"))
    batch = [NewMessage(message("a"), uid=7), NewMessage(message("b"), uid=9)]
    result = harness.run(store.append_many("Imported", batch))
    assert result.uids == (7, 9)
    info = harness.run(store.get_mailbox("Imported"))
    assert info.uidnext == 10
    snapshot = harness.run(store.open_mailbox("Imported", False))
    assert [meta.uid for meta in snapshot.messages] == [7, 9]
    assert harness.run(store.read_message(info.id, 9)) == batch[1].raw
    # A later ordinary APPEND continues after the given UIDs.
    assert harness.run(store.append("Imported", message("c"))).uid == 10


@pytest.mark.parametrize(
    "uids",
    [(3, None), (5, 4), (2, 2)],
    ids=["some-missing", "descending", "repeated"],
)
def test_append_many_refuses_malformed_given_uids(
    harness: Harness, uids: tuple[int | None, int | None]
) -> None:
    store = harness.store()
    batch = [NewMessage(message(str(i)), uid=uid) for i, uid in enumerate(uids)]
    with pytest.raises(MailError) as caught:
        harness.run(store.append_many("INBOX", batch))
    assert caught.value.kind is MailErrorKind.CANNOT
    assert _count(harness, store) == 0


def test_append_many_refuses_given_uids_below_uidnext(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.append_many("INBOX", [NewMessage(message("a"), uid=5)]))
    with pytest.raises(MailError) as caught:
        harness.run(store.append_many("INBOX", [NewMessage(message("b"), uid=5)]))
    assert caught.value.kind is MailErrorKind.CANNOT
    assert "UIDNEXT 6" in caught.value.reason
    assert _count(harness, store) == 1


def test_set_uidvalidity_only_while_the_mailbox_was_never_used(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.create_mailbox("Fresh"))
    info = harness.run(store.set_uidvalidity("Fresh", 1234567))
    assert info.uidvalidity == 1234567
    assert harness.run(store.status("Fresh")).uidvalidity == 1234567
    assert harness.run(store.set_uidvalidity("Fresh", 1234567)).uidvalidity == 1234567
    harness.run(store.append("Fresh", message("x")))
    with pytest.raises(MailError) as caught:
        harness.run(store.set_uidvalidity("Fresh", 7654321))
    assert caught.value.kind is MailErrorKind.CANNOT
    assert harness.run(store.get_mailbox("Fresh")).uidvalidity == 1234567
    with pytest.raises(MailError) as missing:
        harness.run(store.set_uidvalidity("Nope", 1))
    assert missing.value.kind is MailErrorKind.NOTFOUND
