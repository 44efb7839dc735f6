"""RFC 2920 pipelining: many commands in one write, replies in order, nothing lost."""

from __future__ import annotations

import socket

from tests.conftest import SECOND_USER, TidingsServer
from tests.lmtp.lmtp_support import (
    SENDER,
    RawLmtp,
    fetch_all,
    find_message,
    make_message,
    trace_prefix,
    unique_subject,
)

ALICE = "alice@example.test"


def test_rfc2920_whole_transaction_in_one_write(lmtp_server: TidingsServer) -> None:
    """LHLO to QUIT, data included, in a single write (the client pipelines past DATA,
    which RFC 2920 §3.1 does not require a server to refuse)."""
    subject = unique_subject()
    message = make_message(subject, b"..dotted\r\n")
    wire = (
        b"LHLO pipe.example\r\n"
        b"MAIL FROM:<" + SENDER.encode() + b">\r\n"
        b"RCPT TO:<" + ALICE.encode() + b">\r\n"
        b"RCPT TO:<nobody@example.test>\r\n"
        b"RCPT TO:<" + SECOND_USER.encode() + b">\r\n"
        b"DATA\r\n" + message.replace(b"\r\n..dotted", b"\r\n...dotted") + b".\r\n"
        b"NOOP\r\n"
        b"QUIT\r\n"
    )
    with RawLmtp(lmtp_server.lmtp_port) as client:
        client.send(wire)
        replies = client.read_replies(10)
        assert client.at_eof()
    assert [r.status for r in replies] == [
        "250",
        "250 2.1.0",
        "250 2.1.5",
        "550 5.1.1",
        "250 2.1.5",
        "354",
        "250 2.0.0",
        "250 2.0.0",
        "250 2.0.0",
        "221 2.0.0",
    ]
    assert replies[6].text.startswith(f"<{ALICE}> ")
    assert replies[7].text.startswith(f"<{SECOND_USER}> ")
    stored = find_message(lmtp_server.imap_port, ALICE, lmtp_server.password, subject)
    assert stored == trace_prefix(SENDER, ALICE) + message


def test_rfc2920_commands_split_across_writes_byte_by_byte(lmtp_server: TidingsServer) -> None:
    subject = unique_subject()
    message = make_message(subject)
    wire = (
        b"LHLO slow.example\r\nMAIL FROM:<" + SENDER.encode() + b">\r\n"
        b"RCPT TO:<"
        + ALICE.encode()
        + b">\r\nBDAT "
        + str(len(message)).encode()
        + b" LAST\r\n"
        + message
        + b"QUIT\r\n"
    )
    with RawLmtp(lmtp_server.lmtp_port) as client:
        client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for index in range(len(wire)):
            client.send(wire[index : index + 1])
        statuses = [r.status for r in client.read_replies(5)]
    assert statuses == ["250", "250 2.1.0", "250 2.1.5", "250 2.0.0", "221 2.0.0"]
    stored = find_message(lmtp_server.imap_port, ALICE, lmtp_server.password, subject)
    assert stored == trace_prefix(SENDER, ALICE) + message


def test_rfc2920_many_transactions_pipelined(lmtp_server: TidingsServer) -> None:
    subjects = [unique_subject() for _ in range(20)]
    wire = b"LHLO many.example\r\n"
    for subject in subjects:
        message = make_message(subject)
        wire += (
            b"MAIL FROM:<" + SENDER.encode() + b">\r\nRCPT TO:<" + ALICE.encode() + b">\r\n"
            b"BDAT " + str(len(message)).encode() + b" LAST\r\n" + message
        )
    with RawLmtp(lmtp_server.lmtp_port) as client:
        client.send(wire + b"QUIT\r\n")
        replies = client.read_replies(1 + 3 * len(subjects) + 1)
    assert [r.code for r in replies] == [250] * (1 + 3 * len(subjects)) + [221]
    ids = [r.text.split()[1] for r in replies[3::3]]
    # Dovecot's transaction ids: the connection id, then ":T2", ":T3", ...
    assert ids[1:] == [f"{ids[0]}:T{n}" for n in range(2, len(subjects) + 1)]
    inbox = b"\n".join(fetch_all(lmtp_server.imap_port, ALICE, lmtp_server.password))
    for subject in subjects:
        assert f"Subject: {subject}\r\n".encode() in inbox, subject
