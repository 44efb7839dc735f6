"""The sans-IO response parser for the client role (RFC 9051 §7, RFC 7162, RFC 5465)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.imap.proto.client_responses import (
    NEED_DATA,
    Capability,
    Condition,
    Continuation,
    Exists,
    Expunge,
    Fetch,
    Flags,
    ListItem,
    NeedData,
    Other,
    Response,
    ResponseError,
    ResponseParser,
    Search,
    Status,
    Tagged,
    Vanished,
    encode_mailbox,
    quote,
)

TRANSCRIPT = (
    b"* OK [CAPABILITY IMAP4rev1 IDLE LITERAL+] ready\r\n"
    b"* 4 EXISTS\r\n"
    b"* 2 EXPUNGE\r\n"
    b"* FLAGS (\\Answered \\Seen $Junk)\r\n"
    b"* OK [UIDVALIDITY 1234] UIDs valid\r\n"
    b'* 3 FETCH (UID 17 FLAGS (\\Seen) RFC822.SIZE 42 INTERNALDATE "01-Jan-2024 10:00:00 +0000"'
    b' MODSEQ (99) ENVELOPE ("Mon, 1 Jan 2024 10:00:00 +0000" "=?utf-8?q?Caf=C3=A9?= time"'
    b' (("=?iso-8859-1?q?J=F6rg?=" NIL "joerg" "example.org")) NIL NIL'
    b' ((NIL NIL "bob" "example.test")) NIL NIL NIL "<id@x>")'
    b" BODY[HEADER.FIELDS (SUBJECT)] {11}\r\nSubject: x\n BODY[] NIL)\r\n"
    b"* VANISHED (EARLIER) 1:3,7\r\n"
    b"* VANISHED 9\r\n"
    b"* SEARCH 1 5 8 (MODSEQ 12)\r\n"
    b'* STATUS "&AMk-t&AOk-" (MESSAGES 3 UIDNEXT 10 UIDVALIDITY 5 HIGHESTMODSEQ 77)\r\n'
    b'* LIST (\\HasNoChildren) "/" "New" ("OLDNAME" ("Old"))\r\n'
    b'* LIST (\\Noselect) NIL {5}\r\nab"cd\r\n'
    b"* METADATA INBOX (/private/comment NIL)\r\n"
    b"+ go ahead\r\n"
    b"A1 OK [READ-WRITE] SELECT completed\r\n"
    b"* BYE shutting down\r\n"
)


def parse_all(chunks: list[bytes]) -> list[Response]:
    parser = ResponseParser()
    out: list[Response] = []
    for chunk in chunks:
        parser.feed(chunk)
        while (response := parser.next_response()) is not NEED_DATA:
            assert not isinstance(response, NeedData)
            out.append(response)
    return out


def test_transcript_parses() -> None:
    responses = parse_all([TRANSCRIPT])
    greeting = responses[0]
    assert isinstance(greeting, Condition)
    assert (greeting.status, greeting.text) == ("OK", "ready")
    assert greeting.code is not None and greeting.code.name == "CAPABILITY"
    assert greeting.code.arguments == "IMAP4rev1 IDLE LITERAL+"
    assert responses[1] == Exists(4)
    assert responses[2] == Expunge(2)
    assert responses[3] == Flags(("\\Answered", "\\Seen", "$Junk"))
    fetch = responses[5]
    assert isinstance(fetch, Fetch)
    assert (fetch.seq, fetch.uid, fetch.flags, fetch.size, fetch.modseq) == (
        3,
        17,
        ("\\Seen",),
        42,
        99,
    )
    assert fetch.internaldate == "01-Jan-2024 10:00:00 +0000"
    envelope = fetch.envelope
    assert envelope is not None
    assert envelope.subject == "Café time"
    assert envelope.from_[0].name == "Jörg"
    assert envelope.from_[0].display == "Jörg <joerg@example.org>"
    assert envelope.to[0].email == "bob@example.test"
    assert envelope.to[0].display == "bob@example.test"
    assert envelope.sender == () and envelope.cc == () and envelope.in_reply_to is None
    assert envelope.message_id == "<id@x>"
    assert fetch.sections == {
        "BODY[HEADER.FIELDS (SUBJECT)]": b"Subject: x\n",
        "BODY[]": None,
    }
    assert responses[6] == Vanished(True, (1, 2, 3, 7))
    assert responses[7] == Vanished(False, (9,))
    assert responses[8] == Search((1, 5, 8), 12)
    assert responses[9] == Status(
        "Été", {"MESSAGES": 3, "UIDNEXT": 10, "UIDVALIDITY": 5, "HIGHESTMODSEQ": 77}
    )
    assert responses[10] == ListItem(frozenset({"\\HasNoChildren"}), "/", "New", "Old")
    assert responses[11] == ListItem(frozenset({"\\Noselect"}), None, 'ab"cd', None)
    assert isinstance(responses[12], Other) and responses[12].name == "METADATA"
    assert responses[13] == Continuation("go ahead")
    assert isinstance(responses[14], Tagged)
    assert responses[14].code is not None and responses[14].code.name == "READ-WRITE"
    assert responses[14].text == "SELECT completed"
    assert responses[15] == Condition("BYE", None, "shutting down")


def test_capability_upper_cased() -> None:
    assert parse_all([b"* CAPABILITY imap4rev1 idle\r\n"]) == [
        Capability(frozenset({"IMAP4REV1", "IDLE"}))
    ]


def test_byte_at_a_time_equals_whole() -> None:
    whole = parse_all([TRANSCRIPT])
    assert parse_all([bytes([b]) for b in TRANSCRIPT]) == whole


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(TRANSCRIPT)), max_size=30))
def test_any_split_equals_whole(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [
        TRANSCRIPT[a:b] for a, b in zip([0, *points], [*points, len(TRANSCRIPT)], strict=True)
    ]
    assert parse_all(chunks) == parse_all([TRANSCRIPT])


@pytest.mark.parametrize(
    "raw",
    [
        b"A1 MAYBE whatever\r\n",
        b"* 3 FETCH (UID x)\r\n",
        b'* STATUS "INBOX" (MESSAGES)\r\n',
        b'* LIST (\\Noselect "/" foo\r\n',
        b"* OK [UNTERMINATED code\r\n",
        b"* VANISHED abc\r\n",
    ],
)
def test_malformed_raises(raw: bytes) -> None:
    parser = ResponseParser()
    parser.feed(raw)
    with pytest.raises(ResponseError):
        parser.next_response()


def test_limits() -> None:
    parser = ResponseParser(max_line=100)
    parser.feed(b"* OK " + b"x" * 200)
    with pytest.raises(ResponseError):
        parser.next_response()
    parser = ResponseParser(max_literal=10)
    parser.feed(b"* 1 FETCH (BODY[] {11}\r\n")
    with pytest.raises(ResponseError):
        parser.next_response()


def test_quote_and_mailbox() -> None:
    assert quote('a"b\\c') == b'"a\\"b\\\\c"'
    with pytest.raises(ValueError):
        quote("a\r\nb")
    assert encode_mailbox("Été") == b'"&AMk-t&AOk-"'
    assert encode_mailbox("Été", utf8=True) == '"Été"'.encode()
