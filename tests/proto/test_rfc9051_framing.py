"""Command framing: literals (RFC 9051 §4.3, RFC 7888 LITERAL+/-, RFC 3516 literal8), line
limits, errors and recovery, IDLE's DONE (RFC 2177) and AUTHENTICATE continuations (§6.2.2)."""

from __future__ import annotations

import pytest
from imap_proto_helpers import drain, feed, feed_both

from tidings.imap.proto import commands as c
from tidings.imap.proto.events import (
    NEED_DATA,
    CommandError,
    ContinuationLine,
    IdleDone,
    LineTooLong,
    LiteralRequest,
)
from tidings.imap.proto.parser import CommandParser


def reject_all(request: LiteralRequest) -> bool:
    return False


def test_rfc9051_4_3_synchronizing_literal_waits_for_the_driver() -> None:
    parser = CommandParser()
    parser.receive_data(b"a1 LOGIN {5}\r\n")
    assert parser.next_event() == LiteralRequest("a1", 5, synchronizing=True)
    with pytest.raises(RuntimeError):
        parser.next_event()  # the driver must answer first
    parser.accept_literal()
    assert parser.next_event() is NEED_DATA
    parser.receive_data(b"alice {6}\r\n")
    assert parser.next_event() == LiteralRequest("a1", 6, synchronizing=True)
    parser.accept_literal()
    parser.receive_data(b"sec\r\nt\r\n")
    assert parser.next_event() == c.Login("a1", "alice", "sec\r\nt")
    assert parser.next_event() is NEED_DATA


def test_rfc9051_4_3_rejected_synchronizing_literal_drops_the_command() -> None:
    events = feed_both(b"a1 APPEND INBOX {999999999}\r\na2 NOOP\r\n", reject_all)
    assert events == [LiteralRequest("a1", 999999999, True), c.Noop("a2")]


def test_rfc7888_non_synchronizing_literal() -> None:
    events = feed_both(b"a1 LOGIN {5+}\r\nalice {2+}\r\npw\r\na2 NOOP\r\n")
    assert events == [
        LiteralRequest("a1", 5, False),
        LiteralRequest("a1", 2, False),
        c.Login("a1", "alice", "pw"),
        c.Noop("a2"),
    ]


def test_rfc7888_4_rejected_non_synchronizing_literal_is_skipped() -> None:
    data = b"a1 APPEND INBOX {12+}\r\nNOOP\r\nNOOP\r\n (more) {3+}\r\nx\ny\r\na2 NOOP\r\n"
    events = feed_both(data, reject_all)
    assert events == [LiteralRequest("a1", 12, False), c.Noop("a2")]


def test_rejecting_only_a_later_literal() -> None:
    def first_only(request: LiteralRequest) -> bool:
        return request.size == 5

    events = feed_both(b"a1 LOGIN {5+}\r\nalice {4+}\r\nabcd\r\na2 NOOP\r\n", first_only)
    assert events == [LiteralRequest("a1", 5, False), LiteralRequest("a1", 4, False), c.Noop("a2")]


def test_rfc3516_literal8_in_append() -> None:
    events = feed_both(b"a1 APPEND INBOX ~{4}\r\n\x00\x01\r\n\r\n")
    assert events == [
        LiteralRequest("a1", 4, True),
        c.Append("a1", "INBOX", b"\x00\x01\r\n", binary=True),
    ]


def test_literal_larger_than_the_limit_is_still_reported() -> None:
    parser = CommandParser(max_literal_size=10)
    parser.receive_data(b"a1 APPEND INBOX {11}\r\n")
    assert parser.next_event() == LiteralRequest("a1", 11, True)


def test_literal_request_without_a_valid_tag() -> None:
    events = feed_both(b"+x LOGIN {1+}\r\na b\r\n")
    assert events == [
        LiteralRequest(None, 1, False),
        CommandError(None, "Invalid tag: Expected tag"),
    ]


def test_bare_lf_line_ends() -> None:
    events = feed_both(b"a1 NOOP\na2 LOGIN {2}\nab c\na3 CAPABILITY\r\n")
    assert events == [
        c.Noop("a1"),
        LiteralRequest("a2", 2, True),
        c.Login("a2", "ab", "c"),
        c.Capability("a3"),
    ]


def test_bad_syntax_then_next_command_parses() -> None:
    events = feed_both(b"a1 FETCH 1 (FLAGS\r\n\r\n* NOOP\r\na2 NOOP\r\n")
    assert isinstance(events[0], CommandError) and events[0].tag == "a1"
    assert events[1] == CommandError(None, "Empty command line")
    assert isinstance(events[2], CommandError) and events[2].tag is None
    assert events[3] == c.Noop("a2")


def test_unknown_command_reason() -> None:
    assert feed_both(b"t FOO bar\r\n") == [CommandError("t", "Unknown command FOO")]


def test_line_too_long_then_a_good_command() -> None:
    long_line = b"a1 LOGIN " + b"x" * 200 + b" y\r\n"
    events = feed_both(long_line + b"a2 NOOP\r\n", max_line_length=100)
    assert events == [LineTooLong("a1"), c.Noop("a2")]


def test_line_too_long_counts_lines_around_literals() -> None:
    data = b"a1 LOGIN {3}\r\nabc " + b"x" * 100 + b"\r\na2 NOOP\r\n"
    events = feed_both(data, max_line_length=60)
    assert events == [LiteralRequest("a1", 3, True), LineTooLong("a1"), c.Noop("a2")]


def test_line_too_long_ending_in_a_non_sync_literal_skips_it() -> None:
    data = b"a1 APPEND INBOX " + b"x" * 100 + b" {6+}\r\nNOOP\r\n\r\na2 NOOP\r\n"
    assert feed_both(data, max_line_length=50) == [LineTooLong("a1"), c.Noop("a2")]


def test_endless_line_keeps_memory_bounded() -> None:
    parser = CommandParser(max_line_length=1000)
    parser.receive_data(b"a1 NOOP ")
    events = drain(parser)
    for _ in range(2000):
        parser.receive_data(b"z" * 1000)
        events += drain(parser)
        assert len(parser._buffer) <= 1000 + 1000
    parser.receive_data(b"\r\na2 NOOP\r\n")
    events += drain(parser)
    assert events == [LineTooLong("a1"), c.Noop("a2")]


def test_rfc2177_idle_done() -> None:
    parser = CommandParser()
    events = feed([b"a1 IDLE\r\n"], parser=parser)
    assert events == [c.Idle("a1")]
    parser.expect_idle_done()
    assert feed([b"do", b"ne\r\na2 NOOP\r\n"], parser=parser) == [IdleDone(), c.Noop("a2")]


def test_rfc2177_idle_other_line_ends_idle_with_an_error() -> None:
    parser = CommandParser()
    feed([b"a1 IDLE\r\n"], parser=parser)
    parser.expect_idle_done()
    events = feed([b"a2 NOOP\r\na3 NOOP\r\n"], parser=parser)
    assert events == [CommandError(None, "Expected DONE"), c.Noop("a3")]


def test_rfc2177_idle_line_too_long_has_no_tag() -> None:
    parser = CommandParser(max_line_length=10)
    parser.expect_idle_done()
    assert feed([b"a" * 20 + b"\r\nDONE\r\n"], parser=parser) == [
        LineTooLong(None),
        CommandError("DONE", "Missing command"),  # IDLE ended with the long line
    ]


def test_rfc9051_6_2_2_continuation_lines() -> None:
    parser = CommandParser()
    assert feed([b"a1 AUTHENTICATE PLAIN\r\n"], parser=parser) == [c.Authenticate("a1", "PLAIN")]
    parser.expect_continuation()
    assert feed([b"AGFsaWNlAHB3\r\n"], parser=parser) == [ContinuationLine("AGFsaWNlAHB3")]
    parser.expect_continuation()
    assert feed([b"*\n", b"a2 NOOP\r\n"], parser=parser) == [ContinuationLine("*"), c.Noop("a2")]


def test_continuation_line_may_end_like_a_literal_header() -> None:
    parser = CommandParser()
    parser.expect_continuation()
    assert feed([b"{5}\r\n"], parser=parser) == [ContinuationLine("{5}")]


def test_answer_without_request_is_a_driver_error() -> None:
    parser = CommandParser()
    with pytest.raises(RuntimeError):
        parser.accept_literal()
    with pytest.raises(RuntimeError):
        parser.reject_literal()


def test_pipelined_commands_in_one_chunk() -> None:
    events = feed_both(b"a1 NOOP\r\na2 SELECT INBOX\r\na3 FETCH 1 FLAGS\r\n")
    assert [type(e) for e in events] == [c.Noop, c.Select, c.Fetch]
