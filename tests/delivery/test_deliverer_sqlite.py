"""Deliverer against a real SqliteBackend: resolution, stored bytes, mailbox choice, errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.delivery.delivery_support import ALICE, BOB, MESSAGE, DeliveryHarness

from tidings.core.errors import MailError, MailErrorKind
from tidings.delivery.settings import DeliverySettings
from tidings.storage.api import AccountSettings

SPAM = b"X-Spam-Flag: YES\r\n" + MESSAGE
TRACE = b"Return-Path: <s@remote.test>\r\nDelivered-To: "


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[DeliveryHarness]:
    instance = DeliveryHarness(tmp_path)
    yield instance
    instance.close()


def make(tmp_path: Path, **changes: object) -> DeliveryHarness:
    settings = dataclasses.replace(DeliverySettings(), **changes)  # type: ignore[arg-type]
    return DeliveryHarness(tmp_path, settings)


def expect_error(harness: DeliveryHarness, awaitable: object, kind: MailErrorKind) -> MailError:
    with pytest.raises(MailError) as caught:
        harness.run(awaitable)  # type: ignore[arg-type]
    assert caught.value.kind is kind
    return caught.value


def test_resolve_plain_plus_and_case(harness: DeliveryHarness) -> None:
    recipient = harness.run(harness.deliverer.resolve("<Alice+Lists@EXAMPLE.test>"))
    assert (recipient.address, recipient.account, recipient.detail) == (
        "Alice+Lists@EXAMPLE.test",
        ALICE,
        "Lists",
    )
    assert harness.run(harness.deliverer.resolve("bob@example.test")).detail is None


def test_an_account_with_the_delimiter_in_its_name_wins(harness: DeliveryHarness) -> None:
    harness.run(harness.backend.add_account("alice+team@example.test", "hash"))
    recipient = harness.run(harness.deliverer.resolve("alice+team@example.test"))
    assert (recipient.account, recipient.detail) == ("alice+team@example.test", None)


def test_unknown_and_malformed_recipients(harness: DeliveryHarness) -> None:
    error = expect_error(
        harness, harness.deliverer.resolve("carol@example.test"), MailErrorKind.NOTFOUND
    )
    assert error.reason == "No such user: carol@example.test"
    expect_error(harness, harness.deliverer.resolve("alice@other.test"), MailErrorKind.NOTFOUND)
    expect_error(harness, harness.deliverer.resolve("not an address"), MailErrorKind.PARSE)


def test_case_sensitive_local_parts(tmp_path: Path) -> None:
    harness = make(tmp_path, local_part_case_sensitive=True)
    try:
        expect_error(
            harness, harness.deliverer.resolve("Alice@example.test"), MailErrorKind.NOTFOUND
        )
        assert harness.run(harness.deliverer.resolve("alice@Example.Test")).account == ALICE
    finally:
        harness.close()


def test_stored_message_is_trace_fields_plus_the_exact_bytes(harness: DeliveryHarness) -> None:
    odd = b"Subject: odd\r\nX:  keep   spacing \r\n\r\nbare\nLF and \x00 NUL\r\n.\r\n"
    result = harness.deliver("Alice+x@example.test", odd)
    assert result.mailbox == "INBOX"
    assert harness.stored(result) == TRACE + b"Alice+x@example.test\r\n" + odd


def test_null_sender_and_no_trace_fields(harness: DeliveryHarness) -> None:
    bounced = harness.deliver(ALICE, sender="")
    assert harness.stored(bounced).startswith(b"Return-Path: <>\r\nDelivered-To: alice@")
    untouched = harness.deliver(ALICE, trace_headers=False)
    assert harness.stored(untouched) == MESSAGE


def test_spam_goes_to_junk_unless_the_account_turned_routing_off(harness: DeliveryHarness) -> None:
    assert harness.deliver(ALICE, SPAM).mailbox == "Junk"
    assert harness.deliver(ALICE, MESSAGE).mailbox == "INBOX"
    harness.run(harness.backend.set_settings(ALICE, AccountSettings(junk_routing=False)))
    assert harness.deliver(ALICE, SPAM).mailbox == "INBOX"
    assert harness.deliver(BOB, SPAM).mailbox == "Junk"  # only alice turned it off


def test_an_account_can_turn_routing_on_against_the_server_default(tmp_path: Path) -> None:
    harness = make(tmp_path, junk_routing=False)
    try:
        assert harness.deliver(ALICE, SPAM).mailbox == "INBOX"
        harness.run(harness.backend.set_settings(ALICE, AccountSettings(junk_routing=True)))
        assert harness.deliver(ALICE, SPAM).mailbox == "Junk"
    finally:
        harness.close()


def test_junk_is_found_by_its_special_use_not_its_name(harness: DeliveryHarness) -> None:
    store = harness.store()
    harness.run(store.rename_mailbox("Junk", "Spam"))
    assert harness.deliver(ALICE, SPAM).mailbox == "Spam"
    harness.run(store.delete_mailbox("Spam"))
    assert harness.deliver(ALICE, SPAM).mailbox == "INBOX"  # no \Junk mailbox left


def test_detail_mailbox_only_when_on_and_existing(tmp_path: Path) -> None:
    harness = make(tmp_path, detail_mailbox=True)
    try:
        harness.run(harness.store().create_mailbox("Lists"))
        assert harness.deliver("alice+Lists@example.test").mailbox == "Lists"
        assert harness.deliver("alice+lists@example.test").mailbox == "INBOX"  # case matters
        assert harness.deliver("alice+nope@example.test").mailbox == "INBOX"
        assert harness.deliver("alice+Lists@example.test", SPAM).mailbox == "Junk"
    finally:
        harness.close()


def test_detail_mailbox_is_off_by_default(harness: DeliveryHarness) -> None:
    harness.run(harness.store().create_mailbox("Lists"))
    assert harness.deliver("alice+Lists@example.test").mailbox == "INBOX"


def test_an_explicit_mailbox_wins_if_it_exists(harness: DeliveryHarness) -> None:
    assert harness.deliver(ALICE, SPAM, mailbox="Archive").mailbox == "Archive"
    assert harness.deliver(ALICE, mailbox="Nonexistent").mailbox == "INBOX"
    assert harness.deliver(ALICE, SPAM, mailbox="Nonexistent").mailbox == "Junk"
    assert harness.deliver(ALICE, mailbox="x" * 5000).mailbox == "INBOX"  # not even a name


def test_over_quota_is_refused_and_nothing_is_stored(harness: DeliveryHarness) -> None:
    harness.run(harness.backend.set_quota(ALICE, 400, None))
    harness.deliver(ALICE)
    store = harness.store()
    before = harness.run(store.quota())
    recipient = harness.run(harness.deliverer.resolve(ALICE))
    error = expect_error(
        harness,
        harness.deliverer.deliver(recipient, MESSAGE * 3, sender="s@x"),
        MailErrorKind.OVERQUOTA,
    )
    assert error.reason == "Quota exceeded (mailbox for user is full)"
    assert harness.run(store.quota()) == before


def test_message_count_quota(harness: DeliveryHarness) -> None:
    harness.run(harness.backend.set_quota(ALICE, None, 1))
    harness.deliver(ALICE)
    recipient = harness.run(harness.deliverer.resolve(ALICE))
    expect_error(
        harness, harness.deliverer.deliver(recipient, MESSAGE, sender=""), MailErrorKind.OVERQUOTA
    )


def test_too_big_counts_the_trace_fields(tmp_path: Path) -> None:
    harness = DeliveryHarness(tmp_path, max_message_size=len(MESSAGE) + 10)
    try:
        recipient = harness.run(harness.deliverer.resolve(ALICE))
        harness.run(harness.deliverer.deliver(recipient, MESSAGE, sender="", trace_headers=False))
        expect_error(
            harness,
            harness.deliverer.deliver(recipient, MESSAGE, sender="s@x"),
            MailErrorKind.TOOBIG,
        )
    finally:
        harness.close()


def test_header_injection_through_the_sender_is_refused(harness: DeliveryHarness) -> None:
    recipient = harness.run(harness.deliverer.resolve(ALICE))
    expect_error(
        harness,
        harness.deliverer.deliver(recipient, MESSAGE, sender="a@b>\r\nBcc: <x@y"),
        MailErrorKind.PARSE,
    )


def test_a_removed_account_is_notfound(harness: DeliveryHarness) -> None:
    recipient = harness.run(harness.deliverer.resolve(BOB))
    harness.run(harness.backend.remove_account(BOB))
    expect_error(
        harness, harness.deliverer.deliver(recipient, MESSAGE, sender=""), MailErrorKind.NOTFOUND
    )


def test_delivery_publishes_a_change_notice_once_committed(harness: DeliveryHarness) -> None:
    subscription = harness.hub.subscribe(ALICE)
    try:
        result = harness.deliver(ALICE)
        notices = subscription.drain()
        inbox = harness.run(harness.store().get_mailbox("INBOX"))
        assert [(n.mailbox_id, n.modseq) for n in notices] == [(inbox.id, inbox.highestmodseq)]
        assert result.uid == inbox.uidnext - 1
    finally:
        subscription.close()
