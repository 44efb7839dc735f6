"""What an LMTP 250 promises: the message is committed (it survives kill -9 right after the
reply) and announced (an IDLE client sees it at once, through the same path as APPEND)."""

from __future__ import annotations

import re
import socket
import threading
import time

from tests.conftest import SECOND_PASSWORD, SECOND_USER, TidingsServer
from tests.lmtp.lmtp_support import (
    SENDER,
    TIMEOUT,
    RawLmtp,
    fetch_all,
    find_message,
    make_message,
    trace_prefix,
    unique_subject,
)

ALICE = "alice@example.test"
# The bound: an IDLE client sees the delivery within 100 ms of the 250.
IDLE_LATENCY_BOUND = 0.100
_EXISTS = re.compile(rb"\* ([0-9]+) EXISTS\r\n")


class IdleWatcher:
    """A raw IMAP connection in IDLE on INBOX; a thread notes when `* n EXISTS` arrives."""

    def __init__(self, server: TidingsServer) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.imap_port), timeout=TIMEOUT)
        self._buffer = b""
        self._line()  # greeting
        self._command(f'a LOGIN {server.user} "{server.password}"', b"a ")
        self._command("b SELECT INBOX", b"b ")
        self.sock.sendall(b"c IDLE\r\n")
        while not self._line().startswith(b"+ "):
            pass
        self.exists_at: float | None = None
        self.exists_line = b""
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("IMAP connection closed")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\r\n")
        return line + b"\r\n"

    def _command(self, text: str, tag: bytes) -> None:
        self.sock.sendall(text.encode() + b"\r\n")
        while not (line := self._line()).startswith(tag):
            pass
        assert line.startswith(tag + b"OK"), line

    def _watch(self) -> None:
        while True:
            line = self._line()
            if _EXISTS.fullmatch(line):
                self.exists_at = time.monotonic()
                self.exists_line = line
                return

    def wait(self, timeout: float) -> float | None:
        """When EXISTS arrived (time.monotonic), or None if not within `timeout`."""
        self._thread.join(timeout)
        return self.exists_at

    def close(self) -> None:
        self.sock.close()
        self._thread.join(TIMEOUT)


def test_idle_client_sees_an_lmtp_delivery_within_100ms(server: TidingsServer) -> None:
    watcher = IdleWatcher(server)
    try:
        with RawLmtp(server.lmtp_port) as client:
            client.command("LHLO push.example")
            client.command(f"MAIL FROM:<{SENDER}>")
            client.command(f"RCPT TO:<{ALICE}>")
            assert client.command("DATA").code == 354
            sent_at = time.monotonic()
            client.send(make_message(unique_subject("push")) + b".\r\n")
            assert client.read_reply().status == "250 2.0.0"
            replied_at = time.monotonic()
        exists_at = watcher.wait(5.0)
        assert exists_at is not None, "no EXISTS within 5 s"
        assert watcher.exists_line == b"* 1 EXISTS\r\n"
        latency = exists_at - replied_at  # negative: EXISTS came before the 250 was read
        print(
            f"\nIDLE push: EXISTS {latency * 1000:+.1f} ms after the 250, "
            f"{(exists_at - sent_at) * 1000:.1f} ms after the end of data was sent"
        )
        assert latency < IDLE_LATENCY_BOUND
    finally:
        watcher.close()


def test_250_survives_kill_9_right_after(server: TidingsServer) -> None:
    subject = unique_subject("durable")
    message = make_message(subject)
    with RawLmtp(server.lmtp_port) as client:
        client.command("LHLO durable.example")
        client.command(f"MAIL FROM:<{SENDER}>")
        client.command(f"RCPT TO:<{ALICE}>")
        client.command(f"RCPT TO:<{SECOND_USER}>")
        assert client.command("DATA").code == 354
        client.send(message + b".\r\n")
        assert client.read_reply().status == "250 2.0.0"  # alice's delivery is committed
        server.stop(kill=True)  # SIGKILL the moment the first 250 arrived
    server.start()
    assert (
        find_message(server.imap_port, ALICE, server.password, subject)
        == trace_prefix(SENDER, ALICE) + message
    )
    # bob's delivery may or may not have happened; if it did, it is whole.
    for_bob = find_message(server.imap_port, SECOND_USER, SECOND_PASSWORD, subject)
    assert for_bob in (None, trace_prefix(SENDER, SECOND_USER) + message)


def test_many_kill_9_rounds_lose_nothing_acknowledged(server: TidingsServer) -> None:
    """Several rounds: five deliveries pipelined in one write, kill -9 the moment the last
    250 arrives; every message that got its 250 is there after the restarts."""
    acknowledged: list[str] = []
    for _ in range(2):
        subjects = [unique_subject("burst") for _ in range(5)]
        with RawLmtp(server.lmtp_port) as client:
            client.command("LHLO burst.example")
            for subject in subjects:
                message = make_message(subject)
                client.send(
                    f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{ALICE}>\r\n"
                    f"BDAT {len(message)} LAST\r\n".encode()
                    + message
                )
            for subject in subjects:
                statuses = [client.read_reply().status for _ in range(3)]
                assert statuses == ["250 2.1.0", "250 2.1.5", "250 2.0.0"]
                acknowledged.append(subject)
            server.stop(kill=True)
        server.start()
    inbox = b"\n".join(fetch_all(server.imap_port, ALICE, server.password))
    for subject in acknowledged:
        assert f"Subject: {subject}\r\n".encode() in inbox, subject
