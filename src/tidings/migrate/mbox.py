"""mbox files (RFC 4155): read any common variant, write mboxrd.

An mbox is messages one after another, each starting with a "From " line (`fromline`),
separated by an empty line. Reading:

- A "From " line separates messages only at the file start or after an empty line
  (RFC 4155 §2: the blank line before the From line belongs to the format, not to the
  message); anywhere else it is a body line some writer forgot to quote. The empty line
  before each separator, and at the end of the file, is dropped.
- A file that does not start with a "From " line (a single .eml, or garbage before the
  first separator) is not refused: the text before the first separator is read as one more
  message, without an internal date, after an ImportProblem saying so. Nothing is lost;
  deleting a stray message is easier than finding one that was skipped.
- Quoting: mboxrd writes every line matching `^>*From ` with one more ">", so one ">" comes
  off every line matching `^>+From `. The older mboxo quoted only `^From `, and left
  `>From ` alone, so mboxo and mboxrd files look the same and cannot be told apart; reading
  every file as mboxrd is right for mboxrd and costs an mboxo line that really was
  `>From ...` one ">". That is the common choice (Dovecot, mutt): the mboxo reading would
  leave a stray ">" on every "From " line of every mboxrd file instead.
- Line endings become CRLF (`source.to_crlf`; files written with CRLF, as Thunderbird does
  on Windows, stay as they are). Flags come from the header fields in `headers` and, with
  `gmail_labels`, from Takeout's labels (`gmail`). The fields stay in `raw`, which is the
  message as stored, unless `strip_status_headers` removes the three `write_mbox` writes.
- A message is never refused: one cut off mid-header at the end of the file, one without a
  header/body separator, one full of 8-bit bytes, all come out byte for byte.

The file is read a chunk at a time, and memory holds one message (and a chunk) at a time:
a multi-gigabyte file costs its largest message, not its size.

Writing produces mboxrd: a `From MAILER-DAEMON <date>` line, the message with LF endings and
its `^>*From ` lines quoted, and an empty line. The flags go in `Status: RO` (\\Seen),
`X-Status: AFTD` (\\Answered, \\Flagged, \\Draft, \\Deleted) and `X-Keywords:` (keywords, as
Dovecot's mbox writes them), appended to the header section after any such fields already
there are removed, and only when there is a flag to carry. So `read_mbox(...,
strip_status_headers=True)` gives back exactly the message written, provided it had none of
those three fields and ended with a line break (mbox holds lines; a last line without one
gains it), and no line ended in a lone CR (see `source`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tidings.migrate.fromline import format_from_line, parse_from_date
from tidings.migrate.gmail import gmail_state, split_labels
from tidings.migrate.headers import (
    FLAG_FIELDS,
    header_flags,
    header_length,
    iter_fields,
    split_lines,
    strip_fields,
)
from tidings.migrate.source import (
    ANSWERED,
    DELETED,
    DRAFT,
    FLAGGED,
    SEEN,
    ImportProblem,
    SourceMessage,
    is_keyword,
    to_crlf,
    to_lf,
)

MboxEvent = SourceMessage | ImportProblem

# The driver reads this much at a time; a line longer than _PIECE with no line break is
# handed on in pieces, so that even a file with no line breaks reads in bounded memory.
# 64 KiB is 65 times the longest line RFC 5322 §2.1.1 allows.
_CHUNK = 1024 * 1024
_PIECE = 64 * 1024
_BLANK = (b"\n", b"\r\n")
# mboxrd: every line matching `^>*From ` is quoted with one more ">" when written, and the
# reader takes one off every line matching `^>+From `; both look for the lines with these.
_FROM_RE = re.compile(rb">*From ")
_LF_FROM_RE = re.compile(rb"\n(>*From )")
_X_STATUS_LETTERS = ((ANSWERED, "A"), (FLAGGED, "F"), (DRAFT, "T"), (DELETED, "D"))
_NOTHING: tuple[MboxEvent, ...] = ()


class MboxParser:
    """The mbox reader as a pure object: `feed()` bytes, get the messages they complete.

    Bytes may come in chunks of any size, down to one at a time, with the same result;
    `close()` at the end of the file returns the last message. `source` names the file in
    ImportProblems. See the module docstring.
    """

    def __init__(
        self,
        source: str = "<mbox>",
        *,
        mailbox: str = "INBOX",
        map_mozilla_status: bool = True,
        gmail_labels: bool = False,
        strip_status_headers: bool = False,
    ) -> None:
        self._source = source
        self._options = _Options(mailbox, map_mozilla_status, gmail_labels, strip_status_headers)
        self._tail = b""  # bytes after the last line break fed, kept for the next feed
        self._ready: list[MboxEvent] = []
        self._parts: list[bytes] = []  # the current message so far, unquoted
        self._from_line: bytes | None = None
        self._at_line_start = True  # the next byte starts a line
        self._after_blank = True  # the last line was empty; the file start counts as one
        self._in_from_line = False  # inside a From line longer than a piece: skip the rest
        self._lines_seen = 0  # line breaks consumed, for ImportProblem positions
        self._message_line = 1

    def feed(self, data: bytes) -> Sequence[MboxEvent]:
        """The messages (and problems) completed by `data`, the next bytes of the file."""
        buffer = self._tail + data if self._tail else data
        cut = buffer.rfind(b"\n") + 1
        if cut == 0:
            if len(buffer) < _PIECE:
                self._tail = buffer
                return _NOTHING
            cut = len(buffer)  # a piece of an over-long line
        self._tail = buffer[cut:]
        self._region(buffer[:cut])
        return self._drain()

    def close(self) -> Sequence[MboxEvent]:
        """The last message (and problems): the file has ended."""
        if self._tail:
            self._region(self._tail)
            self._tail = b""
        self._finish()
        return self._drain()

    def _drain(self) -> Sequence[MboxEvent]:
        if not self._ready:
            return _NOTHING
        ready, self._ready = self._ready, []
        return ready

    def _region(self, region: bytes) -> None:
        """Whole lines (or a piece of one long line, or the file's unterminated end)."""
        if self._in_from_line:
            skip = region.find(b"\n") + 1
            if skip == 0:
                return
            region = region[skip:]
            self._lines_seen += 1
            self._in_from_line, self._at_line_start, self._after_blank = False, True, False
            if not region:
                return
        start = counted = 0
        lines = self._lines_seen
        for at in _special_lines(region):
            if at == 0 and not self._at_line_start:
                continue  # the middle of a line that began in an earlier region
            if region[at] == 0x3E:  # ">": mboxrd quoting; one ">" comes off
                self._parts.append(region[start:at])
                start = at + 1
            elif self._blank_before(region, at):
                self._parts.append(region[start:at])
                self._finish()
                lines += region.count(b"\n", counted, at)
                counted = at
                start = self._begin(region, at, lines + 1)
        self._parts.append(region[start:])
        self._lines_seen = lines + region.count(b"\n", counted)
        self._after_blank = self._blank_before(region, len(region))
        self._at_line_start = region.endswith(b"\n")

    def _blank_before(self, region: bytes, at: int) -> bool:
        """True if the line that ends at offset `at` (a line start) is empty."""
        if at == 0:
            return self._after_blank and self._at_line_start
        if region[at - 1] != 0x0A:
            return False
        begin = region.rfind(b"\n", 0, at - 1) + 1
        if begin == 0 and not self._at_line_start:
            return False  # a line that began in an earlier region, so not empty
        return region[begin:at] in _BLANK

    def _begin(self, region: bytes, at: int, line_number: int) -> int:
        """Start a message at the From line at `at`; the offset after that line."""
        end = region.find(b"\n", at) + 1
        if end == 0:
            self._in_from_line = True  # over-long: the date is in this piece or nowhere
            end = len(region)
        self._from_line = region[at:end]
        self._message_line = line_number
        return end

    def _finish(self) -> None:
        """Hand on the message collected so far, if any."""
        data, from_line = b"".join(self._parts), self._from_line
        self._parts, self._from_line = [], None
        if from_line is None and not data:
            return
        # The empty line before the next From line, or at the end of the file.
        if data in _BLANK:
            data = b""
        elif data.endswith(b"\n\n"):
            data = data[:-1]
        elif data.endswith(b"\n\r\n"):
            data = data[:-2]
        where = f"{self._source}:{self._message_line}"
        if from_line is None:
            if not data.strip(b"\r\n"):
                self._ready.append(ImportProblem(where, "empty lines before the first From line"))
                return
            reason = "text before the first From line, read as one message"
            self._ready.append(ImportProblem(where, reason))
        self._ready.extend(_message(data, from_line, where, self._options))


def _special_lines(region: bytes) -> Iterator[int]:
    """The offsets of the lines of `region` that match `^>*From `.

    The only lines the reader looks at one by one: separators, and lines to unquote. The
    rest of a message is copied in bulk. A pattern that begins with a literal LF runs in
    the regular expression engine's fast scan, several times faster than `^` with
    re.MULTILINE, which tries every byte, or a `bytes.find` for "From " that stops in the
    middle of lines too.
    """
    if _FROM_RE.match(region):
        yield 0
    for match in _LF_FROM_RE.finditer(region):
        yield match.start() + 1


@dataclass(frozen=True, slots=True)
class _Options:
    mailbox: str
    mozilla: bool
    gmail: bool
    strip: bool


def _message(
    data: bytes, from_line: bytes | None, where: str, options: _Options
) -> list[MboxEvent]:
    """The SourceMessage for one message's unquoted bytes, after any problems it has."""
    end = header_length(data)
    header = split_lines(data[:end])
    fields = list(iter_fields(header, len(header)))
    found = header_flags(fields, mozilla=options.mozilla)
    out: list[MboxEvent] = [
        ImportProblem(where, f"keyword {word!r} is not an IMAP atom; dropped")
        for word in found.bad_keywords
    ]
    flags, mailbox = set(found.flags), options.mailbox
    labels: tuple[str, ...] = ()
    if options.gmail:
        names = [
            label
            for field in fields
            if field.name == b"x-gmail-labels"
            for label in split_labels(field.value)
        ]
        state = gmail_state(names)
        flags.discard(SEEN)  # Gmail's read state is the "Unread" label
        flags |= state.flags
        mailbox, labels = state.mailboxes[0], state.mailboxes
    internaldate = None
    if from_line is not None:
        internaldate = parse_from_date(from_line)
        if internaldate is None:
            out.append(ImportProblem(where, "From line without a readable date"))
    if options.strip:
        data = b"".join(strip_fields(header, FLAG_FIELDS)) + data[end:]
    raw = to_crlf(data)
    out.append(SourceMessage(raw, frozenset(flags), internaldate, mailbox, None, labels))
    return out


def read_mbox(
    path: Path | str,
    *,
    mailbox: str = "INBOX",
    map_mozilla_status: bool = True,
    gmail_labels: bool = False,
    strip_status_headers: bool = False,
) -> Iterator[SourceMessage | ImportProblem]:
    """The messages of the mbox file at `path`, streamed, with problems met along the way.

    `mailbox` is where the messages go (with `gmail_labels`, where their labels say);
    `map_mozilla_status` reads Thunderbird's X-Mozilla-Status and X-Mozilla-Keys;
    `strip_status_headers` removes the Status, X-Status and X-Keywords fields that
    `write_mbox` writes. See the module docstring.
    """
    parser = MboxParser(
        str(path),
        mailbox=mailbox,
        map_mozilla_status=map_mozilla_status,
        gmail_labels=gmail_labels,
        strip_status_headers=strip_status_headers,
    )
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            yield from parser.feed(chunk)
    yield from parser.close()


def encode_mbox_message(message: SourceMessage) -> bytes:
    """One mboxrd entry for `message`: From line, quoted LF lines, empty line."""
    data = to_lf(message.raw)
    if data and not data.endswith(b"\n"):
        data += b"\n"  # mbox holds lines: a last line without a break gains one
    end = header_length(data)
    header = strip_fields(split_lines(data[:end]), FLAG_FIELDS)
    header.extend(_flag_fields(message.flags))
    entry = _LF_FROM_RE.sub(rb"\n>\1", b"".join((*header, data[end:])))
    first = b">" if _FROM_RE.match(entry) else b""
    return b"".join((format_from_line(message.internaldate), first, entry, b"\n"))


def _flag_fields(flags: frozenset[str]) -> list[bytes]:
    fields = []
    if SEEN in flags:
        fields.append(b"Status: RO\n")
    letters = "".join(letter for flag, letter in _X_STATUS_LETTERS if flag in flags)
    if letters:
        fields.append(f"X-Status: {letters}\n".encode("ascii"))
    keywords = sorted(flag for flag in flags if is_keyword(flag))
    if keywords:
        fields.append(f"X-Keywords: {' '.join(keywords)}\n".encode("ascii"))
    return fields


def write_mbox(stream: BinaryIO, messages: Iterable[SourceMessage]) -> int:
    """Write `messages` to `stream` as mboxrd (see the module docstring); how many."""
    count = 0
    for message in messages:
        stream.write(encode_mbox_message(message))
        count += 1
    return count
