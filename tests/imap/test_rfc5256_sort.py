"""Golden transcripts of SORT and UID SORT (RFC 5256 §3) with DISPLAYFROM / DISPLAYTO
(RFC 5957), over real sockets to the in-process server: every sort key, REVERSE, several
criteria, ties, the search program, errors, and the RFC's own examples."""

from __future__ import annotations

import time

import pytest
from tests.imap.harness import InProcessServer, LineClient, run_transcript
from tests.imap.rfc5256_helpers import append_all, assert_sorts, message, play, selected_client

# The RFC 5256 §3 example "SORT (SUBJECT REVERSE DATE) UTF-8 ALL" answers "5 3 4 1 2": five
# messages whose base subjects are A (5), B (3, 4) and C (1, 2), each group newest first.
RFC_EXAMPLE = [
    message("Re: C", date="Fri, 5 Jan 2024 10:00:00 +0000"),
    message("C", date="Mon, 1 Jan 2024 10:00:00 +0000"),
    message("b (fwd)", date="Thu, 4 Jan 2024 10:00:00 +0000"),
    message("[list] B", date="Tue, 2 Jan 2024 10:00:00 +0000"),
    message("a", date="Wed, 3 Jan 2024 10:00:00 +0000"),
]


@pytest.fixture
def rfc_mailbox(imap_server: InProcessServer) -> InProcessServer:
    append_all(imap_server, RFC_EXAMPLE)
    return imap_server


def test_capabilities_advertise_sort_and_thread(imap_server: InProcessServer) -> None:
    client = LineClient(imap_server.port)
    client.login()
    names = client.command("c1", "CAPABILITY")[0].split()
    assert {"SORT", "SORT=DISPLAY", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES"} <= set(names)


def test_rfc5256_3_examples(rfc_mailbox: InProcessServer) -> None:
    """RFC 5256 §3: A283 and A284 as in the RFC; A282 with a date this mailbox has."""
    play(
        rfc_mailbox,
        """
        C1: A282 SORT (SUBJECT) UTF-8 SINCE 3-Jan-2024
        S1: * SORT 5 3 4
        S1: A282 OK Sort completed.
        C1: A283 SORT (SUBJECT REVERSE DATE) UTF-8 ALL
        S1: * SORT 5 3 4 1 2
        S1: A283 OK Sort completed.
        C1: A284 SORT (SUBJECT) US-ASCII TEXT "not in mailbox"
        S1: * SORT
        S1: A284 OK Sort completed.
    """,
    )


def test_arrival_date_size_and_reverse(imap_server: InProcessServer) -> None:
    """ARRIVAL is the internal date; DATE the Date field in UTC, or the internal date when it
    is missing or unparseable (§2.2); SIZE the RFC822.SIZE; REVERSE inverts one key."""
    append_all(
        imap_server,
        [
            message("one", date="Wed, 10 Jan 2024 09:00:00 +0100", body="x" * 30),  # 08:00Z
            message("two", date="Wed, 10 Jan 2024 07:30:00 -0100", body="x"),  # 08:30Z
            message("three", body="x" * 10),  # no Date: internal date 3 Jan 12:00Z
            message("four", date="not a date", body="x" * 20),  # internal date 4 Jan
            message("five", date="Tue, 2 Jan 2024 00:00:00 +0000", body="x" * 10),
        ],
    )
    assert_sorts(
        imap_server,
        {
            "ARRIVAL": "1 2 3 4 5",
            "REVERSE ARRIVAL": "5 4 3 2 1",
            "DATE": "5 3 4 1 2",
            "SIZE": "3 4 2 5 1",
            "REVERSE SIZE": "1 5 2 4 3",
        },
    )


def test_address_keys_use_the_first_mailbox(imap_server: InProcessServer) -> None:
    """FROM, TO and CC compare the addr-mailbox of the first address, case-insensitively;
    a message without the field sorts first (its key is empty)."""
    append_all(
        imap_server,
        [
            message("1", sender="Zed <bob@b.example>", to="carol@c.example", cc="x@x.example"),
            message("2", sender="Amy <Dave@a.example>", to="Alice <alice@z.example>, b@b"),
            message("3", sender="charlie@c.example", cc="Bob <a@a.example>"),
            message("4", to="undisclosed-recipients:;"),
        ],
    )
    assert_sorts(
        imap_server,
        {
            "FROM": "4 1 3 2",
            "TO": "3 2 1 4",
            "CC": "2 4 3 1",
            "REVERSE FROM": "2 3 1 4",
        },
    )


def test_rfc5957_display_names(imap_server: InProcessServer) -> None:
    """RFC 5957 §3: the display-name of the first address, RFC 2047 decoded, or the
    addr-spec when there is none; compared without case."""
    append_all(
        imap_server,
        [
            message("1", sender="Zoe <a@example.org>", to="=?UTF-8?Q?=C3=89mile?= <e@x>"),
            message("2", sender="b@example.org", to='"adam" <z@x>'),
            message("3", sender="=?ISO-8859-1?Q?Andr=E9?= <z@example.org>", to="c@x"),
            message("4", sender="mary@example.org (Mary Smith)", to="Eve <e@x>"),
        ],
    )
    assert_sorts(
        imap_server,
        {
            "DISPLAYFROM": "3 2 4 1",
            "DISPLAYTO": "2 3 4 1",
            "REVERSE DISPLAYFROM": "1 4 2 3",
            "FROM": "1 2 4 3",
        },
    )


def test_several_criteria_and_ties_in_mailbox_order(imap_server: InProcessServer) -> None:
    """Later criteria break ties of earlier ones; full ties keep sequence order, also under
    REVERSE (§3: "sorted according to the order in which they appear in the mailbox")."""
    append_all(
        imap_server,
        [
            message("same", sender="b@x", body="x" * 5),
            message("same", sender="a@x", body="x" * 5),
            message("Re: same", sender="b@x", body="x" * 9),
            message("other", sender="a@x", body="x" * 5),
        ],
    )
    assert_sorts(
        imap_server,
        {
            "SUBJECT": "4 1 2 3",
            "REVERSE SUBJECT": "1 2 3 4",
            "SUBJECT FROM": "4 2 1 3",
            "FROM REVERSE SIZE SUBJECT": "4 2 3 1",
            "SIZE": "1 2 4 3",
        },
    )


def test_search_program_uid_form_and_saved_result(imap_server: InProcessServer) -> None:
    """The search keys select the messages (§3); UID SORT answers UIDs; `$` works (RFC 5182)."""
    append_all(imap_server, [message(s) for s in ("d", "c", "b", "a", "e")])
    play(
        imap_server,
        """
        C1: s1 STORE 1 +FLAGS.SILENT (\\Deleted)
        S1: s1 OK Store completed.
        C1: s2 EXPUNGE
        S1: * 1 EXPUNGE
        S1: s2 OK Expunge completed.
        C1: s3 STORE 2 +FLAGS.SILENT (\\Seen)
        S1: s3 OK Store completed.
        C1: s4 SORT (SUBJECT) UTF-8 ALL
        S1: * SORT 3 2 1 4
        S1: s4 OK Sort completed.
        C1: s5 UID SORT (SUBJECT) UTF-8 ALL
        S1: * SORT 4 3 2 5
        S1: s5 OK Sort completed.
        C1: s6 UID SORT (SUBJECT) UTF-8 UNSEEN
        S1: * SORT 4 2 5
        S1: s6 OK Sort completed.
        C1: s7 SORT (REVERSE SUBJECT) UTF-8 OR SUBJECT c SUBJECT a 1:3
        S1: * SORT 1 3
        S1: s7 OK Sort completed.
        C1: s8 SEARCH RETURN (SAVE) SUBJECT b
        S1: s8 OK Search completed.
        C1: s9 UID SORT (ARRIVAL) UTF-8 OR $ SUBJECT a
        S1: * SORT 3 4
        S1: s9 OK Sort completed.
    """,
    )


def test_errors(rfc_mailbox: InProcessServer) -> None:
    """Unknown charsets: NO [BADCHARSET] (§3); bad syntax: BAD; no mailbox: BAD."""
    play(
        rfc_mailbox,
        """
        C1: e1 SORT (DATE) KOI8-X ALL
        S1: e1 NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset.
        C1: e2 SORT (MODSEQ) UTF-8 ALL
        S1: e2 BAD Unknown sort key MODSEQ
        C1: e3 SORT () UTF-8 ALL
        S1: e3 BAD …
        C1: e4 SORT (DATE) UTF-8
        S1: e4 BAD …
        C1: e5 UID SORT (REVERSE) UTF-8 ALL
        S1: e5 BAD …
        C1: e6 SORT (DATE) UTF-8 ALL
        S1: * SORT 2 4 5 3 1
        S1: e6 OK Sort completed.
    """,
    )
    run_transcript(
        rfc_mailbox,
        """
        C1: a1 LOGIN {user} "{password}"
        S1: a1 OK …
        C1: a2 SORT (DATE) UTF-8 ALL
        S1: a2 BAD No mailbox selected.
    """,
    )


def test_no_expunge_while_sorting(rfc_mailbox: InProcessServer) -> None:
    """RFC 9051 §7.5.1: no EXPUNGE during a command answered with sequence numbers. A
    message another session expunged keeps its number until the client is told, and sorts
    as one without header fields (as in Dovecot) instead of failing the command."""
    play(
        rfc_mailbox,
        """
        C1: n1 NOOP
        S1: n1 OK …
        C2: x1 STORE 1 +FLAGS.SILENT (\\Deleted)
        S2: x1 OK Store completed.
        C2: x2 EXPUNGE
        S2: * 1 EXPUNGE
        S2: x2 OK Expunge completed.
        C1: s1 SORT (SUBJECT REVERSE DATE) UTF-8 ALL
        S1: * SORT 1 5 3 4 2
        S1: s1 OK Sort completed.
        C1: s2 NOOP
        S1: * 1 EXPUNGE
        S1: s2 OK …
        C1: s3 SORT (SUBJECT REVERSE DATE) UTF-8 ALL
        S1: * SORT 4 2 3 1
        S1: s3 OK Sort completed.
    """,
    )


def test_many_messages_sort_quickly(imap_server: InProcessServer) -> None:
    """Keys come from the facts stored at APPEND: 600 messages sort in well under a second
    per command on this machine (a loose bound, to catch a per-message re-parse)."""
    count = 600
    append_all(
        imap_server,
        [
            message(
                f"Re: topic {n % 37}",
                sender=f"u{n % 11}@x",
                date=f"1 Feb 2024 10:{n % 60:02d}:00 +0000",
            )
            for n in range(count)
        ],
    )
    client = selected_client(imap_server)
    started = time.monotonic()
    reply = client.command("t1", "SORT (SUBJECT REVERSE DATE FROM) UTF-8 ALL")
    elapsed = time.monotonic() - started
    assert reply[-1] == "t1 OK Sort completed."
    assert sorted(map(int, reply[0].split()[2:])) == list(range(1, count + 1))
    assert elapsed < 5.0, elapsed


def test_modseq_search_ends_the_sort_response_with_the_highest_modseq(
    rfc_mailbox: InProcessServer,
) -> None:
    """RFC 7162 §3.1.6 (and its sort-data extension): after a MODSEQ search key, SORT ends with
    `(MODSEQ n)`, the highest modseq of the messages returned (as Dovecot); none when empty."""
    client = selected_client(rfc_mailbox)
    flags = client.command("f1", "STORE 2 +FLAGS (\\Seen)")
    assert flags[-1].startswith("f1 OK"), flags
    reply = client.command("s1", "SORT (REVERSE ARRIVAL) UTF-8 MODSEQ 1 1:3")
    modseqs = client.command("s2", "FETCH 1:3 (MODSEQ)")
    highest = max(int(line.split("MODSEQ (")[1].rstrip(")")) for line in modseqs[:-1])
    # (the first MODSEQ key enables CONDSTORE, which may announce [HIGHESTMODSEQ] first)
    assert reply[-2:] == [f"* SORT 3 2 1 (MODSEQ {highest})", "s1 OK Sort completed."]
    assert client.command("s3", "SORT (DATE) UTF-8 MODSEQ 1 NOT ALL") == [
        "* SORT",
        "s3 OK Sort completed.",
    ]
