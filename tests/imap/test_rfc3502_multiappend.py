"""MULTIAPPEND (RFC 3502): several messages in one APPEND, stored all or none, with APPENDUID
naming a uid-set (RFC 4315 §3); over real sockets, by raw transcripts and by imapclient."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import imapclient
import pytest
from tests.imap.harness import (
    PASSWORD,
    USER,
    InProcessServer,
    LineClient,
    run_transcript,
    server_with_limits,
)

# RFC 3502 §7: the two messages of the example (line ends as on the wire).
RFC_MESSAGE_1 = (
    b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
    b"From: Fred Foobar <foobar@Blurdybloop.example.COM>\r\n"
    b"Subject: afternoon meeting\r\n"
    b"To: mooch@owatagu.example.net\r\n"
    b"Message-Id: <B27397-0100000@Blurdybloop.example.COM>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
    b"\r\n"
    b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"
)
RFC_MESSAGE_2 = (
    b"Date: Mon, 7 Feb 1994 22:43:04 -0800 (PST)\r\n"
    b"From: Joe Mooch <mooch@OWaTaGu.example.net>\r\n"
    b"Subject: Re: afternoon meeting\r\n"
    b"To: foobar@blurdybloop.example.com\r\n"
    b"Message-Id: <a0434793874930@OWaTaGu.example.net>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
    b"\r\n"
    b"3:30 is fine with me.\r\n"
)


def _client(server: InProcessServer) -> LineClient:
    client = LineClient(server.port)
    client.login()
    return client


def _status(client: LineClient, mailbox: str = "INBOX") -> str:
    reply = client.command("st", f"STATUS {mailbox} (MESSAGES UIDNEXT)")
    assert reply[-1].startswith("st OK"), reply
    return reply[0]


def test_capability_is_advertised_once_authenticated(imap_server: InProcessServer) -> None:
    client = LineClient(imap_server.port)
    assert "MULTIAPPEND" not in client.command("c1", "CAPABILITY")[0].split()
    client.login()
    assert "MULTIAPPEND" in client.command("c2", "CAPABILITY")[0].split()


def test_rfc3502_example(imap_server: InProcessServer) -> None:
    """RFC 3502 §7, with "saved-messages" created first; the server refuses the literal of
    A004 at once (no `+`), since the mailbox does not exist."""
    client = _client(imap_server)
    assert client.command("a1", "CREATE saved-messages")[-1].startswith("a1 OK")
    client.send_line(f"A003 APPEND saved-messages (\\Seen) {{{len(RFC_MESSAGE_1)}}}")
    assert client.read_line().startswith("+ ")
    client.send(RFC_MESSAGE_1)
    client.send_line(f' (\\Seen) " 7-Feb-1994 22:43:04 -0800" {{{len(RFC_MESSAGE_2)}}}')
    assert client.read_line().startswith("+ ")
    client.send(RFC_MESSAGE_2)
    client.send(b"\r\n")
    done = client.read_line()
    assert done.startswith("A003 OK [APPENDUID "), done
    uidvalidity = done.split()[3]
    assert done.split()[4] == "1:2]"
    assert client.command("A004", "APPEND bogusname (\\Flagged) {1023}") == [
        "A004 NO [TRYCREATE] Mailbox doesn't exist."
    ]
    # The refused literal was never sent; the connection goes on normally.
    assert client.command("a5", "EXAMINE saved-messages")[-1].startswith("a5 OK")
    reply = client.command("a6", "FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE)")
    assert reply[0].startswith("* 1 FETCH (UID 1 FLAGS (\\Seen $HasNoAttachment) INTERNALDATE ")
    assert f"RFC822.SIZE {len(RFC_MESSAGE_1)})" in reply[0]
    assert reply[1] == (
        "* 2 FETCH (UID 2 FLAGS (\\Seen $HasNoAttachment) "
        'INTERNALDATE " 7-Feb-1994 22:43:04 -0800" '
        f"RFC822.SIZE {len(RFC_MESSAGE_2)})"
    )
    client.send_line("a7 FETCH 2 BODY.PEEK[]")
    assert client.read_line() == f"* 2 FETCH (BODY[] {{{len(RFC_MESSAGE_2)}}}"
    assert client.read_exact(len(RFC_MESSAGE_2)) == RFC_MESSAGE_2
    assert client.read_until_tagged("a7")[-1].startswith("a7 OK")
    assert uidvalidity.isdigit()


def test_non_synchronizing_multiappend_and_appenduid_set(imap_server: InProcessServer) -> None:
    """LITERAL+ (RFC 7888) messages in one command; UIDs follow on from earlier ones."""
    run_transcript(
        imap_server,
        """
        C1: a1 LOGIN {user} "{password}"
        S1: a1 OK …
        C1: a2 APPEND INBOX {6+}
        C1: first!
        S1: a2 OK [APPENDUID … 1] Append completed.
        C1: a3 APPEND INBOX (\\Flagged $Work) {5+}
        C1: hello "01-Jan-2024 10:00:00 +0100" {5+}
        C1: world {5+}
        C1: third
        S1: a3 OK [APPENDUID … 2:4] Append completed.
        C1: a4 STATUS INBOX (MESSAGES UIDNEXT)
        S1: * STATUS INBOX (MESSAGES 4 UIDNEXT 5)
        S1: a4 OK Status completed.
    """,
    )
    client = _client(imap_server)
    assert client.command("a4", "EXAMINE INBOX")[-1].startswith("a4 OK [READ-ONLY]")
    reply = client.command("a5", "FETCH 2:4 (UID FLAGS INTERNALDATE RFC822.SIZE)")
    assert reply[0].startswith(
        "* 2 FETCH (UID 2 FLAGS (\\Flagged $HasNoAttachment $Work) INTERNALDATE "
    )
    assert reply[1] == (
        "* 3 FETCH (UID 3 FLAGS ($HasNoAttachment) "
        'INTERNALDATE " 1-Jan-2024 10:00:00 +0100" RFC822.SIZE 5)'
    )
    assert reply[2].startswith("* 4 FETCH (UID 4 FLAGS ($HasNoAttachment) INTERNALDATE ")
    assert reply[3] == "a5 OK Fetch completed."


def test_an_idle_client_sees_all_messages_at_once(imap_server: InProcessServer) -> None:
    """One commit, one change notice: the IDLE client gets one EXISTS for all three."""
    idler = _client(imap_server)
    assert idler.command("a2", "SELECT INBOX")[-1].startswith("a2 OK [READ-WRITE]")
    idler.send_line("a3 IDLE")
    assert idler.read_line().startswith("+ ")
    run_transcript(
        imap_server,
        """
        C2: b1 LOGIN {user} "{password}"
        S2: b1 OK …
        C2: b2 APPEND INBOX {1+}
        C2: a {1+}
        C2: b {1+}
        C2: c
        S2: b2 OK [APPENDUID … 1:3] Append completed.
    """,
    )
    assert idler.read_line() == "* 3 EXISTS"
    assert idler.read_line() == "* 3 RECENT"
    idler.send_line("DONE")
    assert idler.read_line() == "a3 OK Idle completed."


@pytest.mark.parametrize(
    ("second", "reply"),
    [
        # An empty message anywhere fails the whole command (RFC 3502 §3).
        ("{0+}\r\n", "a2 NO Message 2: Can't save a zero byte message."),
        # A bad flag in a later message: the command is a BAD, nothing is stored.
        ("(\\Bogus) {3+}\r\nbad", "a2 BAD Invalid system flag \\Bogus"),
        # A syntax error after a complete first message.
        ("{3+}\r\nabc junk", "a2 BAD Expected message literal"),
        # UTF8 data without ENABLE UTF8=ACCEPT (RFC 6855 §4).
        ("UTF8 (~{3+}\r\nabc)", "a2 BAD Message 2: UTF8 data needs ENABLE UTF8=ACCEPT."),
    ],
)
def test_a_failure_in_any_message_stores_none(
    imap_server: InProcessServer, second: str, reply: str
) -> None:
    client = _client(imap_server)
    before = _status(client)
    client.send(f"a2 APPEND INBOX {{5+}}\r\nfirst {second}\r\n")
    assert client.read_until_tagged("a2") == [reply]
    assert _status(client) == before == "* STATUS INBOX (MESSAGES 0 UIDNEXT 1)"


def test_too_big_later_message_is_refused_before_upload(tmp_path: Path) -> None:
    """APPENDLIMIT (RFC 7889) holds per message; the refusal drops the whole command."""
    with server_with_limits(tmp_path, max_message_size=100) as server:
        client = _client(server)
        client.send_line("a2 APPEND INBOX {5}")
        assert client.read_line().startswith("+ ")
        client.send_line("first {101}")
        assert client.read_line() == "a2 NO [TOOBIG] Literal too large (limit 100 bytes)."
        assert _status(client) == "* STATUS INBOX (MESSAGES 0 UIDNEXT 1)"


def test_command_size_limit_bounds_the_total(tmp_path: Path) -> None:
    """`max_command_size` bounds all literals of one command together: NO [LIMIT]."""
    with server_with_limits(
        tmp_path, max_message_size=1000, max_line_length=1000, max_command_size=2500
    ) as server:
        client = _client(server)
        body = "x" * 900
        client.send(f"a2 APPEND INBOX {{900+}}\r\n{body} {{900+}}\r\n{body} {{900}}\r\n")
        assert client.read_line() == "a2 NO [LIMIT] Command too large (limit 2500 bytes)."
        assert _status(client) == "* STATUS INBOX (MESSAGES 0 UIDNEXT 1)"
        # Two of them fit.
        client.send(f"a3 APPEND INBOX {{900+}}\r\n{body} {{900+}}\r\n{body}\r\n")
        assert client.read_until_tagged("a3")[-1].startswith("a3 OK [APPENDUID ")


def test_message_count_limit(tmp_path: Path) -> None:
    """`max_append_messages` bounds one APPEND: NO [LIMIT], nothing stored."""
    with server_with_limits(tmp_path, max_append_messages=2) as server:
        client = _client(server)
        client.send_line("a2 APPEND INBOX {1}")
        assert client.read_line().startswith("+ ")
        client.send_line("a {1}")
        assert client.read_line().startswith("+ ")
        client.send_line("b {1}")
        assert client.read_line() == "a2 NO [LIMIT] Too many messages in one APPEND (limit 2)."
        client.send("a3 APPEND INBOX {1+}\r\na {1+}\r\nb {1+}\r\nc\r\n")
        assert client.read_until_tagged("a3") == [
            "a3 NO [LIMIT] Too many messages in one APPEND (limit 2)."
        ]
        assert _status(client) == "* STATUS INBOX (MESSAGES 0 UIDNEXT 1)"
        client.send("a4 APPEND INBOX {1+}\r\na {1+}\r\nb\r\n")
        assert client.read_until_tagged("a4")[-1].startswith("a4 OK [APPENDUID ")


def test_quota_is_checked_for_the_total(imap_server: InProcessServer) -> None:
    """RFC 9208 §4.1 / RFC 3502 §3: each message fits alone but not together."""
    imap_server.set_quota(250, None)
    client = _client(imap_server)
    body = "y" * 100
    # Synchronizing: the third literal is refused before it is sent.
    client.send_line("a2 APPEND INBOX {100}")
    assert client.read_line().startswith("+ ")
    client.send_line(f"{body} {{100}}")
    assert client.read_line().startswith("+ ")
    client.send_line(f"{body} {{100}}")
    assert client.read_line() == "a2 NO [OVERQUOTA] Quota exceeded (mailbox for user is full)"
    assert _status(client) == "* STATUS INBOX (MESSAGES 0 UIDNEXT 1)"
    # Non-synchronizing: the transaction refuses the whole batch.
    client.send(f"a3 APPEND INBOX {{100+}}\r\n{body} {{100+}}\r\n{body} {{100+}}\r\n{body}\r\n")
    assert client.read_until_tagged("a3") == [
        "a3 NO [OVERQUOTA] Quota exceeded (mailbox for user is full)"
    ]
    assert _status(client) == "* STATUS INBOX (MESSAGES 0 UIDNEXT 1)"
    client.send(f"a4 APPEND INBOX {{100+}}\r\n{body} {{100+}}\r\n{body}\r\n")
    assert client.read_until_tagged("a4")[-1].startswith("a4 OK [APPENDUID ")


def test_missing_mailbox_refuses_before_the_first_literal(imap_server: InProcessServer) -> None:
    """Non-synchronizing literals are already sent: then the tagged NO comes at the end."""
    client = _client(imap_server)
    client.send("a2 APPEND Nope {3+}\r\nabc {3+}\r\ndef\r\n")
    assert client.read_until_tagged("a2") == ["a2 NO [TRYCREATE] Mailbox doesn't exist."]


def test_imapclient_multiappend(imap_server: InProcessServer) -> None:
    """An independent client's MULTIAPPEND (imapclient 3+ `multiappend`)."""
    with imapclient.IMAPClient("127.0.0.1", port=imap_server.port, ssl=False, timeout=10) as client:
        client.login(USER, PASSWORD)
        assert b"MULTIAPPEND" in client.capabilities()
        when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=2)))
        status, (text,) = client.multiappend(
            "INBOX",
            [
                RFC_MESSAGE_1.decode(),
                {"msg": RFC_MESSAGE_2.decode(), "flags": [imapclient.SEEN], "date": when},
            ],
        )
        assert status == "OK" and text.startswith(b"[APPENDUID ") and b" 1:2] " in text
        client.select_folder("INBOX")
        fetched = client.fetch([1, 2], ["FLAGS", "INTERNALDATE", "BODY.PEEK[]"])
        assert fetched[1][b"BODY[]"] == RFC_MESSAGE_1
        assert fetched[2][b"BODY[]"] == RFC_MESSAGE_2
        assert imapclient.SEEN in fetched[2][b"FLAGS"]
        assert fetched[2][b"INTERNALDATE"] == when.astimezone().replace(tzinfo=None)
