"""The client's wire behaviour against scripted servers: literals, SASL-IR, OAuth, NOTIFY."""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tidings.imap.client import AuthenticationFailed, Endpoint, ImapClient
from tidings.imap.proto.client_responses import Exists, ListItem, Status

Script = Callable[[socket.socket, list[bytes]], None]


class Fake:
    """A one-connection server running `script(conn, received_lines)` in a thread."""

    def __init__(self, script: Script) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._run, args=(script,), daemon=True)
        self.thread.start()

    def _run(self, script: Script) -> None:
        conn, _ = self.listener.accept()
        with conn:
            script(conn, self.received)

    def close(self) -> None:
        self.listener.close()
        self.thread.join(5)


def read_line(conn: socket.socket, received: list[bytes]) -> bytes:
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = conn.recv(1)
        if not chunk:
            break
        data += chunk
    received.append(data)
    return data


@pytest.fixture
def fake() -> Iterator[Callable[[Script], Fake]]:
    made: list[Fake] = []

    def make(script: Script) -> Fake:
        made.append(Fake(script))
        return made[-1]

    yield make
    for item in made:
        item.close()


def test_login_literal_waits_for_continuation(fake: Callable[[Script], Fake]) -> None:
    def script(conn: socket.socket, received: list[bytes]) -> None:
        conn.sendall(b"* OK [CAPABILITY IMAP4rev1] hi\r\n")
        line = read_line(conn, received)  # W1 LOGIN user {n}
        assert line.endswith(b"}\r\n")
        size = int(line.rsplit(b"{", 1)[1][:-3])
        conn.sendall(b"+ go\r\n")
        literal = b""
        while len(literal) < size + 2:
            literal += conn.recv(size + 2 - len(literal))
        received.append(literal)
        conn.sendall(b"W1 OK [CAPABILITY IMAP4rev1 IDLE] logged in\r\n")
        time.sleep(0.2)

    server = fake(script)

    async def main() -> None:
        client = await ImapClient.connect(Endpoint("127.0.0.1", server.port, "none"), timeout=5)
        await client.login("u", "pässwörd")
        assert "IDLE" in client.capabilities
        client.close()

    asyncio.run(main())
    assert server.received[0].startswith(b"W1 LOGIN u {")
    assert server.received[1] == "pässwörd\r\n".encode()


def test_literal_plus_and_quoted(fake: Callable[[Script], Fake]) -> None:
    def script(conn: socket.socket, received: list[bytes]) -> None:
        conn.sendall(b"* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n")
        for _ in range(3):  # the literal holds a CRLF of its own
            read_line(conn, received)
        conn.sendall(b"W1 OK done\r\n")
        time.sleep(0.2)

    server = fake(script)

    async def main() -> None:
        client = await ImapClient.connect(Endpoint("127.0.0.1", server.port, "none"), timeout=5)
        await client.command("X", "a b", "é\r\n", b"RAW")
        client.close()

    asyncio.run(main())
    assert server.received[0] == b'W1 X "a b" {4+}\r\n'
    assert server.received[1:] == ["é\r\n".encode(), b" RAW\r\n"]


def test_plain_with_sasl_ir_and_failure(fake: Callable[[Script], Fake]) -> None:
    def script(conn: socket.socket, received: list[bytes]) -> None:
        conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\r\n")
        read_line(conn, received)
        conn.sendall(b"W1 NO [AUTHENTICATIONFAILED] nope\r\n")
        time.sleep(0.2)

    server = fake(script)

    async def main() -> None:
        client = await ImapClient.connect(Endpoint("127.0.0.1", server.port, "none"), timeout=5)
        with pytest.raises(AuthenticationFailed, match="nope"):
            await client.login("u", "p")
        client.close()

    asyncio.run(main())
    expected = base64.b64encode(b"\0u\0p")
    assert server.received[0] == b"W1 AUTHENTICATE PLAIN " + expected + b"\r\n"


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_oauth_error_challenge(fake: Callable[[Script], Fake], mechanism: str) -> None:
    def script(conn: socket.socket, received: list[bytes]) -> None:
        conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=%s] hi\r\n" % mechanism.encode())
        read_line(conn, received)  # no SASL-IR: mechanism alone
        conn.sendall(b"+ \r\n")
        read_line(conn, received)  # initial response
        conn.sendall(b"+ eyJzdGF0dXMiOiI0MDEifQ==\r\n")  # RFC 7628 §3.2.2 error
        read_line(conn, received)  # empty reply
        conn.sendall(b"W1 NO bad token\r\n")
        time.sleep(0.2)

    server = fake(script)

    async def main() -> None:
        client = await ImapClient.connect(Endpoint("127.0.0.1", server.port, "none"), timeout=5)
        with pytest.raises(AuthenticationFailed):
            await client.authenticate_oauth(mechanism, "u@x", "tok")
        client.close()

    asyncio.run(main())
    assert server.received[0] == f"W1 AUTHENTICATE {mechanism}\r\n".encode()
    decoded = base64.b64decode(server.received[1])
    assert b"auth=Bearer tok\x01\x01" in decoded
    assert (b"n,a=u@x," if mechanism == "OAUTHBEARER" else b"user=u@x\x01") in decoded
    assert server.received[2] == b"\r\n"


def test_unsolicited_notify_events(fake: Callable[[Script], Fake]) -> None:
    def script(conn: socket.socket, received: list[bytes]) -> None:
        conn.sendall(b"* PREAUTH [CAPABILITY IMAP4rev1 NOTIFY] hi\r\n")
        time.sleep(0.1)
        conn.sendall(
            b'* STATUS "Junk" (MESSAGES 2 UIDNEXT 9)\r\n'
            b'* LIST () "/" "B" ("OLDNAME" ("A"))\r\n'
            b"* 3 EXISTS\r\n"
        )
        time.sleep(0.5)

    server = fake(script)

    async def main() -> None:
        client = await ImapClient.connect(Endpoint("127.0.0.1", server.port, "none"), timeout=5)
        assert client.greeting.status == "PREAUTH"
        got = [await client.next_unsolicited(2) for _ in range(3)]
        assert got[0] == Status("Junk", {"MESSAGES": 2, "UIDNEXT": 9})
        assert got[1] == ListItem(frozenset(), "/", "B", "A")
        assert got[2] == Exists(3)
        assert await client.next_unsolicited(0.1) is None
        client.close()

    asyncio.run(main())
