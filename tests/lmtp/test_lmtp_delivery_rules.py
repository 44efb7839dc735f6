"""Delivery rules seen through LMTP: Junk routing, detail mailboxes, quotas (552 / 452)."""

from __future__ import annotations

import imaplib

from tests.conftest import SECOND_PASSWORD, SECOND_USER, TidingsServer, run_cli
from tests.lmtp.lmtp_support import (
    SENDER,
    TIMEOUT,
    RawLmtp,
    Reconfigure,
    fetch_all,
    find_message,
    make_message,
    trace_prefix,
    unique_subject,
)

ALICE = "alice@example.test"


def _deliver(server: TidingsServer, message: bytes, *recipients: str) -> list[str]:
    """One transaction over a raw socket; the statuses of the replies after the data."""
    with RawLmtp(server.lmtp_port) as client:
        client.command("LHLO rules.example")
        assert client.command(f"MAIL FROM:<{SENDER}>").code == 250
        for recipient in recipients:
            assert client.command(f"RCPT TO:<{recipient}>").code == 250
        assert client.command("DATA").code == 354
        client.send(message + b".\r\n")
        return [reply.status for reply in client.read_replies(len(recipients))]


def test_spam_flag_lands_in_junk(lmtp_server: TidingsServer) -> None:
    subject = unique_subject("spam")
    spam = make_message(subject, extra=b"X-Spam-Flag: YES\r\n")
    assert _deliver(lmtp_server, spam, ALICE) == ["250 2.0.0"]
    port, password = lmtp_server.imap_port, lmtp_server.password
    assert (
        find_message(port, ALICE, password, subject, "Junk") == trace_prefix(SENDER, ALICE) + spam
    )
    assert find_message(port, ALICE, password, subject) is None  # not in INBOX
    ham_subject = unique_subject("ham")
    ham = make_message(ham_subject, extra=b"X-Spam-Flag: NO\r\n")
    assert _deliver(lmtp_server, ham, ALICE) == ["250 2.0.0"]
    assert find_message(port, ALICE, password, ham_subject) is not None


def test_junk_routing_off_for_one_account(server: TidingsServer) -> None:
    result = run_cli(server.data_dir, "user", "junk-routing", SECOND_USER, "off")
    assert result.returncode == 0, result.stderr
    subject = unique_subject("spam")
    spam = make_message(subject, extra=b"X-Spam-Status: Yes, score=9.1 required=5.0\r\n")
    assert _deliver(server, spam, ALICE, SECOND_USER) == ["250 2.0.0", "250 2.0.0"]
    assert find_message(server.imap_port, ALICE, server.password, subject, "Junk")
    assert find_message(server.imap_port, SECOND_USER, SECOND_PASSWORD, subject)


def test_detail_mailbox(reconfigure: Reconfigure) -> None:
    server = reconfigure(delivery={"detail_mailbox": True})
    with imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=TIMEOUT) as imap:
        imap.login(ALICE, server.password)
        assert imap.create("Lists")[0] == "OK"
        imap.logout()
    filed, missing = unique_subject("lists"), unique_subject("nobox")
    assert _deliver(server, make_message(filed), "alice+Lists@example.test") == ["250 2.0.0"]
    assert _deliver(server, make_message(missing), "alice+Nope@example.test") == ["250 2.0.0"]
    assert find_message(server.imap_port, ALICE, server.password, filed, "Lists")
    assert find_message(server.imap_port, ALICE, server.password, missing)  # INBOX


def _fill_quota(server: TidingsServer) -> bytes:
    """Set alice's storage quota just above one small message; return a second message that
    no longer fits."""
    result = run_cli(server.data_dir, "user", "quota", ALICE, "--storage", "1K")
    assert result.returncode == 0, result.stderr
    assert _deliver(server, make_message(unique_subject()), ALICE) == ["250 2.0.0"]
    return make_message(unique_subject("over"), b"q" * 1024 + b"\r\n")


def test_quota_exhaustion_is_permanent_by_default(server: TidingsServer) -> None:
    over = _fill_quota(server)
    # One recipient over quota, the other fine: each gets its own reply (RFC 2033 §4.2).
    assert _deliver(server, over, ALICE, SECOND_USER) == ["552 5.2.2", "250 2.0.0"]
    assert len(fetch_all(server.imap_port, ALICE, server.password)) == 1
    assert len(fetch_all(server.imap_port, SECOND_USER, SECOND_PASSWORD)) == 1


def test_quota_exhaustion_as_temporary_failure(reconfigure: Reconfigure) -> None:
    server = reconfigure(delivery={"quota_full_tempfail": True})
    over = _fill_quota(server)
    assert _deliver(server, over, SECOND_USER, ALICE) == ["250 2.0.0", "452 4.2.2"]
    assert len(fetch_all(server.imap_port, ALICE, server.password)) == 1
