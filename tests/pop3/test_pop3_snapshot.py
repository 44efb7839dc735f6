"""A POP3 session works on a snapshot taken at login (RFC 1939 §4) while IMAP sessions change
the same INBOX; DELE marks are applied only by QUIT (RFC 1939 §6), and IMAP clients then see
EXPUNGE (NOOP and IDLE); a dropped connection applies nothing; UIDLs survive restarts; a
second POP3 session is refused with [IN-USE] (RFC 2449 §8.1.2). All against `tidings serve`."""

from __future__ import annotations

import poplib
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from tests.conftest import TidingsServer, make_server
from tests.imap.harness import LineClient
from tests.pop3.helpers import (
    BARE_LF,
    DOTS,
    PLAIN,
    expected_retr,
    imap_append,
    imap_login,
    imap_uids_and_flags,
    joined,
)


@contextmanager
def pop3_session(server: TidingsServer | Inbox) -> Iterator[poplib.POP3]:
    """A logged-in poplib session; closed (without QUIT) at the end unless the test quit."""
    client = poplib.POP3(server.host, server.pop3_port, timeout=30)
    try:
        client.user(server.user)
        client.pass_(server.password)
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TidingsServer]:
    """One server for the module; `three` empties its INBOX before each test."""
    server = make_server(tmp_path_factory.mktemp("pop3-snapshot"))
    server.start()
    yield server
    server.stop()


@dataclass
class Inbox:
    """The server and the UIDs of PLAIN, BARE_LF and DOTS, the only INBOX messages."""

    server: TidingsServer
    uids: list[int]

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def pop3_port(self) -> int:
        return self.server.pop3_port

    @property
    def imap_port(self) -> int:
        return self.server.imap_port

    @property
    def user(self) -> str:
        return self.server.user

    @property
    def password(self) -> str:
        return self.server.password


def fill_inbox(server: TidingsServer) -> list[int]:
    """Empty alice's INBOX (over IMAP) and APPEND PLAIN, BARE_LF and DOTS."""
    imap = imap_login(server.imap_port, server.user, server.password)
    try:
        if imap.select("INBOX")[1] != [b"0"]:
            imap.store("1:*", "+FLAGS", "\\Deleted")
            imap.expunge()
    finally:
        imap.logout()
    return imap_append(server.imap_port, server.user, server.password, PLAIN, BARE_LF, DOTS)


@pytest.fixture
def three(module_server: TidingsServer) -> Inbox:
    """INBOX holding exactly PLAIN, BARE_LF and DOTS, as POP3 messages 1, 2, 3."""
    return Inbox(module_server, fill_inbox(module_server))


def wait_until_unlocked(server: TidingsServer | Inbox, deadline: float = 10.0) -> poplib.POP3:
    """Log in once the previous session's lock is gone (a dropped connection is noticed
    asynchronously); return the logged-in client."""
    end = time.monotonic() + deadline
    while True:
        client = poplib.POP3(server.host, server.pop3_port, timeout=30)
        try:
            client.user(server.user)
            client.pass_(server.password)
            return client
        except poplib.error_proto as error:
            client.close()
            if b"[IN-USE]" not in error.args[0] or time.monotonic() > end:
                raise
            time.sleep(0.05)


def test_imap_append_during_the_session_is_not_seen(three: Inbox) -> None:
    with pop3_session(three) as pop:
        before = pop.stat()
        imap_append(three.imap_port, three.user, three.password, b"Subject: late\r\n\r\nx\r\n")
        assert pop.stat() == before
        assert len(pop.list()[1]) == 3
        with pytest.raises(poplib.error_proto, match="no message 4"):
            pop.retr(4)
        pop.quit()
    with pop3_session(three) as pop:
        assert pop.stat()[0] == 4  # the next session sees it
        pop.quit()


def test_imap_expunge_during_the_session_does_not_renumber(three: Inbox) -> None:
    with pop3_session(three) as pop:
        uidls = pop.uidl()[1]
        imap = imap_login(three.imap_port, three.user, three.password)
        try:
            imap.select("INBOX")
            imap.store("1", "+FLAGS", "\\Deleted")
            assert imap.expunge()[1] == [b"1"]
        finally:
            imap.logout()
        assert pop.uidl()[1] == uidls
        assert pop.stat()[0] == 3
        with pytest.raises(poplib.error_proto, match="Message 1 expunged"):
            pop.retr(1)
        assert joined(pop.retr(2)[1]) == expected_retr(BARE_LF)
        assert joined(pop.retr(3)[1]) == DOTS
        assert pop.dele(1).startswith(b"+OK")  # marking a vanished message is harmless
        assert pop.quit().startswith(b"+OK")
    remaining = imap_uids_and_flags(three.imap_port, three.user, three.password)
    assert set(remaining) == set(three.uids[1:])


def test_dele_applies_only_at_quit_and_imap_noop_sees_expunge(three: Inbox) -> None:
    imap = imap_login(three.imap_port, three.user, three.password)
    try:
        imap.select("INBOX")
        with pop3_session(three) as pop:
            pop.dele(1)
            pop.dele(3)
            imap.noop()
            assert imap.response("EXPUNGE") == ("EXPUNGE", [None])  # nothing yet
            assert pop.quit() == b"+OK Logging out, messages deleted."
        imap.noop()
        # Expunging 1 then 3: message 3 had become 2 by then (RFC 9051 §7.5.1).
        assert imap.response("EXPUNGE") == ("EXPUNGE", [b"1", b"2"])
        assert imap.fetch("1:*", "(UID)")[1] == [b"1 (UID %d)" % three.uids[1]]
    finally:
        imap.logout()


def test_dele_quit_wakes_an_imap_idle(three: Inbox) -> None:
    idler = LineClient(three.imap_port)
    try:
        idler.login(three.user, three.password)
        idler.command("s", "SELECT INBOX")
        idler.send_line("i IDLE")
        assert idler.read_line().startswith("+")
        with pop3_session(three) as pop:
            pop.dele(2)
            assert pop.quit().startswith(b"+OK")
        assert idler.read_line() == "* 2 EXPUNGE"
        idler.send_line("DONE")
        assert idler.read_until_tagged("i")[-1].startswith("i OK")
    finally:
        idler.close()


def test_dropped_connection_applies_nothing(three: Inbox) -> None:
    with pop3_session(three) as pop:
        pop.retr(1)
        pop.dele(1)
        pop.dele(2)
        # the `with` ends by closing the socket: no QUIT, so no UPDATE state
    client = wait_until_unlocked(three)
    try:
        assert client.stat()[0] == 3
        client.quit()
    finally:
        client.close()
    flags = imap_uids_and_flags(three.imap_port, three.user, three.password)
    # Not even \Seen from the RETR: only the keyword every stored message gets (issue 9).
    assert flags == dict.fromkeys(three.uids, b"$HasNoAttachment")


# The FLAGS of a stored message without attachments that nobody changed (issue 9).
NONE = b"$HasNoAttachment"


def test_retr_sets_seen_at_quit_top_and_rset_do_not(three: Inbox) -> None:
    first, second, third = three.uids
    with pop3_session(three) as pop:
        pop.retr(1)
        pop.top(2, 0)
        pop.retr(3)
        assert imap_uids_and_flags(three.imap_port, three.user, three.password)[first] == NONE
        pop.quit()
    assert imap_uids_and_flags(three.imap_port, three.user, three.password) == {
        first: b"\\Seen " + NONE,
        second: NONE,
        third: b"\\Seen " + NONE,
    }
    with pop3_session(three) as pop:
        pop.retr(2)
        pop.rset()  # RSET forgets the RETR as well as DELE marks (as Dovecot does)
        pop.quit()
    assert imap_uids_and_flags(three.imap_port, three.user, three.password)[second] == NONE


def test_uidl_is_stable_across_restart_and_deletion(server: TidingsServer) -> None:
    three = server
    fill_inbox(server)
    with pop3_session(three) as pop:
        before = dict(line.split() for line in pop.uidl()[1])
        pop.quit()
    three.stop()
    three.start()
    with pop3_session(three) as pop:
        after = dict(line.split() for line in pop.uidl()[1])
        assert after == before
        pop.dele(1)
        pop.quit()
    imap_append(three.imap_port, three.user, three.password, b"Subject: new\r\n\r\nx\r\n")
    with pop3_session(three) as pop:
        later = [line.split()[1] for line in pop.uidl()[1]]
        pop.quit()
    assert later[:2] == [before[b"2"], before[b"3"]]
    assert later[2] not in before.values()  # UID 4 is new; no UIDL is ever reused


def test_rfc2449_second_session_is_in_use(three: Inbox) -> None:
    with pop3_session(three) as first:
        second = poplib.POP3(three.host, three.pop3_port, timeout=30)
        try:
            second.user(three.user)
            with pytest.raises(poplib.error_proto, match=r"^b'-ERR \[IN-USE\]"):
                second.pass_(three.password)
            # Still in AUTHORIZATION (RFC 1939 §4): another account can log in.
            second.user("bob@example.test")
            assert second.pass_("bob's password").startswith(b"+OK")
            second.quit()
        finally:
            second.close()
        first.quit()
    with pop3_session(three) as again:  # QUIT released the lock at once
        again.quit()


def test_lock_is_released_when_the_connection_drops(three: Inbox) -> None:
    raw = socket.create_connection((three.host, three.pop3_port), timeout=30)
    with raw:
        raw.sendall(f"USER {three.user}\r\nPASS {three.password}\r\nSTAT\r\n".encode())
        received = b""
        while received.count(b"\r\n") < 4:
            received += raw.recv(4096)
        assert b"+OK Logged in." in received
    client = wait_until_unlocked(three)
    client.quit()
    client.close()
