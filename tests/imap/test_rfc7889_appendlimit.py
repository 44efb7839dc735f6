"""APPENDLIMIT (RFC 7889): the limit in CAPABILITY, the STATUS APPENDLIMIT item, LIST-STATUS
with it, and APPEND refused with TOOBIG above it (before the upload when it can be)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.imap.harness import InProcessServer, LineClient, server_with_limits

LIMIT = 1000


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[InProcessServer]:
    with server_with_limits(tmp_path, max_message_size=LIMIT) as server:
        yield server


def _client(server: InProcessServer) -> LineClient:
    client = LineClient(server.port)
    client.login()
    return client


def test_capability_names_the_limit(small_server: InProcessServer) -> None:
    """RFC 7889 §2: APPENDLIMIT=n when one limit holds for every mailbox."""
    client = _client(small_server)
    assert f"APPENDLIMIT={LIMIT}" in client.command("a1", "CAPABILITY")[0].split()


def test_default_limit_is_advertised(imap_server: InProcessServer) -> None:
    client = _client(imap_server)
    assert "APPENDLIMIT=52428800" in client.command("a1", "CAPABILITY")[0].split()


def test_rfc7889_status_example(small_server: InProcessServer) -> None:
    """RFC 7889 §3's STATUS example (with this server's limit)."""
    client = _client(small_server)
    assert client.command("a001", "STATUS INBOX (APPENDLIMIT)") == [
        f"* STATUS INBOX (APPENDLIMIT {LIMIT})",
        "a001 OK Status completed.",
    ]
    assert client.command("a002", "STATUS Sent (MESSAGES APPENDLIMIT UIDNEXT)") == [
        f"* STATUS Sent (MESSAGES 0 APPENDLIMIT {LIMIT} UIDNEXT 1)",
        "a002 OK Status completed.",
    ]


def test_rfc7889_list_status_example(small_server: InProcessServer) -> None:
    """RFC 7889 §3 with LIST-STATUS (RFC 5819): one STATUS per listed mailbox."""
    client = _client(small_server)
    reply = client.command("a3", 'LIST "" % RETURN (STATUS (APPENDLIMIT))')
    assert reply[0] == '* LIST (\\HasNoChildren) "/" INBOX'
    assert reply[1] == f"* STATUS INBOX (APPENDLIMIT {LIMIT})"
    statuses = [line for line in reply if line.startswith("* STATUS ")]
    assert len(statuses) == 6 == len([line for line in reply if line.startswith("* LIST ")])
    assert all(line.endswith(f"(APPENDLIMIT {LIMIT})") for line in statuses)
    assert reply[-1] == "a3 OK List completed."


def test_append_at_the_limit_is_stored(small_server: InProcessServer) -> None:
    client = _client(small_server)
    client.send_line(f"a4 APPEND INBOX {{{LIMIT}}}")
    assert client.read_line().startswith("+ ")
    client.send(b"x" * LIMIT + b"\r\n")
    assert client.read_until_tagged("a4")[-1].startswith("a4 OK [APPENDUID ")


def test_synchronizing_literal_over_the_limit_is_refused_before_upload(
    small_server: InProcessServer,
) -> None:
    """RFC 7889 §4: TOOBIG; no `+`, so the client never sends the message."""
    client = _client(small_server)
    assert client.command("a5", f"APPEND INBOX {{{LIMIT + 1}}}") == [
        f"a5 NO [TOOBIG] Literal too large (limit {LIMIT} bytes)."
    ]
    assert client.command("a6", "STATUS INBOX (MESSAGES)")[0] == "* STATUS INBOX (MESSAGES 0)"


def test_non_synchronizing_literal_over_the_limit_is_skipped(
    small_server: InProcessServer,
) -> None:
    """A LITERAL+ message is on its way already: it is read and dropped, then TOOBIG."""
    client = _client(small_server)
    client.send(f"a7 APPEND INBOX {{{LIMIT + 1}+}}\r\n".encode() + b"y" * (LIMIT + 1) + b"\r\n")
    assert client.read_line() == f"a7 NO [TOOBIG] Literal too large (limit {LIMIT} bytes)."
    assert client.command("a8", "NOOP") == ["a8 OK Noop completed."]
    assert client.command("a9", "STATUS INBOX (MESSAGES)")[0] == "* STATUS INBOX (MESSAGES 0)"


def test_the_limit_holds_per_message_in_a_multiappend(small_server: InProcessServer) -> None:
    """RFC 7889 §1 with RFC 3502: each message may be up to the limit."""
    client = _client(small_server)
    body = b"z" * LIMIT
    client.send(b"b1 APPEND INBOX {1000+}\r\n" + body + b" {1000+}\r\n" + body + b"\r\n")
    assert client.read_until_tagged("b1")[-1].startswith("b1 OK [APPENDUID ")
    assert client.command("b2", "STATUS INBOX (MESSAGES)")[0] == "* STATUS INBOX (MESSAGES 2)"
