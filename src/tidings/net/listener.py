"""TCP listeners: accept connections, wrap them as `Stream`s, run a protocol handler on each.

The listener knows no protocol. It owns each connection's lifetime: the stream is closed when
the handler returns or fails, unexpected errors are logged with the peer (one bad connection
never stops the server), and every live connection is tracked so that shutdown can close them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tidings.net.stream import Stream, StreamClosed, TcpStream

logger = logging.getLogger(__name__)

# Implicit TLS: a client that connects and never finishes the handshake is dropped after this
# long (nginx's ssl_handshake_timeout default is 60s; a mail client needs far less).
TLS_HANDSHAKE_TIMEOUT = 30.0
# On shutdown, how long sessions get to finish (e.g. write BYE) before they are cancelled.
SHUTDOWN_GRACE = 5.0

LISTEN_BACKLOG = 4096
"""Connections the kernel queues before we accept them (asyncio's default is 100): a burst
of clients reconnecting after a restart would otherwise see dropped SYNs and wait a second
or more to retry (the kernel caps it at net.core.somaxconn)."""

Handler = Callable[[Stream], Awaitable[None]]


class ConnectionRegistry:
    """The live connections of one or more listeners, for a clean shutdown."""

    def __init__(self) -> None:
        self._active: dict[asyncio.Task[object], TcpStream] = {}

    def __len__(self) -> int:
        return len(self._active)

    def add(self, task: asyncio.Task[object], stream: TcpStream) -> None:
        """Track `stream`, served by `task`."""
        self._active[task] = stream

    def discard(self, task: asyncio.Task[object]) -> None:
        """Forget the connection served by `task`."""
        self._active.pop(task, None)

    async def close_all(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Close every connection: close the streams, which ends the handlers' reads, wait up
        to `grace` seconds for the handlers to return, then cancel the rest."""
        tasks = list(self._active)
        for stream in list(self._active.values()):
            await stream.close()
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=grace)


async def start_listener(
    host: str,
    port: int,
    handler: Handler,
    *,
    ssl_context: ssl.SSLContext | None = None,
    connections: ConnectionRegistry | None = None,
) -> asyncio.Server:
    """Listen on `host`:`port` and run `handler` for each connection.

    With `ssl_context` the connection is implicit TLS (IMAPS, POP3S): the handshake completes
    before `handler` runs. Live connections are added to `connections` when given.
    """
    registry = connections if connections is not None else ConnectionRegistry()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _serve_one(reader, writer, handler, registry)

    return await asyncio.start_server(
        on_connect,
        host=host,
        port=port,
        ssl=ssl_context,
        ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT if ssl_context is not None else None,
        reuse_address=True,
        backlog=LISTEN_BACKLOG,
    )


async def start_listener_on(
    sock: socket.socket,
    handler: Handler,
    *,
    ssl_context: ssl.SSLContext | None = None,
    connections: ConnectionRegistry | None = None,
) -> asyncio.Server:
    """Like start_listener, on a socket that is already bound and listening (one a
    supervisor bound and handed to this worker process: `tidings serve --workers N`).
    A TCP socket gets implicit TLS with `ssl_context`; a Unix socket is left in place when
    the server closes, since other processes still accept on it."""
    registry = connections if connections is not None else ConnectionRegistry()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _serve_one(reader, writer, handler, registry)

    if sock.family == socket.AF_UNIX:
        # Python 3.13 removes the socket file when a Unix server closes; not ours to remove.
        keep: dict[str, Any] = {"cleanup_socket": False} if sys.version_info >= (3, 13) else {}
        return await asyncio.start_unix_server(on_connect, sock=sock, **keep)
    return await asyncio.start_server(
        on_connect,
        sock=sock,
        ssl=ssl_context,
        ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT if ssl_context is not None else None,
    )


def bind_listening_sockets(host: str, port: int) -> list[socket.socket]:
    """Bind and listen on `host`:`port` as asyncio's start_server does (one socket per
    address the host resolves to; IPv6 sockets are IPv6-only), for start_listener_on in
    other processes. The sockets are inheritable. Raises OSError."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, protocol, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, protocol)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(LISTEN_BACKLOG)
            sock.set_inheritable(True)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def bind_unix_listening_socket(path: Path) -> socket.socket:
    """Bind and listen on the Unix socket `path` as start_unix_listener does (a stale
    socket file is replaced; mode 0660), for start_listener_on. Raises OSError."""
    _clear_socket_path(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        path.chmod(0o660)
        sock.listen(LISTEN_BACKLOG)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


async def start_unix_listener(
    path: Path, handler: Handler, *, connections: ConnectionRegistry | None = None
) -> asyncio.Server:
    """Listen on the Unix socket `path` (LMTP from a local MTA) and run `handler` for each
    connection. A stale socket file left by a crashed server is replaced; the socket is
    made group-writable so an MTA in the owning group can connect."""
    registry = connections if connections is not None else ConnectionRegistry()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _serve_one(reader, writer, handler, registry)

    await asyncio.to_thread(_clear_socket_path, path)
    server = await asyncio.start_unix_server(on_connect, path=str(path), backlog=LISTEN_BACKLOG)
    await asyncio.to_thread(path.chmod, 0o660)
    return server


def _clear_socket_path(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_socket():
        path.unlink()


async def _serve_one(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    handler: Handler,
    registry: ConnectionRegistry,
) -> None:
    stream = TcpStream(reader, writer)
    _enable_keepalive(writer)
    task = asyncio.current_task()
    if task is not None:
        registry.add(task, stream)
    try:
        await handler(stream)
    except StreamClosed:
        pass  # the peer went away: normal for mail clients
    except Exception:
        logger.exception("connection from %s failed", stream.peer_host)
    finally:
        if task is not None:
            registry.discard(task)
        await stream.close()


def _enable_keepalive(writer: asyncio.StreamWriter) -> None:
    """Turn on TCP keepalive so connections to vanished clients (a phone that lost its
    network mid-IDLE) are eventually reaped by the kernel."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


def parse_listen_address(text: str) -> tuple[str, int] | None:
    """Parse `HOST:PORT`, `[IPv6]:PORT` or `off` (None). Raises ValueError otherwise."""
    value = text.strip()
    if value.lower() == "off":
        return None
    if value.startswith("["):
        host, separator, port_text = value[1:].partition("]:")
        if not separator:
            raise ValueError(f"bad listen address {text!r}: expected [IPv6]:PORT")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"bad listen address {text!r}: {host!r} is not IPv6") from None
    else:
        host, separator, port_text = value.rpartition(":")
        if not separator or not host:
            raise ValueError(f"bad listen address {text!r}: expected HOST:PORT or off")
        if ":" in host:
            raise ValueError(f"bad listen address {text!r}: write IPv6 as [ADDRESS]:PORT")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"bad listen address {text!r}: port must be 0-65535")
    return host, int(port_text)


def format_address(host: str, port: int) -> str:
    """`host:port`, with brackets around an IPv6 host."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bound_addresses(server: asyncio.Server) -> list[str]:
    """Where `server` actually listens (resolves port 0 to the chosen port)."""
    return [format_address(*sock.getsockname()[:2]) for sock in server.sockets]
