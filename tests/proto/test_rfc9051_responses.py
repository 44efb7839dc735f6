"""Response encoding helpers (RFC 9051 §7, §9) and modified UTF-7 (RFC 3501 §5.1.3)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tidings.imap.proto.mutf7 import decode_mutf7, encode_mutf7
from tidings.imap.proto.responses import (
    astring,
    continuation,
    flag_list,
    imap_datetime,
    literal,
    mailbox_name,
    nstring,
    parse_imap_datetime,
    quoted,
    string,
    tagged,
    untagged,
)


def test_rfc9051_9_quoted_escapes() -> None:
    assert quoted('a "b" \\c') == b'"a \\"b\\" \\\\c"'
    assert quoted("") == b'""'
    with pytest.raises(ValueError):
        quoted("a\r\nb")


def test_rfc9051_9_string_chooses_quoted_or_literal() -> None:
    assert string("hello") == b'"hello"'
    assert string(b"a\r\nb") == b"{4}\r\na\r\nb"
    assert string("caf\u00e9") == b"{5}\r\ncaf\xc3\xa9"
    assert string("x" * 2000).startswith(b"{2000}\r\n")
    assert string(b"\x00") == b"{1}\r\n\x00"


def test_rfc9051_9_astring() -> None:
    assert astring("INBOX") == b"INBOX"
    assert astring("a]b") == b"a]b"
    assert astring("a b") == b'"a b"'
    assert astring("") == b'""'
    assert astring("NIL") == b'"NIL"'
    assert astring("50%") == b'"50%"'


def test_nstring_and_literals() -> None:
    assert nstring(None) == b"NIL"
    assert nstring("x") == b'"x"'
    assert literal(b"abc") == b"{3}\r\nabc"
    assert literal(b"\x00", binary=True) == b"~{1}\r\n\x00"


def test_flag_list() -> None:
    assert flag_list(["\\Seen", "$Forwarded"]) == b"(\\Seen $Forwarded)"
    assert flag_list([]) == b"()"


def test_rfc9051_9_date_time_is_day_fixed() -> None:
    pdt = timezone(timedelta(hours=-7))
    assert (
        imap_datetime(datetime(1996, 7, 17, 2, 44, 25, tzinfo=pdt))
        == b'"17-Jul-1996 02:44:25 -0700"'
    )
    assert (
        imap_datetime(datetime(1996, 7, 7, 2, 44, 25, tzinfo=pdt))
        == b'" 7-Jul-1996 02:44:25 -0700"'
    )
    assert imap_datetime(datetime(2024, 1, 2, 3, 4, 5)) == b'" 2-Jan-2024 03:04:05 +0000"'
    india = timezone(timedelta(hours=5, minutes=30))
    assert imap_datetime(datetime(2024, 1, 2, tzinfo=india)).endswith(b' +0530"')


def test_parse_imap_datetime() -> None:
    expected = datetime(1996, 7, 7, 2, 44, 25, tzinfo=timezone(timedelta(hours=-7)))
    assert parse_imap_datetime(" 7-Jul-1996 02:44:25 -0700") == expected
    assert parse_imap_datetime('"07-Jul-1996 02:44:25 -0700"') == expected
    with pytest.raises(ValueError):
        parse_imap_datetime("7-Jul-1996")


def test_rfc9051_7_status_lines() -> None:
    assert tagged("a1", "OK", "LOGIN completed") == b"a1 OK LOGIN completed\r\n"
    assert (
        tagged("a1", "NO", "No such mailbox", "NONEXISTENT")
        == b"a1 NO [NONEXISTENT] No such mailbox\r\n"
    )
    assert tagged("a1", "BAD", "bad\r\n* 1 EXISTS") == b"a1 BAD bad  * 1 EXISTS\r\n"
    assert untagged("3 EXISTS") == b"* 3 EXISTS\r\n"
    assert untagged(b"1 FETCH (BODY[] {1}\r\nx)") == b"* 1 FETCH (BODY[] {1}\r\nx)\r\n"
    assert continuation() == b"+ \r\n"
    assert continuation("Ready") == b"+ Ready\r\n"


def test_mailbox_name_rev1_and_rev2() -> None:
    assert mailbox_name("INBOX", utf8=False) == b"INBOX"
    assert mailbox_name("Entw\u00fcrfe", utf8=False) == b"Entw&APw-rfe"
    assert mailbox_name("Entw\u00fcrfe", utf8=True) == b'"Entw\xc3\xbcrfe"'
    assert mailbox_name("Sent Items", utf8=True) == b'"Sent Items"'
    assert mailbox_name("a&b", utf8=False) == b"a&-b"


MUTF7_EXAMPLES = [
    # RFC 3501 §5.1.3's example and friends
    ("~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
    ("&", "&-"),
    ("a&b&", "a&-b&-"),
    ("Entw\u00fcrfe", "Entw&APw-rfe"),
    ("\U0001f600", "&2D3eAA-"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "encoded"), MUTF7_EXAMPLES)
def test_rfc3501_5_1_3_modified_utf7(text: str, encoded: str) -> None:
    assert encode_mutf7(text) == encoded
    assert decode_mutf7(encoded) == text


@pytest.mark.parametrize(
    "invalid",
    [
        "&",  # no terminating "-"
        "&U,BTFw",  # no terminating "-"
        "&AGE-",  # encoded printable ASCII ("a")
        "&ACY-",  # "&" must be "&-"
        "&APw-&APw-",  # two adjacent runs: one run is canonical
        "&APy-",  # stray bits after the last character
        "&AP-",  # not a whole UTF-16 unit
        "&2D0-",  # lone high surrogate
        "&U/BTFw-",  # "/" instead of ","
        "caf\u00e9",  # 8-bit must be encoded
        "tab\there",  # controls must be encoded
        "&Jjo!",
    ],
)
def test_rfc3501_5_1_3_invalid_modified_utf7(invalid: str) -> None:
    with pytest.raises(ValueError):
        decode_mutf7(invalid)


def test_encode_mutf7_lone_surrogate() -> None:
    with pytest.raises(ValueError):
        encode_mutf7("\udcff")
