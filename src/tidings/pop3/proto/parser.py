"""The sans-IO POP3 command parser: bytes in, typed events out (h11 style, no I/O).

Framing (RFC 1939 §3): every command is one line ended by CRLF. A bare LF is accepted as a
line end too (Dovecot does the same). During AUTH the next line is a SASL response, not a
command (RFC 5034 §4); the driver says so with `expect_sasl_response()`.

Pipelining (RFC 2449 §6.6) needs nothing special here: the client may send many lines at
once, and `next_event()` hands them out one by one, in order.
"""

from __future__ import annotations

from tidings.pop3.proto.events import (
    NEED_DATA,
    Event,
    LineTooLong,
    SaslResponse,
)
from tidings.pop3.proto.grammar import parse_command

__all__ = ["CommandParser"]


class CommandParser:
    """Turns client bytes into commands and framing events; see `events.py`.

    `max_line_length` bounds one line, not counting its line end. A longer line is reported
    once as LineTooLong and its remainder is dropped as it arrives (memory stays bounded).
    """

    def __init__(self, max_line_length: int = 4096) -> None:
        self.max_line_length = max_line_length
        self._buffer = bytearray()
        self._scan_from = 0  # where the search for LF resumes in _buffer
        self._discarding = False  # dropping input up to the end of an over-long line
        self._sasl = False  # the next line is a SASL response

    def receive_data(self, data: bytes) -> None:
        """Add bytes read from the client."""
        self._buffer += data

    def expect_sasl_response(self) -> None:
        """During AUTH: the next line is a SASL response (RFC 5034 §4)."""
        self._sasl = True

    def next_event(self) -> Event:
        """The next event, or NEED_DATA when more bytes are needed."""
        while self._discarding:
            end = self._buffer.find(b"\n")
            if end < 0:
                self._buffer.clear()
                self._scan_from = 0
                return NEED_DATA
            del self._buffer[: end + 1]
            self._scan_from = 0
            self._discarding = False
        end = self._buffer.find(b"\n", self._scan_from)
        if end < 0:
            if len(self._buffer) > self.max_line_length + 1:  # +1: a CR may still be due
                return self._too_long()
            self._scan_from = len(self._buffer)
            return NEED_DATA
        line = bytes(self._buffer[:end])
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > self.max_line_length:
            return self._too_long()
        del self._buffer[: end + 1]
        self._scan_from = 0
        if self._sasl:
            self._sasl = False
            return SaslResponse(line.decode("utf-8", "replace"))
        return parse_command(line)

    def _too_long(self) -> LineTooLong:
        self._sasl = False
        self._discarding = True
        return LineTooLong(self.max_line_length)
