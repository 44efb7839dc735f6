"""Authentication and transport security (RFC 9051 §6.2, §11; RFC 4959 SASL-IR)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.imap.harness import PASSWORD, USER, InProcessServer, LineClient


@pytest.fixture
def remote_server(tmp_path: Path) -> Iterator[InProcessServer]:
    """A server that treats every client as off-loopback."""
    server = InProcessServer(tmp_path, remote_peers=True).start()
    yield server
    server.stop()


def _plain(user: str = USER, password: str = PASSWORD) -> str:
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def test_plaintext_refused_off_loopback_until_starttls(remote_server: InProcessServer) -> None:
    """LOGINDISABLED and [PRIVACYREQUIRED] without TLS; allowed after STARTTLS."""
    client = LineClient(remote_server.port)
    assert "LOGINDISABLED" in client.greeting and "STARTTLS" in client.greeting
    assert "AUTH=PLAIN" not in client.greeting
    reply = client.command("a1", f'LOGIN {USER} "{PASSWORD}"')
    assert reply[-1].startswith("a1 NO [PRIVACYREQUIRED]")
    reply = client.command("a2", f"AUTHENTICATE PLAIN {_plain()}")
    assert reply[-1].startswith("a2 NO [PRIVACYREQUIRED]")
    client.starttls()
    capability = client.command("a3", "CAPABILITY")[0]
    assert "LOGINDISABLED" not in capability and "STARTTLS" not in capability
    assert "AUTH=PLAIN" in capability
    client.login()


def test_starttls_discards_pipelined_commands(remote_server: InProcessServer) -> None:
    """RFC 9051 §6.2.1: commands sent in plaintext after STARTTLS are not executed."""
    client = LineClient(remote_server.port)
    client.send_line("t1 STARTTLS\r\nt2 NOOP")
    assert client.read_line().startswith("t1 OK")
    import ssl  # noqa: PLC0415

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    client.sock = context.wrap_socket(client.sock, server_hostname="localhost")
    client.buffer = b""
    assert client.command("t3", "NOOP") == ["t3 OK Noop completed."]


def test_starttls_discards_plaintext_beyond_one_read(remote_server: InProcessServer) -> None:
    """RFC 9051 §6.2.1 (the CVE-2011-0411 class): plaintext that asyncio buffered past the
    driver's first read after STARTTLS must not be executed once TLS is up."""
    client = LineClient(remote_server.port)
    injected = "t2 NOOP\r\n" * 12_000  # ~100 KB, more than one 64 KiB read
    client.send(f't1 STARTTLS\r\n{injected}t9 LOGIN {USER} "{PASSWORD}"\r\n')
    assert client.read_line().startswith("t1 OK")
    import ssl  # noqa: PLC0415

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    client.sock = context.wrap_socket(client.sock, server_hostname="localhost")
    client.buffer = b""
    assert client.command("t3", "NOOP") == ["t3 OK Noop completed."]


def test_authenticate_plain_with_initial_response(imap_server: InProcessServer) -> None:
    """RFC 4959: the credentials ride on the command line."""
    client = LineClient(imap_server.port)
    reply = client.command("a1", f"AUTHENTICATE PLAIN {_plain()}")
    assert reply[-1].startswith("a1 OK [CAPABILITY IMAP4rev1")


def test_authenticate_plain_with_continuation(imap_server: InProcessServer) -> None:
    """RFC 9051 §6.2.2: empty challenge, then the response on its own line."""
    client = LineClient(imap_server.port)
    client.send_line("a1 AUTHENTICATE PLAIN")
    assert client.read_line().startswith("+")
    client.send_line(_plain())
    assert client.read_line().startswith("a1 OK")


def test_authenticate_login_mechanism(imap_server: InProcessServer) -> None:
    """AUTH=LOGIN: Username: / Password: challenges, base64 encoded."""
    client = LineClient(imap_server.port)
    client.send_line("a1 AUTHENTICATE LOGIN")
    assert base64.b64decode(client.read_line()[2:]) == b"Username:"
    client.send_line(base64.b64encode(USER.encode()).decode())
    assert base64.b64decode(client.read_line()[2:]) == b"Password:"
    client.send_line(base64.b64encode(PASSWORD.encode()).decode())
    assert client.read_line().startswith("a1 OK")


def test_authenticate_cancel_and_bad_credentials(imap_server: InProcessServer) -> None:
    """`*` cancels with BAD; wrong credentials give NO [AUTHENTICATIONFAILED]."""
    client = LineClient(imap_server.port)
    client.send_line("a1 AUTHENTICATE PLAIN")
    client.read_line()
    client.send_line("*")
    assert client.read_line().startswith("a1 BAD")
    reply = client.command("a2", f"AUTHENTICATE PLAIN {_plain(password='nope')}")
    assert reply[-1].startswith("a2 NO [AUTHENTICATIONFAILED]")
    reply = client.command("a3", "AUTHENTICATE CRAM-MD5")
    assert reply[-1].startswith("a3 NO")


def test_commands_refused_in_wrong_state(imap_server: InProcessServer) -> None:
    """RFC 9051 §3: state rules answered with BAD, never executed."""
    client = LineClient(imap_server.port)
    assert client.command("a1", "SELECT INBOX")[-1].startswith("a1 BAD")
    client.login()
    assert client.command("a2", "FETCH 1 FLAGS")[-1].startswith("a2 BAD")
    assert client.command("a3", f'LOGIN {USER} "{PASSWORD}"')[-1].startswith("a3 BAD")


def test_mailbox_names_mutf7_for_rev1_and_utf8_for_rev2(imap_server: InProcessServer) -> None:
    """RFC 3501 §5.1.3 modified UTF-7 until ENABLE IMAP4rev2, then UTF-8 (RFC 9051 §5.1)."""
    client = LineClient(imap_server.port)
    client.login()
    assert client.command("c1", "CREATE Entw&APw-rfe")[-1].startswith("c1 OK")
    listing = client.command("l1", 'LIST "" Entw*')
    assert listing[0] == '* LIST (\\HasNoChildren) "/" Entw&APw-rfe'
    assert client.command("c2", "CREATE Entw\u00fcrfe")[-1].startswith(("c2 NO", "c2 BAD"))
    assert client.command("e1", "ENABLE IMAP4rev2")[0] == "* ENABLED IMAP4rev2"
    listing = client.command("l2", 'LIST "" Entw*')
    assert listing[0] == '* LIST (\\HasNoChildren) "/" "Entw\u00fcrfe"'
