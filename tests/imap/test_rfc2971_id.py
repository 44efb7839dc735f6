"""ID (RFC 2971): the RFC's examples, in every state, over real sockets."""

from __future__ import annotations

from tests.imap.harness import InProcessServer, LineClient

from tidings import __version__

SERVER_ID = f'* ID ("name" "Tidings" "version" "{__version__}" "vendor" "Tidings")'


def test_advertised_before_login(imap_server: InProcessServer) -> None:
    assert "ID" in LineClient(imap_server.port).command("c", "CAPABILITY")[0].split()


def test_rfc2971_example_with_client_fields(imap_server: InProcessServer) -> None:
    """§3.2's example: the client names itself; the server answers with its own fields
    (allowed: "the server MAY ... or NIL")."""
    client = LineClient(imap_server.port)
    reply = client.command(
        "a023", 'ID ("name" "sodr" "version" "19.34" "vendor" "Pink Floyd Music Limited")'
    )
    assert reply == [SERVER_ID, "a023 OK ID completed."]


def test_rfc2971_id_nil_in_every_state(imap_server: InProcessServer) -> None:
    client = LineClient(imap_server.port)
    assert client.command("a1", "ID NIL") == [SERVER_ID, "a1 OK ID completed."]
    client.login()
    assert client.command("a2", "id nil") == [SERVER_ID, "a2 OK ID completed."]
    client.command("s", "SELECT INBOX")
    assert client.command("a3", 'ID ("os" NIL)') == [SERVER_ID, "a3 OK ID completed."]
    assert client.command("a4", "ID ()") == [SERVER_ID, "a4 OK ID completed."]


def test_bad_id_arguments(imap_server: InProcessServer) -> None:
    """§4: id-params-list = "(" #(string SP nstring) ")" / nil."""
    client = LineClient(imap_server.port)
    for tag, arguments in (("b1", ""), ("b2", ' ("name")'), ("b3", " name"), ("b4", ' ("a" "b"')):
        reply = client.command(tag, f"ID{arguments}")
        assert len(reply) == 1 and reply[0].startswith(f"{tag} BAD "), reply
