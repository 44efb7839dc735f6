"""Every POP3 limit, the plaintext rules, STLS, pipelining and failure handling, against an
in-process server over real sockets (tests/pop3/harness.py), with limits set per test."""

from __future__ import annotations

import base64
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.pop3.harness import (
    PASSWORD,
    USER,
    Pop3Harness,
    Pop3Line,
    client_tls_context,
    fast_limits,
)
from tests.pop3.helpers import DOTS, PLAIN, imap_append, imap_uids_and_flags

HarnessFactory = Callable[..., Pop3Harness]


@pytest.fixture
def make_harness(tmp_path: Path) -> Iterator[HarnessFactory]:
    """Start a harness with chosen options (limits, remote_peers); stopped at the end."""
    started: list[Pop3Harness] = []

    def start(**options: Any) -> Pop3Harness:
        harness = Pop3Harness(tmp_path, **options).start()
        started.append(harness)
        return harness

    yield start
    for harness in started:
        harness.stop()


def plain_token(user: str = USER, password: str = PASSWORD, authzid: str = "") -> str:
    return base64.b64encode(f"{authzid}\0{user}\0{password}".encode()).decode()


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.02)


# ------------------------------------------------------------------ limits


def test_pop3_max_line_length(make_harness: HarnessFactory) -> None:
    server = make_harness(limits=fast_limits(pop3_max_line_length=100))
    line = Pop3Line(server.pop3_port)
    assert line.command("USER " + "x" * 200) == "-ERR Line too long (limit 100 bytes)."
    assert line.command("USER " + "x" * 95).startswith("+OK")  # exactly 100 is fine
    assert line.command("CAPA").startswith("+OK")  # the connection is still usable


def test_max_bad_commands(make_harness: HarnessFactory) -> None:
    server = make_harness(limits=fast_limits(max_bad_commands=3))
    line = Pop3Line(server.pop3_port)
    assert line.command("FOO") == "-ERR Unknown command: FOO"
    assert line.command("STAT") == (
        "-ERR Log in first: STAT is valid only in the TRANSACTION state."
    )
    assert line.command("RETR x").startswith("-ERR Invalid message number: x Too many invalid")
    assert line.at_eof()


def test_max_auth_failures_per_connection(make_harness: HarnessFactory) -> None:
    server = make_harness(limits=fast_limits(max_auth_failures_per_connection=2))
    line = Pop3Line(server.pop3_port)
    line.command(f"USER {USER}")
    assert line.command("PASS wrong") == "-ERR [AUTH] Authentication failed."
    assert line.command(f"AUTH PLAIN {plain_token(password='wrong')}").startswith(
        "-ERR [AUTH] Authentication failed. Too many failures"
    )
    assert line.at_eof()


def test_auth_failure_delay(make_harness: HarnessFactory) -> None:
    server = make_harness(limits=fast_limits(auth_failure_delay=0.6))
    line = Pop3Line(server.pop3_port)
    line.command(f"USER {USER}")
    started = time.monotonic()
    assert line.command("PASS wrong").startswith("-ERR [AUTH]")
    assert time.monotonic() - started >= 0.6
    started = time.monotonic()
    assert line.command("AUTH PLAIN !!!").startswith("-ERR [AUTH] Invalid base64")
    assert time.monotonic() - started >= 0.6  # garbled SASL costs as much as a bad password


def test_idle_timeout_unauthenticated(make_harness: HarnessFactory) -> None:
    server = make_harness(limits=fast_limits(idle_timeout_unauthenticated=0.3))
    line = Pop3Line(server.pop3_port)
    started = time.monotonic()
    assert line.read_line() == "-ERR Disconnected for inactivity."
    assert line.at_eof()
    assert 0.3 <= time.monotonic() - started < 5


def test_pop3_timeout_once_logged_in(make_harness: HarnessFactory) -> None:
    server = make_harness(limits=fast_limits(pop3_timeout=0.4, idle_timeout_unauthenticated=8))
    imap_append(server.imap_port, USER, PASSWORD, PLAIN)
    line = Pop3Line(server.pop3_port)
    line.login()
    assert server.locks() == {USER}
    assert line.command("DELE 1").startswith("+OK")
    started = time.monotonic()
    assert line.read_line() == "-ERR Disconnected for inactivity."
    assert 0.3 <= time.monotonic() - started < 6  # pop3_timeout, not the one before login
    assert line.at_eof()
    wait_for(lambda: not server.locks())
    assert len(imap_uids_and_flags(server.imap_port, USER, PASSWORD)) == 1  # DELE not applied


def test_client_that_stops_reading_is_dropped(make_harness: HarnessFactory) -> None:
    server = make_harness(limits=fast_limits(pop3_timeout=0.5))
    big = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 16_000  # 16 MB
    imap_append(server.imap_port, USER, PASSWORD, big)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", server.pop3_port))
    with sock:
        sock.sendall(f"USER {USER}\r\nPASS {PASSWORD}\r\n".encode())
        received = b""
        while received.count(b"\r\n") < 3:
            received += sock.recv(4096)
        assert server.locks() == {USER}
        sock.sendall(b"RETR 1\r\n")  # and never read the reply
        wait_for(lambda: not server.locks(), timeout=15)


# ------------------------------------------------------------------ plaintext and TLS


def test_plaintext_refused_off_loopback_until_tls(make_harness: HarnessFactory) -> None:
    server = make_harness(remote_peers=True)
    line = Pop3Line(server.pop3_port)
    line.send("CAPA\r\n")
    assert line.read_line().startswith("+OK")
    capabilities = line.read_multiline()
    assert "STLS" in capabilities
    assert "USER" not in capabilities
    # The harness's accounts have no SCRAM secrets, so SCRAM is not offered either.
    assert not any(cap.startswith("SASL") for cap in capabilities)
    refused = "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."
    assert line.command(f"USER {USER}") == refused
    assert line.command(f"PASS {PASSWORD}") == refused
    assert line.command(f"AUTH PLAIN {plain_token()}") == refused
    line.send("AUTH\r\n")
    assert line.read_line().startswith("+OK")
    assert line.read_multiline() == []  # no mechanism may be used here
    line.starttls()
    line.send("CAPA\r\n")
    line.read_line()
    capabilities = line.read_multiline()
    assert "USER" in capabilities and "SASL PLAIN LOGIN" in capabilities
    assert "STLS" not in capabilities
    line.login()
    assert line.command("QUIT").startswith("+OK")


def test_pop3s_allows_plaintext_off_loopback(make_harness: HarnessFactory) -> None:
    server = make_harness(remote_peers=True)
    line = Pop3Line(server.pop3s_port, tls=True)
    assert line.command(f"AUTH PLAIN {plain_token()}") == "+OK Logged in."
    assert line.command("STLS").startswith("-ERR")  # not in TRANSACTION, and TLS already


def test_rfc2595_stls_discards_pipelined_commands(make_harness: HarnessFactory) -> None:
    server = make_harness()
    line = Pop3Line(server.pop3_port)
    line.send(f"STLS\r\nUSER {USER}\r\n")
    assert line.read_line() == "+OK Begin TLS negotiation now."
    assert line.buffer == b""  # the USER was not answered in plaintext
    line.sock = client_tls_context().wrap_socket(line.sock, server_hostname="localhost")
    assert line.command(f"PASS {PASSWORD}") == "-ERR No username given."
    assert line.command("STLS") == "-ERR TLS is already active."


def test_rfc2595_stls_discards_plaintext_beyond_one_read(make_harness: HarnessFactory) -> None:
    server = make_harness()
    line = Pop3Line(server.pop3_port)
    # More than the driver's 64 KiB read: the rest waits in asyncio's StreamReader buffer.
    line.send(b"STLS\r\n" + b"X" * 100_000 + f"\r\nUSER {USER}\r\n".encode())
    assert line.read_line() == "+OK Begin TLS negotiation now."
    line.sock = client_tls_context().wrap_socket(line.sock, server_hostname="localhost")
    assert line.command(f"PASS {PASSWORD}") == "-ERR No username given."


# ------------------------------------------------------------------ pipelining, SASL, errors


def test_rfc2449_6_6_pipelining(make_harness: HarnessFactory) -> None:
    server = make_harness()
    imap_append(server.imap_port, USER, PASSWORD, PLAIN, DOTS)
    line = Pop3Line(server.pop3_port)
    line.send(
        f"CAPA\r\nUSER {USER}\r\nPASS {PASSWORD}\r\nSTAT\r\nRETR 2\r\nDELE 1\r\n"
        "LIST\r\nFOO\r\nQUIT\r\n"
    )
    assert line.read_line().startswith("+OK")
    assert "PIPELINING" in line.read_multiline()
    assert line.read_line() == "+OK"
    assert line.read_line() == "+OK Logged in."
    assert line.read_line().startswith("+OK 2 ")
    assert line.read_line().startswith("+OK")
    assert line.read_multiline()[-1] == "after a lone dot"
    assert line.read_line() == "+OK Marked to be deleted."
    assert line.read_line() == "+OK 1 messages:"
    assert line.read_multiline() == [f"2 {len(DOTS)}"]
    assert line.read_line() == "-ERR Unknown command: FOO"
    assert line.read_line() == "+OK Logging out, messages deleted."
    assert line.at_eof()


@pytest.mark.parametrize(
    ("exchange", "reply"),
    [
        (["AUTH PLAIN !!!"], "-ERR [AUTH] Invalid base64 data in initial response."),
        (["AUTH X-UNKNOWN"], "-ERR [AUTH] Unsupported authentication mechanism."),
        (
            [f"AUTH PLAIN {plain_token(authzid='bob@example.test')}"],
            "-ERR [AUTH] Authentication failed: authorization identity not permitted.",
        ),
        (["AUTH PLAIN ="], "-ERR [AUTH] Authentication failed: malformed PLAIN message."),
        (["AUTH PLAIN", "*"], "-ERR Authentication aborted by client."),
        (["AUTH PLAIN", "not base64!"], "-ERR [AUTH] Invalid base64 data in response."),
        (
            ["AUTH LOGIN", base64.b64encode(USER.encode()).decode(), "*"],
            "-ERR Authentication aborted by client.",
        ),
    ],
)
def test_rfc5034_sasl_failures(
    make_harness: HarnessFactory, exchange: list[str], reply: str
) -> None:
    server = make_harness()
    line = Pop3Line(server.pop3_port)
    for text in exchange[:-1]:
        assert line.command(text).startswith("+ ")
    assert line.command(exchange[-1]) == reply
    assert line.command(f"AUTH PLAIN {plain_token()}") == "+OK Logged in."


def test_sasl_response_too_long(make_harness: HarnessFactory) -> None:
    server = make_harness(limits=fast_limits(pop3_max_line_length=64))
    line = Pop3Line(server.pop3_port)
    assert line.command("AUTH PLAIN") == "+ "
    assert line.command("A" * 100) == "-ERR [AUTH] SASL response too long (limit 64 bytes)."
    assert line.command(f"AUTH PLAIN {plain_token()}") == "+OK Logged in."


NASTY_LINES = [
    b"\x00\x00\x00",
    b"\xff\xfe",
    b"RETR 99999999999999999999",
    b"TOP 1 1 1",
    b"\r",
    b" ",
    b"USER",
    b"LIST -0",
    b"AUTH PLAIN a b c",
    b"PASS",
    b"\x1b[31mRED",
]


def test_garbage_gets_one_error_each_and_no_crash(make_harness: HarnessFactory) -> None:
    server = make_harness(limits=fast_limits(max_bad_commands=100))
    line = Pop3Line(server.pop3_port)
    line.send(b"".join(nasty + b"\r\n" for nasty in NASTY_LINES))
    replies = [line.read_line() for _ in NASTY_LINES]
    assert all(reply.startswith("-ERR ") for reply in replies), replies
    assert all(len(reply) > len("-ERR ") for reply in replies)  # each says why
    line.login()
    assert line.command("QUIT") == "+OK Logging out."


def test_update_failure_is_sys_temp_and_keeps_the_messages(
    make_harness: HarnessFactory, tmp_path: Path
) -> None:
    server = make_harness()
    imap_append(server.imap_port, USER, PASSWORD, PLAIN, DOTS)
    line = Pop3Line(server.pop3_port)
    line.login()
    assert line.command("DELE 1").startswith("+OK")
    # Make the store refuse deletions, as a full or failing disk would.
    with sqlite3.connect(tmp_path / "mail.db") as db:
        db.execute(
            "CREATE TRIGGER refuse_delete BEFORE DELETE ON messages"
            " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )
    db.close()
    reply = line.command("QUIT")
    assert reply.startswith("-ERR [SYS/TEMP] Some deleted messages not removed"), reply
    assert line.at_eof()
    wait_for(lambda: not server.locks())
    assert len(imap_uids_and_flags(server.imap_port, USER, PASSWORD)) == 2
    with sqlite3.connect(tmp_path / "mail.db") as db:
        db.execute("DROP TRIGGER refuse_delete")
    db.close()
    again = Pop3Line(server.pop3_port)
    again.login()
    again.command("DELE 1")
    assert again.command("QUIT") == "+OK Logging out, messages deleted."
    assert len(imap_uids_and_flags(server.imap_port, USER, PASSWORD)) == 1
