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

The file is read a line at a time (a line longer than `_PIECE` in pieces), and memory holds
one message at a time: a multi-gigabyte file costs its largest message, not its size.

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
from functools import partial
from pathlib import Path
from typing import BinaryIO

from tidings.migrate.fromline import format_from_line, is_from_line, parse_from_date
from tidings.migrate.gmail import gmail_state, split_labels
from tidings.migrate.headers import (
    FLAG_FIELDS,
    header_end,
    header_flags,
    iter_fields,
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

# Lines are handed on in pieces of at most this many bytes, so a file with no line breaks
# at all still reads in bounded memory per line; 64 KiB is 65 times the longest line
# RFC 5322 §2.1.1 allows.
_PIECE = 64 * 1024
_BLANK = (b"\n", b"\r\n")
_QUOTED_FROM_RE = re.compile(rb">+From ")
_TO_QUOTE_RE = re.compile(rb">*From ")
_X_STATUS_LETTERS = ((ANSWERED, "A"), (FLAGGED, "F"), (DRAFT, "T"), (DELETED, "D"))
_NOTHING: tuple[MboxEvent, ...] = ()


class MboxParser:
    """The mbox reader as a pure object: `feed()` bytes, get the messages they complete.

    Bytes may come in chunks of any size; `close()` at the end of the file returns the last
    message. `source` names the file in ImportProblems. See the module docstring.
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
        self._mailbox = mailbox
        self._mozilla = map_mozilla_status
        self._gmail = gmail_labels
        self._strip = strip_status_headers
        self._tail = b""  # the start of a line whose end has not come yet
        self._ready: list[MboxEvent] = []
        self._lines: list[bytes] = []  # the current message, without its From line
        self._from_line: bytes | None = None
        self._started = False  # a message (or text before the first From line) has begun
        self._at_line_start = True
        self._after_blank = True  # the file start counts as an empty line before it
        self._line_number = 0
        self._message_line = 1  # where the current message starts, for ImportProblems

    def feed(self, data: bytes) -> Sequence[MboxEvent]:
        """The messages (and problems) completed by `data`, the next bytes of the file."""
        if self._tail:
            data = self._tail + data
            self._tail = b""
        start = 0
        while (newline := data.find(b"\n", start)) >= 0:
            self._line(data[start : newline + 1])
            start = newline + 1
        rest = data[start:]
        if len(rest) >= _PIECE:
            self._line(rest)
        else:
            self._tail = rest
        return self._drain()

    def close(self) -> Sequence[MboxEvent]:
        """The last message (and problems): the file has ended."""
        if self._tail:
            self._line(self._tail)
            self._tail = b""
        self._finish()
        return self._drain()

    def _drain(self) -> Sequence[MboxEvent]:
        if not self._ready:
            return _NOTHING
        ready, self._ready = self._ready, []
        return ready

    def _line(self, piece: bytes) -> None:
        """One line, or one piece of a long line (only the first piece is at a line start)."""
        if self._at_line_start:
            self._line_number += 1
            if self._after_blank and is_from_line(piece):
                self._finish()
                self._from_line = piece
                self._started = True
                self._message_line = self._line_number
                self._after_blank = False
                self._at_line_start = piece.endswith(b"\n")
                return
            if piece[:1] == b">" and _QUOTED_FROM_RE.match(piece):
                piece = piece[1:]
            self._after_blank = piece in _BLANK
        else:
            self._after_blank = False
        if not self._started:
            self._started = True
            self._message_line = self._line_number
        self._lines.append(piece)
        self._at_line_start = piece.endswith(b"\n")

    def _finish(self) -> None:
        """Hand on the message collected so far, if any."""
        if not self._started:
            return
        lines, from_line = self._lines, self._from_line
        self._lines, self._from_line, self._started = [], None, False
        if lines and lines[-1] in _BLANK:
            lines.pop()  # the separator before the next From line, or at the end of the file
        where = f"{self._source}:{self._message_line}"
        if from_line is None:
            if not any(line not in _BLANK for line in lines):
                self._ready.append(ImportProblem(where, "empty lines before the first From line"))
                return
            self._ready.append(
                ImportProblem(where, "text before the first From line, read as one message")
            )
        self._ready.extend(self._message(lines, from_line, where))

    def _message(self, lines: list[bytes], from_line: bytes | None, where: str) -> list[MboxEvent]:
        fields = list(iter_fields(lines, header_end(lines)))
        found = header_flags(fields, mozilla=self._mozilla)
        out: list[MboxEvent] = [
            ImportProblem(where, f"keyword {word!r} is not an IMAP atom; dropped")
            for word in found.bad_keywords
        ]
        flags, mailbox = set(found.flags), self._mailbox
        labels: tuple[str, ...] = ()
        if self._gmail:
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
        if self._strip:
            lines = strip_fields(lines, FLAG_FIELDS)
        raw = to_crlf(b"".join(lines))
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
        for piece in iter(partial(file.readline, _PIECE), b""):
            if events := parser.feed(piece):
                yield from events
    yield from parser.close()


def encode_mbox_message(message: SourceMessage) -> bytes:
    """One mboxrd entry for `message`: From line, quoted LF lines, empty line."""
    data = to_lf(message.raw)
    # Every line gets its LF back; a last line without one gains it (mbox holds lines).
    lines = [line + b"\n" for line in data.split(b"\n")]
    if data.endswith(b"\n") or not data:
        lines.pop()  # what split() leaves after the final LF
    lines = strip_fields(lines, FLAG_FIELDS)
    end = header_end(lines)
    lines[end:end] = _flag_fields(message.flags)
    quoted = (b">" + line if _TO_QUOTE_RE.match(line) else line for line in lines)
    return b"".join((format_from_line(message.internaldate), *quoted, b"\n"))


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
