"""Contract: RFC 8474 object ids, RFC 8514 save dates, RFC 8970 previews in the facts and
RFC 5464 metadata, for every backend."""

from __future__ import annotations

import re
import sqlite3
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from tests.storage.storage_support import OTHER_USER, USER, Harness, message

from tidings.core.errors import MailError, MailErrorKind
from tidings.storage.api import MetadataDepth, MetadataLimits

OBJECTID = re.compile(r"[A-Za-z0-9_-]{1,255}")  # RFC 8474 §4 objectid
LIMITS = MetadataLimits(max_entries=100, max_total_size=100_000)


def _reply(subject: str, parent: str, references: str = "") -> bytes:
    refs = f"References: {references}\r\n" if references else ""
    return (
        f"Subject: {subject}\r\nMessage-ID: <{subject}@example.test>\r\n"
        f"In-Reply-To: {parent}\r\n{refs}\r\nbody of {subject}\r\n"
    ).encode()


def test_mailboxid_is_an_objectid_stable_across_rename_and_new_on_recreate(
    harness: Harness,
) -> None:
    store = harness.store()
    created = harness.run(store.create_mailbox("foo"))
    assert OBJECTID.fullmatch(created.mailboxid)
    assert created.mailboxid != harness.run(store.get_mailbox("INBOX")).mailboxid
    harness.run(store.rename_mailbox("foo", "bar"))
    assert harness.run(store.get_mailbox("bar")).mailboxid == created.mailboxid
    assert harness.run(store.status("bar")).mailboxid == created.mailboxid
    listed = {info.name: info.mailboxid for info in harness.run(store.list_mailboxes())}
    assert listed["bar"] == created.mailboxid
    harness.run(store.delete_mailbox("bar"))
    again = harness.run(store.create_mailbox("bar"))
    assert again.mailboxid != created.mailboxid  # RFC 8474 §4.1: never reused


def test_mailboxid_survives_reopening_the_store(harness: Harness) -> None:
    before = harness.run(harness.store().get_mailbox("INBOX")).mailboxid
    harness.reopen()
    assert harness.run(harness.store().get_mailbox("INBOX")).mailboxid == before


def test_emailid_follows_copy_and_move_and_differs_between_accounts(harness: Harness) -> None:
    harness.run(harness.backend.add_account(OTHER_USER, "hash-2"))
    store, other = harness.store(), harness.store(OTHER_USER)
    inbox = harness.run(store.get_mailbox("INBOX"))
    harness.run(store.append("INBOX", message("one")))
    harness.run(store.append("INBOX", message("two")))
    ids = harness.run(store.object_ids(inbox.id, [1, 2, 99]))
    assert set(ids) == {1, 2}
    assert ids[1].emailid != ids[2].emailid
    assert all(
        OBJECTID.fullmatch(i.emailid) and OBJECTID.fullmatch(i.threadid) for i in ids.values()
    )
    copied = harness.run(store.copy(inbox.id, [1], "Archive"))
    moved = harness.run(store.move(inbox.id, [2], "Trash"))
    archive = harness.run(store.get_mailbox("Archive"))
    trash = harness.run(store.get_mailbox("Trash"))
    assert harness.run(store.object_ids(archive.id, copied.dest_uids))[1] == ids[1]
    assert harness.run(store.object_ids(trash.id, moved.dest_uids))[1] == ids[2]
    harness.run(other.append("INBOX", message("one")))
    other_inbox = harness.run(other.get_mailbox("INBOX"))
    assert harness.run(other.object_ids(other_inbox.id, [1]))[1].emailid != ids[1].emailid


def test_threadid_is_shared_by_a_thread_and_derived_from_its_root(harness: Harness) -> None:
    store = harness.store()
    inbox = harness.run(store.get_mailbox("INBOX"))
    root = b"Subject: root\r\nMessage-ID: <root@example.test>\r\n\r\nfirst\r\n"
    harness.run(store.append("INBOX", root))
    harness.run(store.append("INBOX", _reply("r1", "<root@example.test>")))
    harness.run(
        store.append(
            "INBOX", _reply("r2", "<r1@example.test>", "<root@example.test> <r1@example.test>")
        )
    )
    harness.run(store.append("INBOX", message("unrelated")))
    harness.run(store.append("INBOX", b"no ids at all\r\n"))
    ids = harness.run(store.object_ids(inbox.id, [1, 2, 3, 4, 5]))
    assert ids[1].threadid == ids[2].threadid == ids[3].threadid
    assert ids[4].threadid != ids[1].threadid
    assert ids[5].threadid not in {ids[1].threadid, ids[4].threadid}


def test_savedate_is_set_on_append_copy_and_move(harness: Harness) -> None:
    store = harness.store()
    inbox = harness.run(store.get_mailbox("INBOX"))
    old = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
    harness.run(store.append("INBOX", message("one"), internaldate=old))
    harness.run(store.append("INBOX", message("two"), internaldate=old))
    saved = harness.run(store.savedates(inbox.id))
    now = datetime.now(UTC)
    assert set(saved) == {1, 2}
    for value in saved.values():
        assert value is not None and abs(value - now) < timedelta(minutes=1)
    copied = harness.run(store.copy(inbox.id, [1], "Archive"))
    moved = harness.run(store.move(inbox.id, [2], "Trash"))
    archive = harness.run(store.get_mailbox("Archive"))
    trash = harness.run(store.get_mailbox("Trash"))
    for mailbox, result in ((archive, copied), (trash, moved)):
        value = harness.run(store.savedates(mailbox.id, result.dest_uids))[result.dest_uids[0]]
        assert value is not None and abs(value - now) < timedelta(minutes=1)
    assert harness.run(store.savedates(inbox.id, [1, 2])) == {1: saved[1]}


def test_savedate_is_none_for_rows_from_before_schema_v3(sqlite_harness: Harness) -> None:
    store = sqlite_harness.store()
    inbox = sqlite_harness.run(store.get_mailbox("INBOX"))
    sqlite_harness.run(store.append("INBOX", message("old")))
    sqlite_harness.run(sqlite_harness.backend.close())
    with sqlite3.connect(sqlite_harness.path / "mail.sqlite") as conn:
        conn.execute("UPDATE messages SET savedate = NULL")
    sqlite_harness.reopen()
    assert sqlite_harness.run(sqlite_harness.store().savedates(inbox.id)) == {1: None}


def test_preview_and_thread_root_are_stored_and_old_facts_still_read(
    sqlite_harness: Harness,
) -> None:
    store = sqlite_harness.store()
    inbox = sqlite_harness.run(store.get_mailbox("INBOX"))
    sqlite_harness.run(store.append("INBOX", message("one", body="Hello   world\r\n> quoted")))
    facts = sqlite_harness.run(store.read_facts(inbox.id, 1))
    assert facts.preview == "Hello world"
    assert facts.thread_root == "<one@example.test>"
    before = sqlite_harness.run(store.object_ids(inbox.id, [1]))
    # Rewrite the stored facts as version 1 wrote them (no preview, no thread root).
    sqlite_harness.run(sqlite_harness.backend.close())
    with sqlite3.connect(sqlite_harness.path / "mail.sqlite") as conn:
        (blob,) = conn.execute("SELECT facts FROM blobs").fetchone()
        text = zlib.decompress(blob).decode()
        text = text.replace('"v":2', '"v":1').split(',"preview"')[0] + "}"
        conn.execute("UPDATE blobs SET facts = ?", (zlib.compress(text.encode()),))
    sqlite_harness.reopen()
    store = sqlite_harness.store()
    old = sqlite_harness.run(store.read_facts(inbox.id, 1))
    assert old.preview is None and old.thread_root is None
    assert sqlite_harness.run(store.object_ids(inbox.id, [1])) == before


def test_metadata_set_get_depth_and_remove(harness: Harness) -> None:
    store = harness.store()
    changes = [
        ("/private/comment", b"mine"),
        ("/shared/comment", b"ours"),
        ("/shared/vendor/x/a", b"1"),
        ("/shared/vendor/x/a/b", b"2"),
    ]
    harness.run(store.set_metadata("INBOX", changes, LIMITS))
    harness.run(store.set_metadata(None, [("/shared/comment", b"server")], LIMITS))
    get = store.get_metadata
    zero = harness.run(get("INBOX", ["/shared/comment", "/shared/none"], MetadataDepth.ZERO))
    assert zero == [("/shared/comment", b"ours")]
    assert harness.run(get(None, ["/shared/comment"], MetadataDepth.ZERO)) == [
        ("/shared/comment", b"server")
    ]
    one = harness.run(get("INBOX", ["/shared/vendor/x"], MetadataDepth.ONE))
    assert one == [("/shared/vendor/x/a", b"1")]
    infinity = harness.run(get("INBOX", ["/shared"], MetadataDepth.INFINITY))
    assert [entry for entry, _ in infinity] == [
        "/shared/comment",
        "/shared/vendor/x/a",
        "/shared/vendor/x/a/b",
    ]
    harness.run(store.set_metadata("INBOX", [("/shared/comment", None)], LIMITS))
    assert harness.run(get("INBOX", ["/shared/comment"], MetadataDepth.ZERO)) == []
    with pytest.raises(MailError) as missing:
        harness.run(get("nope", ["/shared/comment"], MetadataDepth.ZERO))
    assert missing.value.kind is MailErrorKind.NOTFOUND


def test_metadata_limits_refuse_all_or_nothing(harness: Harness) -> None:
    store = harness.store()
    few = MetadataLimits(max_entries=2, max_total_size=1000)
    harness.run(store.set_metadata("INBOX", [("/private/a", b"1"), ("/private/b", b"2")], few))
    with pytest.raises(MailError) as too_many:
        harness.run(store.set_metadata("INBOX", [("/private/b", b"3"), ("/private/c", b"3")], few))
    assert too_many.value.kind is MailErrorKind.LIMIT
    got = harness.run(store.get_metadata("INBOX", ["/private"], MetadataDepth.ONE))
    assert got == [("/private/a", b"1"), ("/private/b", b"2")]  # nothing of the failed set
    # Replacing and removing within the limit works; the server entries count separately.
    harness.run(store.set_metadata("INBOX", [("/private/a", None), ("/private/c", b"3")], few))
    harness.run(store.set_metadata(None, [("/private/a", b"1"), ("/private/b", b"2")], few))
    small = MetadataLimits(max_entries=100, max_total_size=40)
    with pytest.raises(MailError) as too_big:
        harness.run(store.set_metadata("Drafts", [("/private/big", b"x" * 40)], small))
    assert too_big.value.kind is MailErrorKind.LIMIT


def test_metadata_follows_rename_and_goes_with_delete(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.create_mailbox("foo"))
    harness.run(store.set_metadata("foo", [("/private/comment", b"kept")], LIMITS))
    harness.run(store.rename_mailbox("foo", "bar"))
    entry = ["/private/comment"]
    assert harness.run(store.get_metadata("bar", entry, MetadataDepth.ZERO)) == [
        ("/private/comment", b"kept")
    ]
    harness.run(store.delete_mailbox("bar"))
    harness.run(store.create_mailbox("bar"))
    assert harness.run(store.get_metadata("bar", entry, MetadataDepth.ZERO)) == []


def test_metadata_is_per_account_and_removed_with_the_account(harness: Harness) -> None:
    harness.run(harness.backend.add_account(OTHER_USER, "hash-2"))
    mine, theirs = harness.store(), harness.store(OTHER_USER)
    harness.run(mine.set_metadata(None, [("/shared/comment", b"alice")], LIMITS))
    entry = ["/shared/comment"]
    assert harness.run(theirs.get_metadata(None, entry, MetadataDepth.ZERO)) == []
    harness.run(harness.backend.remove_account(USER))
    harness.run(harness.backend.add_account(USER, "hash-1"))
    fresh = harness.store()
    assert harness.run(fresh.get_metadata(None, entry, MetadataDepth.ZERO)) == []
