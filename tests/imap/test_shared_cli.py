"""Team mailboxes and sharing through the admin CLI and a real `tidings serve`: `tidings
shared create support@... --member ...`, LMTP delivery to the team address landing in
Shared/support for every member, quota counted against the team account, `tidings
mailbox share` of a folder tree, and clear errors for bad input."""

from __future__ import annotations

import imaplib
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import (
    SECOND_PASSWORD,
    SECOND_USER,
    TEST_PASSWORD,
    TEST_USER,
    TidingsServer,
    make_server,
    run_cli,
)

ALICE, BOB, CAROL = TEST_USER, SECOND_USER, "carol@example.test"
PASSWORDS = {ALICE: TEST_PASSWORD, BOB: SECOND_PASSWORD, CAROL: "pw pw pw pw"}
TEAM = "support@example.test"


def cli(data: Path, *args: str) -> str:
    result = run_cli(data, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TidingsServer]:
    data = tmp_path / "data"
    running = make_server(data)
    added = run_cli(data, "user", "add", CAROL, "--password-stdin", stdin=PASSWORDS[CAROL])
    assert added.returncode == 0, added.stderr
    running.start()
    yield running
    running.stop()


def imap(server: TidingsServer, user: str) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=15)
    client.login(user, PASSWORDS[user])
    return client


def deliver(server: TidingsServer, rcpt: str, subject: str) -> None:
    message = f"From: c@example.test\r\nTo: {rcpt}\r\nSubject: {subject}\r\n\r\nhi\r\n"
    with smtplib.LMTP("127.0.0.1", server.lmtp_port, timeout=15) as client:
        assert not client.sendmail("c@example.test", [rcpt], message)


def test_team_address_delivers_into_the_shared_mailbox(server: TidingsServer) -> None:
    data = server.data_dir
    out = cli(data, "shared", "create", TEAM, "--member", ALICE, "--member", BOB)
    assert "Shared/support" in out and TEAM in out
    listed = cli(data, "shared", "list")
    assert listed.startswith(f"Shared/support {TEAM} ") and f"{BOB}=lrswipkxte" in listed

    deliver(server, TEAM, "Printer on fire")
    for user in (ALICE, BOB):
        client = imap(server, user)
        typ, data_ = client.select('"Shared/support"', readonly=True)
        assert typ == "OK" and data_ == [b"1"], (user, data_)
        typ, found = client.search(None, "SUBJECT", '"Printer on fire"')
        assert found == [b"1"]
        client.logout()
    carol = imap(server, CAROL)
    typ, _ = carol.select('"Shared/support"')
    assert typ == "NO"
    carol.logout()

    # The team's mail counts against the team account, not its members.
    users = {line.split()[0]: line for line in cli(data, "user", "list").splitlines()}
    assert "messages=1/" in users[TEAM], users[TEAM]
    assert "messages=0/" in users[ALICE], users[ALICE]


def test_sharing_a_folder_tree_and_taking_it_back(server: TidingsServer) -> None:
    alice = imap(server, ALICE)
    assert alice.create("Projects")[0] == "OK"
    assert alice.create("Projects/Apollo")[0] == "OK"
    alice.logout()
    data = server.data_dir
    out = cli(data, "mailbox", "share", f"{ALICE}/Projects", "--with", BOB, "--rights", "lr")
    assert f"{ALICE}/Projects: {BOB} lr" in out and f"{ALICE}/Projects/Apollo" in out

    bob = imap(server, BOB)
    typ, listed = bob.list('"Other Users/"', "*")
    names = b" ".join(item for item in listed if isinstance(item, bytes))
    assert b"Other Users/alice@example.test/Projects/Apollo" in names, listed
    typ, _ = bob.select('"Other Users/alice@example.test/Projects/Apollo"')
    assert typ == "OK"
    typ, answer = bob.append(
        '"Other Users/alice@example.test/Projects"', "", None, b"Subject: x\r\n\r\ny\r\n"
    )
    assert typ == "NO" and b"NOPERM" in answer[0], answer
    bob.logout()

    cli(data, "mailbox", "share", f"{ALICE}/Projects", "--with", BOB, "--rights", "")
    bob = imap(server, BOB)
    typ, listed = bob.list('"Other Users/"', "*")
    assert listed == [None], listed
    bob.logout()


def test_bad_input_is_a_clear_error(server: TidingsServer) -> None:
    data = server.data_dir
    cases = [
        (("mailbox", "share", f"{ALICE}/Nowhere", "--with", BOB), "no such mailbox"),
        (("mailbox", "share", f"{ALICE}/INBOX", "--with", "nobody@example.test"), "no such user"),
        (("mailbox", "share", f"{ALICE}/INBOX", "--with", BOB, "--rights", "lrz"), "'z'"),
        (("mailbox", "share", f"{ALICE}/INBOX", "--with", ALICE), "every right"),
        (("shared", "create", "bad/name"), "Invalid team name"),
        (("shared", "create", TEAM, "--member", "nobody@example.test"), "no such user"),
    ]
    for args, message in cases:
        result = run_cli(data, *args)
        assert result.returncode == 1, (args, result.stdout)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    cli(data, "shared", "create", TEAM)
    again = run_cli(data, "shared", "create", TEAM)
    assert again.returncode == 1 and "exists already" in again.stderr
