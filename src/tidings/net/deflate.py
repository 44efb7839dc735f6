"""`DeflateStream`: a `Stream` that deflates what it writes and inflates what it reads.

The transport of RFC 4978 (IMAP COMPRESS=DEFLATE), though nothing here knows IMAP: raw
DEFLATE (RFC 1951, no zlib header or trailer: zlib's negative window bits) in each
direction, from the first byte after the switch, over whatever the inner stream is (TCP or
TLS: data is compressed first and then encrypted, the layering RFC 4978 §3 requires).

Output. Every `write` ends with Z_SYNC_FLUSH (RFC 4978 §4, informative: flush whenever the
sender then waits for its peer), so a reply, an IDLE `+ idling` or a push update is never
held back in the compressor. The caller already batches replies and writes only when it
flushes (BufferedStream), so there is one sync flush (4 to 5 bytes) per batch, not per line.

Input. `read(max_bytes)` never returns more than `max_bytes`, however much the peer's bytes
inflate to: zlib is asked for at most that much (`decompress(data, max_length)`) and the
rest of the input waits in `unconsumed_tail`. A decompression bomb (1 KiB that inflates to
1 MiB, DEFLATE's limit is about 1:1032) therefore reaches the protocol parser in ordinary
64 KiB reads and meets the same line and literal limits as uncompressed input; it costs CPU,
as sending that much uncompressed would, but no memory beyond one read.

Memory per compressed connection (measured with tracemalloc, zlib 1.2.13): about 262 KiB
for the compressor (window 2^15 → 4·32 KiB, memLevel 8 → 128 KiB of hash and pending
buffer) and about 40 KiB for the decompressor (its 32 KiB window plus state), so ~300 KiB
in all, plus at most one read of input and output.
"""

from __future__ import annotations

import ssl
import zlib

from tidings.net.stream import Stream, StreamClosed

# Raw DEFLATE (RFC 1951) with the largest window, 2^15 bytes. The decompressor must accept
# any window the peer uses, so it is always 2^15. For the compressor it is a choice: over the
# test corpus's headers (FETCH of many headers, the usual sync traffic) 2^15 compresses to
# 21 %, 2^13 to 24 % and 2^12 to 27 %, while saving at most 180 KiB per connection; mobile
# clients on slow links are who asks for COMPRESS, so the ratio wins. Dovecot's deflate
# stream uses the same (windowBits -15, memLevel 8).
WINDOW_BITS = -15
MEM_LEVEL = 8
# zlib's default level, and Dovecot's (imap_zlib_compress_level = 6): level 9 compresses the
# corpus no better (65.9 % both, bodies are mostly already-compressed attachments) and
# level 1 only a little worse (68 %) at about half the CPU.
COMPRESS_LEVEL = 6
# Large writes (a FETCH of a big body) are compressed and written in slices of this size, so
# the compressor's output never has to be held whole and the peer starts receiving early.
WRITE_SLICE = 64 * 1024
# How much is read from the inner stream at a time.
INNER_READ_SIZE = 65536


class DeflateStream:
    """A `Stream` wrapping another one with raw DEFLATE both ways (RFC 1951, RFC 4978)."""

    def __init__(self, inner: Stream, already_read: bytes = b"") -> None:
        """`already_read`: bytes taken from `inner` before the switch that already belong to
        the compressed input (a client may pipeline commands right after COMPRESS)."""
        self._inner = inner
        self._deflater = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, WINDOW_BITS, MEM_LEVEL)
        self._inflater = zlib.decompressobj(WINDOW_BITS)
        self._input = already_read  # compressed input not yet given to zlib
        # The last inflate filled its output limit, so zlib may still hold output (of a long
        # match) that it produces before wanting more input.
        self._maybe_more = False

    @property
    def peer_host(self) -> str:
        return self._inner.peer_host

    @property
    def is_loopback(self) -> bool:
        return self._inner.is_loopback

    @property
    def is_tls(self) -> bool:
        return self._inner.is_tls

    async def read(self, max_bytes: int = 65536) -> bytes:
        """At most `max_bytes` inflated bytes, or b"" at end of stream (also when the peer
        ended its DEFLATE stream). Invalid DEFLATE data raises StreamClosed."""
        while True:
            if self._inflater.eof:
                return b""  # the peer sent a final block: nothing more can follow
            if self._input or self._maybe_more:
                data, self._input = self._input, b""
            else:
                # The only await: cancelling a read here loses nothing.
                data = await self._inner.read(INNER_READ_SIZE)
                if not data:
                    return b""
            try:
                out = self._inflater.decompress(data, max_bytes)
            except zlib.error as error:
                raise StreamClosed(f"invalid DEFLATE data: {error}") from error
            self._input = self._inflater.unconsumed_tail
            self._maybe_more = len(out) == max_bytes
            if out:
                return out

    async def write(self, data: bytes) -> None:
        """Compress `data`, sync-flush, and write it (RFC 4978 §4). Raises StreamClosed."""
        view = memoryview(data)
        for start in range(0, len(view), WRITE_SLICE):
            chunk = self._deflater.compress(view[start : start + WRITE_SLICE])
            if chunk:
                await self._inner.write(chunk)
        await self._inner.write(self._deflater.flush(zlib.Z_SYNC_FLUSH))

    async def start_tls(self, context: ssl.SSLContext) -> None:
        """Refused: TLS would have to start below the compression layer, which cannot be
        done once the peer compresses (IMAP never asks: STARTTLS is only valid before login,
        COMPRESS only after)."""
        raise StreamClosed("TLS cannot start inside a compressed stream")

    async def close(self) -> None:
        """Close the inner stream (a DEFLATE stream needs no final block, RFC 4978)."""
        await self._inner.close()
