"""STATUS=SIZE (RFC 8438): the SIZE status item, the sum of the messages' RFC822.SIZE."""

from __future__ import annotations

from tests.imap.harness import InProcessServer, LineClient


def test_rfc8438_example(imap_server: InProcessServer) -> None:
    """§3: STATUS with SIZE; it follows APPEND and EXPUNGE."""
    client = LineClient(imap_server.port)
    client.login()
    assert "STATUS=SIZE" in client.command("c", "CAPABILITY")[0].split()
    assert client.command("a1", "STATUS INBOX (MESSAGES SIZE)") == [
        "* STATUS INBOX (MESSAGES 0 SIZE 0)",
        "a1 OK Status completed.",
    ]
    for size, flags in ((1000, ""), (2000, "\\Deleted"), (37, "")):
        client.send(f"a APPEND INBOX ({flags}) {{{size}+}}\r\n" + "x" * size + "\r\n")
        assert client.read_until_tagged("a")[-1].startswith("a OK")
    assert client.command("a2", "STATUS INBOX (SIZE MESSAGES)")[0] == (
        "* STATUS INBOX (SIZE 3037 MESSAGES 3)"
    )
    client.command("s", "SELECT INBOX")
    client.command("e", "EXPUNGE")
    assert client.command("a3", "STATUS INBOX (SIZE)")[0] == "* STATUS INBOX (SIZE 1037)"
    # LIST-STATUS (RFC 5819) carries it too.
    reply = client.command("a4", 'LIST "" INBOX RETURN (STATUS (SIZE))')
    assert reply[1] == "* STATUS INBOX (SIZE 1037)"
