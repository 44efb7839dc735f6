"""Contract: AccountStore (accounts, default mailboxes, removal)."""

from __future__ import annotations

import pytest
from tests.storage.storage_support import OTHER_USER, USER, Harness, message

from tidings.core.errors import MailError, MailErrorKind
from tidings.storage.api import DEFAULT_MAILBOXES


def test_add_account_creates_default_mailboxes_subscribed(harness: Harness) -> None:
    store = harness.store()
    infos = harness.run(store.list_mailboxes())
    assert [i.name for i in infos] == sorted(name for name, _ in DEFAULT_MAILBOXES)
    assert {i.name: i.special_use for i in infos} == dict(DEFAULT_MAILBOXES)
    assert all(i.subscribed for i in infos)
    assert harness.run(store.list_subscriptions()) == sorted(n for n, _ in DEFAULT_MAILBOXES)
    assert len({i.uidvalidity for i in infos}) == len(infos)


def test_add_existing_account_is_exists_case_insensitively(harness: Harness) -> None:
    with pytest.raises(MailError) as caught:
        harness.run(harness.backend.add_account(USER.upper(), "x"))
    assert caught.value.kind is MailErrorKind.EXISTS


def test_password_hash_and_lookup_ignore_case(harness: Harness) -> None:
    backend = harness.backend
    assert harness.run(backend.password_hash(USER.upper())) == "hash-1"
    harness.run(backend.set_password_hash(USER.title(), "hash-2"))
    assert harness.run(backend.password_hash(USER)) == "hash-2"
    assert harness.run(backend.password_hash("nobody@example.test")) is None
    assert harness.store(USER.upper()).account == USER


def test_list_accounts_sorted_lower_case(harness: Harness) -> None:
    harness.run(harness.backend.add_account("Aaron@Example.TEST", "h"))
    assert harness.run(harness.backend.list_accounts()) == ["aaron@example.test", USER]


def test_unknown_account_is_notfound(harness: Harness) -> None:
    backend = harness.backend
    for coro in (
        backend.set_password_hash("no@example.test", "h"),
        backend.remove_account("no@example.test"),
        backend.mail_store("no@example.test"),
    ):
        with pytest.raises(MailError) as caught:
            harness.run(coro)
        assert caught.value.kind is MailErrorKind.NOTFOUND


def test_remove_account_deletes_everything(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.create_mailbox("Projects/Tidings"))
    harness.run(store.append("INBOX", message()))
    old_inbox = harness.run(store.get_mailbox("INBOX"))
    harness.run(harness.backend.remove_account(USER))
    assert harness.run(harness.backend.list_accounts()) == []
    assert harness.run(harness.backend.password_hash(USER)) is None
    with pytest.raises(MailError):
        harness.run(store.get_mailbox("INBOX"))
    harness.run(harness.backend.add_account(USER, "again"))
    fresh = harness.store()
    inbox = harness.run(fresh.get_mailbox("INBOX"))
    assert inbox.uidnext == 1
    assert inbox.uidvalidity != old_inbox.uidvalidity
    assert "Projects" not in [i.name for i in harness.run(fresh.list_mailboxes())]


def test_accounts_are_isolated(harness: Harness) -> None:
    harness.run(harness.backend.add_account(OTHER_USER, "h"))
    alice, bob = harness.store(USER), harness.store(OTHER_USER)
    harness.run(alice.append("INBOX", message()))
    alice_inbox = harness.run(alice.get_mailbox("INBOX"))
    assert harness.run(bob.status("INBOX")).messages == 0
    # Bob must not reach Alice's mailbox by its id.
    for coro in (
        bob.read_message(alice_inbox.id, 1),
        bob.changes_since(alice_inbox.id, 0),
        bob.expunge(alice_inbox.id),
        bob.claim_recent(alice_inbox.id, 10),
    ):
        with pytest.raises(MailError) as caught:
            harness.run(coro)
        assert caught.value.kind is MailErrorKind.NOTFOUND
