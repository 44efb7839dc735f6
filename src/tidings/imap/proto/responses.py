"""Encoding of IMAP response pieces (RFC 9051 §7, §9): the session builds replies from these.

Every helper returns bytes ready to write; the session never formats IMAP syntax by hand.
Lines end in CRLF whatever the client sent (RFC 9051 §2.2).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from tidings.imap.proto.lexer import ASTRING_CHARS, MONTHS, ParseError, parse_date_time
from tidings.imap.proto.mutf7 import encode_mutf7

CRLF = b"\r\n"
# Longer strings go out as literals: quoted strings that long are hard on clients' line
# buffers, and RFC 9051 §4.3 suggests literals for large or binary data.
MAX_QUOTED_LENGTH = 1000
_NOT_QUOTABLE = frozenset(b"\x00\r\n")


def _quote_raw(raw: bytes) -> bytes:
    return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def quoted(text: str) -> bytes:
    """quoted = DQUOTE *QUOTED-CHAR DQUOTE, with "\\" and DQUOTE escaped.

    ValueError if `text` holds NUL, CR or LF, which no quoted string can carry.
    """
    raw = text.encode("utf-8", "surrogateescape")
    if _NOT_QUOTABLE.intersection(raw):
        raise ValueError("NUL, CR and LF cannot be quoted")
    return _quote_raw(raw)


def literal(data: bytes, binary: bool = False) -> bytes:
    """literal = "{" number "}" CRLF *CHAR8, or literal8 "~{" number "}" (RFC 3516 §4.2)."""
    return b"%s{%d}\r\n%s" % (b"~" if binary else b"", len(data), data)


def _string_raw(raw: bytes, allow_8bit: bool) -> bytes:
    eight_bit = any(byte >= 0x80 for byte in raw)
    if (
        len(raw) > MAX_QUOTED_LENGTH
        or _NOT_QUOTABLE.intersection(raw)
        or (eight_bit and not allow_8bit)
    ):
        return literal(raw)
    return _quote_raw(raw)


def string(value: str | bytes) -> bytes:
    """string = quoted / literal: quoted when it can be, a literal for 8-bit data, CR, LF,
    NUL or more than MAX_QUOTED_LENGTH bytes."""
    raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")
    return _string_raw(raw, allow_8bit=False)


def astring(value: str) -> bytes:
    """astring = 1*ASTRING-CHAR / string: an atom when every character allows it.

    "NIL" is quoted anyway, so that no client reads it as nil where both could appear.
    """
    raw = value.encode("utf-8", "surrogateescape")
    if raw and ASTRING_CHARS.issuperset(raw) and raw.upper() != b"NIL":
        return raw
    return string(raw)


def nstring(value: str | bytes | None) -> bytes:
    """nstring = string / nil"""
    return b"NIL" if value is None else string(value)


def flag_list(flags: Iterable[str]) -> bytes:
    """flag-list = "(" [flag *(SP flag)] ")" """
    return b"(" + b" ".join(flag.encode("ascii") for flag in flags) + b")"


def format_imap_datetime(dt: datetime) -> str:
    """The text of date-time without quotes: `17-Jul-1996 02:44:25 -0700`.

    date-day-fixed = (SP DIGIT) / 2DIGIT. A naive datetime is taken as UTC.
    """
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    offset = dt.utcoffset()
    minutes = int(offset.total_seconds()) // 60 if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return (
        f"{dt.day:2d}-{MONTHS[dt.month - 1]}-{dt.year:04d} "
        f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d} {sign}{hours:02d}{minutes:02d}"
    )


def imap_datetime(dt: datetime) -> bytes:
    """date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE"""
    return b'"' + format_imap_datetime(dt).encode("ascii") + b'"'


def parse_imap_datetime(text: str) -> datetime:
    """Parse a date-time, with or without its quotes; ValueError if it is not one."""
    if not text.startswith('"'):
        text = f'"{text}"'
    try:
        return parse_date_time(text.encode("ascii"))
    except (ParseError, UnicodeEncodeError) as error:
        raise ValueError(str(error)) from None


def _text(text: str) -> bytes:
    # A CR or LF in human-readable text would end the response early and let what follows
    # pass for another response (e.g. from an error message quoting client input).
    return text.replace("\r", " ").replace("\n", " ").encode("utf-8", "surrogateescape")


def tagged(tag: str, status: str, text: str, code: str | None = None) -> bytes:
    """response-tagged = tag SP resp-cond-state CRLF: `a1 OK [CODE] text`."""
    prefix = f"[{code}] " if code else ""
    return tag.encode("ascii") + b" " + status.encode("ascii") + b" " + _text(prefix + text) + CRLF


def untagged(text: bytes | str) -> bytes:
    """An untagged response: `* text` CRLF. Bytes are written as given (they may hold
    literals built with `literal`/`string`); str is treated as human text."""
    body = text if isinstance(text, bytes) else _text(text)
    return b"* " + body + CRLF


def continuation(text: str = "") -> bytes:
    """continue-req = "+" SP (resp-text / base64) CRLF"""
    return b"+ " + _text(text) + CRLF


def mailbox_name(name: str, utf8: bool) -> bytes:
    """A mailbox name in a response: modified UTF-7 for IMAP4rev1 (RFC 3501 §5.1.3), UTF-8
    (quoted when it can be) once IMAP4rev2 or UTF8=ACCEPT is enabled (RFC 9051 §5.1)."""
    if not utf8:
        return astring(encode_mutf7(name))
    raw = name.encode("utf-8", "surrogateescape")
    if raw and ASTRING_CHARS.issuperset(raw) and raw.upper() != b"NIL":
        return raw
    return _string_raw(raw, allow_8bit=True)
