"""`BufferedStream`: what every protocol driver needs between a `Stream` and its parser.

Replies are queued and written in one go (when a threshold is reached, or when the driver
flushes because its input ran dry: RFC 2920 / RFC 2449 §6.6 pipelining, and fewer writes for
IMAP); reads are one pending task that survives a wait that timed out (IDLE waits on the read
and on the hub at once), and the time of the last input feeds the autologout timers. It knows
no protocol: the IMAP, POP3 and LMTP drivers each feed what it reads to their own parser.
"""

from __future__ import annotations

import asyncio
import ssl
import time

from tidings.net.deflate import DeflateStream
from tidings.net.stream import Stream, StreamClosed, TcpStream

# Output is written once this much is queued, and whenever the driver flushes otherwise.
FLUSH_THRESHOLD = 64 * 1024
READ_SIZE = 65536


class BufferedStream:
    """A `Stream` with an output queue, a resumable read and an activity clock."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.last_activity = time.monotonic()
        self._out = bytearray()
        self._read_task: asyncio.Task[bytes] | None = None

    @property
    def is_tls(self) -> bool:
        return self.stream.is_tls

    @property
    def is_loopback(self) -> bool:
        return self.stream.is_loopback

    @property
    def peer_host(self) -> str:
        return self.stream.peer_host

    def channel_bindings(self) -> dict[str, bytes]:
        """The TLS channel bindings for SCRAM-*-PLUS (TcpStream.channel_bindings); {} for
        any other stream (they are asked for before authentication, so before COMPRESS)."""
        return self.stream.channel_bindings() if isinstance(self.stream, TcpStream) else {}

    # ------------------------------------------------------------------ output
    async def send(self, data: bytes, stalled_after: float | None = None) -> None:
        """Queue `data`; write the queue if it has grown past FLUSH_THRESHOLD (`flush`)."""
        self._out += data
        if len(self._out) >= FLUSH_THRESHOLD:
            await self.flush(stalled_after)

    async def flush(self, stalled_after: float | None = None) -> None:
        """Write what is queued. With `stalled_after`, a client that stops reading for that
        many seconds is treated as gone (StreamClosed), as one that stops writing is, and a
        write it took counts as activity."""
        if not self._out:
            return
        data = bytes(self._out)
        self._out.clear()
        if stalled_after is None:
            await self.stream.write(data)
            return
        try:
            # Not asyncio.wait_for: on Python 3.11 it runs the write in a new task and so
            # yields to the loop even when nothing blocks, and a TLS ClientHello sent right
            # after a STARTTLS/STLS reply could then be read as plaintext.
            async with asyncio.timeout(stalled_after):
                await self.stream.write(data)
        except TimeoutError as error:
            raise StreamClosed("the client stopped reading") from error
        self.last_activity = time.monotonic()

    # ------------------------------------------------------------------ input
    def pending_read(self) -> asyncio.Task[bytes]:
        """The read in progress, started if there is none (to wait on beside other things)."""
        if self._read_task is None:
            self._read_task = asyncio.ensure_future(self.stream.read(READ_SIZE))
        return self._read_task

    def take_read(self) -> bytes:
        """The result of the finished pending read: the bytes, or b"" at end of stream."""
        task = self._read_task
        assert task is not None and task.done()
        self._read_task = None
        data = task.result()
        if data:
            self.last_activity = time.monotonic()
        return data

    async def read(self, wait_seconds: float) -> bytes | None:
        """The next input: bytes, b"" at end of stream, None when `wait_seconds` pass (the
        read stays pending for the next call)."""
        task = self.pending_read()
        done, _ = await asyncio.wait({task}, timeout=max(wait_seconds, 0))
        if not done:
            return None
        return self.take_read()

    def cancel_read(self) -> None:
        """Stop a pending read (before TLS or at the end)."""
        if self._read_task is not None:
            self._read_task.cancel()
            self._read_task = None

    async def start_tls(self, context: ssl.SSLContext) -> None:
        """Upgrade to TLS; whatever was read but not yet parsed is the caller's to drop."""
        self.cancel_read()
        await self.stream.start_tls(context)

    @property
    def is_compressed(self) -> bool:
        """Whether DEFLATE is on (`start_deflate`)."""
        return isinstance(self.stream, DeflateStream)

    async def start_deflate(self, already_read: bytes) -> None:
        """DEFLATE both ways from here on (IMAP COMPRESS, RFC 4978 §3). What is queued is
        written uncompressed first. Input read before the switch but not yet parsed
        (`already_read`, then what a finished pending read got) is compressed: it is the
        first input inflated, not dropped as STARTTLS drops it."""
        await self.flush()
        task, self._read_task = self._read_task, None
        if task is not None and not task.done():
            task.cancel()  # a cancelled Stream.read has consumed nothing
            await asyncio.wait({task})
        if task is not None and not task.cancelled():
            already_read += task.result()
        self.stream = DeflateStream(self.stream, already_read)
