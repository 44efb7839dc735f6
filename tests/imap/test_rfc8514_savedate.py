"""RFC 8514 SAVEDATE: FETCH SAVEDATE and the SAVEDBEFORE / SAVEDON / SAVEDSINCE /
SAVEDATESUPPORTED search keys, over real sockets."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime

from tests.imap.harness import InProcessServer, LineClient, run_transcript

MESSAGE = b"Subject: s\r\nMessage-ID: <s@x>\r\n\r\nbody\r\n"


def _client(server: InProcessServer) -> LineClient:
    client = LineClient(server.port)
    client.login()
    return client


def _append(client: LineClient, raw: bytes, date: str, mailbox: str = "INBOX") -> None:
    client.send(
        b'ap APPEND %s "%s" {%d+}\r\n%s\r\n' % (mailbox.encode(), date.encode(), len(raw), raw)
    )
    assert client.read_until_tagged("ap")[-1].startswith("ap OK")


def _set_savedates(server: InProcessServer, value: str | None) -> None:
    """What a database upgraded from schema version 2 holds (NULL), or a chosen date."""
    with sqlite3.connect(server.data_dir / "mail.db", timeout=10) as conn:
        conn.execute("UPDATE messages SET savedate = ?", (value,))


def test_capability_advertises_savedate(imap_server: InProcessServer) -> None:
    assert " SAVEDATE" in _client(imap_server).command("c1", "CAPABILITY")[0]


def test_rfc8514_fetch_savedate_is_the_save_time_not_the_internal_date(
    imap_server: InProcessServer,
) -> None:
    """RFC 8514 §4.2's example shape: SAVEDATE beside INTERNALDATE."""
    client = _client(imap_server)
    _append(client, MESSAGE, "17-Jul-1996 02:44:25 -0700")
    run_transcript(
        imap_server,
        """
        C1: a1 LOGIN {user} "{password}"
        S1: a1 OK …
        C1: a2 EXAMINE INBOX
        S1: * FLAGS …
        S1: * OK [PERMANENTFLAGS …
        S1: * 1 EXISTS
        S1: * 0 RECENT
        S1: * OK [UNSEEN 1] …
        S1: * OK [UIDVALIDITY …
        S1: * OK [UIDNEXT 2] …
        S1: * OK [MAILBOXID (F…)] Ok
        S1: a2 OK [READ-ONLY] …
        C1: a3 FETCH 1 (INTERNALDATE SAVEDATE)
        S1: * 1 FETCH (INTERNALDATE "17-Jul-1996 02:44:25 -0700" SAVEDATE "…")
        S1: a3 OK Fetch completed.
        """,
    )
    lines = client.command("a1", "SELECT INBOX") + client.command("a2", "FETCH 1 (SAVEDATE)")
    saved = re.search(r'SAVEDATE "([^"]+)"', lines[-2])
    assert saved is not None
    when = datetime.strptime(saved.group(1).strip(), "%d-%b-%Y %H:%M:%S %z")
    assert abs((when - datetime.now(UTC)).total_seconds()) < 120


def test_copy_and_move_get_a_new_savedate(imap_server: InProcessServer) -> None:
    """RFC 8514 §1: a copied or moved message is saved in the target mailbox anew."""
    client = _client(imap_server)
    _append(client, MESSAGE, "01-Feb-2001 10:00:00 +0000")
    _append(client, MESSAGE, "01-Feb-2001 10:00:00 +0000")
    _set_savedates(imap_server, "2001-02-03T04:05:06+00:00")
    client.command("a1", "SELECT INBOX")
    assert client.command("a2", "FETCH 1 (SAVEDATE)")[0] == (
        '* 1 FETCH (SAVEDATE " 3-Feb-2001 04:05:06 +0000")'
    )
    client.command("a3", "COPY 1 Archive")
    client.command("a4", "MOVE 2 Archive")
    client.command("a5", "SELECT Archive")
    fetched = client.command("a6", "FETCH 1:2 (SAVEDATE)")
    year = str(datetime.now(UTC).year)
    assert all(year in line for line in fetched[:2]), fetched
    assert client.command("a7", "SEARCH SAVEDBEFORE 1-Jan-2002")[0] == "* SEARCH"
    assert client.command("a8", f"SEARCH SAVEDSINCE 1-Jan-{year}")[0] == "* SEARCH 1 2"


def test_rfc8514_search_keys(imap_server: InProcessServer) -> None:
    """RFC 8514 §4.3: SAVEDBEFORE, SAVEDON, SAVEDSINCE compare the save date's day;
    SAVEDATESUPPORTED matches every message of a mailbox that keeps save dates."""
    client = _client(imap_server)
    _append(client, MESSAGE, "01-Feb-2001 10:00:00 +0000")
    _set_savedates(imap_server, "2010-05-06T07:08:09+00:00")
    _append(client, MESSAGE, "01-Feb-2001 10:00:00 +0000")
    client.command("a1", "SELECT INBOX")
    assert client.command("b1", "SEARCH SAVEDON 6-May-2010")[0] == "* SEARCH 1"
    assert client.command("b2", "SEARCH SAVEDBEFORE 7-May-2010")[0] == "* SEARCH 1"
    assert client.command("b3", "SEARCH SAVEDSINCE 7-May-2010")[0] == "* SEARCH 2"
    assert client.command("b4", "SEARCH SAVEDATESUPPORTED")[0] == "* SEARCH 1 2"
    assert client.command("b5", "SEARCH NOT SAVEDATESUPPORTED")[0] == "* SEARCH"
    assert client.command("b6", "UID SEARCH OR SAVEDON 6-May-2010 ON 1-Feb-2001")[0] == (
        "* SEARCH 1 2"
    )
    assert client.command("b7", "SEARCH SAVEDON 31-Foo-2010")[-1].startswith("b7 BAD")


def test_savedate_nil_for_messages_from_before_schema_v3(imap_server: InProcessServer) -> None:
    """RFC 8514 §4.2: NIL when the save date is unknown; the search keys then use the
    internal date."""
    client = _client(imap_server)
    _append(client, MESSAGE, "01-Feb-2001 10:00:00 +0000")
    _set_savedates(imap_server, None)
    client.command("a1", "SELECT INBOX")
    assert client.command("a2", "FETCH 1 (SAVEDATE)")[0] == "* 1 FETCH (SAVEDATE NIL)"
    assert client.command("a3", "SEARCH SAVEDON 1-Feb-2001")[0] == "* SEARCH 1"
