"""A byte stream the protocol drivers read and write, over TCP with optional TLS.

Drivers know only this interface; `net/` knows no protocol. Foreign exceptions (OSError,
ssl.SSLError, ConnectionResetError) are translated here, once, into `StreamClosed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
from typing import Protocol

from tidings.net.channel_binding import channel_bindings

# How long close() lets buffered output drain to a peer that is not reading before it
# drops the connection outright (an MTA or mail client that is alive reads within this).
CLOSE_FLUSH_TIMEOUT = 5.0


class StreamClosed(Exception):
    """The peer went away or the transport failed."""


class Stream(Protocol):
    """What a protocol driver needs from a connection."""

    @property
    def peer_host(self) -> str:
        """The peer's IP address as text."""
        ...

    @property
    def is_loopback(self) -> bool:
        """Whether the peer is on this machine (plaintext passwords are allowed then)."""
        ...

    @property
    def is_tls(self) -> bool:
        """Whether the connection is encrypted now."""
        ...

    async def read(self, max_bytes: int = 65536) -> bytes:
        """Some bytes, or b"" at end of stream. Raises StreamClosed on a transport error."""
        ...

    async def write(self, data: bytes) -> None:
        """Write and wait until the buffer has drained. Raises StreamClosed."""
        ...

    async def start_tls(self, context: ssl.SSLContext) -> None:
        """Upgrade to TLS as the server side (STARTTLS / STLS)."""
        ...

    async def close(self) -> None:
        """Close the connection; never raises."""
        ...


class TcpStream:
    """`Stream` over asyncio's StreamReader/StreamWriter."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        sock = writer.get_extra_info("socket")
        peer = writer.get_extra_info("peername")
        self._quickack_socket: socket.socket | None = None
        if sock is not None and sock.family == socket.AF_UNIX:
            self._peer_host = "unix"  # a local process (LMTP from the MTA on this machine)
        else:
            self._peer_host = str(peer[0]) if peer else "unknown"
            if sock is not None and hasattr(socket, "TCP_QUICKACK"):
                self._quickack_socket = sock

    @property
    def peer_host(self) -> str:
        return self._peer_host

    @property
    def is_loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self._peer_host).is_loopback
        except ValueError:
            return self._peer_host == "unix"

    @property
    def is_tls(self) -> bool:
        return self._writer.get_extra_info("ssl_object") is not None

    def channel_bindings(self) -> dict[str, bytes]:
        """The TLS channel binding data of this connection by type (RFC 5056), {} if plain."""
        return channel_bindings(self._writer.get_extra_info("ssl_object"))

    async def read(self, max_bytes: int = 65536) -> bytes:
        try:
            data = await self._reader.read(max_bytes)
        except (OSError, ssl.SSLError) as error:
            raise StreamClosed(str(error)) from error
        self._ack_promptly()
        return data

    def _ack_promptly(self) -> None:
        """Acknowledge the client's segments at once, not when the delayed-ACK timer fires.

        A client that writes one command in pieces (imaplib and offlineimap send an APPEND
        literal and its closing CRLF with two writes) holds each piece back under Nagle's
        algorithm until the one before it is ACKed. With delayed ACKs every such APPEND
        stalled about 40 ms: we waited for the rest of the command, the client for our ACK.
        The kernel clears TCP_QUICKACK by itself, so it is set again after every read, as
        Dovecot does (`net_set_tcp_quickack`)."""
        if self._quickack_socket is not None:
            with contextlib.suppress(OSError):
                self._quickack_socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)

    async def write(self, data: bytes) -> None:
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (OSError, ssl.SSLError, RuntimeError) as error:
            raise StreamClosed(str(error)) from error

    async def start_tls(self, context: ssl.SSLContext) -> None:
        try:
            await self._writer.drain()
            # Plaintext that asyncio already read past the STARTTLS/STLS line must not be
            # taken as if it came through TLS (RFC 2595 §3.1, RFC 9051 §6.2.1; the
            # CVE-2011-0411 class of bug). StreamReader has no public way to drop its buffer;
            # no await may come between this and start_tls, which pauses reading at once.
            self._reader._buffer.clear()  # type: ignore[attr-defined]
            await self._writer.start_tls(context)
        except (OSError, ssl.SSLError) as error:
            raise StreamClosed(str(error)) from error

    async def close(self) -> None:
        try:
            self._writer.close()
            # close() first flushes what is buffered; a peer that never reads would keep the
            # connection (and this task) forever, so after a grace period the rest is dropped.
            await asyncio.wait_for(self._writer.wait_closed(), timeout=CLOSE_FLUSH_TIMEOUT)
        except TimeoutError:
            self._writer.transport.abort()
        except (OSError, ssl.SSLError, RuntimeError):
            pass
