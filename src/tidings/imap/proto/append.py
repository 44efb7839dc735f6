"""APPEND arguments: one or several messages (RFC 9051 §6.3.12, RFC 3502 MULTIAPPEND), literal8
data (RFC 3516 §4.4) and the UTF8 data extension (RFC 6855 §4).

    append          = "APPEND" SP mailbox 1*append-message              ; RFC 3502 §6
    append-message  = append-opts SP append-data
    append-opts     = [SP flag-list] [SP date-time] *(SP append-ext)    ; RFC 4466 §2.1
    append-data     = literal / literal8 / append-data-ext              ; RFC 4466, RFC 3516
    append-data     =/ "UTF8" SP "(" literal8 ")"                       ; RFC 6855 §4

No append-ext or append-data-ext is known here, so they are syntax errors. The framer hands
over a command with all its literals inline; `literal_sizes_before` reads a command that
stops at a literal header, so that the driver can check a message before it is sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tidings.imap.proto import commands as c
from tidings.imap.proto.lexer import Cursor, ParseError

_TRAILING_LITERAL_HEADER = re.compile(rb"~?\{[0-9]+\+?\}\r\n\Z")
_HEADER_TAIL = 32  # "~{" + 19 digits + "+}" CRLF fits: only the tail is searched
_LITERAL_HEADER = re.compile(rb"~?\{([0-9]{1,19})\+?\}\r\n")
_UTF8_OPEN = b"UTF8 ("


def parse_append(cursor: Cursor, tag: str) -> c.Append:
    """The arguments of APPEND, the cursor after the command name."""
    cursor.sp()
    mailbox = cursor.mailbox()
    messages = [_append_message(cursor)]
    while not cursor.at_end():
        messages.append(_append_message(cursor))
    first, *more = messages
    return c.Append(
        tag,
        mailbox,
        first.message,
        first.flags,
        first.internaldate,
        first.binary,
        first.utf8,
        tuple(more),
    )


def _append_message(cursor: Cursor) -> c.AppendMessage:
    """append-message = append-opts SP append-data"""
    cursor.sp()
    flags: tuple[str, ...] = ()
    if cursor.peek() == 0x28:
        flags = cursor.flag_list()
        cursor.sp()
    internaldate = None
    if cursor.peek() == 0x22:
        internaldate = cursor.date_time()
        cursor.sp()
    if _at_utf8(cursor):
        # RFC 6855 §4: "UTF8" SP "(" literal8 ")"
        cursor.pos += len(_UTF8_OPEN)
        message, binary = cursor.literal(allow_binary=True)
        if not binary:
            raise ParseError("UTF8 data must be a literal8")
        cursor.expect(b")", "')'")
        return c.AppendMessage(message, flags, internaldate, binary=True, utf8=True)
    if cursor.peek() not in (0x7B, 0x7E):
        raise ParseError("Expected message literal")
    message, binary = cursor.literal(allow_binary=True)
    return c.AppendMessage(message, flags, internaldate, binary)


def _at_utf8(cursor: Cursor) -> bool:
    end = cursor.pos + len(_UTF8_OPEN)
    return cursor.data[cursor.pos : end].upper() == _UTF8_OPEN


@dataclass(frozen=True, slots=True)
class PendingAppend:
    """An APPEND stopped at the literal header of one of its messages: the mailbox named
    and the sizes of the messages before this one (empty for the first, RFC 3502)."""

    mailbox: str
    earlier_sizes: tuple[int, ...]


def pending_append(pending: bytes) -> PendingAppend | None:
    """For a command that stops at a literal header (`CommandParser.pending_command`):
    None unless it is an APPEND whose next literal is message data (not the mailbox name).

    Earlier messages are skipped by their sizes, never copied: the driver asks this at each
    synchronizing literal of a MULTIAPPEND that may already hold much data."""
    header = _TRAILING_LITERAL_HEADER.search(pending, max(0, len(pending) - _HEADER_TAIL))
    if header is None:
        return None
    end = header.start()
    cursor = Cursor(pending)
    sizes: list[int] = []
    try:
        cursor.tag()
        cursor.sp()
        if cursor.keyword("command name") != "APPEND":
            return None
        cursor.sp()
        mailbox = cursor.mailbox()
        while cursor.pos < end:
            if _at_message_data(cursor, end):
                return PendingAppend(mailbox, tuple(sizes))
            sizes.append(_skip_append_message(cursor))
    except ParseError:
        return None
    return None  # the header belongs to the mailbox name


def _skip_append_message(cursor: Cursor) -> int:
    """Step over one complete append-message, returning its data size."""
    cursor.sp()
    if cursor.peek() == 0x28:
        cursor.flag_list()
        cursor.sp()
    if cursor.peek() == 0x22:
        cursor.date_time()
        cursor.sp()
    utf8 = _at_utf8(cursor)
    if utf8:
        cursor.pos += len(_UTF8_OPEN)
    match = _LITERAL_HEADER.match(cursor.data, cursor.pos)
    if match is None:
        raise ParseError("Expected message literal")
    size = int(match.group(1))
    cursor.pos = match.end() + size
    if cursor.pos > len(cursor.data):
        raise ParseError("Truncated literal")
    if utf8:
        cursor.expect(b")", "')'")
    return size


def literal_sizes_before(pending: bytes) -> tuple[int, ...] | None:
    """`pending_append(pending).earlier_sizes`, or None when it is no APPEND message."""
    found = pending_append(pending)
    return None if found is None else found.earlier_sizes


def _at_message_data(cursor: Cursor, end: int) -> bool:
    """Whether what is left before `end` (the final literal header) is `append-opts SP` or
    `append-opts SP "UTF8 ("`: that literal is a message's data. The cursor stays put."""
    probe = Cursor(cursor.data, cursor.pos)
    try:
        probe.sp()
        if probe.peek() == 0x28:
            probe.flag_list()
            probe.sp()
        if probe.peek() == 0x22:
            probe.date_time()
            probe.sp()
    except ParseError:
        return False
    left = end - probe.pos
    if left == 0:
        return True
    return left == len(_UTF8_OPEN) and probe.data[probe.pos : end].upper() == _UTF8_OPEN
