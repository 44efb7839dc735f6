"""LMTP over real sockets with the stdlib client (smtplib.LMTP), read back over IMAP.

RFC 2033 §4.2: one reply per accepted recipient after the data, in RCPT order. Every stored
message is compared byte for byte: the two trace fields Dovecot prepends, then exactly what
was sent (dot-unstuffed).
"""

from __future__ import annotations

import os
import re
import smtplib

from tests.conftest import SECOND_PASSWORD, SECOND_USER, TidingsServer
from tests.lmtp.lmtp_support import (
    SENDER,
    TIMEOUT,
    RawLmtp,
    find_message,
    make_message,
    trace_prefix,
    unique_subject,
)

ALICE = "alice@example.test"
# Dovecot's reply after a delivery: "250 2.0.0 <rcpt> <session-id>[:T<n>][:R<n>] Saved".
_SAVED = re.compile(r"<(?P<rcpt>[^>]+)> (?P<id>[A-Za-z0-9+/]{22}(:T[0-9]+)?(:R[0-9]+)?) Saved")


def _lmtp(server: TidingsServer) -> smtplib.LMTP:
    return smtplib.LMTP("127.0.0.1", server.lmtp_port, timeout=TIMEOUT)


def _stored(server: TidingsServer, subject: str, user: str = ALICE) -> bytes:
    password = server.password if user == ALICE else SECOND_PASSWORD
    message = find_message(server.imap_port, user, password, subject)
    assert message is not None, f"{subject} not delivered to {user}"
    return message


def test_rfc2033_4_1_lhlo_lists_the_extensions(lmtp_server: TidingsServer) -> None:
    with _lmtp(lmtp_server) as client:
        code, _ = client.ehlo()  # smtplib.LMTP sends LHLO here
        assert code == 250
        for extension in ("pipelining", "enhancedstatuscodes", "8bitmime", "smtputf8", "chunking"):
            assert client.has_extn(extension), extension
        assert client.esmtp_features["size"] == str(50 * 1024 * 1024)


def test_rfc2033_4_2_one_reply_per_recipient_with_an_unknown_one(
    lmtp_server: TidingsServer,
) -> None:
    subject = unique_subject()
    message = make_message(subject)
    with _lmtp(lmtp_server) as client:
        client.ehlo()
        assert client.mail(SENDER) == (250, b"2.1.0 OK")
        assert client.rcpt(ALICE)[0] == 250
        code, text = client.rcpt("nobody@example.test")
        assert (code, text.split(b" ", 1)[0]) == (550, b"5.1.1")
        assert client.rcpt(SECOND_USER)[0] == 250
        first = client.data(message)  # smtplib reads the first reply only
        second = client.getreply()  # RFC 2033 §4.2: one more per accepted recipient
        assert client.noop() == (250, b"2.0.0 OK")  # nothing else was left to read
    replies = [first, second]
    matches = [_SAVED.fullmatch(text.decode()[len("2.0.0 ") :]) for _, text in replies]
    assert [code for code, _ in replies] == [250, 250]
    assert [text[:6] for _, text in replies] == [b"2.0.0 ", b"2.0.0 "]
    assert all(matches), replies
    assert [m["rcpt"] for m in matches if m] == [ALICE, SECOND_USER]
    # Dovecot numbers every looked-up RCPT: the unknown one was R2, so bob is R3.
    ids = [m["id"] for m in matches if m]
    assert ids[1] == ids[0] + ":R3"
    assert _stored(lmtp_server, subject) == trace_prefix(SENDER, ALICE) + message
    assert _stored(lmtp_server, subject, SECOND_USER) == trace_prefix(SENDER, SECOND_USER) + message


def test_rfc6152_eight_bit_message_is_stored_byte_for_byte(lmtp_server: TidingsServer) -> None:
    subject = unique_subject()
    body = "Grüße aus Köln, ½ € — 日本語\r\n".encode() + bytes(range(0x80, 0x100)) + b"\r\n"
    message = make_message(subject, body, extra=b"Content-Type: text/plain; charset=utf-8\r\n")
    with _lmtp(lmtp_server) as client:
        refused = client.sendmail(SENDER, [ALICE], message, mail_options=["BODY=8BITMIME"])
        assert refused == {}
    assert _stored(lmtp_server, subject) == trace_prefix(SENDER, ALICE) + message


def test_one_mebibyte_message(lmtp_server: TidingsServer) -> None:
    subject = unique_subject()
    random_lines = b"".join(os.urandom(38).hex().encode() + b"\r\n" for _ in range(13_800))
    message = make_message(subject, random_lines)
    assert len(message) > 1024 * 1024
    with _lmtp(lmtp_server) as client:
        client.ehlo()
        assert client.mail(SENDER, [f"SIZE={len(message)}"])[0] == 250
        assert client.rcpt(ALICE)[0] == 250
        code, text = client.data(message)
        assert code == 250, text
    assert _stored(lmtp_server, subject) == trace_prefix(SENDER, ALICE) + message


def test_rfc5321_4_5_2_dot_stuffing_is_undone(lmtp_server: TidingsServer) -> None:
    subject = unique_subject()
    body = b".leading dot\r\n..two dots\r\n.\r\n. \r\nend.\r\n...\r\n"
    message = make_message(subject, body)
    with _lmtp(lmtp_server) as client:
        assert client.sendmail(SENDER, [ALICE], message) == {}  # smtplib stuffs the dots
    assert _stored(lmtp_server, subject) == trace_prefix(SENDER, ALICE) + message


def test_rfc5321_4_5_2_stuffed_data_over_a_raw_socket(lmtp_server: TidingsServer) -> None:
    """The wire form written by hand: a stuffed line at the very start of the data, a line
    that is just a stuffed dot, and a bare LF (kept, and no line end)."""
    subject = unique_subject()
    wire = (
        b"..starts with a dot\r\nSubject: " + subject.encode() + b"\r\n\r\n"
        b"..\r\n...x\r\nbare\n.lf\r\n.\r\n"
    )
    expected = (
        b".starts with a dot\r\nSubject: " + subject.encode() + b"\r\n\r\n.\r\n..x\r\nbare\n.lf\r\n"
    )
    with RawLmtp(lmtp_server.lmtp_port) as client:
        client.command("LHLO test.example")
        assert client.command(f"MAIL FROM:<{SENDER}>").status == "250 2.1.0"
        assert client.command(f"RCPT TO:<{ALICE}>").status == "250 2.1.5"
        assert client.command("DATA").code == 354
        client.send(wire)
        assert client.read_reply().status == "250 2.0.0"
    assert _stored(lmtp_server, subject) == trace_prefix(SENDER, ALICE) + expected


def test_null_sender_and_plus_address(lmtp_server: TidingsServer) -> None:
    """A bounce (MAIL FROM:<>) to alice+tag@: Return-Path <>, Delivered-To as given, and
    INBOX (detail_mailbox is off by default, as Dovecot's lmtp_save_to_detail_mailbox)."""
    subject = unique_subject()
    message = make_message(subject)
    recipient = "Alice+Tag@EXAMPLE.test"
    with _lmtp(lmtp_server) as client:
        assert client.sendmail("", [recipient], message) == {}
    assert _stored(lmtp_server, subject) == trace_prefix("", recipient) + message


def test_rfc3030_bdat_chunks(lmtp_server: TidingsServer) -> None:
    subject = unique_subject()
    message = make_message(subject, b".not stuffed in BDAT\r\n\r\n.\r\nstill here\r\n")
    first, second = message[:50], message[50:]
    with RawLmtp(lmtp_server.lmtp_port) as client:
        client.command("LHLO test.example")
        client.command(f"MAIL FROM:<{SENDER}> BODY=8BITMIME")
        client.command(f"RCPT TO:<{ALICE}>")
        client.command(f"RCPT TO:<{SECOND_USER}>")
        client.send(b"BDAT %d\r\n%s" % (len(first), first))
        added = client.read_reply()
        assert (added.status, added.text) == ("250 2.0.0", "Added 50 octets")
        client.send(b"BDAT %d LAST\r\n%s" % (len(second), second))
        replies = client.read_replies(2)
        assert [r.status for r in replies] == ["250 2.0.0", "250 2.0.0"]
        assert replies[0].text.startswith(f"<{ALICE}> ")
        assert replies[1].text.startswith(f"<{SECOND_USER}> ")
    assert _stored(lmtp_server, subject) == trace_prefix(SENDER, ALICE) + message
    assert _stored(lmtp_server, subject, SECOND_USER) == trace_prefix(SENDER, SECOND_USER) + message


def test_rfc3030_data_after_bdat_and_a_failed_chunk(lmtp_server: TidingsServer) -> None:
    subject = unique_subject()
    message = make_message(subject)
    with RawLmtp(lmtp_server.lmtp_port) as client:
        client.command("LHLO test.example")
        client.command(f"MAIL FROM:<{SENDER}>")
        client.command(f"RCPT TO:<{ALICE}>")
        client.send(b"BDAT %d\r\n%s" % (len(message), message))
        assert client.read_reply().code == 250
        # RFC 3030 §2: DATA after BDAT is a 503; the state is then "indeterminate": like
        # Dovecot, the chunked transfer goes on.
        assert client.command("DATA").status == "503 5.5.0"
        assert client.command("BDAT 0 LAST").status == "250 2.0.0"
        # A BDAT that fails fails the transfer: later chunks get 503 until RSET.
        client.command(f"MAIL FROM:<{SENDER}>")
        client.command(f"RCPT TO:<{ALICE}>")
        assert client.command("BDAT many").status == "501 5.5.4"
        assert client.command("BDAT 0 LAST").status == "503 5.5.0"
        assert client.command("DATA").status == "503 5.5.0"
        assert client.command("RSET").status == "250 2.0.0"
        assert client.command("BDAT 0 LAST").status == "503 5.5.0"  # no MAIL now
    assert _stored(lmtp_server, subject) == trace_prefix(SENDER, ALICE) + message


def test_rset_vrfy_noop_quit(lmtp_server: TidingsServer) -> None:
    subject = unique_subject()
    with _lmtp(lmtp_server) as client:
        client.ehlo()
        client.mail(SENDER)
        client.rcpt(ALICE)
        assert client.rset() == (250, b"2.0.0 OK")
        assert client.docmd("DATA")[0] == 503  # RSET dropped the transaction
        code, text = client.verify(ALICE)
        assert (code, text.split(b" ", 1)[0]) == (252, b"2.3.3")  # RFC 5321 §3.5.3
        assert client.noop() == (250, b"2.0.0 OK")
        assert client.docmd("NOOP", "ignored argument") == (250, b"2.0.0 OK")
        code, text = client.quit()
        assert (code, text) == (221, b"2.0.0 Bye")
    assert find_message(lmtp_server.imap_port, ALICE, lmtp_server.password, subject) is None


def test_rfc2033_4_1_helo_and_ehlo_are_refused(lmtp_server: TidingsServer) -> None:
    with RawLmtp(lmtp_server.lmtp_port) as client:
        assert client.greeting.code == 220
        # RFC 2033 §4.1: "MUST NOT return a Positive Completion reply code"; 500 recommended.
        assert client.command("HELO test.example").status == "500 5.5.1"
        assert client.command("EHLO test.example").status == "500 5.5.1"
        lhlo = client.command("LHLO test.example")
        assert lhlo.code == 250 and lhlo.enhanced == ""  # RFC 2034 §3: no code on LHLO


def test_several_transactions_on_one_connection(lmtp_server: TidingsServer) -> None:
    subjects = [unique_subject() for _ in range(3)]
    with _lmtp(lmtp_server) as client:
        for subject in subjects:
            assert client.sendmail(SENDER, [ALICE], make_message(subject)) == {}
    for subject in subjects:
        assert _stored(lmtp_server, subject).endswith(b"Hello from LMTP.\r\n")


def test_sequence_errors(lmtp_server: TidingsServer) -> None:
    with RawLmtp(lmtp_server.lmtp_port) as client:
        assert client.command(f"RCPT TO:<{ALICE}>").status == "503 5.5.0"
        assert client.command("DATA").status == "503 5.5.0"
        assert client.command(f"MAIL FROM:<{SENDER}>").status == "250 2.1.0"  # no LHLO needed
        assert client.command("DATA").status == "503 5.5.0"  # no valid recipients
        assert client.command(f"MAIL FROM:<{SENDER}>").status == "503 5.5.0"
        assert client.command("RCPT TO:<nobody@example.test>").status == "550 5.1.1"
        assert client.command("DATA").status == "503 5.5.0"
        assert client.command("LHLO again.example").code == 250  # resets the transaction
        assert client.command(f"RCPT TO:<{ALICE}>").status == "503 5.5.0"


def test_syntax_errors_answer_and_keep_the_connection(lmtp_server: TidingsServer) -> None:
    with RawLmtp(lmtp_server.lmtp_port) as client:
        client.command("LHLO test.example")
        assert client.command("LHLO").status == "501 5.5.4"
        assert client.command("MAIL FROM:sender@remote.example").status == "501 5.5.4"
        assert client.command("MAIL FROM:<a@b> FOO=bar").status == "555 5.5.4"
        assert client.command("MAIL FROM:<a@b> BODY=BINARYMIME").status == "555 5.5.4"
        assert client.command("MAIL FROM:<a@b> SIZE=big").status == "501 5.5.4"
        assert client.command(b"NOOP\x00").status == "500 5.5.2"
        assert client.command(b"MAIL FROM:<\xff@b>").status == "501 5.5.4"
        assert client.command("").status == "500 5.5.1"
        assert client.command(f"MAIL FROM:<{SENDER}> SMTPUTF8 BODY=8BITMIME").code == 250
        assert client.command("RCPT TO:<>").status == "501 5.5.4"
        assert client.command(f"RCPT TO:<{ALICE}> NOTIFY=NEVER").status == "555 5.5.4"
        assert client.command(f"RCPT TO:<{ALICE}> ORCPT=rfc822;{ALICE}").status == "250 2.1.5"
        assert client.command("QUIT now").status == "501 5.5.4"
        assert client.command("QUIT").status == "221 2.0.0"
        assert client.at_eof()
