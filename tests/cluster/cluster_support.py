"""Two `tidings serve` nodes on one PostgreSQL database, and small asyncio clients for them.

The clients are raw on purpose: the cluster tests time single responses (an IDLE's
`* n EXISTS` against an LMTP 250), send half a literal and then kill the server, and run
twenty connections at once, none of which imaplib does. Every read has a timeout, so a
wedged node fails a test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import (
    TEST_PASSWORD,
    TEST_USER,
    TidingsServer,
    free_port,
    tidings_command,
)

HOST = "127.0.0.1"
# Generous: the test machine may have two busy cores shared by two nodes and PostgreSQL.
COMMAND_TIMEOUT = 60.0
READ_LIMIT = 8 * 1024 * 1024  # longest response line the clients accept (FETCH of a mailbox)


# --- nodes -----------------------------------------------------------------------------------


@dataclass
class Node:
    """One `tidings serve --workers 1` process using the shared database."""

    name: str
    server: TidingsServer
    config_path: Path

    @property
    def imap_port(self) -> int:
        return self.server.imap_port

    @property
    def lmtp_port(self) -> int:
        return self.server.lmtp_port

    @property
    def pid(self) -> int:
        assert self.server.process is not None, f"node {self.name} is not running"
        return self.server.process.pid

    def alive(self) -> bool:
        return self.server.process is not None and self.server.process.poll() is None

    def start(self) -> None:
        self.server.start("--workers", "1", "--config", str(self.config_path))

    def stop(self) -> None:
        self.server.stop()

    def kill(self) -> None:
        """SIGKILL, like a crash: no shutdown grace for the sessions."""
        self.server.stop(kill=True)

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """Run `tidings ARGS` against this node's data dir and config; return stdout."""
        result = subprocess.run(
            tidings_command(*args),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            env={
                **os.environ,
                "TIDINGS_DATA": str(self.server.data_dir),
                "TIDINGS_CONFIG": str(self.config_path),
            },
            check=False,
        )
        assert result.returncode == 0, f"tidings {' '.join(args)}: {result.stderr}"
        return result.stdout


def make_node(base_dir: Path, name: str, dsn: str) -> Node:
    """A stopped node with its own data dir and ports (IMAP and LMTP only) on `dsn`."""
    data_dir = base_dir / name
    data_dir.mkdir(parents=True)
    config_path = data_dir / "tidings.toml"
    config_path.write_text(f'[storage]\nurl = "{dsn}"\nmigrate_on_start = true\n')
    server = TidingsServer(
        data_dir=data_dir, imap_port=free_port(), imaps_port=0, lmtp_port=free_port()
    )
    return Node(name, server, config_path)


def server_side_pids(server_port: int, client_port: int) -> set[int]:
    """The processes holding the server end of the loopback TCP connection
    127.0.0.1:client_port -> 127.0.0.1:server_port (Linux /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if (
                int(local.rsplit(":", 1)[1], 16) == server_port
                and int(remote.rsplit(":", 1)[1], 16) == client_port
            ):
                inodes.add(f"socket:[{inode}]")
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    pids.add(int(proc.name))
                    break
        except OSError:
            continue
    return pids


# --- IMAP ------------------------------------------------------------------------------------

_LITERAL_AT_END = re.compile(rb"\{(\d+)\+?\}\r\n$")


@dataclass
class Response:
    """One server response, its literals inline, and when its last byte arrived."""

    data: bytes
    at: float

    @property
    def tagged_ok(self) -> bool:
        return self.data.split(b" ", 2)[1:2] == [b"OK"]


class ConnectionLost(Exception):
    """The server closed the connection (or it was reset)."""


@dataclass
class ImapClient:
    """A minimal IMAP client over asyncio streams; LITERAL+ for everything it sends."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    _tags: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    async def connect(cls, port: int, *, login: bool = True) -> ImapClient:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(HOST, port, limit=READ_LIMIT), COMMAND_TIMEOUT
        )
        client = cls(reader, writer)
        greeting = await client.read_response()
        assert greeting.data.startswith(b"* OK"), greeting.data
        if login:
            await client.ok(f'LOGIN {TEST_USER} "{TEST_PASSWORD}"')
        return client

    @property
    def local_port(self) -> int:
        return int(self.writer.get_extra_info("sockname")[1])

    async def read_response(self, seconds: float = COMMAND_TIMEOUT) -> Response:
        """The next whole response (a line, with any literals and their continuations)."""
        return await asyncio.wait_for(self._read_response(), seconds)

    async def _read_response(self) -> Response:
        parts = []
        while True:
            try:
                line = await self.reader.readuntil(b"\r\n")
            except (asyncio.IncompleteReadError, ConnectionError) as error:
                raise ConnectionLost(str(error)) from error
            parts.append(line)
            literal = _LITERAL_AT_END.search(line)
            if literal is None:
                return Response(b"".join(parts), time.monotonic())
            try:
                parts.append(await self.reader.readexactly(int(literal.group(1))))
            except (asyncio.IncompleteReadError, ConnectionError) as error:
                raise ConnectionLost(str(error)) from error

    def next_tag(self) -> str:
        return f"t{next(self._tags)}"

    async def send(self, data: bytes) -> None:
        try:
            self.writer.write(data)
            await self.writer.drain()
        except ConnectionError as error:
            raise ConnectionLost(str(error)) from error

    async def command(
        self, command: str | bytes, seconds: float = COMMAND_TIMEOUT
    ) -> tuple[Response, list[Response], float]:
        """Send `command` (bytes may hold LITERAL+ literals); return the tagged response,
        the untagged ones before it, and when the command was sent."""
        tag = self.next_tag()
        payload = command.encode() if isinstance(command, str) else command
        sent = time.monotonic()
        await self.send(tag.encode() + b" " + payload + b"\r\n")
        untagged = []
        deadline = sent + seconds
        while True:
            response = await self.read_response(max(0.1, deadline - time.monotonic()))
            if response.data.startswith(tag.encode() + b" "):
                return response, untagged, sent
            untagged.append(response)

    async def ok(self, command: str | bytes, seconds: float = COMMAND_TIMEOUT) -> list[Response]:
        """`command`, which must succeed; its untagged responses."""
        tagged, untagged, _ = await self.command(command, seconds)
        assert tagged.tagged_ok, f"{command!r:.200} -> {tagged.data!r}"
        return untagged

    async def append(self, mailbox: str, message: bytes, flags: str = "") -> tuple[Response, float]:
        """APPEND with a LITERAL+ literal; the tagged response and when it was sent."""
        flag_list = f"({flags}) " if flags else ""
        command = f"APPEND {mailbox} {flag_list}{{{len(message)}+}}\r\n".encode() + message
        tagged, _, sent = await self.command(command)
        return tagged, sent

    async def fetch_all(self) -> dict[int, Message]:
        """Every message of the selected mailbox by UID: flags, size and Message-ID."""
        untagged = await self.ok(
            "UID FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"
        )
        return parse_fetches(untagged)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), 5)

    async def logout(self) -> None:
        with contextlib.suppress(ConnectionLost, TimeoutError):
            await self.command("LOGOUT", seconds=10)
        await self.close()


@dataclass(frozen=True)
class Message:
    """What a FETCH said about one message (fields it did not carry are None)."""

    uid: int
    flags: frozenset[str] | None
    size: int | None
    message_id: str | None
    modseq: int | None


_FETCH = re.compile(rb"^\* \d+ FETCH \(")
_UID = re.compile(rb"[( ]UID (\d+)")
_FLAGS = re.compile(rb"[( ]FLAGS \(([^)]*)\)")
_SIZE = re.compile(rb"[( ]RFC822\.SIZE (\d+)")
_MODSEQ = re.compile(rb"[( ]MODSEQ \((\d+)\)")
_MESSAGE_ID = re.compile(rb"(?im)^Message-ID:[ \t]*(<[^>\r\n]+>)")


def parse_fetch(data: bytes) -> Message | None:
    """A FETCH response as a Message (None if it is not a FETCH or has no UID)."""
    if not _FETCH.match(data):
        return None
    uid = _UID.search(data)
    if uid is None:
        return None
    flags = _FLAGS.search(data)
    size = _SIZE.search(data)
    modseq = _MODSEQ.search(data)
    message_id = _MESSAGE_ID.search(data)
    return Message(
        uid=int(uid.group(1)),
        flags=frozenset(flags.group(1).decode().split()) if flags else None,
        size=int(size.group(1)) if size else None,
        message_id=message_id.group(1).decode() if message_id else None,
        modseq=int(modseq.group(1)) if modseq else None,
    )


def parse_fetches(responses: Iterable[Response]) -> dict[int, Message]:
    """The FETCH responses among `responses` by UID (asserting no UID comes twice)."""
    messages: dict[int, Message] = {}
    for response in responses:
        message = parse_fetch(response.data)
        if message is not None:
            assert message.uid not in messages, f"UID {message.uid} fetched twice"
            messages[message.uid] = message
    return messages


def uid_set(text: str) -> list[int]:
    """An RFC 3501 uid-set (no `*`) in the order it lists them, each range ascending."""
    uids: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition(":")
        first, last = int(low), int(high or low)
        uids += range(min(first, last), max(first, last) + 1)
    return uids


def compact_uid_set(uids: Iterable[int]) -> str:
    """`uids` as a compact uid-set (1:3,7)."""
    ordered = sorted(set(uids))
    ranges: list[list[int]] = []
    for uid in ordered:
        if ranges and ranges[-1][1] == uid - 1:
            ranges[-1][1] = uid
        else:
            ranges.append([uid, uid])
    return ",".join(str(a) if a == b else f"{a}:{b}" for a, b in ranges)


def response_code(response: Response, name: str) -> list[str] | None:
    """The arguments of the response code [NAME ...] in `response`, or None."""
    found = re.search(rb"\[" + name.encode() + rb" ([^\]]*)\]", response.data)
    return found.group(1).decode().split() if found else None


def make_message(message_id: str, body_size: int = 200) -> bytes:
    """A small RFC 5322 message with `message_id` (angle brackets included)."""
    body = (b"x" * 70 + b"\r\n") * max(1, body_size // 72)
    return (
        f"From: load@example.test\r\nTo: {TEST_USER}\r\nSubject: {message_id}\r\n"
        f"Message-ID: {message_id}\r\nDate: Thu, 03 Dec 2026 12:00:00 +0000\r\n\r\n"
    ).encode() + body


# --- LMTP ------------------------------------------------------------------------------------


@dataclass
class LmtpClient:
    """An LMTP session that delivers one message at a time to one recipient."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @classmethod
    async def connect(cls, port: int) -> LmtpClient:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(HOST, port), COMMAND_TIMEOUT
        )
        client = cls(reader, writer)
        await client.reply(b"220")
        await client.command(b"LHLO cluster.test", b"250")
        return client

    async def reply(self, expected: bytes) -> tuple[bytes, float]:
        """A whole (multi-line) reply, which must have code `expected`; when it ended."""
        lines = []
        while True:
            line = await asyncio.wait_for(self.reader.readuntil(b"\r\n"), COMMAND_TIMEOUT)
            lines.append(line)
            if line[3:4] != b"-":
                break
        at = time.monotonic()
        reply = b"".join(lines)
        assert reply.startswith(expected), reply
        return reply, at

    async def command(self, line: bytes, expected: bytes) -> tuple[bytes, float]:
        self.writer.write(line + b"\r\n")
        await self.writer.drain()
        return await self.reply(expected)

    async def deliver(self, message: bytes, recipient: str = TEST_USER) -> float:
        """Deliver `message`; the monotonic time the recipient's 250 arrived."""
        await self.command(b"MAIL FROM:<sender@example.test>", b"250")
        await self.command(f"RCPT TO:<{recipient}>".encode(), b"250")
        await self.command(b"DATA", b"354")
        stuffed = re.sub(rb"(?m)^\.", b"..", message)
        if not stuffed.endswith(b"\r\n"):
            stuffed += b"\r\n"
        self.writer.write(stuffed + b".\r\n")
        await self.writer.drain()
        _, at = await self.reply(b"250")
        return at

    async def close(self) -> None:
        with contextlib.suppress(
            ConnectionError, TimeoutError, asyncio.IncompleteReadError, AssertionError
        ):
            await asyncio.wait_for(self.command(b"QUIT", b"221"), 10)
        self.writer.close()
