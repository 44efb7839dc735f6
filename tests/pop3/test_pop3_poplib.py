"""poplib (the standard library's POP3 client) against a real `tidings serve`: every command of
RFC 1939, CAPA (RFC 2449), STLS (RFC 2595), AUTH with SASL-IR (RFC 5034) and POP3S, with
messages put in by IMAP APPEND and compared byte for byte."""

from __future__ import annotations

import base64
import poplib
import re
from collections.abc import Iterator

import pytest
from tests.conftest import TidingsServer, make_server
from tests.pop3.harness import client_tls_context
from tests.pop3.helpers import (
    BARE_LF,
    DOTS,
    PLAIN,
    expected_retr,
    imap_append,
    joined,
    large_message,
    uidvalidity,
    wire_size,
)

LARGE = large_message()
MESSAGES = [PLAIN, BARE_LF, DOTS, LARGE]


def fill(server: TidingsServer) -> TidingsServer:
    """Put MESSAGES in alice's empty INBOX, in that order."""
    assert imap_append(server.imap_port, server.user, server.password, *MESSAGES) == [1, 2, 3, 4]
    return server


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TidingsServer]:
    """One server for this module with MESSAGES in alice's INBOX. Tests leave the INBOX as
    they found it: they end with QUIT and no DELE marks (or RSET), or use `server`."""
    server = make_server(tmp_path_factory.mktemp("pop3-poplib"))
    server.start()
    yield fill(server)
    server.stop()


@pytest.fixture
def pop(filled: TidingsServer) -> Iterator[poplib.POP3]:
    """A poplib session logged in with USER/PASS (allowed: the peer is loopback); it ends
    with RSET and QUIT, so the next test finds the maildrop unlocked and unchanged."""
    client = poplib.POP3(filled.host, filled.pop3_port, timeout=30)
    client.user(filled.user)
    client.pass_(filled.password)
    yield client
    try:
        client.rset()
        client.quit()
    finally:
        client.close()


def test_rfc1939_greeting_and_user_pass(filled: TidingsServer) -> None:
    client = poplib.POP3(filled.host, filled.pop3_port, timeout=30)
    try:
        assert client.getwelcome().startswith(b"+OK")
        assert client.user(filled.user).startswith(b"+OK")
        assert client.pass_(filled.password) == b"+OK Logged in."
        assert client.quit().startswith(b"+OK")
    finally:
        client.close()


def test_rfc1939_5_stat_and_list(pop: poplib.POP3) -> None:
    sizes = [wire_size(raw) for raw in MESSAGES]
    assert pop.stat() == (4, sum(sizes))
    response, lines, _ = pop.list()
    assert response.startswith(b"+OK")
    assert lines == [b"%d %d" % (n, size) for n, size in enumerate(sizes, 1)]
    assert pop.list(2) == b"+OK 2 %d" % sizes[1]
    with pytest.raises(poplib.error_proto, match="no message 5"):
        pop.list(5)


def test_rfc1939_5_retr_sends_the_stored_bytes_and_the_listed_size(pop: poplib.POP3) -> None:
    for number, raw in enumerate(MESSAGES, 1):
        response, lines, octets = pop.retr(number)
        assert response == b"+OK %d octets" % wire_size(raw)
        assert joined(lines) == expected_retr(raw), f"message {number}"
        # poplib counts the unstuffed octets with CRLF; only an added final CRLF differs.
        added = 0 if raw.endswith(b"\n") else 2
        assert octets == wire_size(raw) + added


def test_rfc1939_7_top(pop: poplib.POP3) -> None:
    _, lines, _ = pop.top(3, 0)
    assert lines == [b"From: c@example.test", b"Subject: dots", b""]
    _, lines, _ = pop.top(3, 2)
    assert lines[3:] == [b".starts with a dot", b"..two dots"]  # poplib unstuffed them
    _, lines, _ = pop.top(2, 1)  # bare LFs come out as lines too
    assert lines == [b"From: b@example.test", b"Subject: bare LF", b"", b"line one"]
    _, lines, _ = pop.top(1, 1000)
    assert joined(lines) == PLAIN


def test_rfc1939_7_uidl_is_uid_then_uidvalidity_in_hex(
    filled: TidingsServer, pop: poplib.POP3
) -> None:
    validity = uidvalidity(filled.imap_port, filled.user, filled.password)
    response, lines, _ = pop.uidl()
    assert response.startswith(b"+OK")
    expected = [b"%d %08x%08x" % (n, n, validity) for n in range(1, 5)]
    assert lines == expected
    assert pop.uidl(3) == b"+OK " + expected[2]
    for line in lines:
        assert re.fullmatch(rb"\d+ [\x21-\x7e]{1,70}", line)


def test_rfc1939_5_dele_rset_noop(pop: poplib.POP3) -> None:
    assert pop.dele(1).startswith(b"+OK")
    with pytest.raises(poplib.error_proto, match="deleted"):
        pop.dele(1)
    with pytest.raises(poplib.error_proto, match="deleted"):
        pop.retr(1)
    assert pop.stat()[0] == 3
    assert [line.split()[0] for line in pop.list()[1]] == [b"2", b"3", b"4"]
    assert [line.split()[0] for line in pop.uidl()[1]] == [b"2", b"3", b"4"]
    assert pop.noop().startswith(b"+OK")
    assert pop.rset().startswith(b"+OK")
    assert pop.stat()[0] == 4


def test_rfc1939_6_dele_then_quit_deletes(server: TidingsServer) -> None:
    fill(server)
    pop = poplib.POP3(server.host, server.pop3_port, timeout=30)
    try:
        pop.user(server.user)
        pop.pass_(server.password)
        pop.dele(2)
        pop.dele(4)
        assert pop.quit() == b"+OK Logging out, messages deleted."
    finally:
        pop.close()
    again = poplib.POP3(server.host, server.pop3_port, timeout=30)
    try:
        again.user(server.user)
        again.pass_(server.password)
        assert again.stat() == (2, wire_size(PLAIN) + wire_size(DOTS))
        assert joined(again.retr(2)[1]) == DOTS  # renumbered in the new session
    finally:
        again.close()


def test_rfc1939_commands_in_the_wrong_state(filled: TidingsServer, pop: poplib.POP3) -> None:
    with pytest.raises(poplib.error_proto, match="Already logged in"):
        pop.user(filled.user)
    fresh = poplib.POP3(filled.host, filled.pop3_port, timeout=30)
    try:
        with pytest.raises(poplib.error_proto, match="Log in first"):
            fresh.stat()
        with pytest.raises(poplib.error_proto, match="No username given"):
            fresh.pass_("x")
        assert fresh.quit() == b"+OK Logging out."
    finally:
        fresh.close()


def test_rfc2449_capa_by_state(filled: TidingsServer, pop: poplib.POP3) -> None:
    fresh = poplib.POP3(filled.host, filled.pop3_port, timeout=30)
    try:
        before = fresh.capa()
    finally:
        fresh.close()
    for name in ("TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "STLS", "USER"):
        assert name in before
    assert before["SASL"] == ["PLAIN", "LOGIN", "SCRAM-SHA-256"]
    assert before["IMPLEMENTATION"] == ["Tidings"]
    after = pop.capa()
    assert "TOP" in after and "UIDL" in after
    assert "STLS" not in after and "USER" not in after and "SASL" not in after


def test_rfc5034_auth_plain_with_initial_response(filled: TidingsServer) -> None:
    token = base64.b64encode(f"\0{filled.user}\0{filled.password}".encode()).decode()
    client = poplib.POP3(filled.host, filled.pop3_port, timeout=30)
    try:
        assert client._shortcmd(f"AUTH PLAIN {token}") == b"+OK Logged in."
        assert client.stat()[0] == 4
        client.quit()
    finally:
        client.close()


def test_rfc5034_auth_plain_with_continuation_and_cancel(filled: TidingsServer) -> None:
    token = base64.b64encode(f"\0{filled.user}\0{filled.password}".encode())
    client = poplib.POP3(filled.host, filled.pop3_port, timeout=30)
    try:
        client._putcmd("AUTH PLAIN")
        assert client._getline()[0] == b"+ "
        client._putcmd("*")  # RFC 5034 §4: the client cancels
        with pytest.raises(poplib.error_proto, match="aborted"):
            client._getresp()
        client._putcmd("AUTH PLAIN")
        assert client._getline()[0] == b"+ "
        client._putcmd(token.decode())
        assert client._getresp() == b"+OK Logged in."
        client.quit()
    finally:
        client.close()


def test_auth_login_mechanism(filled: TidingsServer) -> None:
    client = poplib.POP3(filled.host, filled.pop3_port, timeout=30)
    try:
        client._putcmd("AUTH LOGIN")
        assert base64.b64decode(client._getline()[0][2:]) == b"Username:"
        client._putcmd(base64.b64encode(filled.user.encode()).decode())
        assert base64.b64decode(client._getline()[0][2:]) == b"Password:"
        client._putcmd(base64.b64encode(filled.password.encode()).decode())
        assert client._getresp() == b"+OK Logged in."
        client.quit()
    finally:
        client.close()


def test_bare_auth_lists_the_mechanisms(filled: TidingsServer) -> None:
    client = poplib.POP3(filled.host, filled.pop3_port, timeout=30)
    try:
        _, lines, _ = client._longcmd("AUTH")
        assert lines == [b"PLAIN", b"LOGIN", b"SCRAM-SHA-256"]
    finally:
        client.close()


def test_rfc2595_stls_with_poplib(filled: TidingsServer) -> None:
    client = poplib.POP3(filled.host, filled.pop3_port, timeout=30)
    try:
        assert client.stls(client_tls_context()).startswith(b"+OK")
        assert "STLS" not in client.capa()
        with pytest.raises(poplib.error_proto, match="already active"):
            client._shortcmd("STLS")
        client.user(filled.user)
        client.pass_(filled.password)
        assert joined(client.retr(3)[1]) == DOTS
        client.quit()
    finally:
        client.close()


def test_pop3s_implicit_tls(filled: TidingsServer) -> None:
    client = poplib.POP3_SSL(
        filled.host, filled.pop3s_port, timeout=30, context=client_tls_context()
    )
    try:
        assert "STLS" not in client.capa()  # already TLS
        client.user(filled.user)
        client.pass_(filled.password)
        assert joined(client.retr(4)[1]) == LARGE
        client.quit()
    finally:
        client.close()
