"""GETMETADATA and SETMETADATA (RFC 5464 §4.2, §4.3, grammar in §5) and the METADATA
response, sans-IO.

    getmetadata     = "GETMETADATA" [SP getmetadata-options] SP mailbox SP entries
    getmetadata-options = "(" getmetadata-option *(SP getmetadata-option) ")"
    getmetadata-option = maxsize-opt / scope-opt / getmetadata-option-ext
    maxsize-opt     = "MAXSIZE" SP number
    scope-opt       = "DEPTH" SP ("0" / "1" / "infinity")
    entries         = entry / "(" entry *(SP entry) ")"
    entry           = astring      ; slash-separated path, see validate_entry
    setmetadata     = "SETMETADATA" SP mailbox SP "(" entry-value *(SP entry-value) ")"
    entry-value     = entry SP value
    value           = nstring / literal8
    metadata-resp   = "METADATA" SP mailbox SP (entry-values / entry-list)

The mailbox "" names the server (§3.1). Entry names are case-insensitive here (they are
ASCII, §3.2); the parser lower-cases them, so storage and responses use one spelling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tidings.imap.proto.commands import Command
from tidings.imap.proto.lexer import Cursor, ParseError, decode
from tidings.imap.proto.responses import literal, string

# Entry names are protocol text; a bound keeps a hostile name from costing storage or
# search time. Dovecot's attribute keys are limited similarly (MAIL_ATTRIBUTE_KEY_MAX_LEN
# is 1024 octets in its dict backends).
MAX_ENTRY_LENGTH = 1024

# scope-opt values (RFC 5464 §4.2.2), lower-cased.
DEPTHS = ("0", "1", "infinity")

# RFC 5464 §3.2: no "*" or "%", no control characters (0x00-0x19) or DEL, nothing outside
# ASCII; §3.2.1: no "//" and no trailing "/"; the first component is private or shared.
_ENTRY_CHARS = re.compile(r"[\x20-\x7e]+")


@dataclass(frozen=True, slots=True)
class GetMetadata(Command):
    """GETMETADATA [(MAXSIZE n DEPTH d)] mailbox entries (RFC 5464 §4.2).

    `mailbox` is the name as sent ("" for the server); `entries` lower-cased; `maxsize`
    None when not given; `depth` one of DEPTHS."""

    mailbox: str
    entries: tuple[str, ...]
    maxsize: int | None = None
    depth: str = "0"


@dataclass(frozen=True, slots=True)
class SetMetadata(Command):
    """SETMETADATA mailbox (entry value ...) (RFC 5464 §4.3); a None value removes."""

    mailbox: str
    values: tuple[tuple[str, bytes | None], ...]


def validate_entry(name: str) -> str:
    """The entry name lower-cased; ParseError if RFC 5464 §3.2 forbids it."""
    if len(name) > MAX_ENTRY_LENGTH:
        raise ParseError("Entry name too long")
    if not _ENTRY_CHARS.fullmatch(name) or "*" in name or "%" in name:
        raise ParseError(f"Invalid entry name {name!r}")
    lowered = name.lower()
    if "//" in lowered or lowered.endswith("/"):
        raise ParseError(f"Invalid entry name {name!r}")
    if lowered not in ("/private", "/shared") and not lowered.startswith(("/private/", "/shared/")):
        raise ParseError("Entry name must start with /private or /shared")
    return lowered


def _entry(cursor: Cursor) -> str:
    return validate_entry(decode(cursor.astring_bytes()))


def _options(cursor: Cursor) -> tuple[int | None, str]:
    maxsize: int | None = None
    depth = "0"

    def option() -> None:
        nonlocal maxsize, depth
        name = cursor.keyword("GETMETADATA option")
        cursor.sp()
        if name == "MAXSIZE":
            maxsize = cursor.number("MAXSIZE", bits64=True)
        elif name == "DEPTH":
            depth = cursor.atom("DEPTH").lower()
            if depth not in DEPTHS:
                raise ParseError(f"Invalid DEPTH {depth}")
        else:
            raise ParseError(f"Unknown GETMETADATA option {name}")

    cursor.paren_list(option)
    return maxsize, depth


def parse_getmetadata(cursor: Cursor, tag: str) -> GetMetadata:
    """The arguments of GETMETADATA, the cursor after the command name."""
    cursor.sp()
    maxsize: int | None = None
    depth = "0"
    if cursor.peek() == 0x28:
        maxsize, depth = _options(cursor)
        cursor.sp()
    mailbox = cursor.mailbox()
    cursor.sp()
    if cursor.peek() == 0x28:
        entries = cursor.paren_list(lambda: _entry(cursor))
    else:
        entries = (_entry(cursor),)
    cursor.end()
    return GetMetadata(tag, mailbox, entries, maxsize, depth)


def parse_setmetadata(cursor: Cursor, tag: str) -> SetMetadata:
    """The arguments of SETMETADATA, the cursor after the command name."""
    cursor.sp()
    mailbox = cursor.mailbox()
    cursor.sp()

    def entry_value() -> tuple[str, bytes | None]:
        entry = _entry(cursor)
        cursor.sp()
        if cursor.is_nil():
            cursor.nil()
            return entry, None
        if cursor.peek() in (0x7B, 0x7E):  # "{" or "~{"
            return entry, cursor.literal(allow_binary=True)[0]
        return entry, cursor.quoted()

    values = cursor.paren_list(entry_value)
    cursor.end()
    return SetMetadata(tag, mailbox, values)


def encode_value(value: bytes | None) -> bytes:
    """A METADATA value (RFC 5464 §5 `value`): NIL, a quoted string when it can be one, a
    literal for 8-bit, CR/LF or long text, a literal8 when it holds NUL."""
    if value is None:
        return b"NIL"
    if 0 in value:
        return literal(value, binary=True)
    return string(value)


def metadata_response(mailbox: bytes, values: list[tuple[str, bytes | None]]) -> bytes:
    """`METADATA mailbox (entry value ...)` (RFC 5464 §4.4.1), without the `* `."""
    items = b" ".join(entry.encode("ascii") + b" " + encode_value(value) for entry, value in values)
    return b"METADATA " + mailbox + b" (" + items + b")"
