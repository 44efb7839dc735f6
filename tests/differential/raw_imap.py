"""A minimal IMAP client that keeps the server's exact bytes, for differential tests.

imaplib is the stdlib client, but it rewrites what we need to compare: `append()` maps every
bare LF to CRLF, and responses come back split into tuples around literals. This client sends
what it is given (synchronizing literals, RFC 3501 §4.3: wait for `+` before the data) and
returns every response as one bytes object with its literals inline, `{n}\\r\\n` included.

The value parser follows RFC 3501 §9 / RFC 9051 §9 loosely, as a reader of server output:
  string  = quoted / literal          quoted = DQUOTE *QUOTED-CHAR DQUOTE
  literal = "{" number "}" CRLF *CHAR8
  list    = "(" [value *(SP value)] ")"
  nil     = "NIL"
Atoms may carry a section in brackets (`BODY[HEADER.FIELDS (A B)]<0>`), read as one token.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import socket
from dataclasses import dataclass
from typing import TypeAlias

import pytest

# Where the differential test leaves its summary lines for conftest's terminal summary hook
# (kept here because conftest.py cannot import a test module under --import-mode=importlib).
SUMMARY_KEY = pytest.StashKey[list[str]]()

_LITERAL_AT_END = re.compile(rb"\{(\d+)\+?\}\r\n$")


@dataclass(frozen=True)
class Literal:
    """A command argument sent as a synchronizing literal."""

    data: bytes


@dataclass(frozen=True)
class Str:
    """A string value from the server, with the form it was sent in."""

    value: bytes
    literal: bool


@dataclass(frozen=True)
class Atom:
    value: bytes


Value: TypeAlias = "Str | Atom | list[Value] | None"  # None is NIL


@dataclass(frozen=True)
class Reply:
    """Everything the server sent for one command: untagged responses and the tagged one."""

    untagged: list[bytes]
    tagged: bytes

    @property
    def status(self) -> bytes:
        """`OK`, `NO` or `BAD`; for NO and BAD with the response code when there is one
        (`NO [UNKNOWN-CTE]`): what a client acts on, without the human-readable text."""
        parts = self.tagged.split(b" ", 2)
        status = parts[1].upper() if len(parts) > 1 else b"?"
        rest = parts[2] if len(parts) > 2 else b""
        if status != b"OK" and rest.startswith(b"["):
            code = rest[1:].split(b"]", 1)[0].split(b" ", 1)[0].upper()
            return status + b" [" + code + b"]"
        return status


class ProtocolError(Exception):
    pass


class RawImap:
    """One connection. `command()` sends a command and collects the raw reply."""

    def __init__(self, host: str, port: int, timeout: float = 60.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""
        self.counter = 0
        self.greeting = self.read_response()

    def close(self) -> None:
        with contextlib.suppress(OSError, ProtocolError):
            self.command(b"LOGOUT")
        self.sock.close()

    def __enter__(self) -> RawImap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading --------------------------------------------------------------------------
    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ProtocolError("connection closed by server")
        self.buffer += chunk

    def _read_line(self) -> bytes:
        while True:
            end = self.buffer.find(b"\r\n")
            if end >= 0:
                line, self.buffer = self.buffer[: end + 2], self.buffer[end + 2 :]
                return line
            self._fill()

    def _read_exact(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def read_response(self) -> bytes:
        """One whole response: a line, plus each literal it announces and the line after."""
        response = self._read_line()
        while (match := _LITERAL_AT_END.search(response)) is not None:
            response += self._read_exact(int(match.group(1)))
            response += self._read_line()
        return response

    # -- commands -------------------------------------------------------------------------
    def command(self, *parts: bytes | str | Literal) -> Reply:
        """Send `TAG parts...` (joined by nothing: put the spaces in the parts) and read until
        the tagged reply."""
        self.counter += 1
        tag = b"d%d" % self.counter
        pending = tag + b" "
        for part in parts:
            if isinstance(part, Literal):
                self.sock.sendall(pending + b"{%d}\r\n" % len(part.data))
                pending = b""
                untagged_before: list[bytes] = []
                while True:
                    line = self.read_response()
                    if line.startswith(b"+"):
                        break
                    if line.startswith(tag + b" "):
                        return Reply(untagged_before, line)
                    untagged_before.append(line)
                pending = part.data
            else:
                pending += part.encode() if isinstance(part, str) else part
        self.sock.sendall(pending + b"\r\n")
        untagged: list[bytes] = []
        while True:
            line = self.read_response()
            if line.startswith(tag + b" "):
                return Reply(untagged, line)
            untagged.append(line)

    def login(self, user: str, password: str) -> None:
        reply = self.command(b"LOGIN ", quote(user.encode()), b" ", quote(password.encode()))
        if not reply.tagged.split(b" ")[1].upper() == b"OK":
            raise ProtocolError(f"LOGIN failed: {reply.tagged!r}")


def quote(data: bytes) -> bytes:
    """A quoted string (RFC 3501 §4.3), for arguments that have no CR, LF or 8-bit bytes."""
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


# -- parsing server values -------------------------------------------------------------------
def parse_value(buf: bytes, pos: int) -> tuple[Value, int]:
    """Parse one value at `pos`; return it and the position after it."""
    char = buf[pos : pos + 1]
    if char == b"(":
        return _parse_list(buf, pos + 1)
    if char == b'"':
        return _parse_quoted(buf, pos + 1)
    if char == b"~" and buf[pos + 1 : pos + 2] == b"{":
        return _parse_literal(buf, pos + 1)  # literal8 (RFC 3516 §4.2): same shape
    if char == b"{":
        return _parse_literal(buf, pos)
    return _parse_atom(buf, pos)


def _parse_list(buf: bytes, pos: int) -> tuple[list[Value], int]:
    items: list[Value] = []
    while True:
        while buf[pos : pos + 1] == b" ":
            pos += 1
        if buf[pos : pos + 1] == b")":
            return items, pos + 1
        if pos >= len(buf):
            raise ProtocolError("unterminated list")
        item, pos = parse_value(buf, pos)
        items.append(item)


def _parse_quoted(buf: bytes, pos: int) -> tuple[Str, int]:
    out = bytearray()
    while True:
        c = buf[pos : pos + 1]
        if not c:
            raise ProtocolError("unterminated quoted string")
        if c == b"\\":
            out += buf[pos + 1 : pos + 2]
            pos += 2
        elif c == b'"':
            return Str(bytes(out), literal=False), pos + 1
        else:
            out += c
            pos += 1


_LITERAL_PREFIX = re.compile(rb"\{(\d+)\+?\}\r\n")


def _parse_literal(buf: bytes, pos: int) -> tuple[Str, int]:
    match = _LITERAL_PREFIX.match(buf, pos)
    if match is None:
        raise ProtocolError(f"bad literal at {pos}")
    start, size = match.end(), int(match.group(1))
    return Str(buf[start : start + size], literal=True), start + size


def _parse_atom(buf: bytes, pos: int) -> tuple[Atom | None, int]:
    """An atom, possibly with a [section] (which may hold spaces) and a <partial>."""
    start = pos
    depth = 0
    while pos < len(buf):
        c = buf[pos : pos + 1]
        if c == b"[":
            depth += 1
        elif c == b"]":
            depth -= 1
        elif depth == 0 and c in b" ()\r\n":
            break
        pos += 1
    atom = buf[start:pos]
    if not atom:
        raise ProtocolError(f"empty atom at {pos}: {buf[pos : pos + 20]!r}")
    if atom.upper() == b"NIL":
        return None, pos
    return Atom(atom), pos


_FETCH = re.compile(rb"\* (\d+) FETCH ", re.IGNORECASE)


def parse_fetch(response: bytes) -> tuple[int, dict[bytes, tuple[Value, bytes]]] | None:
    """`* N FETCH (name value ...)` -> (N, {NAME: (value, raw bytes of value)})."""
    match = _FETCH.match(response)
    if match is None:
        return None
    pos = match.end()
    if response[pos : pos + 1] != b"(":
        raise ProtocolError(f"FETCH without list: {response[:80]!r}")
    pos += 1
    items: dict[bytes, tuple[Value, bytes]] = {}
    while True:
        while response[pos : pos + 1] == b" ":
            pos += 1
        if response[pos : pos + 1] == b")":
            return int(match.group(1)), items
        name, pos = parse_value(response, pos)
        if not isinstance(name, Atom):
            raise ProtocolError(f"FETCH item name is not an atom: {name!r}")
        while response[pos : pos + 1] == b" ":
            pos += 1
        start = pos
        value, pos = parse_value(response, pos)
        items[name.value.upper()] = (value, response[start:pos])


def canonical(value: Value) -> bytes:
    """The value re-encoded with one form per string (quoted when it can be, else a literal),
    so that two encodings of the same value compare equal."""
    if value is None:
        return b"NIL"
    if isinstance(value, Atom):
        return value.value
    if isinstance(value, Str):
        data = value.value
        if any(b in b"\r\n\0" or b >= 0x80 for b in data):
            return b"{%d}\r\n" % len(data) + data
        return quote(data)
    return b"(" + b" ".join(canonical(item) for item in value) + b")"


def search_numbers(reply: Reply) -> list[int]:
    """The numbers of `* SEARCH n n n` (or `* ESEARCH ... ALL 1:3,5`) in a reply."""
    numbers: list[int] = []
    for line in reply.untagged:
        upper = line.upper()
        if upper.startswith(b"* SEARCH"):
            numbers += [int(word) for word in line[8:].split() if word.isdigit()]
        elif upper.startswith(b"* ESEARCH"):
            words = line.split()
            for key, val in itertools.pairwise(words):
                if key.upper() == b"ALL":
                    for piece in val.split(b","):
                        low, _, high = piece.partition(b":")
                        numbers += range(int(low), int(high or low) + 1)
    return sorted(numbers)
