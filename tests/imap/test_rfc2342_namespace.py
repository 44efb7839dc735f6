"""NAMESPACE (RFC 2342, RFC 9051 §6.3.10): one personal namespace, over real sockets."""

from __future__ import annotations

from tests.imap.harness import InProcessServer, LineClient


def test_rfc2342_example_5_1_single_personal_namespace(imap_server: InProcessServer) -> None:
    """§5.1: "a server that supports only a single personal namespace"."""
    client = LineClient(imap_server.port)
    assert client.command("A000", "NAMESPACE") == ["A000 BAD Log in first."]
    client.login()
    assert "NAMESPACE" in client.command("c", "CAPABILITY")[0].split()
    assert client.command("A001", "NAMESPACE") == [
        '* NAMESPACE (("" "/")) NIL NIL',
        "A001 OK Namespace completed.",
    ]
    client.command("s", "SELECT INBOX")
    assert client.command("A002", "NAMESPACE")[0] == '* NAMESPACE (("" "/")) NIL NIL'
    assert client.command("A003", "NAMESPACE extra")[0].startswith("A003 BAD ")


def test_namespace_agrees_with_list(imap_server: InProcessServer) -> None:
    """The prefix and delimiter NAMESPACE names are those LIST uses (RFC 2342 §6)."""
    client = LineClient(imap_server.port)
    client.login()
    assert client.command("l", 'LIST "" ""') == [
        '* LIST (\\Noselect) "/" ""',
        "l OK List completed.",
    ]
