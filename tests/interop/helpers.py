"""Helpers shared by the interop tests: targets, message builders, a raw line client."""

from __future__ import annotations

import contextlib
import imaplib
import re
import socket
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from imapclient import IMAPClient

# Every socket gets this timeout: a hung server fails the test instead of hanging the suite.
TIMEOUT = 10.0
# The second account of tests/conftest.py (and of tests/support/dovecot.py).
SECOND_USER = "bob@example.test"
SECOND_PASSWORD = "bob's password"


def unverified_context() -> ssl.SSLContext:
    """A client TLS context that accepts the servers' self-signed certificates."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def unique_name(prefix: str = "t") -> str:
    """A mailbox name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def make_message(
    subject: str = "hello",
    *,
    body: str = "Hello, world.\r\n",
    sender: str = "Carol Sender <carol@example.test>",
    to: str = "Alice <alice@example.test>",
    date: str = "Mon, 07 Feb 1994 21:52:25 -0800",
    extra: str = "",
) -> bytes:
    """A small RFC 5322 message with CRLF line ends."""
    text = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@example.test>\r\n{extra}\r\n{body}"
    )
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


MULTIPART = (
    b"From: Carol <carol@example.test>\r\n"
    b"To: alice@example.test\r\n"
    b"Subject: multipart\r\n"
    b"Date: Tue, 08 Feb 1994 10:00:00 +0000\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="XX"\r\n'
    b"\r\n"
    b"preamble\r\n"
    b"--XX\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"SGVsbG8sIGJpbmFyeSB3b3JsZC4=\r\n"
    b"--XX\r\n"
    b"Content-Type: text/html\r\n"
    b"\r\n"
    b"<p>second part</p>\r\n"
    b"--XX--\r\n"
)


class RawImap:
    """A minimal line-level IMAP client: sees every response in the order it arrives.

    imaplib files untagged responses in a dict by type and loses their order; tests about
    when a server may send EXPUNGE, or about IDLE, need the raw stream.
    """

    def __init__(self, host: str, port: int, *, tls: bool = False, timeout: float = TIMEOUT):
        sock = socket.create_connection((host, port), timeout=timeout)
        if tls:
            sock = unverified_context().wrap_socket(sock, server_hostname=host)
        self.sock = sock
        self.file = sock.makefile("rb")
        self.counter = 0
        self.greeting = self.read_response()

    def send(self, data: bytes) -> None:
        """Write raw bytes."""
        self.sock.sendall(data)

    def read_response(self) -> bytes:
        """One response with any literals inlined (ends with CRLF)."""
        line = self.file.readline()
        if not line:
            raise EOFError("server closed the connection")
        while (match := re.search(rb"\{(\d+)\}\r\n$", line)) is not None:
            line += self.file.read(int(match.group(1)))
            more = self.file.readline()
            if not more:
                raise EOFError("server closed the connection inside a response")
            line += more
        return line

    def next_tag(self) -> bytes:
        """A fresh command tag."""
        self.counter += 1
        return b"R%03d" % self.counter

    def command(self, text: str | bytes, *literals: bytes) -> tuple[list[bytes], bytes]:
        """Send a command (with `{n}` synchronizing literals in order) and read to its tagged
        response; returns (untagged responses, tagged line)."""
        tag = self.next_tag()
        data = text.encode() if isinstance(text, str) else text
        parts = _split_literals(data) if literals else [data]
        untagged: list[bytes] = []
        # Each line goes out in one write: split writes meet Nagle and delayed ACKs (40 ms).
        pending = tag + b" " + parts[0]
        for literal, rest in zip(literals, parts[1:], strict=True):
            self.send(pending + b"\r\n")
            while not (response := self.read_response()).startswith(b"+"):
                if response.startswith(tag + b" "):
                    return untagged, response
                untagged.append(response)
            pending = literal + rest
        self.send(pending + b"\r\n")
        while True:
            response = self.read_response()
            if response.startswith(tag + b" "):
                return untagged, response
            untagged.append(response)

    def login(self, user: str, password: str) -> None:
        """LOGIN or fail the test."""
        _, tagged = self.command(f"LOGIN {quote(user)} {quote(password)}")
        assert b" OK" in tagged, tagged

    def close(self) -> None:
        """Drop the connection without LOGOUT."""
        with contextlib.suppress(OSError):
            self.file.close()
            self.sock.close()


def _split_literals(data: bytes) -> list[bytes]:
    """Split a command at each `{n}` marker: the part up to and including the marker, then
    whatever follows each literal."""
    pieces = re.split(rb"(\{\d+\})", data)
    parts = [pieces[0] + pieces[1]]
    for index in range(2, len(pieces), 2):
        following = pieces[index]
        if index + 1 < len(pieces):
            following += pieces[index + 1]
        parts.append(following)
    return parts


def quote(text: str) -> str:
    """An IMAP quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class ImapTarget:
    """One IMAP server under test: where it listens and who may log in."""

    name: str
    host: str
    port: int
    ssl_port: int
    user: str
    password: str
    user2: str
    password2: str
    opened: list[Any] = field(default_factory=list)

    def track(self, conn: Any) -> Any:
        """Remember a connection so that `close_all` drops it even when a test fails."""
        self.opened.append(conn)
        return conn

    def close_all(self) -> None:
        """Close every connection the test opened through this target."""
        for conn in self.opened:
            with contextlib.suppress(Exception):
                if isinstance(conn, RawImap):
                    conn.close()
                else:  # imaplib.IMAP4 and IMAPClient both have shutdown()
                    conn.shutdown()
        self.opened.clear()

    def imaplib(self) -> imaplib.IMAP4:
        """A connected (not logged in) stdlib client on the plain port."""
        return self.track(imaplib.IMAP4(self.host, self.port, timeout=TIMEOUT))

    def imaplib_ssl(self) -> imaplib.IMAP4_SSL:
        """A connected stdlib client on the implicit-TLS port."""
        return self.track(
            imaplib.IMAP4_SSL(
                self.host, self.ssl_port, ssl_context=unverified_context(), timeout=TIMEOUT
            )
        )

    def login(self) -> imaplib.IMAP4:
        """A logged-in stdlib client."""
        conn = self.imaplib()
        conn.login(self.user, self.password)
        return conn

    def raw(self, *, login: bool = True) -> RawImap:
        """A raw line client, logged in unless told otherwise."""
        raw = self.track(RawImap(self.host, self.port))
        if login:
            raw.login(self.user, self.password)
        return raw

    def imapclient(self) -> Any:
        """A logged-in imapclient.IMAPClient."""
        client = self.track(IMAPClient(self.host, port=self.port, ssl=False, timeout=TIMEOUT))
        client.login(self.user, self.password)
        return client


def safe_logout(conn: imaplib.IMAP4) -> None:
    """LOGOUT, ignoring a connection the test already closed or broke."""
    with contextlib.suppress(imaplib.IMAP4.error, OSError, EOFError, AttributeError):
        conn.logout()


def deviation(request: pytest.FixtureRequest, target: ImapTarget, server: str, reason: str) -> None:
    """Mark this run as an intended deviation: on `server` the test is expected to fail
    (strictly: if it starts passing, the note is stale)."""
    if target.name == server:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


def tidings_only(target: ImapTarget, reason: str) -> None:
    """Skip the Dovecot run of a test of something Dovecot does not implement."""
    if target.name != "tidings":
        pytest.skip(reason)


def run(conn: imaplib.IMAP4, name: str, *args: str) -> tuple[str, list[Any]]:
    """Run a command imaplib has no method for; returns (status, tagged data)."""
    conn.untagged_responses.clear()
    tag = conn._command(name, *args)
    return conn._command_complete(name, tag)


def response_code(text: bytes | str, code: str) -> str | None:
    """The argument of `[CODE args]` in a response text, '' for a bare code, None if absent."""
    data = text.decode() if isinstance(text, bytes) else text
    match = re.search(r"\[" + re.escape(code) + r"(?: ([^\]]*))?\]", data)
    if match is None:
        return None
    return match.group(1) or ""


def expect_no(call: Callable[[], Any], code: str | None = None) -> str:
    """Run an imaplib call that must answer NO (optionally with a response code); returns
    the text."""
    with pytest.raises(imaplib.IMAP4.error) as info:
        typ, data = call()
        # Methods that return NO without raising (select, status, ...): turn it into the error.
        raise imaplib.IMAP4.error(f"{typ} {data!r}")
    text = str(info.value)
    if code is not None:
        assert f"[{code}" in text, text
    return text


# --- parsing FETCH responses ----------------------------------------------------------------

ATOM_END = b" ()\r\n"


class Incomplete(ValueError):
    """The bytes end before the value does."""


def parse_value(data: bytes, pos: int) -> tuple[Any, int]:
    """One IMAP value at `pos`: list, quoted string, literal, NIL, number or atom (an atom may
    carry a `[section (fields)]` and a `<partial>` as FETCH item names do)."""
    if pos >= len(data):
        raise Incomplete("end of data")
    char = data[pos : pos + 1]
    if char == b"(":
        items: list[Any] = []
        pos += 1
        while True:
            while data[pos : pos + 1] == b" ":
                pos += 1
            if pos >= len(data):
                raise Incomplete("unclosed list")
            if data[pos : pos + 1] == b")":
                return items, pos + 1
            value, pos = parse_value(data, pos)
            items.append(value)
    if char == b'"':
        out = bytearray()
        pos += 1
        while pos < len(data):
            byte = data[pos : pos + 1]
            if byte == b"\\":
                out += data[pos + 1 : pos + 2]
                pos += 2
            elif byte == b'"':
                return bytes(out), pos + 1
            else:
                out += byte
                pos += 1
        raise Incomplete("unclosed string")
    if char == b"~" and data[pos + 1 : pos + 2] == b"{":  # literal8 (RFC 3516 §4.1)
        pos += 1
        char = b"{"
    if char == b"{":
        end = data.index(b"}", pos)
        size = int(data[pos + 1 : end].rstrip(b"+-"))
        start = end + 1
        if data[start : start + 2] == b"\r\n":
            start += 2
        if start + size > len(data):
            raise Incomplete("short literal")
        return data[start : start + size], start + size
    end = pos
    depth = 0
    while end < len(data) and (
        depth or data[end : end + 1] not in (b" ", b"(", b")", b"\r", b"\n") or end == pos
    ):
        if data[end : end + 1] == b"[":
            depth += 1
        elif data[end : end + 1] == b"]":
            depth -= 1
        end += 1
    atom = data[pos:end]
    if atom.upper() == b"NIL":
        return None, end
    if atom.isdigit():
        return int(atom), end
    return atom.decode(), end


def parse_fetch(response: bytes) -> tuple[int, dict[str, Any]]:
    """`[* ]N FETCH (ITEM value ...)` -> (N, {ITEM upper-cased: value})."""
    match = re.match(rb"^(?:\* )?(\d+) (?:FETCH )?(?=\()", response, re.IGNORECASE)
    assert match is not None, response
    values, _ = parse_value(response, match.end())
    items = {str(values[i]).upper(): values[i + 1] for i in range(0, len(values), 2)}
    return int(match.group(1)), items


def fetch_responses(data: list[Any]) -> list[bytes]:
    """Re-join imaplib's FETCH data (tuples for literals, bytes for the rest) into one
    response per message."""
    responses: list[bytes] = []
    buffer = b""
    for entry in data:
        if entry is None:
            continue
        if isinstance(entry, tuple):
            buffer += entry[0] + b"\r\n" + entry[1]
            continue
        buffer += entry
        try:
            parse_fetch(buffer)
        except (Incomplete, ValueError, IndexError):
            continue
        responses.append(buffer)
        buffer = b""
    assert buffer == b"", buffer
    return responses


def fetch_items(
    conn: imaplib.IMAP4, message_set: str, items: str, *, uid: bool = False
) -> dict[int, dict[str, Any]]:
    """FETCH (or UID FETCH) with imaplib; returns {sequence number: {item: value}}."""
    if uid:
        typ, data = conn.uid("FETCH", message_set, items)
    else:
        typ, data = conn.fetch(message_set, items)
    assert typ == "OK", data
    return dict(parse_fetch(response) for response in fetch_responses(data))


def untagged_fetches(untagged: list[bytes]) -> dict[int, dict[str, Any]]:
    """The FETCH responses among a raw client's untagged lines."""
    return dict(parse_fetch(line) for line in untagged if re.match(rb"^\* \d+ FETCH ", line, re.I))
