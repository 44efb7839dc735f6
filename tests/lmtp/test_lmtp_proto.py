"""The sans-IO LMTP core without sockets: replies, the command grammar, the reader's framing
(DATA with dot-stuffing, BDAT chunks, line limits). Every reader test feeds its input whole
and one byte at a time and expects the same events (STYLE.md habit 3)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.lmtp.proto import catalog
from tidings.lmtp.proto import commands as c
from tidings.lmtp.proto.data import DataDecoder
from tidings.lmtp.proto.events import (
    NEED_DATA,
    ChunkReceived,
    CommandRejected,
    Event,
    LineTooLong,
    MessageReceived,
)
from tidings.lmtp.proto.grammar import CommandSyntaxError, parse_command
from tidings.lmtp.proto.reader import LmtpReader
from tidings.lmtp.proto.replies import Reply, ReplySyntaxError, parse_reply, reply

SETTINGS = settings(deadline=None, max_examples=300)


# ----------------------------------------------------------------------- helpers
def _drain(reader: LmtpReader) -> list[Event]:
    events: list[Event] = []
    while (event := reader.next_event()) is not NEED_DATA:
        events.append(event)
        if isinstance(event, c.Data):
            reader.start_message()  # as the driver does after its 354
    return events


def feed_both(data: bytes, **limits: int) -> list[Event]:
    """Events for `data` fed whole; asserts that byte-at-a-time gives the same."""
    whole = LmtpReader(**limits)
    whole.receive_data(data)
    events = _drain(whole)
    single = LmtpReader(**limits)
    one_by_one: list[Event] = []
    for index in range(len(data)):
        single.receive_data(data[index : index + 1])
        one_by_one += _drain(single)
    assert one_by_one == events
    return events


# ----------------------------------------------------------------------- replies
def test_rfc5321_4_2_single_and_multi_line_replies() -> None:
    assert reply(250, "2.1.5", "OK").encode() == b"250 2.1.5 OK\r\n"
    assert catalog.lhlo("mx", 1000).encode() == (
        b"250-mx\r\n250-8BITMIME\r\n250-CHUNKING\r\n250-ENHANCEDSTATUSCODES\r\n"
        b"250-PIPELINING\r\n250-SIZE 1000\r\n250 SMTPUTF8\r\n"
    )
    # RFC 2034 §4: with an enhanced code, every line of a multi-line reply carries it.
    assert reply(550, "5.1.1", "a", "b").encode() == b"550-5.1.1 a\r\n550 5.1.1 b\r\n"


def test_reply_text_cannot_break_the_framing() -> None:
    assert reply(550, "5.1.1", "<evil\r\n250 ok>").encode() == b"550 5.1.1 <evil??250 ok>\r\n"


def test_rfc3463_enhanced_code_must_match_the_class() -> None:
    with pytest.raises(ValueError):
        reply(250, "5.0.0", "mismatch")
    with pytest.raises(ValueError):
        reply(250, "2.0", "short")


def test_parse_reply_needs_a_complete_reply() -> None:
    with pytest.raises(ReplySyntaxError):
        parse_reply(b"250-first\r\n250 2.0.0 las")
    assert parse_reply(b"221 2.0.0 Bye\r\nrest") == (reply(221, "2.0.0", "Bye"), b"rest")


_reply_texts = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x2FFF, blacklist_categories=("Cs", "Cc")),
    min_size=1,
    max_size=30,
).filter(lambda t: not t[0].isdigit())


@st.composite
def replies(draw: st.DrawFn) -> Reply:
    code = draw(st.integers(200, 599).filter(lambda n: n // 100 != 3))
    enhanced = draw(
        st.one_of(
            st.none(),
            st.tuples(st.integers(0, 999), st.integers(0, 999)).map(
                lambda sd: f"{code // 100}.{sd[0]}.{sd[1]}"
            ),
        )
    )
    lines = draw(st.lists(_reply_texts, min_size=1, max_size=4))
    return Reply(code, enhanced, tuple(lines))


@SETTINGS
@given(replies())
def test_parse_reply_mirrors_encode(value: Reply) -> None:
    assert parse_reply(value.encode()) == (value, b"")


# ----------------------------------------------------------------------- grammar
@pytest.mark.parametrize(
    ("line", "command"),
    [
        (b"LHLO mx.example", c.Lhlo("mx.example")),
        (b"lhlo [127.0.0.1] extra", c.Lhlo("[127.0.0.1]")),
        (b"MAIL FROM:<>", c.Mail("")),
        (b"mail from:<a@b> ", c.Mail("a@b")),
        (
            b"MAIL FROM:<a@b> size=10 body=8bitmime SMTPUTF8",
            c.Mail("a@b", 10, c.BodyType.EIGHT_BIT_MIME, True),
        ),
        (b"MAIL FROM:<@relay.example,@two.example:a@b>", c.Mail("a@b")),  # route ignored
        ("MAIL FROM:<jörg@bücher.example>".encode(), c.Mail("jörg@bücher.example")),
        (b'RCPT TO:<"alice"@example.test>', c.Rcpt("alice@example.test")),
        (b'RCPT TO:<"a b"@example.test>', c.Rcpt('"a b"@example.test')),
        (b"RCPT TO:<Postmaster>", c.Rcpt("Postmaster")),  # RFC 5321 §4.1.1.3
        (b"RCPT TO:<alice@[192.0.2.1]>", c.Rcpt("alice@[192.0.2.1]")),
        (b"RCPT TO:<a@b> ORCPT=rfc822;a@b", c.Rcpt("a@b", "rfc822;a@b")),
        (b"DATA", c.Data()),
        (b"BDAT 0 LAST", c.Bdat(0, True)),
        (b"bdat 12 last", c.Bdat(12, True)),
        (b"RSET", c.Rset()),
        (b"NOOP whatever is here", c.Noop()),  # RFC 5321 §4.1.1.9: ignored
        (b"QUIT", c.Quit()),
        (b"VRFY alice@example.test", c.Vrfy("alice@example.test")),
    ],
)
def test_rfc5321_4_1_commands(line: bytes, command: c.Command) -> None:
    assert parse_command(line) == command


@pytest.mark.parametrize(
    ("line", "status", "chunk_size"),
    [
        (b"", "500 5.5.1", None),
        (b"HELO mx", "500 5.5.1", None),  # RFC 2033 §4.1
        (b"EHLO mx", "500 5.5.1", None),
        (b"NOOP\x00", "500 5.5.2", None),
        (b"NOOP\tx", "500 5.5.2", None),
        (b"FOO1", "500 5.5.2", None),  # a verb is letters only (as Dovecot parses it)
        (b".", "500 5.5.2", None),
        (b" NOOP", "500 5.5.1", None),
        (b"LHLO", "501 5.5.4", None),
        (b"MAIL TO:<a@b>", "501 5.5.4", None),
        (b"MAIL FROM: <a@b>", "501 5.5.4", None),
        (b"MAIL FROM:a@b", "501 5.5.4", None),
        (b"MAIL FROM:<a@b", "501 5.5.4", None),
        (b"MAIL FROM:<a b@c>", "501 5.5.4", None),
        (b"MAIL FROM:<a@b>x", "501 5.5.4", None),
        (b"MAIL FROM:<a@-b>", "501 5.5.4", None),
        (b"MAIL FROM:<\xff@b>", "501 5.5.4", None),
        (b"MAIL FROM:<a@b> SIZE=", "501 5.5.4", None),
        (b"MAIL FROM:<a@b> SIZE=123456789012345678901", "501 5.5.4", None),
        (b"MAIL FROM:<a@b> SIZE=1 SIZE=2", "501 5.5.4", None),
        (b"MAIL FROM:<a@b> SMTPUTF8=yes", "501 5.5.4", None),
        (b"MAIL FROM:<a@b> BODY=BINARYMIME", "555 5.5.4", None),
        (b"MAIL FROM:<a@b> RET=FULL", "555 5.5.4", None),
        (b"RCPT TO:<>", "501 5.5.4", None),
        (b'RCPT TO:<"unterminated@b>', "501 5.5.4", None),
        (b"RCPT TO:<a@b> NOTIFY=NEVER", "555 5.5.4", None),
        (b"RCPT TO:<a@b> ORCPT=nosemicolon", "501 5.5.4", None),
        (b"DATA now", "501 5.5.4", None),
        (b"RSET all", "501 5.5.4", None),
        (b"VRFY", "501 5.5.4", None),
        (b"BDAT", "501 5.5.4", 0),
        (b"BDAT -1", "501 5.5.4", 0),
        (b"BDAT 5 FIRST", "501 5.5.4", 5),  # RFC 3030 §2: the 5 octets follow anyway
    ],
)
def test_syntax_errors_carry_their_reply(line: bytes, status: str, chunk_size: int | None) -> None:
    with pytest.raises(CommandSyntaxError) as caught:
        parse_command(line)
    error = caught.value
    assert f"{error.reply.code} {error.reply.enhanced}" == status
    assert error.chunk_size == chunk_size


_atoms = st.text(st.sampled_from("abcXYZ019!#$%&'*+-/=?^_`{|}~é"), min_size=1, max_size=8)
_domains = st.lists(
    st.text(st.sampled_from("abcxyz0189"), min_size=1, max_size=8), min_size=1, max_size=3
).map(".".join)
_addresses = st.builds(lambda local, domain: f"{local}@{domain}", _atoms, _domains)
_commands = st.one_of(
    st.builds(c.Lhlo, _domains),
    st.builds(
        c.Mail,
        st.one_of(st.just(""), _addresses),
        st.one_of(st.none(), st.integers(0, 10**20 - 1)),
        st.one_of(st.none(), st.sampled_from(list(c.BodyType))),
        st.booleans(),
    ),
    st.builds(
        c.Rcpt,
        _addresses,
        # RFC 3461 §4.2 xtext has no "=" or "+" (they are hex-escaped as "+3D", "+2B").
        st.one_of(
            st.none(),
            _addresses.filter(lambda a: not set(a) & {"=", "+"}).map("rfc822;".__add__),
        ),
    ),
    st.just(c.Data()),
    st.builds(c.Bdat, st.integers(0, 10**12), st.booleans()),
    st.just(c.Rset()),
    st.just(c.Noop()),
    st.just(c.Quit()),
    st.builds(c.Vrfy, _atoms),
)


@SETTINGS
@given(_commands)
def test_parse_mirrors_encode(command: c.Command) -> None:
    line = command.encode()
    assert line.endswith(b"\r\n")
    assert parse_command(line[:-2]) == command


@SETTINGS
@given(st.binary(max_size=200))
def test_any_line_parses_or_fails_cleanly(line: bytes) -> None:
    try:
        parse_command(line.replace(b"\n", b""))
    except CommandSyntaxError as error:
        assert error.reply.code in (500, 501, 555)


# ----------------------------------------------------------------------- reader
def test_rfc2920_pipelined_commands_come_out_in_order() -> None:
    events = feed_both(b"LHLO a\r\nMAIL FROM:<x@y>\r\nRCPT TO:<z@w>\nNOOP\r\nBOGUS\r\nQUIT\r\n")
    assert events == [
        c.Lhlo("a"),
        c.Mail("x@y"),
        c.Rcpt("z@w"),
        c.Noop(),
        CommandRejected(catalog.UNKNOWN_COMMAND),
        c.Quit(),
    ]


def test_rfc5321_4_5_2_data_is_unstuffed_up_to_the_end_marker() -> None:
    events = feed_both(b"DATA\r\n.a\r\n..b\r\n.\r\n..\r\nc\r\n.\r\nNOOP\r\n")
    # After the end marker, lines are commands again: "..", "c" and "." are not commands.
    assert events == [
        c.Data(),
        MessageReceived(b"a\r\n.b\r\n", 7),
        CommandRejected(catalog.INVALID_SYNTAX),
        CommandRejected(catalog.UNKNOWN_COMMAND),
        CommandRejected(catalog.INVALID_SYNTAX),
        c.Noop(),
    ]


def test_rfc5321_4_1_1_4_message_boundaries() -> None:
    cases = {
        b".\r\n": b"",  # an empty message
        b"x\r\n.\r\n": b"x\r\n",  # the CRLF before "." belongs to the message
        b"x\r\n\r\n.\r\n": b"x\r\n\r\n",
        b"x.\r\n.\r\n": b"x.\r\n",
        b"x\r\n..\r\n.\r\n": b"x\r\n.\r\n",
        b"\r\n.\r\n": b"\r\n",
    }
    for wire, message in cases.items():
        events = feed_both(b"DATA\r\n" + wire + b"QUIT\r\n")
        assert events == [c.Data(), MessageReceived(message, len(message)), c.Quit()], wire


def test_bare_lf_never_ends_the_data() -> None:
    """RFC 5321 §2.3.8 / SMTP smuggling: LF.LF and LF.CRLF are message content."""
    events = feed_both(b"DATA\r\na\n.\nMAIL FROM:<evil@x>\n.\r\nb\r\n.\r\nQUIT\r\n")
    expected = b"a\n.\nMAIL FROM:<evil@x>\n.\r\nb\r\n"
    assert events == [c.Data(), MessageReceived(expected, len(expected)), c.Quit()]


def test_message_size_limit_counts_unstuffed_octets() -> None:
    at_limit = b"..12345678\r\n"  # 12 octets on the wire, 11 after unstuffing
    assert feed_both(b"DATA\r\n" + at_limit + b".\r\n", max_message_size=11)[1] == (
        MessageReceived(b".12345678\r\n", 11)
    )
    over = feed_both(b"DATA\r\n" + at_limit + b".\r\nNOOP\r\n", max_message_size=10)
    assert over == [c.Data(), MessageReceived(None, 11), c.Noop()]


def test_rfc3030_chunks_are_read_exactly() -> None:
    events = feed_both(b"BDAT 5\r\n\r\n.\r\nBDAT 3 LAST\r\nabcNOOP\r\nBDAT 0 LAST\r\n")
    assert events == [
        ChunkReceived(c.Bdat(5), b"\r\n.\r\n", 5),
        ChunkReceived(c.Bdat(3, True), b"abc", 3),
        c.Noop(),
        ChunkReceived(c.Bdat(0, True), b"", 0),
    ]


def test_rfc3030_rejected_bdat_still_skips_its_chunk() -> None:
    events = feed_both(b"BDAT 4 NOW\r\nQUITNOOP\r\nBDAT x\r\nQUIT\r\n")
    assert events == [
        ChunkReceived(None, b"", 4, parse_error(b"BDAT 4 NOW")),
        c.Noop(),
        ChunkReceived(None, b"", 0, parse_error(b"BDAT x")),
        c.Quit(),
    ]


def parse_error(line: bytes) -> Reply:
    with pytest.raises(CommandSyntaxError) as caught:
        parse_command(line)
    return caught.value.reply


def test_chunk_larger_than_the_limit_is_skipped_not_stored() -> None:
    events = feed_both(b"BDAT 20\r\n" + b"x" * 20 + b"NOOP\r\n", max_message_size=8)
    assert events == [ChunkReceived(c.Bdat(20), None, 20), c.Noop()]


def test_line_too_long_is_reported_once_and_skipped() -> None:
    long_line = b"NOOP " + b"x" * 50 + b"\r\n"
    events = feed_both(long_line + b"QUIT\r\n", max_line_length=20)
    assert events == [LineTooLong(), c.Quit()]
    exact = b"NOOP " + b"x" * 15  # 20 octets: allowed
    assert feed_both(exact + b"\r\n", max_line_length=20) == [c.Noop()]


def test_start_message_only_between_commands() -> None:
    reader = LmtpReader()
    reader.receive_data(b"BDAT 10\r\nabc")
    assert reader.next_event() is NEED_DATA
    with pytest.raises(RuntimeError):
        reader.start_message()


# ----------------------------------------------------------------------- data decoder
def _reference_unstuff(wire: bytes) -> tuple[bytes, int]:
    """RFC 5321 §4.5.2 read line by line, where lines end only at CRLF (a bare CR or LF is
    data): the message up to the first line that is ".", and the octets that used."""
    text = b"\r\n" + wire
    end = text.index(b"\r\n.\r\n")
    body = text[2 : end + 2]
    lines = body.split(b"\r\n")
    unstuffed = b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)
    return unstuffed, end + 5 - 2


@SETTINGS
@given(
    st.lists(st.sampled_from([b"\r", b"\n", b".", b"a", b"\r\n", b"\r\n."]), max_size=40),
    st.lists(st.integers(1, 7), min_size=1, max_size=10),
)
def test_data_decoder_matches_a_line_by_line_reading(pieces: list[bytes], cuts: list[int]) -> None:
    wire = b"".join(pieces) + b"\r\n.\r\n" + b"AFTER"
    expected, consumed = _reference_unstuff(wire)
    decoder = DataDecoder(max_size=10_000)
    position = 0
    index = 0
    while decoder.result is None:
        step = cuts[index % len(cuts)]
        index += 1
        piece = wire[position : position + step]
        taken = decoder.feed(piece)
        position += taken
        if taken < len(piece):
            break
    assert decoder.result is not None
    assert decoder.result.message == expected
    assert position == consumed


@SETTINGS
@given(st.binary(max_size=300))
def test_any_input_gives_the_same_events_whole_and_byte_by_byte(data: bytes) -> None:
    feed_both(data, max_line_length=40, max_message_size=64)
