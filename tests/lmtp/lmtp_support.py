"""Helpers of the LMTP tests: a raw LMTP client, reading mail back over IMAP, config files.

The raw client parses replies itself (not with tidings.lmtp.proto), so a bug in the server's
encoder cannot hide behind the same bug in the test's decoder.
"""

from __future__ import annotations

import imaplib
import re
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.conftest import TidingsServer

# The `reconfigure` fixture: restart the test's server with config tables, e.g.
# reconfigure(limits={"lmtp_timeout": 0.5}).
Reconfigure = Callable[..., "TidingsServer"]

# Every socket gets this timeout: a hung server fails the test instead of hanging the suite.
TIMEOUT = 10.0
SENDER = "sender@remote.example"

_REPLY_LINE = re.compile(rb"([2-5][0-9][0-9])([ -]?)(.*)")
_ENHANCED = re.compile(r"[245]\.[0-9]{1,3}\.[0-9]{1,3}")


@dataclass(frozen=True)
class Answer:
    """One reply as a client sees it: code, enhanced code (or ""), text of each line."""

    code: int
    enhanced: str
    lines: tuple[str, ...]

    @property
    def status(self) -> str:
        """`"250 2.1.5"`, or just `"220"` when there is no enhanced code."""
        return f"{self.code} {self.enhanced}".rstrip()

    @property
    def text(self) -> str:
        """The last line's text, without the enhanced code."""
        return self.lines[-1]


def _answer(code: int, texts: list[str]) -> Answer:
    enhanced = ""
    first = texts[0].split(" ", 1)[0]
    if _ENHANCED.fullmatch(first) and all(t.split(" ", 1)[0] == first for t in texts):
        enhanced = first
        texts = [t[len(first) :].lstrip(" ") for t in texts]
    return Answer(code, enhanced, tuple(texts))


class RawLmtp:
    """A line-level LMTP client over TCP or a Unix socket; sees every reply in order."""

    def __init__(self, port: int = 0, *, path: str | None = None, host: str = "127.0.0.1"):
        if path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(TIMEOUT)
            self.sock.connect(path)
        else:
            self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self._buffer = b""
        self.greeting = self.read_reply()

    def __enter__(self) -> RawLmtp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the socket (no QUIT)."""
        self.sock.close()

    def send(self, data: bytes | str) -> None:
        """Write raw bytes (a str is sent as UTF-8)."""
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def _line(self) -> bytes:
        while b"\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed; unread: {self._buffer!r}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        if not line.endswith(b"\r"):
            raise AssertionError(f"reply line without CRLF: {line!r}")
        return line[:-1]

    def read_reply(self) -> Answer:
        """The next complete (possibly multi-line) reply."""
        texts: list[str] = []
        while True:
            line = self._line()
            match = _REPLY_LINE.fullmatch(line)
            if match is None:
                raise AssertionError(f"not a reply line: {line!r}")
            texts.append(match.group(3).decode())
            if match.group(2) != b"-":
                return _answer(int(match.group(1)), texts)

    def command(self, line: str | bytes) -> Answer:
        """Send one command line (CRLF added) and read its reply."""
        raw = line.encode() if isinstance(line, str) else line
        self.send(raw + b"\r\n")
        return self.read_reply()

    def read_replies(self, count: int) -> list[Answer]:
        """The next `count` replies."""
        return [self.read_reply() for _ in range(count)]

    def at_eof(self, wait: float = TIMEOUT) -> bool:
        """Whether the server closes the connection within `wait` seconds (with no unread
        replies before the close)."""
        if self._buffer:
            return False
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(1) == b""
        except TimeoutError:
            return False
        except OSError:
            return True  # reset by the peer: closed too
        finally:
            self.sock.settimeout(TIMEOUT)


def unique_subject(prefix: str = "lmtp") -> str:
    """A subject no other test uses, to find a message again."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def make_message(subject: str, body: bytes = b"Hello from LMTP.\r\n", extra: bytes = b"") -> bytes:
    """A small RFC 5322 message with CRLF line ends."""
    return (
        b"From: Sender <" + SENDER.encode() + b">\r\n"
        b"To: alice@example.test\r\n"
        b"Subject: " + subject.encode() + b"\r\n"
        b"Message-ID: <"
        + uuid.uuid4().hex.encode()
        + b"@remote.example>\r\n"
        + extra
        + b"\r\n"
        + body
    )


def trace_prefix(sender: str, recipient: str) -> bytes:
    """The fields a delivery prepends, in Dovecot's form (Return-Path, Delivered-To)."""
    return f"Return-Path: <{sender}>\r\nDelivered-To: {recipient}\r\n".encode()


def fetch_all(port: int, user: str, password: str, mailbox: str = "INBOX") -> list[bytes]:
    """Every message of `mailbox`, as stored, in UID order (read over IMAP)."""
    with imaplib.IMAP4("127.0.0.1", port, timeout=TIMEOUT) as imap:
        imap.login(user, password)
        status, _ = imap.select(f'"{mailbox}"', readonly=True)
        assert status == "OK", mailbox
        status, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[])")
        assert status == "OK"
        messages = [part[1] for part in data if isinstance(part, tuple)]
        imap.logout()
    return [bytes(m) for m in messages]


def find_message(
    port: int, user: str, password: str, subject: str, mailbox: str = "INBOX"
) -> bytes | None:
    """The one message of `mailbox` whose header holds `subject`, or None."""
    needle = f"Subject: {subject}\r\n".encode()
    found = [m for m in fetch_all(port, user, password, mailbox) if needle in m]
    assert len(found) <= 1, f"{len(found)} messages with subject {subject}"
    return found[0] if found else None


def write_config(directory: Path, **tables: dict[str, Any]) -> Path:
    """A TOML config file with the given tables, e.g. limits={"lmtp_timeout": 0.5}."""
    lines: list[str] = []
    for table, values in tables.items():
        lines.append(f"[{table}]")
        for key, value in values.items():
            lines.append(f"{key} = {_toml_value(value)}")
    path = directory / f"config-{uuid.uuid4().hex[:8]}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
