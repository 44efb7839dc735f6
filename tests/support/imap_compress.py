"""IMAP COMPRESS=DEFLATE (RFC 4978) for test clients: stdlib clients have none.

`DeflateSocket` stands in for a socket with raw DEFLATE (zlib wbits -15) both ways;
`start_compression` switches a line client (tests/imap/harness.LineClient, or anything with
`sock`, `buffer`, `send_line` and `read_line`) after the tagged OK, as its `starttls()`
swaps in an SSL socket; `CompressingIMAP4` is stdlib imaplib taught COMPRESS.
"""

from __future__ import annotations

import imaplib
import io
import socket
import zlib
from typing import Protocol


class DeflateSocket:
    """What a line client needs of a socket, with raw DEFLATE both ways: `sendall` deflates
    and flushes (Z_SYNC_FLUSH, or Z_PARTIAL_FLUSH as some clients do), `recv` inflates.
    Counts the bytes on the wire and the bytes they stand for."""

    def __init__(self, sock: socket.socket, flush_mode: int = zlib.Z_SYNC_FLUSH) -> None:
        self.sock = sock
        self.flush_mode = flush_mode
        self.deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.inflater = zlib.decompressobj(-15)
        self.wire_in = 0
        self.plain_in = 0

    def deflate(self, data: bytes) -> bytes:
        """`data` compressed and flushed, as sendall would send it."""
        return self.deflater.compress(data) + self.deflater.flush(self.flush_mode)

    def sendall(self, data: bytes) -> None:
        """Send `data` compressed."""
        self.sock.sendall(self.deflate(data))

    def recv(self, size: int) -> bytes:
        """The next inflated bytes (b"" at end of stream)."""
        while True:
            chunk = self.sock.recv(size)
            if not chunk:
                return b""
            self.wire_in += len(chunk)
            plain = self.inflater.decompress(chunk)
            self.plain_in += len(plain)
            if plain:
                return plain

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


class LineClientLike(Protocol):
    """What `start_compression` needs of a client."""

    sock: socket.socket
    buffer: bytes

    def send_line(self, line: str) -> None: ...

    def read_line(self) -> str: ...


def start_compression(
    client: LineClientLike, tag: str = "z1", flush_mode: int = zlib.Z_SYNC_FLUSH
) -> DeflateSocket:
    """COMPRESS DEFLATE: the tagged OK arrives uncompressed, then the socket is wrapped.
    Returns the wrapper (its counters show what compression saved)."""
    client.send_line(f"{tag} COMPRESS DEFLATE")
    reply = client.read_line()
    assert reply.startswith(f"{tag} OK"), reply
    wrapped = DeflateSocket(client.sock, flush_mode)
    # Anything read past the OK is already compressed.
    client.buffer = wrapped.inflater.decompress(client.buffer)
    client.sock = wrapped  # type: ignore[assignment]
    return wrapped


class _InflatingReader(io.RawIOBase):
    """The read side of a compressed socket, for imaplib's `self.file`."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inflater = zlib.decompressobj(-15)
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self.pending:
            chunk = self.sock.recv(65536)
            if not chunk:
                return 0
            self.pending = self.inflater.decompress(chunk)
        count = min(len(buffer), len(self.pending))
        buffer[:count] = self.pending[:count]
        self.pending = self.pending[count:]
        return count


class CompressingIMAP4(imaplib.IMAP4):
    """stdlib imaplib with COMPRESS=DEFLATE: after the OK, reads inflate through `self.file`
    and `send` deflates. Nothing may be left buffered in the old file after the OK, which
    holds: a server sends nothing unasked right after it."""

    _deflater: zlib._Compress | None = None

    def compress_deflate(self) -> str:
        """Send COMPRESS DEFLATE; switch on OK and return `status text`."""
        imaplib.Commands.setdefault("COMPRESS", ("AUTH", "SELECTED"))
        typ, data = self._simple_command("COMPRESS", "DEFLATE")
        text = data[-1].decode() if data and isinstance(data[-1], bytes) else ""
        if typ == "OK":
            self._deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
            self.file = io.BufferedReader(_InflatingReader(self.sock))
        return f"{typ} {text}"

    def send(self, data: bytes) -> None:
        """Send `data`, compressed once COMPRESS is on."""
        if self._deflater is not None:
            data = self._deflater.compress(data) + self._deflater.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)
