"""The sans-IO LMTP reader: client bytes in, commands and framing events out (no I/O).

Framing (RFC 5321 §2.3.8, §4.1.1): commands are lines ended by CRLF; like Dovecot (and the
IMAP parser) a bare LF is accepted at the end of a command line too. After the session
answers DATA with 354, the driver calls `start_message()` and the bytes up to CRLF.CRLF are
the message (`data.py`). A BDAT line is followed by exactly the announced number of octets
(RFC 3030 §2), read here at once, whether or not the session will accept the chunk.

Pipelining (RFC 2920) needs nothing special: bytes are buffered and each call to
`next_event()` takes the next command from them, in order.
"""

from __future__ import annotations

import enum

from tidings.lmtp.proto.commands import Bdat
from tidings.lmtp.proto.data import DataDecoder
from tidings.lmtp.proto.events import (
    NEED_DATA,
    ChunkReceived,
    CommandRejected,
    Event,
    LineTooLong,
    MessageReceived,
)
from tidings.lmtp.proto.grammar import CommandSyntaxError, parse_command
from tidings.lmtp.proto.replies import Reply

__all__ = ["LmtpReader"]


class _Mode(enum.Enum):
    COMMAND = "command"
    DISCARD_LINE = "discard line"  # the rest of a too-long command line
    MESSAGE = "message"  # DATA text up to CRLF.CRLF
    CHUNK = "chunk"  # the octets of a BDAT chunk


class LmtpReader:
    """Turns client bytes into commands, messages and chunks; see `events.py`.

    `max_line_length` bounds a command line without its line end (lmtp_max_line_length);
    `max_message_size` bounds what is kept of a message or of one chunk (the rest is read
    and dropped, so that the session can answer 552 once the client has finished sending).
    """

    def __init__(self, max_line_length: int = 4096, max_message_size: int = 50 << 20) -> None:
        self.max_line_length = max_line_length
        self.max_message_size = max_message_size
        self._buffer = bytearray()
        self._scan_from = 0  # where the search for LF resumes in _buffer
        self._mode = _Mode.COMMAND
        self._decoder: DataDecoder | None = None
        self._chunk_command: Bdat | None = None
        self._chunk_rejection: Reply | None = None
        self._chunk = bytearray()
        self._chunk_size = 0
        self._chunk_left = 0

    # ------------------------------------------------------------------ driver API
    def receive_data(self, data: bytes) -> None:
        """Add bytes read from the client."""
        self._buffer += data

    def start_message(self) -> None:
        """The session answered DATA with 354: what follows is the message."""
        if self._mode is not _Mode.COMMAND:
            raise RuntimeError(f"start_message() while reading a {self._mode.value}")
        self._mode = _Mode.MESSAGE
        self._decoder = DataDecoder(self.max_message_size)

    @property
    def has_buffered_input(self) -> bool:
        """Whether bytes are waiting (pipelined input) beyond what has been parsed."""
        return bool(self._buffer)

    def next_event(self) -> Event:
        """The next event, or NEED_DATA when more bytes are needed."""
        while True:
            if self._mode is _Mode.MESSAGE:
                return self._read_message()
            if self._mode is _Mode.CHUNK:
                return self._read_chunk()
            if self._mode is _Mode.DISCARD_LINE:
                if not self._discard_line():
                    return NEED_DATA
                continue
            event = self._read_command()
            if event is not None:
                return event
            if self._mode is _Mode.COMMAND:
                return NEED_DATA

    # ------------------------------------------------------------------ commands
    def _read_command(self) -> Event | None:
        """A command line's event; None when the line started a chunk or is incomplete."""
        newline = self._buffer.find(b"\n", self._scan_from)
        if newline < 0:
            self._scan_from = len(self._buffer)
            if len(self._buffer) > self.max_line_length + 1:  # +1: a CR may end it
                self._buffer.clear()
                self._scan_from = 0
                self._mode = _Mode.DISCARD_LINE
                return LineTooLong()
            return None
        line = bytes(self._buffer[:newline])
        del self._buffer[: newline + 1]
        self._scan_from = 0
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > self.max_line_length:
            return LineTooLong()
        try:
            command = parse_command(line)
        except CommandSyntaxError as error:
            if error.chunk_size is None:
                return CommandRejected(error.reply, error.command_type)
            self._start_chunk(None, error.chunk_size, error.reply)
            return None
        if isinstance(command, Bdat):
            self._start_chunk(command, command.size, None)
            return None
        return command

    def _discard_line(self) -> bool:
        """Drop input up to the end of the too-long line; True once it is gone."""
        newline = self._buffer.find(b"\n")
        if newline < 0:
            self._buffer.clear()
            return False
        del self._buffer[: newline + 1]
        self._mode = _Mode.COMMAND
        return True

    # ------------------------------------------------------------------ DATA
    def _read_message(self) -> Event:
        decoder = self._decoder
        assert decoder is not None
        consumed = decoder.feed(bytes(self._buffer))
        del self._buffer[:consumed]
        if decoder.result is None:
            return NEED_DATA
        self._mode = _Mode.COMMAND
        self._decoder = None
        return MessageReceived(decoder.result.message, decoder.result.size)

    # ------------------------------------------------------------------ BDAT
    def _start_chunk(self, command: Bdat | None, size: int, rejection: Reply | None) -> None:
        self._mode = _Mode.CHUNK
        self._chunk_command = command
        self._chunk_rejection = rejection
        self._chunk_size = size
        self._chunk_left = size
        self._chunk.clear()

    def _read_chunk(self) -> Event:
        take = min(self._chunk_left, len(self._buffer))
        rejected = self._chunk_command is None
        fits = self._chunk_size <= self.max_message_size
        if take:
            if fits and not rejected:  # a chunk too large, or of a bad line, is only skipped
                self._chunk += self._buffer[:take]
            del self._buffer[:take]
            self._chunk_left -= take
        if self._chunk_left:
            return NEED_DATA
        self._mode = _Mode.COMMAND
        data = bytes(self._chunk) if fits or rejected else None
        self._chunk.clear()
        command = self._chunk_command
        return ChunkReceived(command, data, self._chunk_size, self._chunk_rejection)
