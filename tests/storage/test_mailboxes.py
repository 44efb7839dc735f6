"""Contract: mailbox names, create/delete/rename, subscriptions, status, list notices."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.storage.storage_support import USER, Harness, message

from tidings.core.errors import MailError, MailErrorKind
from tidings.core.limits import Limits
from tidings.notify.api import ChangeNotice
from tidings.storage.api import FlagOperation, MailStore

MAX_NAME = Limits().max_mailbox_name_length


def names(harness: Harness, store: MailStore) -> list[str]:
    return [info.name for info in harness.run(store.list_mailboxes())]


def kind_of(harness: Harness, coro: object) -> MailErrorKind:
    with pytest.raises(MailError) as caught:
        harness.run(coro)  # type: ignore[arg-type]
    return caught.value.kind


def test_create_makes_missing_parents(harness: Harness) -> None:
    store = harness.store()
    info = harness.run(store.create_mailbox("a/b/c", "\\Flagged"))
    assert info.name == "a/b/c"
    assert info.special_use == "\\Flagged"
    assert info.uidnext == 1
    assert not info.subscribed
    assert {"a", "a/b", "a/b/c"} <= set(names(harness, store))


def test_create_existing_is_exists(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.create_mailbox("Work"))
    assert kind_of(harness, store.create_mailbox("Work")) is MailErrorKind.EXISTS
    assert kind_of(harness, store.create_mailbox("inbox")) is MailErrorKind.EXISTS


def test_names_are_case_sensitive_except_inbox(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.create_mailbox("Work"))
    harness.run(store.create_mailbox("work"))
    assert harness.run(store.get_mailbox("iNbOx")).name == "INBOX"
    child = harness.run(store.create_mailbox("inbox/Child"))
    assert child.name == "INBOX/Child"
    assert kind_of(harness, store.get_mailbox("WORK")) is MailErrorKind.NOTFOUND


@pytest.mark.parametrize(
    "name",
    ["", "/a", "a/", "a//b", "a\x00b", "tab\there", "del\x7f", "x" * (MAX_NAME + 1)],
)
def test_invalid_names_are_cannot(harness: Harness, name: str) -> None:
    store = harness.store()
    assert kind_of(harness, store.create_mailbox(name)) is MailErrorKind.CANNOT
    assert kind_of(harness, store.rename_mailbox("Trash", name)) is MailErrorKind.CANNOT


def test_unicode_names(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.create_mailbox("Entwürfe/日本"))
    assert harness.run(store.get_mailbox("Entwürfe/日本")).name == "Entwürfe/日本"


def test_get_and_status_of_missing_mailbox_are_notfound(harness: Harness) -> None:
    store = harness.store()
    assert kind_of(harness, store.get_mailbox("Nope")) is MailErrorKind.NOTFOUND
    assert kind_of(harness, store.status("Nope")) is MailErrorKind.NOTFOUND
    assert kind_of(harness, store.open_mailbox("Nope", True)) is MailErrorKind.NOTFOUND
    assert kind_of(harness, store.delete_mailbox("Nope")) is MailErrorKind.NOTFOUND
    assert kind_of(harness, store.rename_mailbox("Nope", "Yes")) is MailErrorKind.NOTFOUND


def test_delete_inbox_is_noperm(harness: Harness) -> None:
    store = harness.store()
    assert kind_of(harness, store.delete_mailbox("inbox")) is MailErrorKind.NOPERM


def test_delete_with_children_is_cannot(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.create_mailbox("a/b"))
    assert kind_of(harness, store.delete_mailbox("a")) is MailErrorKind.CANNOT
    harness.run(store.delete_mailbox("a/b"))
    harness.run(store.delete_mailbox("a"))
    assert "a" not in names(harness, store)


def test_delete_does_not_confuse_similar_prefixes(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.create_mailbox("a"))
    harness.run(store.create_mailbox("ab"))
    harness.run(store.create_mailbox("a.b"))
    harness.run(store.delete_mailbox("a"))
    assert {"ab", "a.b"} <= set(names(harness, store))


def test_delete_removes_messages_and_recreate_gets_new_uidvalidity(harness: Harness) -> None:
    store = harness.store()
    old = harness.run(store.create_mailbox("Work"))
    harness.run(store.append("Work", message()))
    harness.run(store.delete_mailbox("Work"))
    assert kind_of(harness, store.changes_since(old.id, 0)) is MailErrorKind.NOTFOUND
    new = harness.run(store.create_mailbox("Work"))
    assert new.uidvalidity != old.uidvalidity
    assert new.uidnext == 1
    assert harness.run(store.status("Work")).messages == 0


def test_rename_moves_children_and_keeps_messages(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.create_mailbox("a/b/c"))
    harness.run(store.create_mailbox("ab"))
    harness.run(store.append("a/b", message()))
    before = harness.run(store.get_mailbox("a/b"))
    harness.run(store.rename_mailbox("a", "x/y"))
    now = names(harness, store)
    assert {"x", "x/y", "x/y/b", "x/y/b/c", "ab"} <= set(now)
    assert not {"a", "a/b", "a/b/c"} & set(now)
    after = harness.run(store.get_mailbox("x/y/b"))
    assert (after.id, after.uidvalidity, after.uidnext) == (
        before.id,
        before.uidvalidity,
        before.uidnext,
    )
    assert harness.run(store.status("x/y/b")).messages == 1


def test_rename_errors(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.create_mailbox("a/b"))
    harness.run(store.create_mailbox("c"))
    assert kind_of(harness, store.rename_mailbox("a", "c")) is MailErrorKind.EXISTS
    assert kind_of(harness, store.rename_mailbox("a", "INBOX")) is MailErrorKind.EXISTS
    assert kind_of(harness, store.rename_mailbox("a", "a/b/z")) is MailErrorKind.CANNOT
    assert kind_of(harness, store.rename_mailbox("a", "a")) is MailErrorKind.EXISTS


def test_rename_inbox_moves_messages_and_leaves_it_empty(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.create_mailbox("INBOX/Child"))
    when = datetime(2020, 5, 6, 7, 8, 9, tzinfo=UTC)
    harness.run(store.append("INBOX", message("one"), ["\\Seen", "Work"], when))
    harness.run(store.append("INBOX", message("two")))
    inbox = harness.run(store.get_mailbox("INBOX"))
    harness.run(store.rename_mailbox("INBOX", "Old/Mail"))
    assert harness.run(store.status("INBOX")).messages == 0
    assert harness.run(store.get_mailbox("INBOX")).uidvalidity == inbox.uidvalidity
    assert "INBOX/Child" in names(harness, store)  # inferiors are not renamed
    moved = harness.run(store.open_mailbox("Old/Mail", False))
    assert [m.uid for m in moved.messages] == [1, 2]
    assert moved.messages[0].flags == {"\\Seen", "Work", "$HasNoAttachment"}
    assert moved.messages[0].internaldate == when
    assert harness.run(store.read_message(moved.info.id, 2)) == message("two")
    # INBOX's next message still gets a fresh UID.
    assert harness.run(store.append("INBOX", message("three"))).uid == 3


def test_subscriptions_are_by_name(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.create_mailbox("Work/Q1"))
    harness.run(store.set_subscribed("Work", True))
    harness.run(store.set_subscribed("Work", True))
    harness.run(store.set_subscribed("Work/Q1", True))
    harness.run(store.set_subscribed("Ghost", True))  # no such mailbox: allowed
    assert harness.run(store.get_mailbox("Work")).subscribed
    harness.run(store.rename_mailbox("Work", "Job"))
    subs = harness.run(store.list_subscriptions())
    assert {"Job", "Job/Q1", "Ghost"} <= set(subs)
    assert "Work" not in subs
    harness.run(store.delete_mailbox("Job/Q1"))
    assert "Job/Q1" in harness.run(store.list_subscriptions())  # survives deletion
    harness.run(store.set_subscribed("Job/Q1", False))
    harness.run(store.set_subscribed("Job/Q1", False))
    assert "Job/Q1" not in harness.run(store.list_subscriptions())
    harness.run(store.set_subscribed("inbox", False))
    assert not harness.run(store.get_mailbox("INBOX")).subscribed


def test_status_counts(harness: Harness) -> None:
    store = harness.store()
    for i, flags in enumerate([[], ["\\Seen"], ["\\Deleted"], ["\\Seen", "\\Deleted"]]):
        harness.run(store.append("INBOX", message(f"m{i}", "x" * i), flags))
    status = harness.run(store.status("INBOX"))
    assert (status.messages, status.recent, status.unseen, status.deleted) == (4, 4, 2, 2)
    assert status.size == sum(len(message(f"m{i}", "x" * i)) for i in range(4))
    inbox = harness.run(store.get_mailbox("INBOX"))
    assert (status.uidnext, status.uidvalidity, status.highestmodseq) == (
        inbox.uidnext,
        inbox.uidvalidity,
        inbox.highestmodseq,
    )
    harness.run(store.open_mailbox("INBOX", True))
    assert harness.run(store.status("INBOX")).recent == 0
    harness.run(store.store_flags(inbox.id, [1], FlagOperation.ADD, ["\\Seen"]))
    assert harness.run(store.status("INBOX")).unseen == 1


def test_mailbox_list_changes_notify(harness: Harness) -> None:
    store = harness.store()
    subscription = harness.hub.subscribe(USER.upper())
    for coro in (
        store.create_mailbox("N"),
        store.rename_mailbox("N", "M"),
        store.set_subscribed("M", True),
        store.delete_mailbox("M"),
    ):
        harness.run(coro)
        assert subscription.drain() == [ChangeNotice(USER, None, 0)]
    # A failed change publishes nothing.
    with pytest.raises(MailError):
        harness.run(store.delete_mailbox("M"))
    assert not subscription.has_pending
