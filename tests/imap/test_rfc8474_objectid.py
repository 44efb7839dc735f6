"""RFC 8474 OBJECTID: MAILBOXID, EMAILID and THREADID over real sockets, with the RFC's own
examples (§4.1, §5.1, §5.2, §6) as transcripts; ids are random per server, so the
transcripts match them with `…` and the tests compare them by capture."""

from __future__ import annotations

import re

from tests.imap.harness import InProcessServer, LineClient, run_transcript

OBJECTID = r"[A-Za-z0-9_-]{1,255}"


def _one(pattern: str, lines: list[str]) -> str:
    for line in lines:
        found = re.search(pattern, line)
        if found:
            return found.group(1)
    raise AssertionError(f"{pattern!r} not in {lines!r}")


def _append(client: LineClient, mailbox: str, raw: bytes) -> list[str]:
    client.send(b"ap APPEND %s {%d+}\r\n%s\r\n" % (mailbox.encode(), len(raw), raw))
    return client.read_until_tagged("ap")


def _client(server: InProcessServer) -> LineClient:
    client = LineClient(server.port)
    client.login()
    return client


def test_capability_advertises_objectid(imap_server: InProcessServer) -> None:
    client = _client(imap_server)
    assert " OBJECTID" in client.command("c1", "CAPABILITY")[0]


def test_rfc8474_section_4_1_example_create_rename_status(imap_server: InProcessServer) -> None:
    """RFC 8474 §4.1's example: CREATE answers the MAILBOXID, RENAME keeps it, STATUS and
    LIST-STATUS report it."""
    run_transcript(
        imap_server,
        """
        C1: 1 LOGIN {user} "{password}"
        S1: 1 OK …
        C1: 3 create foo
        S1: 3 OK [MAILBOXID (F…)] Create completed.
        C1: 4 create bar
        S1: 4 OK [MAILBOXID (F…)] Create completed.
        C1: 5 create foo
        S1: 5 NO [ALREADYEXISTS] …
        C1: 6 list "" "foo" return (status (mailboxid))
        S1: * LIST (\\HasNoChildren) "/" foo
        S1: * STATUS foo (MAILBOXID (F…))
        S1: 6 OK List completed.
        C1: 7 rename foo renamed
        S1: 7 OK Rename completed.
        C1: 8 status renamed (mailboxid)
        S1: * STATUS renamed (MAILBOXID (F…))
        S1: 8 OK Status completed.
        """,
    )


def test_mailboxid_is_kept_by_rename_and_new_after_delete(imap_server: InProcessServer) -> None:
    client = _client(imap_server)
    created = _one(r"\[MAILBOXID \(([^)]+)\)\]", client.command("a1", "CREATE foo"))
    assert re.fullmatch(OBJECTID, created)
    other = _one(r"\[MAILBOXID \(([^)]+)\)\]", client.command("a2", "CREATE bar"))
    assert other != created
    client.command("a3", "RENAME foo renamed")
    status = client.command("a4", "STATUS renamed (MAILBOXID MESSAGES)")
    assert status[0] == f"* STATUS renamed (MAILBOXID ({created}) MESSAGES 0)"
    listed = client.command("a5", 'LIST "" "*" RETURN (STATUS (MAILBOXID))')
    assert f"* STATUS renamed (MAILBOXID ({created}))" in listed
    assert f"* STATUS bar (MAILBOXID ({other}))" in listed
    selected = client.command("a6", "SELECT renamed")
    assert f"* OK [MAILBOXID ({created})] Ok" in selected  # RFC 8474 §4.2
    client.command("a7", "UNSELECT")
    client.command("a8", "DELETE renamed")
    recreated = _one(r"\[MAILBOXID \(([^)]+)\)\]", client.command("a9", "CREATE renamed"))
    assert recreated != created


def test_rfc8474_section_5_1_example_emailid_survives_copy_and_move(
    imap_server: InProcessServer,
) -> None:
    """RFC 8474 §5.1's example: FETCH EMAILID, COPY, the copy has the same EMAILID; a MOVE
    keeps it too; a different message has another."""
    client = _client(imap_server)
    client.command("a1", "CREATE foo")
    _append(client, "inbox", b"Subject: one\r\nMessage-ID: <one@x>\r\n\r\nfirst\r\n")
    _append(client, "inbox", b"Subject: two\r\nMessage-ID: <two@x>\r\n\r\nsecond\r\n")
    client.command("a2", "SELECT inbox")
    fetched = client.command("11", "FETCH 1:2 (EMAILID)")
    first = _one(r"^\* 1 FETCH \(EMAILID \((" + OBJECTID + r")\)\)$", fetched)
    second = _one(r"^\* 2 FETCH \(EMAILID \((" + OBJECTID + r")\)\)$", fetched)
    assert first != second
    assert client.command("12", "COPY 1 foo")[-1].startswith("12 OK [COPYUID ")
    assert client.command("12b", "MOVE 2 foo")[-1].startswith("12b OK")
    client.command("13", "SELECT foo")
    copies = client.command("14", "FETCH 1:2 (EMAILID)")
    assert copies[:2] == [f"* 1 FETCH (EMAILID ({first}))", f"* 2 FETCH (EMAILID ({second}))"]
    found = client.command("15", f"UID SEARCH EMAILID {first}")
    assert found[0] == "* SEARCH 1"


def test_rfc8474_section_5_2_threadid_is_shared_by_a_thread(imap_server: InProcessServer) -> None:
    """RFC 8474 §5.2 and §6: THREADID and SEARCH THREADID; a reply (In-Reply-To) and a
    reply to the reply (References) share the root's THREADID."""
    client = _client(imap_server)
    _append(client, "INBOX", b"Message-ID: <root@x>\r\nSubject: a\r\n\r\nroot\r\n")
    _append(client, "INBOX", b"Message-ID: <other@x>\r\nSubject: b\r\n\r\nother\r\n")
    _append(client, "INBOX", b"Message-ID: <r1@x>\r\nIn-Reply-To: <root@x>\r\n\r\nre\r\n")
    reply = (
        b"Message-ID: <r2@x>\r\nIn-Reply-To: <r1@x>\r\nReferences: <root@x> <r1@x>\r\n\r\nre\r\n"
    )
    _append(client, "INBOX", reply)
    client.command("a1", "SELECT INBOX")
    fetched = client.command("a2", "FETCH 1:4 (THREADID EMAILID)")
    threads = {
        int(m.group(1)): m.group(2)
        for line in fetched
        if (m := re.match(r"\* (\d) FETCH \(THREADID \((" + OBJECTID + r")\) EMAILID", line))
    }
    assert threads[1] == threads[3] == threads[4] != threads[2]
    assert client.command("a3", f"SEARCH THREADID {threads[1]}")[0] == "* SEARCH 1 3 4"
    assert client.command("a4", f"SEARCH NOT THREADID {threads[1]}")[0] == "* SEARCH 2"
    assert client.command("a5", "SEARCH EMAILID Mnothing")[0] == "* SEARCH"


def test_bad_objectid_in_search_is_bad(imap_server: InProcessServer) -> None:
    client = _client(imap_server)
    client.command("a1", "SELECT INBOX")
    assert client.command("a2", "SEARCH EMAILID M.1")[-1].startswith("a2 BAD")
    assert client.command("a3", "SEARCH THREADID " + "T" * 256)[-1].startswith("a3 BAD")
    assert client.command("a4", "SEARCH EMAILID")[-1].startswith("a4 BAD")
