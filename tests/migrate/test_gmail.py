"""Google Takeout mbox files: X-Gmail-Labels as mailboxes and flags."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.migrate.helpers import read_bytes

from tidings.migrate.gmail import GmailState, gmail_state, split_labels

FROM = b"From 1784306482964431923@xxx Thu Dec 03 05:46:14 +0000 2026\n"


@pytest.mark.parametrize(
    ("value", "labels"),
    [
        (b"Inbox,Starred", ["Inbox", "Starred"]),
        (b'Inbox,"Work, old",Starred', ["Inbox", "Work, old", "Starred"]),
        (b'"say \\"hi\\"",x', ['say "hi"', "x"]),
        (b"=?UTF-8?Q?Caf=C3=A9?=,Inbox", ["Café", "Inbox"]),
        (b"=?UTF-8?Q?a,b?=", ["a,b"]),  # a comma inside an encoded-word does not split
        (b"=?UTF-8?B?w6l0w6k=?=", ["été"]),
        ("Café/Menüs".encode(), ["Café/Menüs"]),
        (b"=?x-unknown?Q?zz?=", ["=?x-unknown?Q?zz?="]),
        (b" a , ,b,", ["a", "b"]),
        (b"", []),
    ],
)
def test_split_labels(value: bytes, labels: list[str]) -> None:
    assert split_labels(value) == labels


def test_system_labels_map_to_mailboxes_and_flags() -> None:
    state = gmail_state(
        ["Opened", "Category Updates", "Important", "Spam", "Inbox", "Starred", "Sent"]
    )
    assert state.mailboxes == ("INBOX", "Junk", "Sent")
    assert state.flags == {"\\Seen", "\\Flagged"}
    assert gmail_state(["Unread", "Drafts", "Trash"]).flags == frozenset()
    assert gmail_state(["Unread", "Drafts", "Trash"]).mailboxes == ("Drafts", "Trash")
    assert gmail_state(["Archived", "Projects//2026/"]).mailboxes == ("Archive", "Projects/2026")
    assert gmail_state([]).mailboxes == ("Archive",)
    assert gmail_state(["Important", "Unread"]) == GmailState(("Archive",), frozenset())


TAKEOUT = (
    FROM + b'X-GM-THRID: 1\nX-Gmail-Labels: Inbox,Starred,"Work, old",Projects/2026,Opened\n'
    b"Subject: one\n\nbody\n\n"
    + FROM + b"X-Gmail-Labels: Unread,Category Promotions,\n =?UTF-8?Q?Caf=C3=A9?=\n"
    b"Status: RO\nSubject: two\n\nbody\n\n"
    + FROM + b"Subject: no labels at all\n\nbody\n\n"
    + FROM + b"X-Gmail-Labels: Sent,Important\nX-Status: A\n\nbody\n\n"
)  # fmt: skip


def test_takeout_mbox(tmp_path: Path) -> None:
    messages, problems = read_bytes(tmp_path, TAKEOUT, gmail_labels=True)
    assert problems == []
    assert [(m.mailbox, m.labels, m.flags) for m in messages] == [
        ("INBOX", ("INBOX", "Work, old", "Projects/2026"), {"\\Seen", "\\Flagged"}),
        ("Café", ("Café",), frozenset()),  # Unread wins over the Status field
        ("Archive", ("Archive",), {"\\Seen"}),
        ("Sent", ("Sent",), {"\\Seen", "\\Answered"}),
    ]
    assert messages[0].raw.startswith(b"X-GM-THRID: 1\r\nX-Gmail-Labels: Inbox,")  # kept


def test_labels_are_ignored_unless_asked_for(tmp_path: Path) -> None:
    messages, _ = read_bytes(tmp_path, TAKEOUT)
    assert {m.mailbox for m in messages} == {"INBOX"}
    assert all(m.labels == () for m in messages)
    assert messages[2].flags == frozenset()
