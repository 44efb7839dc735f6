"""RFC 7162 CONDSTORE: MODSEQ, HIGHESTMODSEQ, CHANGEDSINCE, UNCHANGEDSINCE, SEARCH MODSEQ.

Transcripts follow the RFC's examples (§3.1.2 to §3.1.10) with this server's numbers: a new
INBOX has HIGHESTMODSEQ 1, each APPEND and each STORE command takes the next modseq.
"""

from __future__ import annotations

import imapclient
import pytest
from tests.imap.harness import PASSWORD, USER, InProcessServer
from tests.imap.rfc7162_helpers import fill, login, opened, play

LOGIN_A1 = login("1", "a1")
LOGIN_B1 = login("2", "b1")
OPEN2_B2_SELECT = opened("2", "b2", "SELECT INBOX", exists=3, uidnext=4)
OPEN2_B3_EXAMINE = opened("2", "b3", "EXAMINE INBOX", exists=3, uidnext=4)
OPEN2_B4_SELECT = opened("2", "b4", "SELECT INBOX", exists=3, uidnext=4)

SELECT_3 = """
S1: * FLAGS …
S1: * OK [PERMANENTFLAGS …
S1: * 3 EXISTS
S1: * 3 RECENT
S1: * OK [UNSEEN 1] …
S1: * OK [UIDVALIDITY …
S1: * OK [UIDNEXT 4] …
"""

# Connection 1 logged in with INBOX selected (the `three` mailbox), with and without CONDSTORE.
SELECTED = f"""
{LOGIN_A1}
C1: a2 SELECT INBOX
{SELECT_3}
S1: a2 OK …
"""
SELECTED_CONDSTORE = f"""
{LOGIN_A1}
C1: a2 SELECT INBOX (CONDSTORE)
{SELECT_3}
S1: * OK [HIGHESTMODSEQ 4] Highest
S1: a2 OK …
"""


@pytest.fixture
def three(imap_server: InProcessServer) -> InProcessServer:
    """INBOX with three unflagged messages, UIDs 1-3 with modseqs 2-4."""
    fill(imap_server, 3)
    return imap_server


def test_capability_advertised(imap_server: InProcessServer) -> None:
    """§3.1.1 and §3.2.2: CONDSTORE and QRESYNC once authenticated."""
    play(
        imap_server,
        """
        C1: a1 LOGIN {user} "{password}"
        S1: a1 OK [CAPABILITY …CONDSTORE…QRESYNC…] Logged in
        """,
    )


def test_select_condstore_reports_highestmodseq(three: InProcessServer) -> None:
    """§3.1.8 SELECT (CONDSTORE) and §3.1.2.1 HIGHESTMODSEQ; STORE replies carry MODSEQ
    (before FLAGS, as Dovecot); a plain FETCH FLAGS does not (as Dovecot)."""
    play(
        three,
        f"""
        {LOGIN_A1}
        C1: a2 SELECT INBOX (CONDSTORE)
        {SELECT_3}
        S1: * OK [HIGHESTMODSEQ 4] Highest
        S1: a2 OK [READ-WRITE] Select completed.
        C1: a3 FETCH 2 (FLAGS)
        S1: * 2 FETCH (FLAGS ($HasNoAttachment \\Recent))
        S1: a3 OK Fetch completed.
        C1: a4 STORE 2 +FLAGS ($Work)
        S1: * 2 FETCH (MODSEQ (5) FLAGS ($HasNoAttachment $Work \\Recent))
        S1: a4 OK Store completed.
        """,
    )


def test_plain_select_has_no_highestmodseq_until_fetch_modseq(three: InProcessServer) -> None:
    """§3.1: FETCH MODSEQ is an enabling command (Example 13); the selected mailbox's
    HIGHESTMODSEQ is told then, as Dovecot does."""
    play(
        three,
        """
        C1: a1 LOGIN {user} "{password}"
        S1: a1 OK …
        C1: a2 EXAMINE INBOX
        S1: * FLAGS …
        S1: * OK [PERMANENTFLAGS ()] …
        S1: * 3 EXISTS
        S1: * 0 RECENT
        S1: * OK [UNSEEN 1] …
        S1: * OK [UIDVALIDITY …
        S1: * OK [UIDNEXT 4] …
        S1: a2 OK [READ-ONLY] Examine completed.
        C1: a3 FETCH 1 (FLAGS)
        S1: * 1 FETCH (FLAGS ($HasNoAttachment))
        S1: a3 OK Fetch completed.
        C1: a4 FETCH 1:3 (MODSEQ)
        S1: * OK [HIGHESTMODSEQ 4] Highest
        S1: * 1 FETCH (MODSEQ (2))
        S1: * 2 FETCH (MODSEQ (3))
        S1: * 3 FETCH (MODSEQ (4))
        S1: a4 OK Fetch completed.
        C1: a5 FETCH 1 (FLAGS MODSEQ)
        S1: * 1 FETCH (FLAGS ($HasNoAttachment) MODSEQ (2))
        S1: a5 OK Fetch completed.
        """,
    )


def test_status_highestmodseq(three: InProcessServer) -> None:
    """§3.1.7 Example 17: STATUS (UIDNEXT MESSAGES HIGHESTMODSEQ)."""
    play(
        three,
        """
        C1: a1 LOGIN {user} "{password}"
        S1: a1 OK …
        C1: a2 STATUS INBOX (UIDNEXT MESSAGES HIGHESTMODSEQ)
        S1: * STATUS INBOX (UIDNEXT 4 MESSAGES 3 HIGHESTMODSEQ 4)
        S1: a2 OK Status completed.
        C1: a3 STATUS Trash (HIGHESTMODSEQ)
        S1: * STATUS Trash (HIGHESTMODSEQ 1)
        S1: a3 OK Status completed.
        """,
    )


def test_enable_condstore_while_selected(three: InProcessServer) -> None:
    """RFC 5161 ENABLE CONDSTORE in the selected state tells HIGHESTMODSEQ."""
    play(
        three,
        f"""
        {LOGIN_A1}
        C1: a2 SELECT INBOX
        {SELECT_3}
        S1: a2 OK [READ-WRITE] Select completed.
        C1: a3 ENABLE CONDSTORE
        S1: * ENABLED CONDSTORE
        S1: * OK [HIGHESTMODSEQ 4] Highest
        S1: a3 OK Enabled.
        C1: a4 ENABLE CONDSTORE
        S1: * ENABLED
        S1: a4 OK Enabled.
        """,
    )


def test_conditional_store_all_pass(three: InProcessServer) -> None:
    """§3.1.3 Example 3: every message passes; FETCH (UID MODSEQ) even with .SILENT."""
    play(
        three,
        f"""
        {SELECTED_CONDSTORE}
        C1: a3 UID STORE 3,1,2 (UNCHANGEDSINCE 4) +FLAGS.SILENT (\\Deleted)
        S1: * 1 FETCH (UID 1 MODSEQ (5))
        S1: * 2 FETCH (UID 2 MODSEQ (5))
        S1: * 3 FETCH (UID 3 MODSEQ (5))
        S1: a3 OK Store completed.
        C1: a4 STORE 1 FLAGS (\\Seen)
        S1: * 1 FETCH (MODSEQ (6) FLAGS (\\Seen \\Recent))
        S1: a4 OK Store completed.
        C1: a5 STORE 1 +FLAGS.SILENT (\\Seen)
        S1: a5 OK Store completed.
        C1: a6 STORE 1:2 +FLAGS (\\Seen)
        S1: * 2 FETCH (MODSEQ (7) FLAGS (\\Deleted \\Seen $HasNoAttachment \\Recent))
        S1: a6 OK Store completed.
        """,
    )


def test_conditional_store_fails_for_message_changed_by_another_session(
    three: InProcessServer,
) -> None:
    """§3.1.3 Examples 4 and 5: message 2 changed meanwhile; MODIFIED names it, the others
    are stored, and the other session's change is told with its MODSEQ."""
    play(
        three,
        f"""
        {SELECTED_CONDSTORE}
        {LOGIN_B1}
        C2: b2 UID STORE 2 +FLAGS (\\Seen)
        S2: b2 BAD No mailbox selected.
        {OPEN2_B3_EXAMINE}
        {OPEN2_B4_SELECT}
        C2: b5 STORE 2 +FLAGS.SILENT (\\Seen)
        S2: b5 OK Store completed.
        C1: a3 STORE 1:3 (UNCHANGEDSINCE 4) +FLAGS.SILENT (\\Deleted)
        S1: * 1 FETCH (MODSEQ (6))
        S1: * 3 FETCH (MODSEQ (6))
        S1: * 2 FETCH (MODSEQ (5) FLAGS (\\Seen $HasNoAttachment \\Recent))
        S1: a3 OK [MODIFIED 2] Conditional store failed.
        C1: a4 UID STORE 2 (UNCHANGEDSINCE 5) +FLAGS (\\Deleted)
        S1: * 2 FETCH (UID 2 MODSEQ (7) FLAGS (\\Deleted \\Seen $HasNoAttachment \\Recent))
        S1: a4 OK Store completed.
        """,
    )


def test_conditional_store_message_already_in_requested_state(three: InProcessServer) -> None:
    """§3.1.3 Example 10: message 2 changed meanwhile, but exactly to what is asked, so it
    is no failure: its flags and MODSEQ are told instead."""
    play(
        three,
        f"""
        {SELECTED_CONDSTORE}
        {LOGIN_B1}
        {OPEN2_B2_SELECT}
        C2: b3 STORE 2 +FLAGS.SILENT (\\Deleted)
        S2: b3 OK Store completed.
        C1: a3 STORE 1:3 (UNCHANGEDSINCE 4) +FLAGS.SILENT (\\Deleted)
        S1: * 1 FETCH (MODSEQ (6))
        S1: * 2 FETCH (MODSEQ (5) FLAGS (\\Deleted $HasNoAttachment \\Recent))
        S1: * 3 FETCH (MODSEQ (6))
        S1: a3 OK Store completed.
        C1: a4 NOOP
        S1: a4 OK Noop completed.
        """,
    )


def test_unchangedsince_zero(three: InProcessServer) -> None:
    """§3.1.3: UNCHANGEDSINCE 0 fails when a touched item exists: the $MDNSent example
    succeeds once; a system flag always exists, so that always fails."""
    play(
        three,
        f"""
        {SELECTED}
        C1: a3 STORE 1 (UNCHANGEDSINCE 0) +FLAGS.SILENT ($MDNSent)
        S1: * OK [HIGHESTMODSEQ 4] Highest
        S1: * 1 FETCH (MODSEQ (5))
        S1: a3 OK Store completed.
        C1: a4 STORE 1 (UNCHANGEDSINCE 0) +FLAGS.SILENT ($MDNSent)
        S1: a4 OK [MODIFIED 1] Conditional store failed.
        C1: a5 UID STORE 2:3 (UNCHANGEDSINCE 0) -FLAGS (\\Seen)
        S1: a5 OK [MODIFIED 2:3] Conditional store failed.
        C1: a6 FETCH 1 (FLAGS)
        S1: * 1 FETCH (FLAGS ($HasNoAttachment $MDNSent \\Recent))
        S1: a6 OK Fetch completed.
        """,
    )


def test_fetch_changedsince(three: InProcessServer) -> None:
    """§3.1.4.1 Example 12: CHANGEDSINCE narrows the set and implies MODSEQ."""
    play(
        three,
        f"""
        {SELECTED}
        C1: a3 STORE 2 +FLAGS.SILENT ($Junk)
        S1: a3 OK Store completed.
        C1: a4 FETCH 1:* (FLAGS) (CHANGEDSINCE 4)
        S1: * OK [HIGHESTMODSEQ 5] Highest
        S1: * 2 FETCH (FLAGS ($HasNoAttachment $Junk \\Recent) MODSEQ (5))
        S1: a4 OK Fetch completed.
        C1: a5 UID FETCH 1:* (UID) (CHANGEDSINCE 3)
        S1: * 2 FETCH (UID 2 MODSEQ (5))
        S1: * 3 FETCH (UID 3 MODSEQ (4))
        S1: a5 OK Fetch completed.
        C1: a6 FETCH 1:* (FLAGS) (CHANGEDSINCE 5)
        S1: a6 OK Fetch completed.
        """,
    )


def test_search_modseq(three: InProcessServer) -> None:
    """§3.1.5 Examples 14/15 and §3.1.6: MODSEQ (with an entry name) and the (MODSEQ n)
    at the end of a non-empty SEARCH result; ESEARCH gets MODSEQ too (§3.1.10)."""
    play(
        three,
        f"""
        {SELECTED}
        C1: a3 STORE 1,3 +FLAGS.SILENT (\\Draft)
        S1: a3 OK Store completed.
        C1: a4 SEARCH MODSEQ "/flags/\\\\draft" all 4
        S1: * OK [HIGHESTMODSEQ 5] Highest
        S1: * SEARCH 1 3 (MODSEQ 5)
        S1: a4 OK Search completed.
        C1: a5 UID SEARCH OR MODSEQ 5 UID 2 DRAFT
        S1: * SEARCH 1 3 (MODSEQ 5)
        S1: a5 OK Search completed.
        C1: a6 SEARCH MODSEQ 6
        S1: * SEARCH
        S1: a6 OK Search completed.
        C1: a7 SEARCH RETURN (ALL COUNT) MODSEQ 0
        S1: * ESEARCH (TAG "a7") COUNT 3 ALL 1:3 MODSEQ 5
        S1: a7 OK Search completed.
        C1: a8 UID SEARCH RETURN (MIN) NOT MODSEQ 5
        S1: * ESEARCH (TAG "a8") UID MIN 2 MODSEQ 3
        S1: a8 OK Search completed.
        C1: a9 SEARCH RETURN (COUNT) MODSEQ 9
        S1: * ESEARCH (TAG "a9") COUNT 0
        S1: a9 OK Search completed.
        C1: b1 SEARCH MODSEQ "/flags/x" bogus 4
        S1: b1 BAD …
        C1: b2 SEARCH MODSEQ "flags/x" all 4
        S1: b2 BAD …
        C1: b3 SEARCH MODSEQ 9223372036854775808
        S1: b3 BAD …
        """,
    )


def test_unsolicited_fetch_carries_modseq(three: InProcessServer) -> None:
    """§3.1: once CONDSTORE is on, FETCH responses caused by another session carry MODSEQ;
    before, they do not."""
    play(
        three,
        f"""
        {SELECTED}
        {LOGIN_B1}
        {OPEN2_B2_SELECT}
        C2: b3 STORE 1 +FLAGS.SILENT (\\Flagged)
        S2: b3 OK Store completed.
        C1: a3 NOOP
        S1: * 1 FETCH (FLAGS (\\Flagged $HasNoAttachment \\Recent))
        S1: a3 OK Noop completed.
        C1: a4 ENABLE CONDSTORE
        S1: * ENABLED CONDSTORE
        S1: * OK [HIGHESTMODSEQ 5] Highest
        S1: a4 OK Enabled.
        C2: b4 STORE 3 +FLAGS.SILENT (\\Flagged)
        S2: b4 OK Store completed.
        C1: a5 IDLE
        S1: + idling
        S1: * 3 FETCH (MODSEQ (6) FLAGS (\\Flagged $HasNoAttachment \\Recent))
        C1: DONE
        S1: a5 OK Idle completed.
        """,
    )


def test_bad_modifiers(three: InProcessServer) -> None:
    """Unknown, repeated or malformed modifiers are BAD (RFC 4466 §2.1, RFC 7162 §7)."""
    play(
        three,
        f"""
        {LOGIN_A1}
        C1: a2 SELECT INBOX (CONDSTORE FOO)
        S1: a2 BAD Unknown SELECT parameter FOO
        C1: a3 SELECT INBOX (CONDSTORE CONDSTORE)
        S1: a3 BAD CONDSTORE given twice
        C1: a4 SELECT INBOX
        {SELECT_3}
        S1: a4 OK …
        C1: a5 FETCH 1 (FLAGS) (CHANGEDSINCE)
        S1: a5 BAD Invalid CHANGEDSINCE value
        C1: a6 FETCH 1 (FLAGS) (CHANGEDSINCE 9223372036854775808)
        S1: a6 BAD …
        C1: a7 FETCH 1 (FLAGS) (FOO 1)
        S1: a7 BAD Unknown FETCH modifier FOO
        C1: a8 STORE 1 (UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) +FLAGS (x)
        S1: a8 BAD Only one STORE modifier is allowed
        C1: a9 STORE 1 (FOO 1) +FLAGS (x)
        S1: a9 BAD Unknown STORE modifier FOO
        C1: b1 STORE 1 (UNCHANGEDSINCE x) +FLAGS (x)
        S1: b1 BAD …
        C1: b2 UID FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)
        S1: b2 BAD QRESYNC not enabled
        C1: b3 NOOP
        S1: b3 OK Noop completed.
        """,
    )


def test_imapclient_condstore(three: InProcessServer) -> None:
    """imapclient (an independent client) reads HIGHESTMODSEQ, MODSEQ and SEARCH MODSEQ."""
    client = imapclient.IMAPClient("127.0.0.1", port=three.port, ssl=False, timeout=10)
    try:
        client.login(USER, PASSWORD)
        assert client.has_capability("CONDSTORE")
        assert client.enable("CONDSTORE") == [b"CONDSTORE"]
        info = client.select_folder("INBOX")
        assert info[b"HIGHESTMODSEQ"] == 4
        client.add_flags([2], [b"$Work"], silent=True)
        changed = client.fetch([1, 2, 3], ["FLAGS"], modifiers=["CHANGEDSINCE 4"])
        assert list(changed) == [2]
        assert changed[2][b"MODSEQ"] == (5,)
        assert b"$Work" in changed[2][b"FLAGS"]
        found = client.search(["MODSEQ", "5"])
        assert list(found) == [2]
        assert found.modseq == 5
        assert client.folder_status("INBOX", ["HIGHESTMODSEQ"])[b"HIGHESTMODSEQ"] == 5
    finally:
        client.logout()
