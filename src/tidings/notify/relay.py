"""Change notices between processes that share one store (DESIGN.md "Notifications").

SQLite has no LISTEN/NOTIFY, so processes tell each other over loopback UDP. A serving
process starts a *listening* relay: it binds 127.0.0.1:0 and registers the port in the
store's registry (`tidings.notify.registry`). Any process that writes the store (the server
itself, `tidings deliver`, `tidings user remove`, later `serve --workers N`) runs a relay as a
forwarder of its hub: every notice committed there is sent, batched per event-loop turn, to
every other registered relay, whose hub publishes it to local sessions only
(`NotificationHub.publish_external`), so nothing echoes back.

A datagram is a hint, not data: if one is lost (a full receive buffer on a swamped server),
the session sees the change with the next notice for that mailbox, as with an overflowed
subscription. On loopback that takes a receiver too busy to read for a whole buffer's worth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from pathlib import Path

from tidings.notify.api import ChangeNotice
from tidings.notify.hub import NotificationHub
from tidings.notify.registry import PeerRegistry, registry_dir
from tidings.notify.wire import decode, encode_batches

logger = logging.getLogger("tidings.notify")

LOOPBACK = "127.0.0.1"
# Largest datagram a relay sends. Loopback carries 64 KiB datagrams, but small ones keep a
# burst of notices from filling the receiver's buffer with a few huge reads; 8 KiB holds
# about a hundred notices.
MAX_DATAGRAM_BYTES = 8192
# Receive buffer of a listening relay (SO_RCVBUF; Linux doubles it for bookkeeping and caps it
# at net.core.rmem_max): room for thousands of batches while the event loop is busy.
RECEIVE_BUFFER_BYTES = 1024 * 1024


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self, relay: NotifyRelay) -> None:
        self._relay = relay

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self._relay.received(data)

    def error_received(self, exc: Exception) -> None:  # pragma: no cover - ICMP noise
        logger.debug("notify relay: %s", exc)


class NotifyRelay:
    """Forwards the hub's local notices to other processes, and theirs into the hub."""

    def __init__(
        self, hub: NotificationHub, registry: PeerRegistry, max_datagram_bytes: int
    ) -> None:
        self._hub = hub
        self._registry = registry
        self._max_datagram_bytes = max_datagram_bytes
        self._token = secrets.token_hex(16)
        self._sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sender.setblocking(False)
        self._inbox: asyncio.DatagramTransport | None = None
        self._pending: dict[tuple[str, int | None], ChangeNotice] = {}
        self._flush_handle: asyncio.Handle | None = None
        self._closed = False
        hub.add_forwarder(self._forward)

    @classmethod
    async def start(
        cls,
        hub: NotificationHub,
        data_dir: Path,
        *,
        listen: bool,
        max_datagram_bytes: int = MAX_DATAGRAM_BYTES,
        receive_buffer_bytes: int = RECEIVE_BUFFER_BYTES,
    ) -> NotifyRelay:
        """A relay for the store in `data_dir`. With `listen`, it also receives other
        processes' notices (a serving process); without, it only sends (a CLI command).
        Raises OSError if it cannot listen or register."""
        relay = cls(hub, PeerRegistry(registry_dir(data_dir)), max_datagram_bytes)
        if listen:
            try:
                await relay._listen(receive_buffer_bytes)
            except BaseException:
                await relay.close()
                raise
        return relay

    @property
    def port(self) -> int | None:
        """The UDP port a listening relay receives on (None for a sending-only relay)."""
        if self._inbox is None:
            return None
        return int(self._inbox.get_extra_info("sockname")[1])

    async def _listen(self, receive_buffer_bytes: int) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer_bytes)
            sock.bind((LOOPBACK, 0))
        except OSError:
            sock.close()
            raise
        loop = asyncio.get_running_loop()
        self._inbox, _ = await loop.create_datagram_endpoint(lambda: _Inbox(self), sock=sock)
        self._registry.register(int(sock.getsockname()[1]), self._token)

    def received(self, datagram: bytes) -> None:
        """Publish the notices of a datagram from another process (ignore bad ones)."""
        try:
            notices = decode(datagram, self._token)
        except ValueError as error:
            logger.debug("notify relay: ignoring a datagram: %s", error)
            return
        for notice in notices:
            self._hub.publish_external(notice)

    def _forward(self, notice: ChangeNotice) -> None:
        key = (notice.account.lower(), notice.mailbox_id)
        known = self._pending.get(key)
        if known is None or notice.modseq >= known.modseq:
            self._pending[key] = notice
        if self._flush_handle is None and not self._closed:
            self._flush_handle = asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Send the pending notices to every other registered relay now."""
        self._flush_handle = None
        if not self._pending:
            return
        notices, self._pending = list(self._pending.values()), {}
        for peer in self._registry.peers():
            for datagram in encode_batches(notices, peer.token, self._max_datagram_bytes):
                try:
                    self._sender.sendto(datagram, (LOOPBACK, peer.port))
                except OSError as error:  # a full buffer: the notice is only a hint
                    logger.debug("notify relay: cannot reach %s: %s", peer.name, error)

    async def close(self) -> None:
        """Send what is pending, leave the registry and close the sockets."""
        if self._closed:
            return
        self._closed = True
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self.flush()
        self._hub.remove_forwarder(self._forward)
        self._registry.unregister()
        if self._inbox is not None:
            self._inbox.close()
            # Let the transport's close callback run, so the socket is really closed.
            await asyncio.sleep(0)
        with contextlib.suppress(OSError):
            self._sender.close()
