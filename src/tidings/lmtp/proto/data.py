"""The mail data after DATA: found up to its end, dot-unstuffed, counted, bounded.

RFC 5321 §4.1.1.4: "the mail data is terminated by a line containing only a period, that
is, the character sequence "<CRLF>.<CRLF>", where the first <CRLF> is actually the
terminator of the previous line". RFC 5321 §4.5.2: "When a line of mail text is received
by the SMTP server, it checks the line. If the line is composed of a single period, it is
treated as the end of mail indicator. If the first character is a period and there are
other characters on the line, the first character is deleted."

Only CRLF ends a line here. A bare LF is kept in the message as it came but never starts a
line, so `LF.LF` or `LF.CRLF` do not end the data: treating them as the end is the "SMTP
smuggling" hole (CVE-2023-51764/51765/51766), and RFC 5321 §2.3.8 says bare LF is not a
line end. (Dovecot 2.3 accepts LF.LF; tests/differential/DEVIATIONS.md, L5.)

The decoder works on a sliding window, so a message arriving in many small reads costs
linear time; bytes past `max_size` are counted and dropped, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass

_LINE_START = b"\r\n."  # the stuffed period: a line start followed by "."
_TERMINATOR = b"\r\n.\r\n"


@dataclass(frozen=True, slots=True)
class DecodedData:
    """The result: the unstuffed message (None when it went past the limit) and its size."""

    message: bytes | None
    size: int  # octets after unstuffing, including those dropped past the limit


class DataDecoder:
    """Feed bytes with `feed`; it returns how many it consumed, and `result` is set once
    the end marker has been seen (the bytes after it belong to the next command)."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        # The data starts on a fresh line: a virtual CRLF in front makes a period at the very
        # start look like any other line start. It is stripped from the result.
        self._window = bytearray(b"\r\n")
        self._prefix_pending = True  # the virtual CRLF has not been stripped yet
        self._message = bytearray()
        self._size = 0
        self.result: DecodedData | None = None

    def feed(self, data: bytes) -> int:
        """Consume bytes of `data` up to and including the end marker; return the count.

        Bytes after the end marker are not consumed (0 < count <= len(data) until the end).
        """
        if self.result is not None:
            return 0
        previous = len(self._window)
        self._window += data
        end = self._window.find(_TERMINATOR)
        if end >= 0:
            self._emit(end + 2)  # the CRLF before "." is the message's last line end
            self.result = DecodedData(
                bytes(self._message) if self._size <= self.max_size else None, self._size
            )
            consumed = end + len(_TERMINATOR) - previous
            self._window.clear()
            self._message.clear()
            return consumed
        self._emit(self._safe_cut())
        return len(data)

    def _safe_cut(self) -> int:
        """How much of the window can be unstuffed now: all but a tail that could be the
        start of the terminator or of a stuffed period (a CR, or CRLF at its very end)."""
        cut = max(len(self._window) - len(_TERMINATOR) + 1, 0)
        # A "\r\n." straddling the cut starts at cut-1 or cut-2; moving the cut before it
        # is enough, as the byte before a CR that was moved over is never the LF of another.
        if self._window[cut - 1 : cut] == b"\r":
            cut -= 1
        elif self._window[cut - 2 : cut] == b"\r\n":
            cut -= 2
        return max(cut, 0)

    def _emit(self, cut: int) -> None:
        if cut <= 0:
            return
        chunk = bytes(self._window[:cut]).replace(_LINE_START, b"\r\n")
        del self._window[:cut]
        if self._prefix_pending:
            # The first emitted chunk starts with the virtual CRLF (a cut inside it backs
            # off to 0, see _safe_cut), unstuffing left it in place: drop it.
            chunk = chunk[2:]
            self._prefix_pending = False
        self._size += len(chunk)
        if self._size <= self.max_size:
            self._message += chunk
        elif self._message:
            self._message.clear()  # past the limit: keep counting, stop storing
