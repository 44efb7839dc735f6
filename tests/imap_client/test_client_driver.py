"""The asyncio ImapClient against a real Tidings server (and a silent fake one)."""

from __future__ import annotations

import asyncio
import hashlib
import imaplib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import TEST_PASSWORD, TEST_USER, TidingsServer

from tidings.imap.client import (
    AuthenticationFailed,
    CertificateProblem,
    ConnectionLost,
    Endpoint,
    ImapClient,
)
from tidings.imap.proto.client_responses import Exists, Recent

MESSAGE = b"From: a@example.test\r\nTo: alice@example.test\r\nSubject: hi\r\n\r\nbody\r\n"


def cert_path(server: TidingsServer) -> str:
    return str(server.data_dir / "tls" / "cert.pem")


def fingerprint(server: TidingsServer) -> str:
    pem = Path(cert_path(server)).read_text()
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def starttls(server: TidingsServer, **kwargs: object) -> Endpoint:
    return Endpoint("127.0.0.1", server.imap_port, "starttls", **kwargs)  # type: ignore[arg-type]


def test_starttls_with_ca_file_and_login(server: TidingsServer) -> None:
    async def main() -> None:
        client = await ImapClient.connect(starttls(server, ca_file=cert_path(server)))
        assert client.tls_active
        assert "IMAP4REV1" in client.capabilities or "IMAP4REV2" in client.capabilities
        await client.login(TEST_USER, TEST_PASSWORD)
        result = await client.command("SELECT", "INBOX")
        assert result.tagged.status == "OK"
        assert result.tagged.code is not None and result.tagged.code.name == "READ-WRITE"
        assert any(isinstance(item, Exists) for item in result.untagged)
        await client.logout()

    asyncio.run(main())


def test_implicit_tls(server: TidingsServer) -> None:
    async def main() -> None:
        endpoint = Endpoint("localhost", server.imaps_port, "implicit", ca_file=cert_path(server))
        client = await ImapClient.connect(endpoint)
        await client.login(TEST_USER, TEST_PASSWORD)
        assert client.capabilities
        await client.logout()

    asyncio.run(main())


def test_wrong_ca_is_a_certificate_problem(server: TidingsServer) -> None:
    async def main() -> None:
        with pytest.raises(CertificateProblem):
            await ImapClient.connect(starttls(server))  # system CAs do not know it
        with pytest.raises(CertificateProblem):
            await ImapClient.connect(Endpoint("127.0.0.1", server.imaps_port, "implicit"))

    asyncio.run(main())


def test_fingerprint_pinning(server: TidingsServer) -> None:
    async def main() -> None:
        client = await ImapClient.connect(starttls(server, fingerprint=fingerprint(server)))
        await client.login(TEST_USER, TEST_PASSWORD)
        await client.logout()
        implicit = Endpoint(
            "127.0.0.1", server.imaps_port, "implicit", fingerprint=fingerprint(server).upper()
        )
        client = await ImapClient.connect(implicit)
        await client.logout()
        with pytest.raises(CertificateProblem, match="fingerprint"):
            await ImapClient.connect(starttls(server, fingerprint="00" * 32))

    asyncio.run(main())


def test_insecure_skips_verification(server: TidingsServer) -> None:
    async def main() -> None:
        client = await ImapClient.connect(starttls(server, verify=False))
        await client.login(TEST_USER, TEST_PASSWORD)
        await client.logout()

    asyncio.run(main())


def test_bad_password(server: TidingsServer) -> None:
    async def main() -> None:
        client = await ImapClient.connect(starttls(server, ca_file=cert_path(server)))
        with pytest.raises(AuthenticationFailed):
            await client.login(TEST_USER, 'wrong "pass\\word"')
        client.close()

    asyncio.run(main())


def test_plain_connection_keepalive_socket_options(server: TidingsServer) -> None:
    async def main() -> None:
        client = await ImapClient.connect(Endpoint("127.0.0.1", server.imap_port, "none"))
        sock = client._writer.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        if hasattr(socket, "TCP_KEEPIDLE"):
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 60
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 15
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 4
        await client.login(TEST_USER, TEST_PASSWORD)  # loopback: allowed without TLS
        await client.logout()

    asyncio.run(main())


def append_with_imaplib(server: TidingsServer) -> None:
    context = ssl.create_default_context(cafile=cert_path(server))
    with imaplib.IMAP4("127.0.0.1", server.imap_port) as other:
        other.starttls(context)
        other.login(TEST_USER, TEST_PASSWORD)
        status, _ = other.append("INBOX", None, None, MESSAGE)
        assert status == "OK"
        other.logout()


def test_idle_sees_exists_after_append(server: TidingsServer) -> None:
    async def main() -> None:
        client = await ImapClient.connect(starttls(server, ca_file=cert_path(server)))
        await client.login(TEST_USER, TEST_PASSWORD)
        await client.command("SELECT", "INBOX")
        async with client.idle() as idle:
            assert await idle.next(0.3) is None  # nothing happens: timeout gives None
            await asyncio.to_thread(append_with_imaplib, server)
            seen = None
            deadline = time.monotonic() + 10
            while seen is None and time.monotonic() < deadline:
                item = await idle.next(1)
                if isinstance(item, Exists):
                    seen = item
        assert seen == Exists(1)
        # after DONE the connection is usable again
        result = await client.command("NOOP")
        assert result.tagged.status == "OK"
        # what came between DONE and its OK (here * 1 RECENT) is kept, then nothing more
        leftovers = []
        while (item := await client.next_unsolicited(0.3)) is not None:
            leftovers.append(item)
        assert all(isinstance(item, (Exists, Recent)) for item in leftovers)
        await client.logout()

    asyncio.run(main())


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server that greets and then never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    connections: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hello\r\n")
            connections.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    listener.close()
    for conn in connections:
        conn.close()


def test_silent_server_times_out(silent_server: int) -> None:
    async def main() -> None:
        endpoint = Endpoint("127.0.0.1", silent_server, "none")
        client = await ImapClient.connect(endpoint, timeout=1)
        started = time.monotonic()
        with pytest.raises(ConnectionLost, match="timed out"):
            await client.command("NOOP", timeout=0.5)
        assert time.monotonic() - started < 5
        with pytest.raises(ConnectionLost):
            await client.command("NOOP")

    asyncio.run(main())


def test_bye_is_connection_lost() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        conn.sendall(b"* OK [CAPABILITY IMAP4rev1] hello\r\n")
        conn.recv(100)
        conn.sendall(b"* BYE going away\r\n")
        time.sleep(0.5)
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    async def main() -> None:
        client = await ImapClient.connect(Endpoint("127.0.0.1", port, "none"), timeout=5)
        with pytest.raises(ConnectionLost, match="BYE"):
            await client.command("NOOP")

    asyncio.run(main())
    listener.close()


def test_plaintext_password_to_remote_host_refused(silent_server: int) -> None:
    async def main() -> None:
        # Pretend the host is remote: 127.0.0.1 is loopback, so patch the check's input.
        client = await ImapClient.connect(Endpoint("127.0.0.1", silent_server, "none"), timeout=1)
        client.endpoint = Endpoint("mail.example.test", silent_server, "none")
        with pytest.raises(Exception, match="without TLS"):
            await client.login("u", "p")
        client.close()

    asyncio.run(main())
