"""The sans-IO POP3 core without sockets: command parsing (RFC 1939 §3), framing, the line
limit, SASL responses (RFC 5034 §4), replies (RFC 2449 §8) and message encoding for RETR and
TOP (RFC 1939 §3 byte-stuffing). Every parser input is fed whole and one byte at a time."""

from __future__ import annotations

import base64
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.pop3.proto import commands as c
from tidings.pop3.proto import responses as r
from tidings.pop3.proto.events import (
    NEED_DATA,
    CommandError,
    Event,
    LineTooLong,
    SaslResponse,
)
from tidings.pop3.proto.grammar import parse_command
from tidings.pop3.proto.message import encode_message, top_end, wire_length
from tidings.pop3.proto.parser import CommandParser


def drain(parser: CommandParser) -> list[Event]:
    events = []
    while (event := parser.next_event()) is not NEED_DATA:
        events.append(event)
    return events


def feed_whole(data: bytes, max_line_length: int = 4096) -> list[Event]:
    parser = CommandParser(max_line_length)
    parser.receive_data(data)
    return drain(parser)


def feed_bytewise(data: bytes, max_line_length: int = 4096) -> list[Event]:
    parser = CommandParser(max_line_length)
    events: list[Event] = []
    for index in range(len(data)):
        parser.receive_data(data[index : index + 1])
        events += drain(parser)
    return events


def feed_both(data: bytes, max_line_length: int = 4096) -> list[Event]:
    whole = feed_whole(data, max_line_length)
    assert feed_bytewise(data, max_line_length) == whole
    return whole


# ------------------------------------------------------------------ commands (RFC 1939)


@pytest.mark.parametrize(
    ("line", "command"),
    [
        (b"USER alice@example.test", c.User("alice@example.test")),
        (b"PASS correct horse battery staple", c.Pass("correct horse battery staple")),
        (b"STAT", c.Stat()),
        (b"LIST", c.List()),
        (b"LIST 2", c.List(2)),
        (b"UIDL", c.Uidl()),
        (b"UIDL 007", c.Uidl(7)),
        (b"RETR 1", c.Retr(1)),
        (b"DELE 3", c.Dele(3)),
        (b"TOP 1 0", c.Top(1, 0)),
        (b"TOP 1 99999999999", c.Top(1, 99999999999)),
        (b"NOOP", c.Noop()),
        (b"RSET", c.Rset()),
        (b"QUIT", c.Quit()),
        (b"CAPA", c.Capa()),
        (b"STLS", c.Stls()),
        (b"AUTH", c.Auth()),
        (b"AUTH plain", c.Auth("PLAIN")),
        (b"AUTH PLAIN AGEAYg==", c.Auth("PLAIN", "AGEAYg==")),
        (b"AUTH PLAIN =", c.Auth("PLAIN", "=")),
    ],
)
def test_rfc1939_3_commands_parse(line: bytes, command: c.Command) -> None:
    assert feed_both(line + b"\r\n") == [command]


def test_rfc1939_3_keywords_are_case_insensitive() -> None:
    assert feed_both(b"retr 1\r\nQuIt\r\n") == [c.Retr(1), c.Quit()]


def test_rfc1939_3_bare_lf_ends_a_line_too() -> None:
    assert feed_both(b"STAT\nLIST 1\n") == [c.Stat(), c.List(1)]


def test_rfc1939_7_password_is_the_rest_of_the_line() -> None:
    assert feed_both(b"PASS  two  spaces \r\n") == [c.Pass(" two  spaces ")]


def test_arguments_of_argumentless_commands_are_ignored_like_dovecot() -> None:
    # A client that sends "QUIT " must still reach UPDATE.
    assert feed_both(b"QUIT \r\nNOOP extra\r\n") == [c.Quit(), c.Noop()]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"", "Empty command line."),
        (b"LAST", "Unknown command: LAST"),
        (b"XYZZY" * 10, "Unknown command."),
        (b"RETR", "RETR needs a message number."),
        (b"RETR x", "Invalid message number: x"),
        (b"RETR +1", "Invalid message number: +1"),
        (b"RETR -1", "Invalid message number: -1"),
        (b"RETR 1 2", "Noise after the arguments: 2"),
        (b"RETR 12345678901", "Message number too large: 12345678901"),
        (b"LIST 1 2", "Noise after the arguments: 2"),
        (b"TOP 1", "TOP needs a message number and a line count."),
        (b"TOP 1 x", "Invalid line count: x"),
        (b"TOP 1 -1", "Invalid line count: -1"),
        (b"TOP 1 " + b"9" * 19, "Line count too large: 9999999999999999"),
        (b"DELE", "DELE needs a message number."),
        (b"USER", "USER needs a user name."),
        (b"PASS", "PASS needs a password."),
        (b"AUTH PLAIN a b", "Noise after the initial response."),
        (b"USER \xff", "Command line is not valid UTF-8."),
    ],
)
def test_malformed_commands_give_a_reason(line: bytes, reason: str) -> None:
    events = feed_both(line + b"\r\n")
    assert len(events) == 1 and isinstance(events[0], CommandError)
    assert events[0].reason == reason


def test_rfc2449_6_6_pipelined_commands_come_out_in_order() -> None:
    data = b"USER a\r\nPASS b\r\nSTAT\r\nLIST\r\nRETR 1\r\nQUIT\r\n"
    assert feed_both(data) == [c.User("a"), c.Pass("b"), c.Stat(), c.List(), c.Retr(1), c.Quit()]


def test_line_limit_reports_once_and_discards_the_rest() -> None:
    long_line = b"USER " + b"x" * 100 + b"\r\n"
    events = feed_both(long_line + b"STAT\r\n", max_line_length=50)
    assert events == [LineTooLong(50), c.Stat()]


def test_line_of_exactly_the_limit_is_accepted() -> None:
    line = b"USER " + b"x" * 45
    assert feed_both(line + b"\r\n", max_line_length=50) == [c.User("x" * 45)]
    assert feed_both(line + b"x\r\n", max_line_length=50) == [LineTooLong(50)]


def test_line_limit_bounds_memory_before_the_line_ends() -> None:
    parser = CommandParser(max_line_length=10)
    parser.receive_data(b"y" * 1000)
    assert parser.next_event() == LineTooLong(10)
    parser.receive_data(b"y" * 100_000)
    assert parser.next_event() is NEED_DATA
    assert len(parser._buffer) == 0
    parser.receive_data(b"\r\nNOOP\r\n")
    assert drain(parser) == [c.Noop()]


def test_rfc5034_4_sasl_response_is_a_raw_line() -> None:
    parser = CommandParser()
    parser.receive_data(b"AUTH PLAIN\r\nAGEAYg==\r\nSTAT\r\n")
    assert parser.next_event() == c.Auth("PLAIN")
    parser.expect_sasl_response()
    assert parser.next_event() == SaslResponse("AGEAYg==")
    assert parser.next_event() == c.Stat()


def test_rfc5034_4_over_long_sasl_response() -> None:
    parser = CommandParser(max_line_length=8)
    parser.expect_sasl_response()
    parser.receive_data(b"A" * 20 + b"\r\nNOOP\r\n")
    assert parser.next_event() == LineTooLong(8)
    assert parser.next_event() == c.Noop()  # the SASL expectation ended with the long line


def test_passwords_stay_out_of_reprs() -> None:
    assert "secret" not in repr(c.Pass("secret"))
    assert "c2VjcmV0" not in repr(c.Auth("PLAIN", "c2VjcmV0"))
    assert "c2VjcmV0" not in repr(SaslResponse("c2VjcmV0"))


_WORD = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40
)
_NUMBER = st.integers(min_value=0, max_value=9_999_999_999)
_COMMANDS = st.one_of(
    st.builds(c.User, _WORD),
    st.builds(c.Pass, _WORD),
    st.builds(c.Auth, st.none(), st.none()),
    st.builds(c.Auth, st.sampled_from(["PLAIN", "LOGIN", "X-OTHER"]), st.none() | _WORD),
    st.sampled_from([c.Stls(), c.Capa(), c.Quit(), c.Stat(), c.Noop(), c.Rset()]),
    st.builds(c.List, st.none() | _NUMBER),
    st.builds(c.Uidl, st.none() | _NUMBER),
    st.builds(c.Retr, _NUMBER),
    st.builds(c.Dele, _NUMBER),
    st.builds(c.Top, _NUMBER, st.integers(min_value=0, max_value=10**18 - 1)),
)


@given(st.lists(_COMMANDS, max_size=8))
def test_parse_is_the_mirror_of_encode(commands: list[c.Command]) -> None:
    data = b"".join(command.encode() for command in commands)
    assert feed_whole(data) == commands


@given(st.binary(max_size=300))
def test_any_bytes_give_events_never_exceptions(data: bytes) -> None:
    whole = feed_whole(data, max_line_length=64)
    assert feed_bytewise(data, max_line_length=64) == whole
    for event in whole:
        assert isinstance(event, c.Command | CommandError | LineTooLong)


def test_grammar_on_one_line() -> None:
    assert parse_command(b"top 2 5") == c.Top(2, 5)


# ------------------------------------------------------------------ replies (RFC 2449 §8)


def test_rfc2449_8_status_lines_with_codes() -> None:
    assert r.ok() == b"+OK\r\n"
    assert r.ok("2 320") == b"+OK 2 320\r\n"
    assert r.err("Locked.", r.ResponseCode.IN_USE) == b"-ERR [IN-USE] Locked.\r\n"
    assert r.err("x", r.ResponseCode.SYS_TEMP) == b"-ERR [SYS/TEMP] x\r\n"
    assert r.err("x", r.ResponseCode.SYS_PERM) == b"-ERR [SYS/PERM] x\r\n"
    assert r.err("x", r.ResponseCode.AUTH) == b"-ERR [AUTH] x\r\n"
    assert r.err("x", r.ResponseCode.LOGIN_DELAY) == b"-ERR [LOGIN-DELAY] x\r\n"


def test_reply_text_can_never_break_the_framing() -> None:
    assert r.err("evil\r\n+OK injected") == b"-ERR evil  +OK injected\r\n"
    assert len(r.err("x" * 2000)) == r.MAX_RESPONSE_LINE


def test_rfc1939_3_multiline_is_stuffed_and_terminated() -> None:
    assert r.multiline(r.ok(), ["a", ".b", "."]) == b"+OK\r\na\r\n..b\r\n..\r\n.\r\n"


def test_rfc5034_4_challenge() -> None:
    assert r.challenge(b"") == b"+ \r\n"
    assert r.challenge(b"Username:") == b"+ " + base64.b64encode(b"Username:") + b"\r\n"


# ------------------------------------------------------------------ messages (RETR, TOP)


def retr_bytes(raw: bytes, end: int | None = None, chunk_size: int = 65536) -> bytes:
    return b"".join(encode_message(raw, end, chunk_size))


def unstuff(body: bytes) -> bytes:
    """What a client reconstructs: drop the terminator, undo byte-stuffing (RFC 1939 §3)."""
    assert body.endswith(b".\r\n")
    lines = body[:-3].split(b"\r\n")
    assert lines[-1] == b""
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


def test_rfc1939_3_retr_stuffs_dots_and_terminates() -> None:
    raw = b"Subject: dots\r\n\r\n.starts with dot\r\n..two dots\r\n.\r\nend\r\n"
    assert retr_bytes(raw) == (
        b"Subject: dots\r\n\r\n..starts with dot\r\n...two dots\r\n..\r\nend\r\n.\r\n"
    )


def test_bare_lf_becomes_crlf_and_a_missing_final_line_end_is_added() -> None:
    raw = b"Subject: bare\n\nline1\nline2 no final newline"
    assert retr_bytes(raw) == b"Subject: bare\r\n\r\nline1\r\nline2 no final newline\r\n.\r\n"
    assert wire_length(raw) == 46  # what Dovecot's LIST says for the same message


def test_message_starting_with_a_dot() -> None:
    assert retr_bytes(b".\n") == b"..\r\n.\r\n"
    assert retr_bytes(b"") == b".\r\n"


_MESSAGE_BYTES = st.lists(
    st.sampled_from([b"\r\n", b"\n", b".", b"..", b"\r", b"a", b"Subject: x", b" ", b"\x00"]),
    max_size=60,
).map(b"".join)


@given(_MESSAGE_BYTES, st.integers(min_value=1, max_value=40))
def test_chunking_never_changes_the_output(raw: bytes, chunk_size: int) -> None:
    assert retr_bytes(raw, chunk_size=chunk_size) == retr_bytes(raw)


@given(_MESSAGE_BYTES)
def test_unstuffed_output_is_exactly_the_wire_size(raw: bytes) -> None:
    body = retr_bytes(raw)
    content = unstuff(body)
    # The size LIST reports counts the content; a CRLF is added only when the last line
    # had no LF (Dovecot counts the same way).
    added = 0 if (not raw or raw.endswith(b"\n")) else 2
    assert len(content) == wire_length(raw) + added
    assert b"\n" not in content.replace(b"\r\n", b"")


def test_rfc1939_7_top_end() -> None:
    raw = b"A: 1\r\nB: 2\r\n\r\nline 1\r\nline 2\r\nline 3\r\n"
    assert raw[: top_end(raw, 0)] == b"A: 1\r\nB: 2\r\n\r\n"
    assert raw[: top_end(raw, 2)] == b"A: 1\r\nB: 2\r\n\r\nline 1\r\nline 2\r\n"
    assert top_end(raw, 10**18) == len(raw)
    lf_only = b"A: 1\n\nbody\nmore\n"
    assert lf_only[: top_end(lf_only, 1)] == b"A: 1\n\nbody\n"
    assert top_end(b"A: 1\r\nno blank line", 5) == len(b"A: 1\r\nno blank line")
    assert retr_bytes(raw, top_end(raw, 1)) == b"A: 1\r\nB: 2\r\n\r\nline 1\r\n.\r\n"


def test_large_message_is_encoded_one_chunk_at_a_time() -> None:
    """A 20 MiB RETR must not copy the message: memory beyond it stays near one chunk."""
    raw = b"Subject: big\r\n\r\n" + (b"." + b"y" * 97 + b"\n") * (20 * 1024 * 1024 // 99)
    tracemalloc.start()
    try:
        sent = 0
        for chunk in encode_message(raw):
            sent += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sent == wire_length(raw) + raw.count(b"\n.") + len(b".\r\n")
    assert peak < 1024 * 1024, peak
