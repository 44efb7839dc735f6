"""A stored message as RETR and TOP send it (RFC 1939 §3, §5, §7), in bounded chunks.

RFC 1939 §3: a multi-line response is lines "terminated by the CRLF pair"; "If any line
begins with the termination octet, the line is 'byte-stuffed' by pre-pending the termination
octet to that line"; the response ends with "." CRLF. So the stored bytes go out with every
bare LF turned into CRLF (the `MaildropEntry.wire_size` that LIST and STAT report counts
exactly those octets), dot-stuffed, and followed by ".\r\n". A message whose last line has no
line end gets a CRLF before the terminator, which the size does not count: the terminator must
start a line, and Dovecot 2.3 sends and counts the same way.

Work is done one chunk (about `CHUNK_SIZE` octets, cut after a LF) at a time, so a 50 MiB
message is never copied whole: the driver writes each chunk before the next is made.
"""

from __future__ import annotations

from collections.abc import Iterator

from tidings.pop3.proto.responses import CRLF, TERMINATOR

CHUNK_SIZE = 64 * 1024


def encode_message(
    raw: bytes, end: int | None = None, chunk_size: int = CHUNK_SIZE
) -> Iterator[bytes]:
    """The multi-line body for `raw[:end]`: CRLF line ends, dot-stuffed, terminated."""
    stop = len(raw) if end is None else min(end, len(raw))
    start = 0
    while start < stop:
        cut = _chunk_end(raw, start, stop, chunk_size)
        yield _encode_lines(raw[start:cut])
        start = cut
    if stop and raw[stop - 1] != 0x0A:  # the last line has no line end
        yield CRLF
    yield TERMINATOR


def _chunk_end(raw: bytes, start: int, stop: int, chunk_size: int) -> int:
    """Where the chunk starting at `start` ends: after the first LF at or beyond
    `start + chunk_size - 1`, so that every chunk starts a line and no CRLF is split."""
    probe = start + max(chunk_size, 1) - 1
    if probe >= stop:
        return stop
    newline = raw.find(b"\n", probe, stop)
    return stop if newline < 0 else newline + 1


def _encode_lines(chunk: bytes) -> bytes:
    """Whole lines (the chunk starts a line): bare LF → CRLF, then dot-stuffing."""
    data = chunk.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    data = data.replace(b"\n.", b"\n..")
    return b"." + data if data.startswith(b".") else data


def wire_length(raw: bytes) -> int:
    """The octets RETR sends for `raw` before stuffing: its length plus one per bare LF."""
    return len(raw) + raw.count(b"\n") - raw.count(b"\r\n")


def top_end(raw: bytes, body_lines: int) -> int:
    """Where TOP's output ends in `raw` (RFC 1939 §7): after the header, the blank line that
    ends it, and `body_lines` lines of the body. A message without a body ends at its end."""
    position = _header_end(raw)
    for _ in range(body_lines):
        if position >= len(raw):
            break
        newline = raw.find(b"\n", position)
        if newline < 0:
            return len(raw)
        position = newline + 1
    return position


def _header_end(raw: bytes) -> int:
    """The offset just after the empty line that ends the header (RFC 5322 §2.1)."""
    position = 0
    while position < len(raw):
        newline = raw.find(b"\n", position)
        if newline < 0:
            return len(raw)
        line_length = newline - position
        if line_length == 0 or (line_length == 1 and raw[position] == 0x0D):
            return newline + 1
        position = newline + 1
    return len(raw)
