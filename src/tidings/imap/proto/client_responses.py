"""Sans-IO parser for server responses, for the IMAP client role.

Grammar: RFC 9051 §7 / RFC 3501 §7 (response, resp-text-code, message-data, mailbox-data),
RFC 7162 §3.2.10 (VANISHED) and §3.1.4 (MODSEQ), RFC 5465 §5.4 (LIST OLDNAME, STATUS).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from typing import Final, Union

from tidings.imap.proto.mutf7 import decode_mutf7, encode_mutf7


class _NeedData:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = _NeedData()
NeedData = _NeedData  # the type of NEED_DATA, for isinstance checks


class ResponseError(Exception):
    """Malformed server output; the reason is in str()."""


@dataclass(frozen=True, slots=True)
class ResponseCode:
    """resp-text-code (RFC 9051 §7.1): `[UIDVALIDITY 5]` -> ("UIDVALIDITY", "5")."""

    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Tagged:
    """A tagged completion result (status OK/NO/BAD)."""

    tag: str
    status: str
    code: ResponseCode | None
    text: str


@dataclass(frozen=True, slots=True)
class Continuation:
    """A continuation request `+ text`."""

    text: str


@dataclass(frozen=True, slots=True)
class Condition:
    """`* OK/NO/BAD/BYE/PREAUTH` (RFC 9051 §7.1)."""

    status: str
    code: ResponseCode | None
    text: str


@dataclass(frozen=True, slots=True)
class Capability:
    """`* CAPABILITY` (RFC 9051 §7.2.2); names upper-cased."""

    names: frozenset[str]


@dataclass(frozen=True, slots=True)
class Enabled:
    """`* ENABLED` (RFC 5161 §3.2)."""

    names: frozenset[str]


@dataclass(frozen=True, slots=True)
class Exists:
    """`* n EXISTS`."""

    count: int


@dataclass(frozen=True, slots=True)
class Recent:
    """`* n RECENT` (RFC 3501 only)."""

    count: int


@dataclass(frozen=True, slots=True)
class Expunge:
    """`* n EXPUNGE`."""

    seq: int


@dataclass(frozen=True, slots=True)
class Flags:
    """`* FLAGS (...)`."""

    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Address:
    """One address of an envelope (RFC 9051 §7.5.2); name RFC 2047-decoded."""

    name: str | None
    mailbox: str | None
    host: str | None

    @property
    def email(self) -> str:
        """mailbox@host (or what of it there is)."""
        if self.host is None:
            return self.mailbox or ""
        return f"{self.mailbox or ''}@{self.host}"

    @property
    def display(self) -> str:
        """`Name <m@h>`, or just the address without a name."""
        return f"{self.name} <{self.email}>" if self.name else self.email


@dataclass(frozen=True, slots=True)
class Envelope:
    """FETCH ENVELOPE (RFC 9051 §7.5.2); subject RFC 2047-decoded."""

    date: str | None
    subject: str | None
    from_: tuple[Address, ...]
    sender: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    bcc: tuple[Address, ...]
    in_reply_to: str | None
    message_id: str | None


@dataclass(frozen=True, slots=True)
class Fetch:
    """`* n FETCH (...)` (RFC 9051 §7.5.2, MODSEQ from RFC 7162 §3.1.4.1)."""

    seq: int
    uid: int | None
    flags: tuple[str, ...] | None
    modseq: int | None
    size: int | None
    internaldate: str | None
    envelope: Envelope | None
    bodystructure: object | None
    sections: dict[str, bytes | None]
    labels: tuple[str, ...] | None = None
    """Gmail's X-GM-LABELS (developers.google.com/gmail/imap/imap-extensions), decoded
    like mailbox names; system labels keep their backslash (`\\Inbox`)."""


@dataclass(frozen=True, slots=True)
class Vanished:
    """`* VANISHED [(EARLIER)] uid-set` (RFC 7162 §3.2.10)."""

    earlier: bool
    uids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Search:
    """`* SEARCH n...` with optional `(MODSEQ n)` (RFC 7162 §3.1.5)."""

    numbers: tuple[int, ...]
    modseq: int | None


@dataclass(frozen=True, slots=True)
class Status:
    """`* STATUS mailbox (item n ...)` (RFC 9051 §7.3.4)."""

    mailbox: str
    items: dict[str, int]


@dataclass(frozen=True, slots=True)
class ListItem:
    """`* LIST/LSUB (attrs) delim mailbox [(OLDNAME (old))]` (RFC 9051 §7.3.1, RFC 5465 §5.4)."""

    attributes: frozenset[str]
    delimiter: str | None
    mailbox: str
    old_name: str | None


@dataclass(frozen=True, slots=True)
class Other:
    """Any other untagged response, raw (without `* ` and CRLF)."""

    name: str
    raw: bytes


Untagged = Union[  # noqa: UP007
    Condition,
    Capability,
    Enabled,
    Exists,
    Recent,
    Expunge,
    Flags,
    Fetch,
    Vanished,
    Search,
    Status,
    ListItem,
    Other,
]
Response = Union[Tagged, Continuation, Untagged]  # noqa: UP007

_LITERAL_RE = re.compile(rb"\{(\d{1,19})(\+?)\}\r\n\Z")
_ATOM_SPECIALS = frozenset(b'(){ %*"\\]') | frozenset(range(0x20)) | {0x7F}
_CONDITIONS = frozenset({"OK", "NO", "BAD", "BYE", "PREAUTH"})


def quote(text: str) -> bytes:
    """`text` as an IMAP quoted string (RFC 9051 §4.3); ValueError for CR, LF or NUL."""
    if any(c in text for c in "\r\n\0"):
        raise ValueError("CR, LF and NUL cannot be quoted")
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return b'"' + escaped.encode("utf-8") + b'"'


def encode_mailbox(name: str, utf8: bool = False) -> bytes:
    """A mailbox name as a quoted string: modified UTF-7 (RFC 3501 §5.1.3) unless `utf8`."""
    return quote(name if utf8 else encode_mutf7(name))


def _decode_mailbox(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    if raw.isascii() and "&" in text:
        try:
            return decode_mutf7(text)
        except ValueError:
            return text
    return text if text.upper() != "INBOX" else "INBOX"


def _decode_2047(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    text = raw.decode("utf-8", "replace")
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except (ValueError, LookupError, UnicodeError):
        return text


class ResponseParser:
    """Frames server output into responses (literals included) and parses them."""

    def __init__(self, *, max_line: int = 1 << 20, max_literal: int = 64 << 20) -> None:
        self.max_line = max_line
        self.max_literal = max_literal
        self._buffer = bytearray()
        self._scan = 0  # where the current response's unparsed part starts in _buffer
        self._need_literal = 0

    def feed(self, data: bytes) -> None:
        """Append bytes received from the server."""
        self._buffer += data

    def has_buffered(self) -> bool:
        """Whether unparsed bytes are waiting (e.g. injected after STARTTLS's OK)."""
        return bool(self._buffer)

    def next_response(self) -> Response | _NeedData:
        """The next complete response, or NEED_DATA; ResponseError when malformed."""
        while True:
            if self._need_literal:
                if len(self._buffer) - self._scan < self._need_literal:
                    return NEED_DATA
                self._scan += self._need_literal
                self._need_literal = 0
            end = self._buffer.find(b"\r\n", self._scan)
            if end < 0:
                if len(self._buffer) - self._scan > self.max_line:
                    raise ResponseError("response line too long")
                return NEED_DATA
            if end - self._scan > self.max_line:
                raise ResponseError("response line too long")
            line_end = end + 2
            match = _LITERAL_RE.search(self._buffer, max(self._scan, line_end - 25), line_end)
            if match is not None:
                size = int(match.group(1))
                if size > self.max_literal:
                    raise ResponseError("literal too large")
                self._scan = line_end
                self._need_literal = size
                continue
            raw = bytes(self._buffer[:end])
            del self._buffer[:line_end]
            self._scan = 0
            return _Reader(raw).response()


class _Reader:
    """A cursor over one complete response (without its final CRLF)."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    # ------------------------------------------------------------------ basics
    def fail(self, what: str) -> ResponseError:
        snippet = self.data[:80].decode("utf-8", "replace")
        return ResponseError(f"{what} at offset {self.pos} in {snippet!r}")

    def peek(self) -> int | None:
        return self.data[self.pos] if self.pos < len(self.data) else None

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def expect(self, text: bytes) -> None:
        if not self.data.startswith(text, self.pos):
            raise self.fail(f"expected {text.decode()!r}")
        self.pos += len(text)

    def maybe(self, text: bytes) -> bool:
        if self.data.startswith(text, self.pos):
            self.pos += len(text)
            return True
        return False

    def sp(self) -> None:
        self.expect(b" ")

    def rest(self) -> str:
        text = self.data[self.pos :].decode("utf-8", "replace")
        self.pos = len(self.data)
        return text

    def atom(self, extra: bytes = b"") -> str:
        """An atom; `extra` adds allowed characters (e.g. `]` or `\\`)."""
        start = self.pos
        allowed_extra = frozenset(extra)
        while self.pos < len(self.data):
            byte = self.data[self.pos]
            if byte in _ATOM_SPECIALS and byte not in allowed_extra:
                break
            self.pos += 1
        if start == self.pos:
            raise self.fail("expected atom")
        return self.data[start : self.pos].decode("utf-8", "replace")

    def number(self) -> int:
        start = self.pos
        while self.pos < len(self.data) and 0x30 <= self.data[self.pos] <= 0x39:
            self.pos += 1
        if start == self.pos:
            raise self.fail("expected number")
        return int(self.data[start : self.pos])

    def string(self) -> bytes:
        """quoted / literal (RFC 9051 §4.3)."""
        if self.maybe(b'"'):
            out = bytearray()
            while True:
                byte = self.peek()
                if byte is None:
                    raise self.fail("unterminated quoted string")
                self.pos += 1
                if byte == 0x22:
                    return bytes(out)
                if byte == 0x5C:
                    byte = self.peek()
                    if byte is None:
                        raise self.fail("unterminated quoted string")
                    self.pos += 1
                out.append(byte)
        if self.peek() == 0x7B or self.data.startswith(b"~{", self.pos):
            self.maybe(b"~")
            self.expect(b"{")
            size = self.number()
            self.maybe(b"+")
            self.expect(b"}\r\n")
            value = self.data[self.pos : self.pos + size]
            if len(value) != size:
                raise self.fail("short literal")
            self.pos += size
            return value
        raise self.fail("expected string")

    def nstring(self) -> bytes | None:
        if self.data[self.pos : self.pos + 3].upper() == b"NIL" and not self._atom_continues(3):
            self.pos += 3
            return None
        return self.string()

    def _atom_continues(self, offset: int) -> bool:
        byte = self.data[self.pos + offset] if self.pos + offset < len(self.data) else None
        return byte is not None and byte not in _ATOM_SPECIALS

    def astring(self) -> bytes:
        if self.peek() in (0x22, 0x7B, 0x7E):
            return self.string()
        return self.atom(b"]").encode("utf-8")

    def flag_list(self) -> tuple[str, ...]:
        self.expect(b"(")
        flags: list[str] = []
        while not self.maybe(b")"):
            if flags:
                self.sp()
            flags.append(self.atom(b"\\*"))
        return tuple(flags)

    def skip_value(self) -> object:
        """Any value: nil, number, string, atom or parenthesised list (kept as a tree)."""
        if self.maybe(b"("):
            items: list[object] = []
            while not self.maybe(b")"):
                if items:
                    self.sp()
                items.append(self.skip_value())
            return items
        if self.peek() in (0x22, 0x7B, 0x7E):
            return self.string()
        return self.atom(b"\\[]<>.")

    def uid_set(self) -> tuple[int, ...]:
        """sequence-set of UIDs (RFC 9051 §9), ranges expanded."""
        out: list[int] = []
        while True:
            low = self.number()
            high = self.number() if self.maybe(b":") else low
            if low > high:
                low, high = high, low
            if high - low > 10_000_000:
                raise self.fail("uid range too large")
            out.extend(range(low, high + 1))
            if not self.maybe(b","):
                return tuple(out)

    # --------------------------------------------------------------- responses
    def response(self) -> Response:
        if self.maybe(b"+"):
            self.maybe(b" ")
            return Continuation(self.rest())
        if self.maybe(b"* "):
            return self.untagged()
        tag = self.atom()
        self.sp()
        status = self.atom().upper()
        if status not in ("OK", "NO", "BAD"):
            raise self.fail(f"unknown tagged status {status}")
        code, text = self.resp_text()
        return Tagged(tag, status, code, text)

    def resp_text(self) -> tuple[ResponseCode | None, str]:
        """resp-text = ["[" resp-text-code "]" SP] text (RFC 9051 §7.1)."""
        if not self.maybe(b" "):
            return None, ""
        code = None
        if self.maybe(b"["):
            name = self.atom().upper()
            arguments = ""
            if self.maybe(b" "):
                close = self.data.find(b"]", self.pos)
                if close < 0:
                    raise self.fail("unterminated response code")
                arguments = self.data[self.pos : close].decode("utf-8", "replace")
                self.pos = close
            self.expect(b"]")
            code = ResponseCode(name, arguments)
            self.maybe(b" ")
        return code, self.rest()

    def untagged(self) -> Untagged:
        start = self.pos
        if self.peek() is not None and 0x30 <= (self.peek() or 0) <= 0x39:
            number = self.number()
            self.sp()
            kind = self.atom().upper()
            if kind == "EXISTS":
                return Exists(number)
            if kind == "RECENT":
                return Recent(number)
            if kind == "EXPUNGE":
                return Expunge(number)
            if kind == "FETCH":
                self.sp()
                return self.fetch(number)
            return Other(kind, self.data[start:])
        kind = self.atom().upper()
        if kind in _CONDITIONS:
            code, text = self.resp_text()
            return Condition(kind, code, text)
        if kind in ("CAPABILITY", "ENABLED"):
            names = frozenset(self.rest().upper().split())
            return Capability(names) if kind == "CAPABILITY" else Enabled(names)
        if kind == "FLAGS":
            self.sp()
            return Flags(self.flag_list())
        if kind == "VANISHED":
            self.sp()
            earlier = self.maybe(b"(EARLIER) ") or self.maybe(b"(earlier) ")
            return Vanished(earlier, self.uid_set())
        if kind in ("SEARCH", "SORT"):
            return self.search()
        if kind == "STATUS":
            return self.status()
        if kind in ("LIST", "LSUB"):
            return self.list_item()
        return Other(kind, self.data[start:])

    def search(self) -> Search:
        numbers: list[int] = []
        modseq = None
        while self.maybe(b" "):
            if self.maybe(b"("):
                if self.atom().upper() != "MODSEQ":
                    raise self.fail("expected MODSEQ")
                self.sp()
                modseq = self.number()
                self.expect(b")")
            else:
                numbers.append(self.number())
        return Search(tuple(numbers), modseq)

    def status(self) -> Status:
        self.sp()
        mailbox = _decode_mailbox(self.astring())
        self.sp()
        self.expect(b"(")
        items: dict[str, int] = {}
        while not self.maybe(b")"):
            if items:
                self.sp()
            name = self.atom().upper()
            self.sp()
            items[name] = self.number()
        return Status(mailbox, items)

    def list_item(self) -> ListItem:
        self.sp()
        attributes = frozenset(self.flag_list())
        self.sp()
        delimiter_raw = self.nstring()
        delimiter = None if delimiter_raw is None else delimiter_raw.decode("utf-8", "replace")
        self.sp()
        mailbox = _decode_mailbox(self.astring())
        old_name = None
        if self.maybe(b" ("):  # mbox-list-extended (RFC 5258 §9, RFC 5465 §5.4)
            while not self.maybe(b")"):
                self.maybe(b" ")
                tag = self.astring().decode("utf-8", "replace").upper()
                self.sp()
                value = self.skip_value()
                if tag == "OLDNAME" and isinstance(value, list) and value:
                    first = value[0]
                    if isinstance(first, (bytes, str)):
                        raw = first if isinstance(first, bytes) else first.encode()
                        old_name = _decode_mailbox(raw)
        return ListItem(attributes, delimiter, mailbox, old_name)

    def fetch(self, seq: int) -> Fetch:
        """msg-att (RFC 9051 §7.5.2)."""
        uid = modseq = size = None
        flags: tuple[str, ...] | None = None
        internaldate = None
        labels: tuple[str, ...] | None = None
        envelope = None
        bodystructure: object | None = None
        sections: dict[str, bytes | None] = {}
        self.expect(b"(")
        first = True
        while not self.maybe(b")"):
            if not first:
                self.sp()
            first = False
            name = self.atom(b"[]<>.").upper()
            if "[" in name and not name.endswith("]") and ">" not in name:
                # section with a space inside, e.g. BODY[HEADER.FIELDS (FROM TO)]
                close = self.data.find(b"]", self.pos)
                if close < 0:
                    raise self.fail("unterminated section")
                name += self.data[self.pos : close + 1].decode("utf-8", "replace").upper()
                self.pos = close + 1
                if self.peek() == 0x3C:
                    name += self.atom(b"<>.")
            self.sp()
            if name == "UID":
                uid = self.number()
            elif name == "FLAGS":
                flags = self.flag_list()
            elif name == "MODSEQ":
                self.expect(b"(")
                modseq = self.number()
                self.expect(b")")
            elif name in ("RFC822.SIZE", "RFC822.SIZE"):
                size = self.number()
            elif name == "INTERNALDATE":
                internaldate = self.string().decode("ascii", "replace")
            elif name == "ENVELOPE":
                envelope = self.envelope()
            elif name == "X-GM-LABELS":
                labels = self.label_list()
            elif name in ("BODYSTRUCTURE", "BODY") and self.peek() == 0x28:
                bodystructure = self.skip_value()
            elif name.startswith(("BODY[", "BINARY[", "RFC822")) or name == "BODY":
                sections[name] = self.nstring()
            else:
                self.skip_value()
        return Fetch(
            seq, uid, flags, modseq, size, internaldate, envelope, bodystructure, sections, labels
        )

    def label_list(self) -> tuple[str, ...]:
        """`(label ...)`: each an astring (`\\Inbox` as an atom, user labels quoted when
        they hold spaces), a mailbox name in modified UTF-7."""
        self.expect(b"(")
        labels: list[str] = []
        while not self.maybe(b")"):
            if labels:
                self.sp()
            if self.peek() in (0x22, 0x7B, 0x7E):
                raw = self.string()
            else:
                raw = self.atom(b"\\]").encode("utf-8")
            labels.append(_decode_mailbox(raw))
        return tuple(labels)

    def envelope(self) -> Envelope:
        self.expect(b"(")
        date = self.nstring()
        self.sp()
        subject = self.nstring()
        lists: list[tuple[Address, ...]] = []
        for _ in range(6):
            self.sp()
            lists.append(self.addresses())
        self.sp()
        in_reply_to = self.nstring()
        self.sp()
        message_id = self.nstring()
        self.expect(b")")
        return Envelope(
            date=None if date is None else date.decode("utf-8", "replace"),
            subject=_decode_2047(subject),
            from_=lists[0],
            sender=lists[1],
            reply_to=lists[2],
            to=lists[3],
            cc=lists[4],
            bcc=lists[5],
            in_reply_to=None if in_reply_to is None else in_reply_to.decode("utf-8", "replace"),
            message_id=None if message_id is None else message_id.decode("utf-8", "replace"),
        )

    def addresses(self) -> tuple[Address, ...]:
        if self.nil():
            return ()
        self.expect(b"(")
        out: list[Address] = []
        while not self.maybe(b")"):
            self.maybe(b" ")
            self.expect(b"(")
            name = self.nstring()
            self.sp()
            self.nstring()  # adl
            self.sp()
            mailbox = self.nstring()
            self.sp()
            host = self.nstring()
            self.expect(b")")
            if host is None:
                continue  # RFC 2822 group syntax markers
            out.append(
                Address(
                    _decode_2047(name),
                    None if mailbox is None else mailbox.decode("utf-8", "replace"),
                    host.decode("utf-8", "replace"),
                )
            )
        return tuple(out)

    def nil(self) -> bool:
        if self.data[self.pos : self.pos + 3].upper() == b"NIL":
            self.pos += 3
            return True
        return False
