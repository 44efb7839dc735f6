"""NAMESPACE (RFC 2342, RFC 9051 §6.3.10): the personal, other users' and shared
namespaces, over real sockets."""

from __future__ import annotations

from tests.imap.harness import InProcessServer, LineClient

NAMESPACES = '* NAMESPACE (("" "/")) (("Other Users/" "/")) (("Shared/" "/"))'


def test_rfc2342_example_5_4_personal_other_users_and_shared(imap_server: InProcessServer) -> None:
    """§5.4-§5.6: a personal namespace, other users' namespace, and a shared one."""
    client = LineClient(imap_server.port)
    assert client.command("A000", "NAMESPACE") == ["A000 BAD Log in first."]
    client.login()
    assert "NAMESPACE" in client.command("c", "CAPABILITY")[0].split()
    assert client.command("A001", "NAMESPACE") == [
        NAMESPACES,
        "A001 OK Namespace completed.",
    ]
    client.command("s", "SELECT INBOX")
    assert client.command("A002", "NAMESPACE")[0] == NAMESPACES
    assert client.command("A003", "NAMESPACE extra")[0].startswith("A003 BAD ")


def test_namespace_agrees_with_list(imap_server: InProcessServer) -> None:
    """The prefix and delimiter NAMESPACE names are those LIST uses (RFC 2342 §6)."""
    client = LineClient(imap_server.port)
    client.login()
    assert client.command("l", 'LIST "" ""') == [
        '* LIST (\\Noselect) "/" ""',
        "l OK List completed.",
    ]
