"""The sessions that select one snapshot share its UID list and messages by UID until one
of them changes (issue 5: memory per idle connection): a session's own flag change, an
expunge or a new message is seen by that session only, never by the others."""

from __future__ import annotations

from datetime import UTC, datetime

from tidings.imap.session.selected import SelectedMailbox
from tidings.storage.api import MailboxInfo, MailboxSnapshot, MessageMeta

WHEN = datetime(2026, 12, 1, tzinfo=UTC)


def snapshot(count: int) -> MailboxSnapshot:
    info = MailboxInfo(1, "INBOX", 7, count + 1, count, None, True)
    metas = tuple(MessageMeta(uid, uid, frozenset(), WHEN, 100) for uid in range(1, count + 1))
    return MailboxSnapshot(info, metas, frozenset())


def test_sessions_of_one_snapshot_share_its_index_until_one_changes() -> None:
    opened = snapshot(5)
    first, second, third = (SelectedMailbox(opened, read_only=False) for _ in range(3))
    assert first.uids is second.uids is third.uids  # one index for all three
    assert first.messages is second.messages

    first.update_flags([MessageMeta(2, 9, frozenset({"\\Seen"}), WHEN, 100)])
    assert first.messages[2].flags == {"\\Seen"}
    assert second.messages[2].flags == frozenset() == third.messages[2].flags
    assert second.messages is third.messages and first.messages is not second.messages

    assert second.remove(3) == 3
    assert second.uids == [1, 2, 4, 5] and 3 not in second.messages
    assert first.uids == [1, 2, 3, 4, 5] == third.uids and 3 in third.messages
    assert third.exists == 5

    again = SelectedMailbox(opened, read_only=True)  # a later session: the untouched index
    assert again.uids is third.uids and again.uids == [1, 2, 3, 4, 5]


def test_a_different_snapshot_gets_its_own_index() -> None:
    one, other = snapshot(3), snapshot(3)
    assert SelectedMailbox(one, read_only=False).uids is not SelectedMailbox(other, False).uids
