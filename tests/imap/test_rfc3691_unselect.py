"""UNSELECT (RFC 3691): leave the selected state without expunging, over real sockets."""

from __future__ import annotations

from tests.imap.harness import InProcessServer, LineClient


def _with_deleted_message(server: InProcessServer) -> LineClient:
    client = LineClient(server.port)
    client.login()
    client.send("a APPEND INBOX (\\Deleted) {5+}\r\nhello\r\n")
    assert client.read_until_tagged("a")[-1].startswith("a OK")
    assert client.command("s", "SELECT INBOX")[-1].startswith("s OK [READ-WRITE]")
    return client


def test_rfc3691_example(imap_server: InProcessServer) -> None:
    """§3: "A341 UNSELECT" / "A341 OK Unselect completed"; nothing is expunged."""
    client = _with_deleted_message(imap_server)
    assert "UNSELECT" in client.command("c", "CAPABILITY")[0].split()
    assert client.command("A341", "UNSELECT") == ["A341 OK Unselect completed."]
    assert client.command("f", "FETCH 1 FLAGS") == ["f BAD No mailbox selected."]
    assert client.command("st", "STATUS INBOX (MESSAGES DELETED)")[0] == (
        "* STATUS INBOX (MESSAGES 1 DELETED 1)"
    )


def test_close_expunges_where_unselect_does_not(imap_server: InProcessServer) -> None:
    client = _with_deleted_message(imap_server)
    assert client.command("c1", "CLOSE") == ["c1 OK Close completed."]
    assert client.command("st", "STATUS INBOX (MESSAGES)")[0] == "* STATUS INBOX (MESSAGES 0)"


def test_unselect_needs_a_selected_mailbox(imap_server: InProcessServer) -> None:
    """§2: UNSELECT is valid only in the selected state (then BAD, as CLOSE)."""
    client = LineClient(imap_server.port)
    client.login()
    assert client.command("u1", "UNSELECT") == ["u1 BAD No mailbox selected."]
    client.command("e", "EXAMINE INBOX")
    assert client.command("u2", "UNSELECT") == ["u2 OK Unselect completed."]
    assert client.command("u3", "UNSELECT") == ["u3 BAD No mailbox selected."]
    assert client.command("u4", "UNSELECT now")[0].startswith("u4 BAD ")
