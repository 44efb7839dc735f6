"""An in-process Tidings IMAP server on loopback and a golden-transcript runner.

The server runs the real driver, session and SQLite store in a background thread with its
own event loop; tests talk to it over real sockets. Transcripts are `C<n>:` lines sent by
connection n and `S<n>:` lines it must receive next, where `…` matches any text.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from tidings.auth.authenticator import Authenticator
from tidings.auth.passwords import hash_password
from tidings.core.limits import Limits
from tidings.imap.driver import serve_connection
from tidings.imap.session.context import ImapServerContext
from tidings.net.stream import TcpStream
from tidings.net.tls import load_or_create_certificate
from tidings.notify.hub import NotificationHub
from tidings.storage.sqlite import SqliteBackend

USER = "alice@example.test"
PASSWORD = "secret"
OTHER_USER = "bob@example.test"
FAST_LIMITS = Limits(auth_failure_delay=0.0, auth_max_delay=0.0)
T = TypeVar("T")


class RemoteTcpStream(TcpStream):
    """A loopback connection that claims to come from elsewhere."""

    @property
    def is_loopback(self) -> bool:
        return False


def start_serving_thread(
    serve: Callable[[threading.Event], Coroutine[object, object, None]],
) -> threading.Thread:
    """Run `serve(ready)` on an event loop in a daemon thread; return once it sets `ready`,
    raising here whatever it raised before that."""
    ready = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(serve(ready))
        except BaseException as error:  # surfaced to the test below
            errors.append(error)
            ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(30)
    if errors:
        raise errors[0]
    return thread


async def open_test_backend(
    data_dir: Path, hub: NotificationHub
) -> tuple[SqliteBackend, ssl.SSLContext]:
    """The store in `data_dir` with USER and OTHER_USER (password PASSWORD), and the TLS
    context of the data dir's certificate."""
    backend = await SqliteBackend.open(data_dir / "mail.db", hub)
    for user in (USER, OTHER_USER):
        if await backend.password_hash(user) is None:
            await backend.add_account(user, hash_password(PASSWORD))
    return backend, load_or_create_certificate(data_dir, None, None)


@dataclass
class InProcessServer:
    """A Tidings IMAP listener on 127.0.0.1 in a thread of this process."""

    data_dir: Path
    limits: Limits = field(default_factory=lambda: FAST_LIMITS)
    remote_peers: bool = False  # pretend clients are not on loopback (LOGINDISABLED tests)
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _stop: asyncio.Event | None = None
    context: ImapServerContext | None = None

    def start(self) -> InProcessServer:
        """Start the thread and wait until the listener is up."""
        self._thread = start_serving_thread(self._serve)
        return self

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        hub = NotificationHub()
        backend, tls = await open_test_backend(self.data_dir, hub)
        self.context = ImapServerContext(
            backend=backend,
            hub=hub,
            authenticator=Authenticator(backend, self.limits),
            limits=self.limits,
            tls_context=tls,
        )
        context = self.context

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            stream = (
                RemoteTcpStream(reader, writer) if self.remote_peers else TcpStream(reader, writer)
            )
            try:
                await serve_connection(stream, context)
            except asyncio.CancelledError:
                pass
            finally:
                await stream.close()

        server = await asyncio.start_server(handle, "127.0.0.1", self.port)
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        async with server:
            await self._stop.wait()
        await backend.close()

    def stop(self) -> None:
        """Stop the listener and the thread (closing the test's clients first)."""
        close_all_clients()
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)

    def run_in_server(self, awaitable: Coroutine[object, object, T]) -> T:
        """Run a coroutine on the server's loop (e.g. a backend call) and wait for it."""
        assert self._loop is not None, "server not started"
        return asyncio.run_coroutine_threadsafe(awaitable, self._loop).result(30)

    def set_quota(self, storage_limit: int | None, message_limit: int | None) -> None:
        """Set USER's limits through the server's own backend, as `tidings user quota` would."""
        assert self.context is not None
        self.run_in_server(self.context.backend.set_quota(USER, storage_limit, message_limit))

    def with_limits(self, **changes: object) -> Limits:
        """Helper for tests: FAST_LIMITS with some fields replaced."""
        return replace(FAST_LIMITS, **changes)  # type: ignore[arg-type]


@contextmanager
def server_with_limits(data_dir: Path, **changes: object) -> Iterator[InProcessServer]:
    """A started InProcessServer in `data_dir` whose limits are FAST_LIMITS with `changes`
    (as `with_limits`); stopped when the block is left."""
    server = InProcessServer(data_dir)
    server.limits = server.with_limits(**changes)
    server.start()
    try:
        yield server
    finally:
        server.stop()


OPEN_CLIENTS: list[LineClient] = []


def close_all_clients() -> None:
    """Close every LineClient a test left open."""
    while OPEN_CLIENTS:
        OPEN_CLIENTS.pop().close()


class LineClient:
    """A raw line-oriented IMAP connection with a timeout on every read."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        OPEN_CLIENTS.append(self)
        self.buffer = b""
        self.greeting = self.read_line()

    def send(self, data: bytes | str) -> None:
        """Send raw bytes (a str is encoded as UTF-8)."""
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def send_line(self, line: str) -> None:
        """Send one line with CRLF."""
        self.send(line + "\r\n")

    def read_line(self) -> str:
        """The next line without CRLF (literals arrive as separate raw data)."""
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed; buffered {self.buffer!r}")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line.decode("utf-8", errors="replace")

    def read_exact(self, count: int) -> bytes:
        """Exactly `count` raw bytes (a literal's content)."""
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed inside a literal")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def command(self, tag: str, text: str) -> list[str]:
        """Send `tag text` and return every line up to and including the tagged reply."""
        self.send_line(f"{tag} {text}")
        return self.read_until_tagged(tag)

    def read_until_tagged(self, tag: str) -> list[str]:
        """Lines up to and including the one starting with `tag `."""
        lines = []
        while True:
            line = self.read_line()
            lines.append(line)
            if line.startswith(tag + " "):
                return lines

    def login(self, user: str = USER, password: str = PASSWORD) -> None:
        """LOGIN and assert OK."""
        reply = self.command("L1", f'LOGIN {user} "{password}"')
        assert reply[-1].startswith("L1 OK"), reply

    def starttls(self) -> None:
        """STARTTLS and wrap the socket."""
        assert self.command("T1", "STARTTLS")[-1].startswith("T1 OK")
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self.sock = context.wrap_socket(self.sock, server_hostname="localhost")

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


def _line_pattern(expected: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in expected.split("…")), re.DOTALL)


def run_transcript(
    server: InProcessServer,
    script: str,
    *,
    skip: re.Pattern[str] | None = None,
    connect: Callable[[], LineClient] | None = None,
    **values: object,
) -> None:
    """Play `script`: `C<n>: line` sends, `S<n>: line` expects connection n's next line,
    `W<n>: line` reads connection n's lines until one matches (for replies whose untagged
    lines other extensions extend); `…` matches anything. `{user}`, `{password}` and
    `{name}` (from `values`) are replaced. Lines matching `skip` (other extensions' codes)
    are passed over, in the script and in what the server sends. `connect` opens each
    connection (default: a fresh, not logged-in LineClient)."""
    play_transcript(server, script, values, skip=skip, connect=connect)


def play_transcript(
    server: InProcessServer,
    script: str,
    values: Mapping[str, object],
    *,
    skip: re.Pattern[str] | None = None,
    connect: Callable[[], LineClient] | None = None,
) -> None:
    """run_transcript with the `{name}` values as a mapping (for helpers that pass theirs on)."""
    clients: dict[str, LineClient] = {}
    try:
        for number, raw in enumerate(script.strip().splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            who, _, text = line.partition(": ")
            kind, connection = who[0], who[1:] or "1"
            if connection not in clients:
                clients[connection] = connect() if connect else LineClient(server.port)
            client = clients[connection]
            text = text.replace("{user}", USER).replace("{password}", PASSWORD)
            for name, value in values.items():
                text = text.replace("{" + name + "}", str(value))
            pattern = _line_pattern(text)
            if kind == "C":
                client.send_line(text)
            elif skip is not None and skip.match(text):
                continue
            elif kind == "S":
                got = client.read_line()
                while skip is not None and skip.match(got):
                    got = client.read_line()
                assert pattern.fullmatch(got), (
                    f"transcript line {number}: expected {text!r}, got {got!r}"
                )
            elif kind == "W":
                while not pattern.fullmatch(client.read_line()):
                    pass
            else:
                raise ValueError(f"bad transcript line {raw!r}")
    finally:
        for client in clients.values():
            client.close()
