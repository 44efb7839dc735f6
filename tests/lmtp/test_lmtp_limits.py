"""Every LMTP limit, configured small through `--config`, over real sockets.

lmtp_max_line_length, lmtp_max_recipients, max_message_size (SIZE and the data itself),
max_bad_commands and lmtp_timeout (tidings.core.limits.Limits).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from tests.conftest import SECOND_USER, TidingsServer, make_server
from tests.lmtp.lmtp_support import (
    SENDER,
    RawLmtp,
    Reconfigure,
    find_message,
    make_message,
    unique_subject,
    write_config,
)

ALICE = "alice@example.test"
MAX_LINE = 100
MAX_RECIPIENTS = 2
MAX_SIZE = 4096
MAX_BAD = 3


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TidingsServer]:
    """A server with small LMTP limits (the timeout stays long: see the timeout tests)."""
    directory = tmp_path_factory.mktemp("lmtp-limits")
    server = make_server(directory / "data")
    config = write_config(
        directory,
        limits={
            "lmtp_max_line_length": MAX_LINE,
            "lmtp_max_recipients": MAX_RECIPIENTS,
            "max_message_size": MAX_SIZE,
            "max_bad_commands": MAX_BAD,
        },
    )
    server.start("--config", str(config))
    yield server
    server.stop()


def _transaction(server: TidingsServer, *recipients: str) -> RawLmtp:
    client = RawLmtp(server.lmtp_port)
    client.command("LHLO limits.example")
    assert client.command(f"MAIL FROM:<{SENDER}>").code == 250
    for recipient in recipients:
        assert client.command(f"RCPT TO:<{recipient}>").code == 250
    return client


def test_lhlo_announces_the_configured_size(limited: TidingsServer) -> None:
    with RawLmtp(limited.lmtp_port) as client:
        assert f"SIZE {MAX_SIZE}" in client.command("LHLO limits.example").lines


def test_lmtp_max_line_length(limited: TidingsServer) -> None:
    with RawLmtp(limited.lmtp_port) as client:
        at_limit = "NOOP " + "x" * (MAX_LINE - len("NOOP "))
        assert client.command(at_limit).status == "250 2.0.0"
        assert client.command(at_limit + "x").status == "500 5.5.2"
        # A long line arriving in pieces is refused once, and its tail is not a command.
        client.send("NOOP " + "y" * 300)
        client.send("z" * 300 + "\r\n")
        assert client.read_reply().status == "500 5.5.2"
        assert client.command("NOOP").status == "250 2.0.0"


def test_lmtp_max_line_length_does_not_limit_message_lines(limited: TidingsServer) -> None:
    subject = unique_subject()
    long_line = b"x" * (MAX_LINE * 5) + b"\r\n"
    with _transaction(limited, ALICE) as client:
        assert client.command("DATA").code == 354
        client.send(make_message(subject, long_line) + b".\r\n")
        assert client.read_reply().status == "250 2.0.0"
    stored = find_message(limited.imap_port, ALICE, limited.password, subject)
    assert stored is not None and stored.endswith(long_line)


def test_lmtp_max_recipients(limited: TidingsServer) -> None:
    subject = unique_subject()
    with _transaction(limited, ALICE, SECOND_USER) as client:
        # RFC 5321 §4.5.3.1.10: 452 for recipients past the limit; the others stay.
        assert client.command(f"RCPT TO:<{ALICE}>").status == "452 4.5.3"
        assert client.command("DATA").code == 354
        client.send(make_message(subject) + b".\r\n")
        assert [r.status for r in client.read_replies(2)] == ["250 2.0.0"] * 2
        assert client.command("NOOP").status == "250 2.0.0"  # exactly two replies came


def test_rfc1870_size_parameter_above_the_limit(limited: TidingsServer) -> None:
    with RawLmtp(limited.lmtp_port) as client:
        client.command("LHLO limits.example")
        assert client.command(f"MAIL FROM:<{SENDER}> SIZE={MAX_SIZE + 1}").status == "552 5.3.4"
        assert client.command(f"RCPT TO:<{ALICE}>").status == "503 5.5.0"  # no transaction
        assert client.command(f"MAIL FROM:<{SENDER}> SIZE={MAX_SIZE}").status == "250 2.1.0"


def test_message_of_exactly_the_limit_is_stored_with_its_trace_fields(
    limited: TidingsServer,
) -> None:
    """The limit is on what the client sends: the prepended Return-Path and Delivered-To
    must not push a message of exactly max_message_size over it."""
    subject = unique_subject()
    head = make_message(subject)
    message = head[:-2] + b"p" * (MAX_SIZE - len(head)) + b"\r\n"
    assert len(message) == MAX_SIZE
    with _transaction(limited, ALICE) as client:
        assert client.command("DATA").code == 354
        client.send(message + b".\r\n")
        assert client.read_reply().status == "250 2.0.0"
    stored = find_message(limited.imap_port, ALICE, limited.password, subject)
    assert stored is not None and stored.endswith(message)


def test_message_above_the_limit_is_read_to_the_end_then_refused(limited: TidingsServer) -> None:
    subject = unique_subject()
    big = make_message(subject, b"z" * 70 + b"\r\n" + b".." + b"y" * 70 + b"\r\n") * 60
    assert len(big) > MAX_SIZE
    with _transaction(limited, ALICE, SECOND_USER) as client:
        assert client.command("DATA").code == 354
        client.send(big + b".\r\n")
        replies = client.read_replies(2)  # one per recipient (RFC 2033 §4.2)
        assert [r.status for r in replies] == ["552 5.3.4"] * 2
        assert replies[0].text.startswith(f"<{ALICE}>")
        # The data was consumed to its end: the connection is in step.
        assert client.command("NOOP").status == "250 2.0.0"
        small = make_message(subject)
        assert client.command(f"MAIL FROM:<{SENDER}>").code == 250
        assert client.command(f"RCPT TO:<{ALICE}>").code == 250
        assert client.command("DATA").code == 354
        client.send(small + b".\r\n")
        assert client.read_reply().status == "250 2.0.0"
    stored = find_message(limited.imap_port, ALICE, limited.password, subject)
    assert stored is not None and stored.endswith(small)


def test_rfc3030_chunks_above_the_limit(limited: TidingsServer) -> None:
    chunk = b"c" * (MAX_SIZE // 2 + 1)
    with _transaction(limited, ALICE) as client:
        client.send(b"BDAT %d\r\n%s" % (len(chunk), chunk))
        assert client.read_reply().code == 250
        # The second chunk takes the message past the limit: refused at once, and the
        # transfer has failed until RSET (RFC 3030 §2).
        client.send(b"BDAT %d\r\n%s" % (len(chunk), chunk))
        assert client.read_reply().status == "552 5.3.4"
        assert client.command("BDAT 0 LAST").status == "503 5.5.0"
        assert client.command("RSET").code == 250
        assert client.command(f"MAIL FROM:<{SENDER}>").code == 250
        assert client.command(f"RCPT TO:<{ALICE}>").code == 250
        assert client.command(f"RCPT TO:<{SECOND_USER}>").code == 250
        # A LAST chunk past the limit: read whole, then one 552 per recipient.
        huge = b"h" * (MAX_SIZE * 3)
        client.send(b"BDAT %d LAST\r\n%s" % (len(huge), huge))
        assert [r.status for r in client.read_replies(2)] == ["552 5.3.4"] * 2
        assert client.command("NOOP").status == "250 2.0.0"


def test_max_bad_commands(limited: TidingsServer) -> None:
    """The budget counts protocol errors in a row (as Dovecot's): a good reply, even a 550
    for an unknown user, starts it again; the error past it is answered 421, then close."""
    with RawLmtp(limited.lmtp_port) as client:
        client.command("LHLO limits.example")
        for _ in range(MAX_BAD):
            assert client.command("RCPT TO:<nobody@example.test>").status == "503 5.5.0"
        assert client.command("MAIL FROM:<x@y>").code == 250  # the count starts again
        for _ in range(MAX_BAD + 1):  # unknown users are not the client's fault
            assert client.command("RCPT TO:<nobody@example.test>").status == "550 5.1.1"
        assert client.command("BOGUS").status == "500 5.5.1"
        # Inside a transaction a broken MAIL is out of sequence first (as in Dovecot).
        assert client.command("MAIL FROM:broken").status == "503 5.5.0"
        assert client.command("x" * (MAX_LINE + 1)).status == "500 5.5.2"
        last = client.command("BOGUS")
        assert last.status == "421 4.7.0"
        assert "Too many invalid commands" in last.text
        assert client.at_eof()


def test_lmtp_timeout(reconfigure: Reconfigure) -> None:
    server = reconfigure(limits={"lmtp_timeout": 0.5})
    with RawLmtp(server.lmtp_port) as client:
        started = time.monotonic()
        client.command("LHLO idle.example")
        reply = client.read_reply()  # nothing more is sent: the server gives up
        waited = time.monotonic() - started
        assert reply.status == "421 4.4.2"
        assert client.at_eof()
    assert 0.4 <= waited < 5
    # A client that stops in the middle of the data is dropped the same way, and the half
    # message is not delivered.
    subject = unique_subject()
    with RawLmtp(server.lmtp_port) as client:
        client.command("LHLO idle.example")
        client.command(f"MAIL FROM:<{SENDER}>")
        client.command(f"RCPT TO:<{ALICE}>")
        assert client.command("DATA").code == 354
        client.send(make_message(subject))
        assert client.read_reply().status == "421 4.4.2"
        assert client.at_eof()
    assert find_message(server.imap_port, ALICE, server.password, subject) is None


def test_lmtp_timeout_also_bounds_writes_to_a_client_that_never_reads(
    reconfigure: Reconfigure,
) -> None:
    """A client that pipelines NOOPs and never reads the replies fills the socket buffers;
    the server's write then waits, for lmtp_timeout at most, and the connection ends."""
    server = reconfigure(limits={"lmtp_timeout": 0.5})
    sock = socket.create_connection(("127.0.0.1", server.lmtp_port), timeout=0.2)
    burst = b"NOOP\r\n" * 20_000
    deadline = time.monotonic() + 30
    broken = False
    try:
        while time.monotonic() < deadline and not broken:
            try:
                sock.send(burst)
            except TimeoutError:
                continue  # the server has stopped reading: keep the pressure on
            except OSError:
                broken = True  # reset or broken pipe: the server gave up on us
    finally:
        sock.close()
    assert broken, "the server kept a connection that never read its replies"
