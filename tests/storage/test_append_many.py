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
    assert metas[2].flags == {"\\Seen"} and metas[2].internaldate == when
    assert metas[3].flags == {"$Work"}
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
