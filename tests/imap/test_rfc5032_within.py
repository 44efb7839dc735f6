"""WITHIN (RFC 5032): the OLDER and YOUNGER search keys, in seconds against the internal
date, over real sockets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.imap.harness import InProcessServer, LineClient

from tidings.imap.proto.responses import format_imap_datetime

DAY = 24 * 3600


def _mailbox(server: InProcessServer) -> LineClient:
    """INBOX with messages received 10 days, 2 days and 1 hour ago; the middle one \\Seen."""
    client = LineClient(server.port)
    client.login()
    now = datetime.now(UTC)
    for age, flags in (
        (timedelta(days=10), ""),
        (timedelta(days=2), "\\Seen"),
        (timedelta(hours=1), ""),
    ):
        date = format_imap_datetime(now - age)
        client.send(f'a APPEND INBOX ({flags}) "{date}" {{5+}}\r\nhello\r\n')
        assert client.read_until_tagged("a")[-1].startswith("a OK")
    assert client.command("s", "SELECT INBOX")[-1].startswith("s OK")
    return client


def test_within_is_advertised(imap_server: InProcessServer) -> None:
    client = LineClient(imap_server.port)
    client.login()
    assert "WITHIN" in client.command("c", "CAPABILITY")[0].split()


def test_rfc5032_example_unseen_within_three_days(imap_server: InProcessServer) -> None:
    """RFC 5032 §3's example: unseen messages received in the last 3 days (259200 s)."""
    client = _mailbox(imap_server)
    assert client.command("a1", "SEARCH UNSEEN YOUNGER 259200") == [
        "* SEARCH 3",
        "a1 OK Search completed.",
    ]


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ("YOUNGER 259200", "* SEARCH 2 3"),
        ("OLDER 259200", "* SEARCH 1"),
        ("NOT YOUNGER 259200", "* SEARCH 1"),
        ("YOUNGER 60", "* SEARCH"),
        ("OLDER 60", "* SEARCH 1 2 3"),
        ("YOUNGER 7200 OLDER 60", "* SEARCH 3"),
        ("OR OLDER 432000 YOUNGER 7200", "* SEARCH 1 3"),
        ("younger 3600000", "* SEARCH 1 2 3"),
        ("OLDER 4294967295", "* SEARCH"),
    ],
)
def test_older_and_younger(imap_server: InProcessServer, criteria: str, expected: str) -> None:
    client = _mailbox(imap_server)
    assert client.command("a1", f"SEARCH {criteria}") == [expected, "a1 OK Search completed."]


def test_uid_search_and_esearch(imap_server: InProcessServer) -> None:
    client = _mailbox(imap_server)
    assert client.command("a1", "UID SEARCH RETURN (COUNT MIN) YOUNGER 259200") == [
        '* ESEARCH (TAG "a1") UID MIN 2 COUNT 2',
        "a1 OK Search completed.",
    ]


@pytest.mark.parametrize(
    "criteria", ["YOUNGER 0", "OLDER", "OLDER -5", "YOUNGER abc", "OLDER 4294967296"]
)
def test_bad_intervals_are_bad(imap_server: InProcessServer, criteria: str) -> None:
    """RFC 5032 §4: the interval is an nz-number (a 32-bit number above zero)."""
    client = _mailbox(imap_server)
    reply = client.command("a1", f"SEARCH {criteria}")
    assert len(reply) == 1 and reply[0].startswith("a1 BAD "), reply
