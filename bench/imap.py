"""A small, fast asyncio IMAP client for load generation (not Tidings' own client: the
load generator must cost as little as it can, so it only splits lines and literals).

`command()` sends one command and returns the untagged lines and the tagged one; literals
in responses (`{n}`) are read and kept inline as bytes. `idle()` / `done()` hold IDLE.
"""

from __future__ import annotations

import asyncio
import contextlib
import re

_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")


class ImapError(Exception):
    """A NO or BAD where OK was expected, or a dropped connection."""


class BenchImap:
    """One connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._tag = 0

    @classmethod
    async def connect(
        cls, port: int, host: str = "127.0.0.1", source: str | None = None
    ) -> BenchImap:
        """Connect (from `source`, a loopback address, when given) and read the greeting."""
        local = (source, 0) if source else None
        reader, writer = await asyncio.open_connection(host, port, local_addr=local, limit=1 << 22)
        client = cls(reader, writer)
        greeting = await reader.readline()
        if not greeting.startswith(b"* OK"):
            raise ImapError(f"greeting {greeting!r}")
        return client

    async def read_response(self) -> bytes:
        """One response line, literals included."""
        line = await self.reader.readline()
        if not line:
            raise ImapError("connection closed")
        parts = [line]
        while match := _LITERAL.search(line):
            parts.append(await self.reader.readexactly(int(match.group(1))))
            line = await self.reader.readline()
            parts.append(line)
        return b"".join(parts)

    async def command(self, text: bytes | str, *, check: bool = True) -> tuple[list[bytes], bytes]:
        """(untagged lines, tagged line); ImapError on NO/BAD when `check`."""
        self._tag += 1
        tag = b"T%d" % self._tag
        data = text.encode() if isinstance(text, str) else text
        self.writer.write(tag + b" " + data + b"\r\n")
        untagged: list[bytes] = []
        while True:
            line = await self.read_response()
            if line.startswith(tag + b" "):
                if check and not line.startswith(tag + b" OK"):
                    raise ImapError(f"{data[:60]!r}: {line!r}")
                return untagged, line
            untagged.append(line)

    async def login(self, user: str, password: str) -> None:
        await self.command(f'LOGIN "{user}" "{password}"')

    async def append(self, mailbox: str, message: bytes, flags: str = "") -> bytes:
        """APPEND with a non-synchronizing literal (LITERAL+); the tagged line."""
        self._tag += 1
        tag = b"T%d" % self._tag
        head = f'APPEND "{mailbox}" ({flags}) {{{len(message)}+}}\r\n'.encode()
        self.writer.write(tag + b" " + head + message + b"\r\n")
        while True:
            line = await self.read_response()
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise ImapError(f"APPEND: {line!r}")
                return line

    async def idle(self) -> None:
        """Send IDLE and wait for the continuation."""
        self._tag += 1
        self._idle_tag = b"T%d" % self._tag
        self.writer.write(self._idle_tag + b" IDLE\r\n")
        line = await self.reader.readline()
        if not line.startswith(b"+"):
            raise ImapError(f"IDLE: {line!r}")

    async def done(self) -> None:
        """End IDLE."""
        self.writer.write(b"DONE\r\n")
        while True:
            line = await self.read_response()
            if line.startswith(self._idle_tag + b" "):
                return

    async def logout(self) -> None:
        with contextlib.suppress(ImapError, ConnectionError):
            await self.command("LOGOUT", check=False)
        self.close()

    def close(self) -> None:
        self.writer.close()
