"""The APPEND grammar with MULTIAPPEND (RFC 3502), literal8 (RFC 3516) and the UTF8 data item
(RFC 6855 §4), fed whole and byte by byte; `pending_append`, which the driver asks before it
answers a literal; OLDER/YOUNGER (RFC 5032)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from imap_proto_helpers import feed_both

from tidings.imap.proto import commands as c
from tidings.imap.proto.append import PendingAppend, pending_append
from tidings.imap.proto.events import CommandError, LiteralRequest
from tidings.imap.proto.grammar import parse_command

WHEN = datetime(1994, 2, 7, 22, 43, 4, tzinfo=timezone(-timedelta(hours=8)))


def _command(data: bytes) -> c.Command:
    events = [event for event in feed_both(data + b"\r\n") if not isinstance(event, LiteralRequest)]
    assert len(events) == 1, events
    return events[0]  # type: ignore[return-value]


def test_one_message_keeps_the_old_shape() -> None:
    assert _command(b"a APPEND INBOX {3}\r\nabc") == c.Append("a", "INBOX", b"abc")


def test_rfc3502_multiappend_messages_in_order() -> None:
    command = _command(
        b'A003 APPEND saved-messages (\\Seen) {3}\r\none (\\Seen) " 7-Feb-1994 22:43:04 -0800"'
        b" {3}\r\ntwo ~{3+}\r\nt\x00o"
    )
    assert isinstance(command, c.Append)
    assert command.mailbox == "saved-messages"
    assert command.messages == (
        c.AppendMessage(b"one", ("\\Seen",)),
        c.AppendMessage(b"two", ("\\Seen",), WHEN),
        c.AppendMessage(b"t\x00o", binary=True),
    )


def test_rfc6855_utf8_data_item() -> None:
    command = _command(b"a APPEND INBOX (\\Seen) UTF8 (~{2}\r\n\xc3\xa4) utf8 (~{1+}\r\nx)")
    assert isinstance(command, c.Append)
    assert command.messages == (
        c.AppendMessage(b"\xc3\xa4", ("\\Seen",), binary=True, utf8=True),
        c.AppendMessage(b"x", binary=True, utf8=True),
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"a APPEND INBOX", "Missing argument"),
        (b"a APPEND INBOX {1}\r\nx ", "Expected message literal"),
        (b"a APPEND INBOX {1}\r\nx junk", "Expected message literal"),
        (b"a APPEND INBOX {1}\r\nx{1}\r\ny", "Expected space"),
        (b"a APPEND INBOX UTF8 ({1}\r\nx)", "UTF8 data must be a literal8"),
        (b"a APPEND INBOX UTF8 (~{1}\r\nx", "Expected ')'"),
        (b"a APPEND INBOX {3}\r\na\x00b", "NUL in literal"),
    ],
)
def test_bad_appends(data: bytes, reason: str) -> None:
    events = [e for e in feed_both(data + b"\r\n") if not isinstance(e, LiteralRequest)]
    assert events == [CommandError("a", reason)]


@pytest.mark.parametrize(
    ("pending", "expected"),
    [
        (b"a APPEND INBOX {5}\r\n", PendingAppend("INBOX", ())),
        (
            b'a APPEND INBOX (\\Seen) "01-Jan-2024 10:00:00 +0000" ~{5+}\r\n',
            PendingAppend("INBOX", ()),
        ),
        (b"a APPEND INBOX {3}\r\nabc {7}\r\n", PendingAppend("INBOX", (3,))),
        (
            b"a APPEND INBOX {3}\r\nabc (\\Seen) ~{2}\r\nxy UTF8 (~{9}\r\n",
            PendingAppend("INBOX", (3, 2)),
        ),
        (b"a APPEND INBOX UTF8 (~{2}\r\nxy) {9}\r\n", PendingAppend("INBOX", (2,))),
        (b"a APPEND {5}\r\nINBOX {9}\r\n", PendingAppend("INBOX", ())),
        (b"a APPEND {5}\r\n", None),  # the mailbox name itself
        (b"a LOGIN {5}\r\n", None),
        (b"a APPEND INBOX {3}\r\nabc junk {2}\r\n", None),
    ],
)
def test_pending_append(pending: bytes, expected: PendingAppend | None) -> None:
    assert pending_append(pending) == expected


@given(st.lists(st.binary(min_size=1, max_size=20), min_size=1, max_size=5))
def test_any_messages_round_trip(bodies: list[bytes]) -> None:
    """Every body, sent as a literal8, comes back whole and in order."""
    data = b"t APPEND INBOX" + b"".join(b" ~{%d+}\r\n%s" % (len(body), body) for body in bodies)
    command = parse_command(data)
    assert isinstance(command, c.Append)
    assert [message.message for message in command.messages] == bodies


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (b"OLDER 3600", c.SearchAge(older=True, seconds=3600)),
        (b"younger 1", c.SearchAge(older=False, seconds=1)),
        (
            b"NOT OLDER 4294967295",
            c.SearchNot(c.SearchAge(older=True, seconds=4294967295)),
        ),
    ],
)
def test_rfc5032_within_keys(keys: bytes, expected: c.SearchKey) -> None:
    command = _command(b"a SEARCH " + keys)
    assert isinstance(command, c.Search)
    assert command.key == expected


@pytest.mark.parametrize("keys", [b"OLDER 0", b"YOUNGER", b"OLDER x", b"YOUNGER 4294967296"])
def test_rfc5032_bad_intervals(keys: bytes) -> None:
    events = feed_both(b"a SEARCH " + keys + b"\r\n")
    assert len(events) == 1 and isinstance(events[0], CommandError)
