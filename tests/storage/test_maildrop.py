"""Contract: the POP3 maildrop (INBOX with wire sizes) and delete_messages (POP3 UPDATE),
and STATUS's DELETED-STORAGE."""

from __future__ import annotations

import pytest
from tests.storage.storage_support import OTHER_USER, USER, Harness, message

from tidings.core.errors import MailError, MailErrorKind
from tidings.notify.api import ChangeNotice
from tidings.storage.api import ChangeKind, FlagOperation, MaildropEntry

CRLF_MESSAGE = b"Subject: crlf\r\n\r\nline one\r\nline two\r\n"
BARE_LF_MESSAGE = b"Subject: lf\n\nline one\nline two\n"  # 4 bare LFs
MIXED_MESSAGE = b"Subject: mixed\r\n\nA\rB\nC\r\n"  # 2 bare LFs; the lone CR stays one octet


def test_maildrop_lists_inbox_with_wire_sizes(harness: Harness) -> None:
    store = harness.store()
    for raw in (CRLF_MESSAGE, BARE_LF_MESSAGE, MIXED_MESSAGE):
        harness.run(store.append("INBOX", raw))
    harness.run(store.append("Sent", message("elsewhere")))
    drop = harness.run(store.open_maildrop())
    assert drop.info == harness.run(store.get_mailbox("INBOX"))
    assert drop.messages == (
        MaildropEntry(1, len(CRLF_MESSAGE)),
        MaildropEntry(2, len(BARE_LF_MESSAGE) + 4),
        MaildropEntry(3, len(MIXED_MESSAGE) + 2),
    )


def test_wire_size_is_the_size_of_the_message_sent_with_crlf_line_ends(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.append("INBOX", MIXED_MESSAGE))
    (entry,) = harness.run(store.open_maildrop()).messages
    wire = MIXED_MESSAGE.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert entry.wire_size == len(wire)


def test_maildrop_of_empty_inbox_and_after_expunge(harness: Harness) -> None:
    store = harness.store()
    assert harness.run(store.open_maildrop()).messages == ()
    for subject in ("a", "b", "c"):
        harness.run(store.append("INBOX", message(subject)))
    inbox = harness.run(store.get_mailbox("INBOX")).id
    harness.run(store.store_flags(inbox, [2], FlagOperation.ADD, ["\\Deleted"]))
    harness.run(store.expunge(inbox))
    assert [e.uid for e in harness.run(store.open_maildrop()).messages] == [1, 3]


def test_delete_messages_removes_exactly_the_given_uids(harness: Harness) -> None:
    store = harness.store()
    for subject in ("a", "b", "c", "d"):
        harness.run(store.append("INBOX", message(subject)))
    inbox = harness.run(store.get_mailbox("INBOX"))
    harness.run(store.store_flags(inbox.id, [4], FlagOperation.ADD, ["\\Deleted"]))
    subscription = harness.hub.subscribe(USER)
    # Flags do not matter; missing UIDs are ignored; the order given does not matter.
    assert harness.run(store.delete_messages(inbox.id, [3, 1, 99])) == [1, 3]
    remaining = harness.run(store.open_mailbox("INBOX", False)).messages
    assert [m.uid for m in remaining] == [2, 4]
    after = harness.run(store.get_mailbox("INBOX"))
    assert subscription.drain() == [ChangeNotice(USER, inbox.id, after.highestmodseq)]
    changes = harness.run(store.changes_since(inbox.id, inbox.highestmodseq + 1))
    assert [(c.uid, c.kind) for c in changes] == [
        (1, ChangeKind.EXPUNGE),
        (3, ChangeKind.EXPUNGE),
    ]
    assert {c.modseq for c in changes} == {after.highestmodseq}
    assert harness.run(store.quota()).messages_used == 2


def test_delete_messages_of_nothing_changes_nothing(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.append("INBOX", message()))
    inbox = harness.run(store.get_mailbox("INBOX"))
    subscription = harness.hub.subscribe(USER)
    assert harness.run(store.delete_messages(inbox.id, [])) == []
    assert harness.run(store.delete_messages(inbox.id, [5, 6])) == []
    assert not subscription.has_pending
    assert harness.run(store.get_mailbox("INBOX")).highestmodseq == inbox.highestmodseq


def test_delete_messages_in_a_foreign_or_missing_mailbox_is_notfound(harness: Harness) -> None:
    harness.run(harness.backend.add_account(OTHER_USER, "h"))
    bob = harness.store(OTHER_USER)
    harness.run(bob.append("INBOX", message()))
    bob_inbox = harness.run(bob.get_mailbox("INBOX")).id
    for mailbox_id in (bob_inbox, 10**9):
        with pytest.raises(MailError) as caught:
            harness.run(harness.store().delete_messages(mailbox_id, [1]))
        assert caught.value.kind is MailErrorKind.NOTFOUND
    assert harness.run(bob.status("INBOX")).messages == 1


def test_status_deleted_storage_sums_the_deleted_messages(harness: Harness) -> None:
    store = harness.store()
    raws = [message("a", "x" * 100), message("b", "y" * 250), message("c")]
    for raw in raws:
        harness.run(store.append("INBOX", raw))
    inbox = harness.run(store.get_mailbox("INBOX")).id
    assert harness.run(store.status("INBOX")).deleted_storage == 0
    harness.run(store.store_flags(inbox, [1, 2], FlagOperation.ADD, ["\\Deleted"]))
    status = harness.run(store.status("INBOX"))
    assert (status.deleted, status.deleted_storage) == (2, len(raws[0]) + len(raws[1]))
    assert status.size == sum(len(raw) for raw in raws)
    harness.run(store.expunge(inbox))
    assert harness.run(store.status("INBOX")).deleted_storage == 0
