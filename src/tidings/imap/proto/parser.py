"""The sans-IO IMAP command parser: bytes in, typed events out (h11 style, no I/O).

Framing (RFC 9051 §2.2, §4.3): a command is a line ended by CRLF, except that a line ending
in a literal header `{n}` / `{n+}` / `~{n}` continues after n octets of literal data. This
module collects one whole command that way, stopping at every literal header to let the
driver decide (write `+ Ready`, or refuse), and hands the collected bytes to `grammar.py`.

    literal         = "{" number64 ["+"] "}" CRLF *CHAR8     (RFC 9051 §9, RFC 7888 §3)
    literal8        = "~{" number64 ["+"] "}" CRLF *OCTET    (RFC 3516 §4.1)

A bare LF is accepted as a line end as well (some clients send one; Dovecot accepts it).
"""

from __future__ import annotations

import enum
import re

from tidings.imap.proto.commands import Command
from tidings.imap.proto.events import (
    NEED_DATA,
    CommandError,
    ContinuationLine,
    Event,
    IdleDone,
    LineTooLong,
    LiteralRequest,
)
from tidings.imap.proto.grammar import CommandSyntaxError, parse_command, parse_tag
from tidings.imap.proto.lexer import decode

__all__ = ["CommandParser"]

_LITERAL_HEADER_RE = re.compile(rb"(~?)\{([0-9]{1,19})(\+?)\}\Z")
# How much of a discarded line is kept to spot a literal header at its end: a header is
# at most "~{" + 19 digits + "+}" long.
_TAIL_KEEP = 24
# How much of a too-long line is kept to report its tag (a tag longer than this is reported
# as None, which only changes `a BAD` into `* BAD`).
_TAG_PEEK = 256


class _Mode(enum.Enum):
    COMMAND = "command"
    IDLE = "idle"  # the next line must be DONE (RFC 2177 §3)
    CONTINUATION = "continuation"  # the next line is a SASL response (RFC 9051 §6.2.2)


class CommandParser:
    """Turns client bytes into commands and framing events; see `events.py`.

    `max_line_length` bounds the non-literal bytes of one command (literals are counted by
    the driver against its own limit, reported through LiteralRequest.size).
    """

    def __init__(
        self, max_line_length: int = 65536, max_literal_size: int = 50 * 1024 * 1024
    ) -> None:
        self.max_line_length = max_line_length
        # Not enforced here: every literal is reported and the driver decides, knowing the
        # same limit (a refusal needs a reply the parser cannot write).
        self.max_literal_size = max_literal_size
        self._buffer = bytearray()
        self._scan_from = 0  # where the search for LF resumes in _buffer
        self._mode = _Mode.COMMAND
        self._command = bytearray()  # the command so far, literals inline
        self._line_used = 0  # non-literal bytes in _command
        self._pending: LiteralRequest | None = None  # a LiteralRequest awaiting an answer
        self._literal_left = 0  # literal bytes still to copy into _command
        self._skip_left = 0  # bytes of a refused non-synchronizing literal to drop
        self._discarding = False  # dropping input up to the end of the current line
        self._discard_tail = b""  # the last bytes dropped, to spot a literal header

    # ------------------------------------------------------------------ driver API
    def receive_data(self, data: bytes) -> None:
        """Add bytes read from the client."""
        self._buffer += data

    def accept_literal(self) -> None:
        """Answer a LiteralRequest: read the literal (after `+ Ready` when synchronizing)."""
        request = self._take_pending()
        self._literal_left = request.size

    def pending_command(self) -> bytes:
        """While a LiteralRequest waits for its answer: the command so far, up to and
        including the literal header and its CRLF (earlier literals inline). The driver
        reads it to refuse a literal it knows the command cannot use (APPEND over quota)."""
        if self._pending is None:
            raise RuntimeError("no LiteralRequest is waiting for an answer")
        return bytes(self._command)

    @property
    def pending_size(self) -> int:
        """The length of the command so far (see pending_command), without copying it: the
        driver bounds a command's literals together with it (`max_command_size`)."""
        return len(self._command)

    def reject_literal(self) -> None:
        """Answer a LiteralRequest: drop the command.

        A synchronizing literal is never sent (the client waits for `+`), so the parser goes
        straight back to reading commands. A non-synchronizing one is on its way: its bytes
        and the rest of the line are discarded (RFC 7888 §4).
        """
        request = self._take_pending()
        self._reset_command()
        if not request.synchronizing:
            self._skip_left = request.size
            self._start_discarding()

    def take_unparsed(self) -> bytes:
        """Remove and return the bytes received but not parsed yet. Called between commands
        when the framing below changes (RFC 4978 COMPRESS: they are compressed input)."""
        data = bytes(self._buffer)
        self._buffer.clear()
        self._scan_from = 0
        return data

    @property
    def between_commands(self) -> bool:
        """Whether no part of a command has been received yet (nothing buffered or pending):
        where NOTIFY's unsolicited responses go, never inside a client's command."""
        return not (self._buffer or self._command or self._pending or self._literal_left)

    def expect_idle_done(self) -> None:
        """After an Idle command: the next line is DONE (RFC 2177 §3)."""
        self._mode = _Mode.IDLE

    def expect_continuation(self) -> None:
        """During AUTHENTICATE: the next line is a SASL response (RFC 9051 §6.2.2)."""
        self._mode = _Mode.CONTINUATION

    def next_event(self) -> Event:
        """The next event, or NEED_DATA when more bytes are needed."""
        if self._pending is not None:
            raise RuntimeError("answer the LiteralRequest with accept_literal/reject_literal")
        while True:
            if self._skip_left:
                if not self._skip():
                    return NEED_DATA
                continue
            if self._literal_left:
                if not self._copy_literal():
                    return NEED_DATA
                continue
            if self._discarding:
                if not self._discard_line():
                    return NEED_DATA
                continue
            return self._read_line()

    # ---------------------------------------------------------------- internals
    def _take_pending(self) -> LiteralRequest:
        request = self._pending
        if request is None:
            raise RuntimeError("no LiteralRequest is waiting for an answer")
        self._pending = None
        return request

    def _reset_command(self) -> None:
        self._command = bytearray()
        self._line_used = 0

    def _consume(self, count: int) -> bytes:
        chunk = bytes(self._buffer[:count])
        del self._buffer[:count]
        self._scan_from = 0
        return chunk

    def _skip(self) -> bool:
        dropped = self._consume(min(self._skip_left, len(self._buffer)))
        self._skip_left -= len(dropped)
        return not self._skip_left

    def _copy_literal(self) -> bool:
        chunk = self._consume(min(self._literal_left, len(self._buffer)))
        self._command += chunk
        self._literal_left -= len(chunk)
        return not self._literal_left

    def _start_discarding(self) -> None:
        self._discarding = True
        self._discard_tail = b""

    def _discard_line(self) -> bool:
        """Drop input up to and including the next LF, keeping memory bounded. A dropped line
        that ends in a non-synchronizing literal header is followed by that literal, which
        is dropped too (a synchronizing one is never sent: nobody answers `+`)."""
        end = self._buffer.find(b"\n")
        if end < 0:
            self._discard_tail = (self._discard_tail + self._consume(len(self._buffer)))[
                -_TAIL_KEEP:
            ]
            return False
        line = (self._discard_tail + self._consume(end + 1)[:-1]).rstrip(b"\r")
        self._discarding = False
        self._discard_tail = b""
        match = _LITERAL_HEADER_RE.search(line[-_TAIL_KEEP:])
        if match is not None and match.group(3):
            self._skip_left = int(match.group(2))
            self._start_discarding()
        return True

    def _too_long(self, peek: bytes) -> LineTooLong:
        tag = None
        if self._mode is _Mode.COMMAND:
            tag = parse_tag(bytes(self._command[:_TAG_PEEK]) + peek[:_TAG_PEEK])
        self._mode = _Mode.COMMAND
        self._reset_command()
        self._start_discarding()
        return LineTooLong(tag)

    def _read_line(self) -> Event:
        end = self._buffer.find(b"\n", self._scan_from)
        if end < 0:
            self._scan_from = len(self._buffer)
            if self._line_used + len(self._buffer) > self.max_line_length:
                return self._too_long(bytes(self._buffer[:_TAG_PEEK]))
            return NEED_DATA
        if self._line_used + end > self.max_line_length:
            return self._too_long(bytes(self._buffer[:_TAG_PEEK]))
        line = self._consume(end + 1)[:-1]
        if line.endswith(b"\r"):
            line = line[:-1]
        mode, self._mode = self._mode, _Mode.COMMAND
        if mode is _Mode.IDLE:
            # RFC 2177 §3: DONE ends IDLE; anything else is an error, and IDLE ends anyway.
            return IdleDone() if line.upper() == b"DONE" else CommandError(None, "Expected DONE")
        if mode is _Mode.CONTINUATION:
            return ContinuationLine(decode(line))
        return self._command_line(line)

    def _command_line(self, line: bytes) -> Event:
        match = _LITERAL_HEADER_RE.search(line[-_TAIL_KEEP:])
        if match is not None:
            # The line continues after the literal: keep it with a canonical CRLF so that
            # the grammar sees `{n}` CRLF whatever line end the client used.
            self._command += line + b"\r\n"
            self._line_used += len(line) + 2
            self._pending = LiteralRequest(
                parse_tag(bytes(self._command[:_TAG_PEEK])),
                int(match.group(2)),
                synchronizing=not match.group(3),
            )
            return self._pending
        self._command += line
        data = bytes(self._command)
        self._reset_command()
        if not data:
            return CommandError(None, "Empty command line")
        try:
            command: Command = parse_command(data)
        except CommandSyntaxError as error:
            return CommandError(error.tag, error.reason)
        return command
