"""RFC 9208 (QUOTA) in the protocol core: GETQUOTA, GETQUOTAROOT, SETQUOTA and STATUS
DELETED-STORAGE parsed (whole and byte by byte), syntax errors refused with their tag, the
QUOTA / QUOTAROOT responses encoded per §7, and the APPEND message literal told apart from
other literals (so an APPEND that cannot fit is refused before its upload)."""

from __future__ import annotations

import pytest
from imap_proto_helpers import parse_one

from tidings.imap.proto import commands as c
from tidings.imap.proto.events import NEED_DATA, CommandError, LiteralRequest
from tidings.imap.proto.grammar import is_append_message
from tidings.imap.proto.parser import CommandParser
from tidings.imap.proto.quota import (
    quota_response,
    quotaroot_response,
    storage_units,
)

CASES: list[tuple[bytes, c.Command]] = [
    (b'a GETQUOTA ""', c.GetQuota("a", "")),
    (b"a getquota User", c.GetQuota("a", "User")),
    (b'a GETQUOTA "User quota"', c.GetQuota("a", "User quota")),
    (b"a GETQUOTA {3}\r\n#u/", c.GetQuota("a", "#u/")),
    (b"a GETQUOTAROOT INBOX", c.GetQuotaRoot("a", "INBOX")),
    (b'a GetQuotaRoot "foo bar"', c.GetQuotaRoot("a", "foo bar")),
    (b"a GETQUOTAROOT &AOk-t&AOk-", c.GetQuotaRoot("a", "&AOk-t&AOk-")),
    (b'a SETQUOTA "" ()', c.SetQuota("a", "", ())),
    (b'a SETQUOTA "" (STORAGE 512)', c.SetQuota("a", "", (("STORAGE", 512),))),
    (
        b"a setquota root (storage 0 Message 10 x-custom 9223372036854775807)",
        c.SetQuota(
            "a",
            "root",
            (("STORAGE", 0), ("MESSAGE", 10), ("X-CUSTOM", 9223372036854775807)),
        ),
    ),
    (
        b"a STATUS INBOX (MESSAGES DELETED DELETED-STORAGE)",
        c.Status(
            "a",
            "INBOX",
            (c.StatusItem.MESSAGES, c.StatusItem.DELETED, c.StatusItem.DELETED_STORAGE),
        ),
    ),
    (b"a status x (deleted-storage)", c.Status("a", "x", (c.StatusItem.DELETED_STORAGE,))),
]


@pytest.mark.parametrize(("line", "expected"), CASES, ids=[repr(line) for line, _ in CASES])
def test_rfc9208_7_commands_parse(line: bytes, expected: c.Command) -> None:
    assert parse_one(line + b"\r\n") == expected


BAD_LINES = [
    b"a GETQUOTA",
    b"a GETQUOTA ",
    b'a GETQUOTA "" extra',
    b"a GETQUOTA (x)",
    b"a GETQUOTAROOT",
    b"a GETQUOTAROOT a b",
    b"a SETQUOTA",
    b'a SETQUOTA ""',
    b'a SETQUOTA "" STORAGE 1',
    b'a SETQUOTA "" (STORAGE)',
    b'a SETQUOTA "" (STORAGE -1)',
    b'a SETQUOTA "" (STORAGE 9223372036854775808)',
    b'a SETQUOTA "" (STORAGE 1 MESSAGE)',
    b'a SETQUOTA "" (STORAGE 1',
    b'a SETQUOTA "" ( )',
    b'a SETQUOTA "" (STORAGE 1) x',
    b"a STATUS INBOX (DELETED-STORAGEX)",
    b"a UID GETQUOTA x",
]


@pytest.mark.parametrize("line", BAD_LINES, ids=[repr(line) for line in BAD_LINES])
def test_rfc9208_7_syntax_errors_keep_the_tag(line: bytes) -> None:
    event = parse_one(line + b"\r\n")
    assert isinstance(event, CommandError), event
    assert event.tag == "a"
    assert event.reason


def test_rfc9208_5_1_storage_is_counted_in_kibibytes_rounded_up() -> None:
    assert [storage_units(n) for n in (0, 1, 1023, 1024, 1025, 2048, 5201)] == [
        0,
        1,
        1,
        1,
        2,
        2,
        6,
    ]


def test_rfc9208_4_2_1_quota_response() -> None:
    assert quota_response("", [("STORAGE", 3, 1024), ("MESSAGE", 1, 10)]) == (
        b'QUOTA "" (STORAGE 3 1024 MESSAGE 1 10)'
    )
    assert quota_response("User quota", [("MESSAGE", 0, 2)]) == b'QUOTA "User quota" (MESSAGE 0 2)'


def test_rfc9208_7_quota_list_is_never_empty() -> None:
    with pytest.raises(ValueError, match="at least one resource"):
        quota_response("", [])


def test_rfc9208_4_2_2_quotaroot_response() -> None:
    assert quotaroot_response(b"INBOX", [""]) == b'QUOTAROOT INBOX ""'
    assert quotaroot_response(b'"foo bar"', ["", "x"]) == b'QUOTAROOT "foo bar" "" x'
    assert quotaroot_response(b"INBOX", []) == b"QUOTAROOT INBOX"


def pending_at_first_literal(data: bytes) -> bytes:
    """What CommandParser.pending_command says at the first literal request of `data`."""
    parser = CommandParser()
    parser.receive_data(data)
    while not isinstance(event := parser.next_event(), LiteralRequest):
        assert event is not NEED_DATA, data
    return parser.pending_command()


@pytest.mark.parametrize(
    ("data", "is_message"),
    [
        (b"a APPEND INBOX {5}\r\n", True),
        (b"a append Sent (\\Seen $X) {5+}\r\n", True),
        (b'a APPEND INBOX "01-Jan-2024 10:00:00 +0000" ~{5}\r\n', True),
        (b'a APPEND "a b" (\\Seen) "01-Jan-2024 10:00:00 +0000" {5}\n', True),
        (b"a APPEND {5}\r\n", False),  # the mailbox name
        (b"a LOGIN {5}\r\n", False),
        (b"a APPEND INBOX junk {5}\r\n", False),
        (b'a APPEND INBOX "not a date" {5}\r\n', False),
    ],
)
def test_append_message_literal_is_told_from_other_literals(data: bytes, is_message: bool) -> None:
    pending = pending_at_first_literal(data)
    assert pending.endswith(b"}\r\n")
    assert is_append_message(pending) is is_message


def test_append_message_after_a_literal_mailbox_name() -> None:
    parser = CommandParser()
    parser.receive_data(b"a APPEND {5}\r\n")
    assert isinstance(parser.next_event(), LiteralRequest)
    assert not is_append_message(parser.pending_command())
    parser.accept_literal()
    parser.receive_data(b"INBOX {3}\r\n")
    assert isinstance(parser.next_event(), LiteralRequest)
    assert is_append_message(parser.pending_command())


def test_pending_command_only_while_a_literal_waits() -> None:
    parser = CommandParser()
    with pytest.raises(RuntimeError, match="no LiteralRequest"):
        parser.pending_command()
