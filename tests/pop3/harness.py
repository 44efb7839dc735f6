"""An in-process Tidings with POP3, POP3S and IMAP listeners on loopback, for POP3 tests.

The real drivers, sessions and SQLite store run in a background thread with their own event
loop, with limits chosen per test (short timeouts, no failed-login delay) and, with
`remote_peers`, connections that claim to come from off this machine (plaintext refusal).
Tests talk to it over real sockets with poplib, imaplib and `Pop3Line`.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tests.imap.harness import (
    FAST_LIMITS,
    PASSWORD,
    USER,
    RemoteTcpStream,
    open_test_backend,
    start_serving_thread,
)

from tidings.auth.authenticator import Authenticator
from tidings.core.limits import Limits
from tidings.imap.driver import serve_connection as serve_imap
from tidings.imap.session.context import ImapServerContext
from tidings.net.stream import TcpStream
from tidings.notify.hub import NotificationHub
from tidings.pop3.driver import serve_connection as serve_pop3
from tidings.pop3.session.context import Pop3ServerContext


def fast_limits(**changes: float) -> Limits:
    """FAST_LIMITS with some fields replaced."""
    return replace(FAST_LIMITS, **changes)  # type: ignore[arg-type]


def client_tls_context() -> ssl.SSLContext:
    """A client context that accepts the server's self-signed certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Pop3Harness:
    """POP3 (STLS), POP3S and IMAP listeners of one in-process server."""

    data_dir: Path
    limits: Limits = field(default_factory=lambda: FAST_LIMITS)
    remote_peers: bool = False  # connections claim not to be on loopback
    pop3_port: int = 0
    pop3s_port: int = 0
    imap_port: int = 0
    context: Pop3ServerContext | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _stop: asyncio.Event | None = None

    def start(self) -> Pop3Harness:
        """Start the thread and wait until every listener is up."""
        self._thread = start_serving_thread(self._serve)
        return self

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        hub = NotificationHub()
        backend, tls = await open_test_backend(self.data_dir, hub)
        authenticator = Authenticator(backend, self.limits)
        self.context = Pop3ServerContext(
            backend=backend, authenticator=authenticator, limits=self.limits, tls_context=tls
        )
        pop3_context = self.context
        imap_context = ImapServerContext(
            backend=backend,
            hub=hub,
            authenticator=authenticator,
            limits=self.limits,
            tls_context=tls,
        )
        tasks: set[asyncio.Task[Any]] = set()

        def handler(serve: Callable[[TcpStream], Awaitable[None]]) -> Handler:
            async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                stream_type = RemoteTcpStream if self.remote_peers else TcpStream
                stream = stream_type(reader, writer)
                task = asyncio.current_task()
                assert task is not None
                tasks.add(task)
                try:
                    await serve(stream)
                except asyncio.CancelledError:
                    pass
                finally:
                    tasks.discard(task)
                    await stream.close()

            return handle

        pop3 = await asyncio.start_server(
            handler(lambda s: serve_pop3(s, pop3_context)), "127.0.0.1", 0
        )
        pop3s = await asyncio.start_server(
            handler(lambda s: serve_pop3(s, pop3_context)), "127.0.0.1", 0, ssl=tls
        )
        imap = await asyncio.start_server(
            handler(lambda s: serve_imap(s, imap_context)), "127.0.0.1", 0
        )
        self.pop3_port = pop3.sockets[0].getsockname()[1]
        self.pop3s_port = pop3s.sockets[0].getsockname()[1]
        self.imap_port = imap.sockets[0].getsockname()[1]
        ready.set()
        async with pop3, pop3s, imap:
            await self._stop.wait()
            for task in list(tasks):
                task.cancel()
            if tasks:
                await asyncio.wait(list(tasks), timeout=5)
        await backend.close()

    def stop(self) -> None:
        """Stop the listeners and the thread."""
        close_all_lines()
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)

    def locks(self) -> set[str]:
        """The accounts whose maildrop is locked right now (read from the test thread)."""
        assert self.context is not None
        return set(self.context.maildrop_locks)


OPEN_LINES: list[Pop3Line] = []


def close_all_lines() -> None:
    """Close every Pop3Line a test left open."""
    while OPEN_LINES:
        OPEN_LINES.pop().close()


class Pop3Line:
    """A raw POP3 connection: send lines, read replies, with a timeout on every read."""

    def __init__(self, port: int, timeout: float = 10.0, tls: bool = False) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            sock = client_tls_context().wrap_socket(sock, server_hostname="localhost")
        self.sock = sock
        OPEN_LINES.append(self)
        self.buffer = b""
        self.greeting = self.read_line()

    def send(self, data: bytes | str) -> None:
        """Send raw bytes (a str is encoded as UTF-8)."""
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def read_line(self) -> str:
        """The next line without CRLF."""
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed; buffered {self.buffer!r}")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line.decode("utf-8", errors="replace")

    def command(self, line: str) -> str:
        """Send one command line, return the status line."""
        self.send(line + "\r\n")
        return self.read_line()

    def read_multiline(self) -> list[str]:
        """The lines of a multi-line body up to (not including) ".", still stuffed."""
        lines = []
        while (line := self.read_line()) != ".":
            lines.append(line)
        return lines

    def login(self, user: str = USER, password: str = PASSWORD) -> None:
        """USER/PASS and assert +OK."""
        assert self.command(f"USER {user}").startswith("+OK")
        reply = self.command(f"PASS {password}")
        assert reply.startswith("+OK"), reply

    def starttls(self) -> None:
        """STLS and wrap the socket."""
        assert self.command("STLS").startswith("+OK")
        self.sock = client_tls_context().wrap_socket(self.sock, server_hostname="localhost")

    def at_eof(self, timeout: float = 5.0) -> bool:
        """Whether the server closed the connection (after any buffered lines)."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()
