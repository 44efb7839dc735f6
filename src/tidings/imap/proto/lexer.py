"""Tokens of the IMAP formal syntax (RFC 9051 §9, RFC 3501 §9) over one framed command.

The framer (`parser.py`) hands over the whole command as the client sent it, literals inline
(`{5}` CRLF `hello`) and without the final line end. `Cursor` reads the basic rules from it;
the command grammar (`grammar.py`, `search.py`, `fetch.py`) is built on those. Every rule
raises `ParseError` on bad input, which becomes a `CommandError` event.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import TypeVar

from tidings.core.seqset import SequenceSet

T = TypeVar("T")

# Decoding for every string the parser turns into `str`: UTF-8 (RFC 9051 §9 allows UTF-8 in
# quoted strings), and any other byte kept through surrogateescape so that the session can
# recover it (e.g. for a SEARCH CHARSET other than UTF-8, or a rev1 modified UTF-7 check).
ENCODING = "utf-8"
ERRORS = "surrogateescape"

#   CHAR            = %x01-7F
#   CTL             = %x00-1F / %x7F
#   atom-specials   = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials /
#                     resp-specials
#   list-wildcards  = "%" / "*"
#   quoted-specials = DQUOTE / "\"
#   resp-specials   = "]"
#   ATOM-CHAR       = <any CHAR except atom-specials>
#   ASTRING-CHAR    = ATOM-CHAR / resp-specials
#   list-char       = ATOM-CHAR / list-wildcards / resp-specials
_ATOM_SPECIALS = frozenset(b'(){ %*"\\]')
ATOM_CHARS = frozenset(c for c in range(0x21, 0x7F) if c not in _ATOM_SPECIALS)
ASTRING_CHARS = ATOM_CHARS | {ord("]")}
LIST_CHARS = ASTRING_CHARS | {ord("%"), ord("*")}
#   tag             = 1*<any ASTRING-CHAR except "+">
TAG_CHARS = ASTRING_CHARS - {ord("+")}

#   literal         = "{" number64 ["+"] "}" CRLF *CHAR8      (RFC 9051, RFC 7888 LITERAL+)
#   literal8        = "~{" number64 ["+"] "}" CRLF *OCTET     (RFC 3516 §4.1)
_LITERAL_RE = re.compile(rb"(~?)\{([0-9]{1,19})(\+?)\}\r\n")
#   date-month      = "Jan" / "Feb" / "Mar" / "Apr" / "May" / "Jun" /
#                     "Jul" / "Aug" / "Sep" / "Oct" / "Nov" / "Dec"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {name.upper(): number for number, name in enumerate(MONTHS, start=1)}
#   date-text       = date-day "-" date-month "-" date-year
#   date-day        = 1*2DIGIT
#   date-year       = 4DIGIT
_DATE_RE = re.compile(rb"([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})")
#   date-time       = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
#   date-day-fixed  = (SP DIGIT) / 2DIGIT
#   time            = 2DIGIT ":" 2DIGIT ":" 2DIGIT
#   zone            = ("+" / "-") 4DIGIT
# A 1-digit day without the padding space is accepted too, as Dovecot does.
_DATE_TIME_RE = re.compile(
    rb'"( [0-9]|[0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})'
    rb' ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})"'
)
#   number          = 1*DIGIT   (32-bit unsigned);  number64 = 1*DIGIT  (63-bit)
_NUMBER_RE = re.compile(rb"[0-9]{1,19}")
_SEQUENCE_CHARS = frozenset(b"0123456789:,*$")
MAX_NUMBER = 2**32 - 1
MAX_NUMBER64 = 2**63 - 1


class ParseError(Exception):
    """The command does not match the grammar; `reason` is for the BAD reply."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decode(raw: bytes) -> str:
    """Bytes of a string or atom as `str` (UTF-8, other bytes kept as surrogates)."""
    return raw.decode(ENCODING, ERRORS)


def parse_date_text(raw: bytes) -> date:
    """`date-text` (d-Mon-yyyy) as a date; ParseError if it is not one."""
    match = _DATE_RE.fullmatch(raw)
    month = _MONTH_NUMBER.get(match.group(2).decode().upper()) if match else None
    if match is None or month is None:
        raise ParseError(f"Invalid date {decode(raw)!r}")
    try:
        return date(int(match.group(3)), month, int(match.group(1)))
    except ValueError:
        raise ParseError(f"Invalid date {decode(raw)!r}") from None


def parse_date_time(raw: bytes) -> datetime:
    """A quoted `date-time` (RFC 9051 §9) as an aware datetime; ParseError if invalid."""
    match = _DATE_TIME_RE.fullmatch(raw)
    month = _MONTH_NUMBER.get(match.group(2).decode().upper()) if match else None
    if match is None or month is None:
        raise ParseError(f"Invalid date-time {decode(raw)}")
    day, _, year, hour, minute, second, sign, zone_h, zone_m = match.groups()
    offset = timedelta(hours=int(zone_h), minutes=int(zone_m))
    try:
        zone = timezone(-offset if sign == b"-" else offset)
        return datetime(
            int(year), month, int(day.strip()), int(hour), int(minute), int(second), tzinfo=zone
        )
    except ValueError:
        raise ParseError(f"Invalid date-time {decode(raw)}") from None


class Cursor:
    """A read position in one framed command, with one method per basic grammar rule."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    # ------------------------------------------------------------------ characters
    def at_end(self) -> bool:
        """Whether the whole command has been read."""
        return self.pos >= len(self.data)

    def peek(self) -> int | None:
        """The next byte, or None at the end."""
        return self.data[self.pos] if self.pos < len(self.data) else None

    def peek_is(self, text: bytes) -> bool:
        """Whether the input continues with `text` (case-sensitive)."""
        return self.data.startswith(text, self.pos)

    def expect(self, text: bytes, what: str | None = None) -> None:
        """Consume exactly `text` or fail."""
        if not self.data.startswith(text, self.pos):
            raise ParseError(f"Expected {what or text.decode()!s}")
        self.pos += len(text)

    def sp(self) -> None:
        """SP: exactly one space (RFC 9051 §9 allows no other separator)."""
        if self.peek() != 0x20:
            raise ParseError("Missing argument" if self.at_end() else "Expected space")
        self.pos += 1

    def maybe_sp(self) -> bool:
        """Consume a space if there is one."""
        if self.peek() == 0x20:
            self.pos += 1
            return True
        return False

    def end(self) -> None:
        """The command must end here."""
        if not self.at_end():
            raise ParseError("Unexpected extra arguments")

    def take(self, allowed: frozenset[int]) -> bytes:
        """The longest run of bytes in `allowed` from here (possibly empty)."""
        start = self.pos
        data = self.data
        while self.pos < len(data) and data[self.pos] in allowed:
            self.pos += 1
        return data[start : self.pos]

    def _take_nonempty(self, allowed: frozenset[int], what: str) -> bytes:
        raw = self.take(allowed)
        if not raw:
            byte = self.peek()
            if byte is None:
                raise ParseError(f"Missing {what}")
            if byte >= 0x80:
                raise ParseError(f"8-bit character in {what}")
            raise ParseError(f"Expected {what}")
        return raw

    # ---------------------------------------------------------------------- atoms
    def tag(self) -> str:
        """tag = 1*<any ASTRING-CHAR except "+">"""
        return self._take_nonempty(TAG_CHARS, "tag").decode("ascii")

    def atom(self, what: str = "atom") -> str:
        """atom = 1*ATOM-CHAR"""
        return self._take_nonempty(ATOM_CHARS, what).decode("ascii")

    def keyword(self, what: str = "keyword") -> str:
        """An atom compared case-insensitively (command names, options): upper-cased."""
        return self.atom(what).upper()

    def number(self, what: str = "number", *, nonzero: bool = False, bits64: bool = False) -> int:
        """number / nz-number / number64 / nz-number64 (RFC 9051 §9)."""
        match = _NUMBER_RE.match(self.data, self.pos)
        if match is None:
            raise ParseError(f"Expected {what}")
        raw = match.group()
        value = int(raw)
        # A longer run of digits than fits is an overflow, not two tokens.
        if value > (MAX_NUMBER64 if bits64 else MAX_NUMBER) or self.peek_digit(match.end()):
            raise ParseError(f"{what} out of range")
        if nonzero and value == 0:
            raise ParseError(f"{what} must not be zero")
        self.pos = match.end()
        return value

    def peek_digit(self, pos: int) -> bool:
        """Whether the byte at `pos` is a digit."""
        return pos < len(self.data) and 0x30 <= self.data[pos] <= 0x39

    def sequence_set(self) -> SequenceSet:
        """sequence-set (RFC 9051 §9) or `$` (RFC 5182 seq-last-command)."""
        raw = self.take(_SEQUENCE_CHARS)
        if not raw:
            raise ParseError("Expected sequence set")
        try:
            return SequenceSet.parse(raw.decode("ascii"))
        except ValueError:
            raise ParseError(f"Invalid sequence set {raw.decode('ascii')}") from None

    # -------------------------------------------------------------------- strings
    def quoted(self) -> bytes:
        """quoted = DQUOTE *QUOTED-CHAR DQUOTE

        QUOTED-CHAR = <any TEXT-CHAR except quoted-specials> / "\\" quoted-specials / UTF8-2..4
        8-bit bytes are accepted here (rev2 UTF-8); NUL, CR and LF are not.
        """
        self.expect(b'"')
        out = bytearray()
        data = self.data
        while True:
            if self.pos >= len(data):
                raise ParseError("Unterminated quoted string")
            byte = data[self.pos]
            self.pos += 1
            if byte == 0x22:
                return bytes(out)
            if byte == 0x5C:
                escaped = self.peek()
                if escaped not in (0x22, 0x5C):
                    raise ParseError("Invalid escape in quoted string")
                out.append(escaped)
                self.pos += 1
            elif byte in (0x00, 0x0A, 0x0D):
                raise ParseError("Invalid character in quoted string")
            else:
                out.append(byte)

    def literal(self, *, allow_binary: bool = False) -> tuple[bytes, bool]:
        """literal / literal8 (when `allow_binary`): the content and whether it was literal8."""
        match = _LITERAL_RE.match(self.data, self.pos)
        if match is None:
            raise ParseError("Expected literal")
        binary = bool(match.group(1))
        if binary and not allow_binary:
            raise ParseError("literal8 not allowed here")
        size = int(match.group(2))
        start = match.end()
        content = self.data[start : start + size]
        if len(content) != size:
            raise ParseError("Truncated literal")
        # CHAR8 = %x01-ff: only literal8 may carry NUL (RFC 3516 §4.1).
        if not binary and 0 in content:
            raise ParseError("NUL in literal")
        self.pos = start + size
        return content, binary

    def string_bytes(self) -> bytes:
        """string = quoted / literal"""
        byte = self.peek()
        if byte == 0x22:
            return self.quoted()
        if byte == 0x7B:
            return self.literal()[0]
        raise ParseError("Missing string" if byte is None else "Expected string")

    def string(self) -> str:
        """string, decoded."""
        return decode(self.string_bytes())

    def astring_bytes(self, chars: frozenset[int] = ASTRING_CHARS) -> bytes:
        """astring = 1*ASTRING-CHAR / string"""
        if self.peek() in (0x22, 0x7B):
            return self.string_bytes()
        return self._take_nonempty(chars, "string")

    def astring(self) -> str:
        """astring, decoded."""
        return decode(self.astring_bytes())

    def nstring(self) -> str | None:
        """nstring = string / nil"""
        if self.peek() in (0x22, 0x7B):
            return self.string()
        self.nil()
        return None

    def nil(self) -> None:
        """nil = "NIL" (case-insensitive)."""
        if self.data[self.pos : self.pos + 3].upper() != b"NIL" or self._continues_atom(3):
            raise ParseError("Expected NIL")
        self.pos += 3

    def is_nil(self) -> bool:
        """Whether a NIL follows."""
        return self.data[self.pos : self.pos + 3].upper() == b"NIL" and not self._continues_atom(3)

    def _continues_atom(self, length: int) -> bool:
        end = self.pos + length
        return end < len(self.data) and self.data[end] in ASTRING_CHARS

    def mailbox(self) -> str:
        """mailbox = "INBOX" / astring (kept as sent: the session normalises INBOX)."""
        return self.astring()

    def list_mailbox(self) -> str:
        """list-mailbox = 1*list-char / string"""
        return decode(self.astring_bytes(LIST_CHARS))

    # ---------------------------------------------------------------------- flags
    def flag(self) -> str:
        """flag = "\\" atom / atom  (system flags, flag-extension and flag-keyword)."""
        if self.peek() == 0x5C:
            self.pos += 1
            return "\\" + self.atom("flag")
        return self.atom("flag")

    def flag_list(self) -> tuple[str, ...]:
        """flag-list = "(" [flag *(SP flag)] ")" """
        return self.paren_list(self.flag, allow_empty=True)

    def paren_list(self, item: Callable[[], T], *, allow_empty: bool = False) -> tuple[T, ...]:
        """ "(" item *(SP item) ")", or "()" when `allow_empty`."""
        self.expect(b"(")
        items: list[T] = []
        if self.peek() == 0x29:
            if not allow_empty:
                raise ParseError("Empty list")
        else:
            items.append(item())
            while self.maybe_sp():
                items.append(item())
        self.expect(b")", "')'")
        return tuple(items)

    # ---------------------------------------------------------------------- dates
    def date(self) -> date:
        """date = date-text / DQUOTE date-text DQUOTE"""
        if self.peek() == 0x22:
            end = self.data.find(b'"', self.pos + 1)
            if end < 0:
                raise ParseError("Unterminated date")
            raw = self.data[self.pos + 1 : end]
            self.pos = end + 1
        else:
            raw = self._take_nonempty(ATOM_CHARS, "date")
        return parse_date_text(raw)

    def date_time(self) -> datetime:
        """date-time (quoted, RFC 9051 §9)."""
        match = _DATE_TIME_RE.match(self.data, self.pos)
        if match is None:
            raise ParseError("Invalid date-time")
        self.pos = match.end()
        return parse_date_time(match.group())

    # ------------------------------------------------------- extension parameters
    def tagged_ext_params(self) -> tuple[tuple[str, str | None], ...]:
        """RFC 4466 §2.1 parameter lists, values kept raw:

        select-params / fetch-modifiers / store-modifiers =
                          "(" param *(SP param) ")"
        param           = tagged-ext-label [SP tagged-ext-val]
        tagged-ext-val  = tagged-ext-simple / "(" [tagged-ext-comp] ")"
        tagged-ext-simple = sequence-set / number / number64
        """
        return self.paren_list(self._tagged_ext_param)

    def _tagged_ext_param(self) -> tuple[str, str | None]:
        name = self.keyword("parameter")
        if self.peek() != 0x20:
            return name, None
        after = self.data[self.pos + 1 : self.pos + 2]
        if not after or after not in b"0123456789*$(":
            return name, None
        self.pos += 1
        if after == b"(":
            start = self.pos
            self._skip_parenthesised()
            return name, decode(self.data[start : self.pos])
        raw = self.take(_SEQUENCE_CHARS).decode("ascii")
        # A number64 (e.g. CHANGEDSINCE's mod-sequence-value) is wider than a sequence set.
        if not (raw.isdigit() and int(raw) <= MAX_NUMBER64):
            try:
                SequenceSet.parse(raw)
            except ValueError:
                raise ParseError(f"Invalid parameter value {raw}") from None
        return name, raw

    def _skip_parenthesised(self) -> None:
        # tagged-ext-comp = astring / tagged-ext-comp *(SP tagged-ext-comp) /
        #                   "(" tagged-ext-comp ")"
        self.expect(b"(")
        depth = 1
        while depth:
            byte = self.peek()
            if byte is None:
                raise ParseError("Unbalanced parentheses")
            if byte in (0x22, 0x7B):
                self.string_bytes()
                continue
            if byte == 0x28:
                depth += 1
            elif byte == 0x29:
                depth -= 1
            elif byte not in LIST_CHARS and byte != 0x20:
                raise ParseError("Invalid character in parameter")
            self.pos += 1
