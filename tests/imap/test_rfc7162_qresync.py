"""RFC 7162 QRESYNC: SELECT (QRESYNC ...), VANISHED (EARLIER), VANISHED instead of EXPUNGE,
[CLOSED], UID FETCH (CHANGEDSINCE n VANISHED), and resynchronising below the pruned floor.

The mailbox every test starts from (see `changed`): six messages appended (UIDs 1-6,
modseqs 2-7), which a client saw at HIGHESTMODSEQ 7; then another session set \\Seen on 2
(modseq 8), \\Deleted on 3 and 5 (9), expunged them (10) and appended UID 7 (11).
"""

from __future__ import annotations

import pytest
from tests.imap.harness import InProcessServer, LineClient
from tests.imap.rfc7162_helpers import fill, login, opened, play, uidvalidity

LOGIN_B1 = login("2", "b1")
OPEN2_B2_SELECT = opened("2", "b2", "SELECT INBOX", exists=5, uidnext=8)

LOGIN_QRESYNC = """
C1: a1 LOGIN {user} "{password}"
S1: a1 OK …
C1: a2 ENABLE QRESYNC
S1: * ENABLED QRESYNC
S1: a2 OK Enabled.
"""

SELECT_5 = """
S1: * FLAGS …
S1: * OK [PERMANENTFLAGS …
S1: * 5 EXISTS
S1: * 0 RECENT
S1: * OK [UNSEEN 1] …
S1: * OK [UIDVALIDITY {uv}] UIDs valid
S1: * OK [UIDNEXT 8] …
S1: * OK [HIGHESTMODSEQ 11] Highest
"""

# What resynchronising `changed` from modseq 7 tells (SELECT QRESYNC §3.2.5.1, UID FETCH
# CHANGEDSINCE 7 VANISHED §3.2.6): UIDs 3 and 5 expunged, \Seen set on 2.
TOLD_SINCE_7 = """
S1: * VANISHED (EARLIER) 3,5
S1: * 2 FETCH (UID 2 FLAGS (\\Seen $HasNoAttachment) MODSEQ (8))
"""


def _other_session_changes(server: InProcessServer) -> None:
    client = LineClient(server.port)
    try:
        client.login()
        for tag, command in (
            ("b1", "SELECT INBOX"),
            ("b2", "STORE 2 +FLAGS.SILENT (\\Seen)"),
            ("b3", "STORE 3,5 +FLAGS.SILENT (\\Deleted)"),
            ("b4", "EXPUNGE"),
        ):
            assert client.command(tag, command)[-1].startswith(f"{tag} OK")
        client.send_line("b5 APPEND INBOX {9+}")
        client.send("Subject:\r\n\r\n")
        assert client.read_until_tagged("b5")[-1].startswith("b5 OK")
    finally:
        client.close()


@pytest.fixture
def changed(imap_server: InProcessServer) -> InProcessServer:
    """INBOX as the module docstring says."""
    fill(imap_server, 6)
    _other_session_changes(imap_server)
    return imap_server


def test_qresync_parameter_needs_enable(changed: InProcessServer) -> None:
    """§3.2.5: SELECT (QRESYNC ...) before ENABLE QRESYNC is BAD."""
    play(
        changed,
        """
        C1: a1 LOGIN {user} "{password}"
        S1: a1 OK …
        C1: a2 SELECT INBOX (QRESYNC ({uv} 7))
        S1: a2 BAD QRESYNC not enabled
        C1: a3 SELECT INBOX (QRESYNC (1))
        S1: a3 BAD …
        """,
        uv=uidvalidity(changed),
    )


def test_select_qresync_with_known_uids(changed: InProcessServer) -> None:
    """§3.2.5.1 (the RFC's example): expunged known UIDs as VANISHED (EARLIER), then the
    changed known messages with UID, FLAGS and MODSEQ, before the tagged OK. UID 7 is not
    among the known UIDs, so it is left to EXISTS."""
    play(
        changed,
        f"""
        {LOGIN_QRESYNC}
        C1: a3 SELECT INBOX (QRESYNC ({{uv}} 7 1:6))
        {SELECT_5}
        {TOLD_SINCE_7}
        S1: a3 OK [READ-WRITE] Select completed.
        """,
        uv=uidvalidity(changed),
    )


def test_select_qresync_without_known_uids_and_closed(changed: InProcessServer) -> None:
    """§3.2.5.1: without known UIDs the server acts as if 1:(UIDNEXT-1) were given, so the
    new UID 7 is told too; §3.2.11: [CLOSED] when another mailbox was selected."""
    play(
        changed,
        f"""
        {LOGIN_QRESYNC}
        C1: a3 EXAMINE Trash
        S1: * FLAGS …
        S1: * OK [PERMANENTFLAGS ()] …
        S1: * 0 EXISTS
        S1: * 0 RECENT
        S1: * OK [UIDVALIDITY …
        S1: * OK [UIDNEXT 1] …
        S1: * OK [HIGHESTMODSEQ 1] Highest
        S1: a3 OK [READ-ONLY] Examine completed.
        C1: a4 SELECT INBOX (QRESYNC ({{uv}} 7))
        S1: * OK [CLOSED] Previous mailbox closed.
        {SELECT_5}
        {TOLD_SINCE_7}
        S1: * 5 FETCH (UID 7 FLAGS ($HasNoAttachment) MODSEQ (11))
        S1: a4 OK [READ-WRITE] Select completed.
        """,
        uv=uidvalidity(changed),
    )


def test_select_qresync_with_seq_match_data(changed: InProcessServer) -> None:
    """§3.2.5.2: sequence match data is accepted (the answer is exact without it); sets of
    different sizes, or with `*`, are BAD, and leave no mailbox selected (as Dovecot)."""
    play(
        changed,
        f"""
        {LOGIN_QRESYNC}
        C1: a3 SELECT INBOX (QRESYNC ({{uv}} 7 1:6 (1:4 1:4)))
        {SELECT_5}
        {TOLD_SINCE_7}
        S1: a3 OK [READ-WRITE] Select completed.
        C1: a4 SELECT INBOX (QRESYNC ({{uv}} 7 1:6 (1:4 1:3)))
        S1: * OK [CLOSED] Previous mailbox closed.
        S1: a4 BAD QRESYNC sequence match data of different sizes
        C1: a5 SELECT INBOX (QRESYNC ({{uv}} 7 1:*))
        S1: a5 BAD known UIDs may not contain * or $
        """,
        uv=uidvalidity(changed),
    )


def test_select_qresync_uidvalidity_mismatch_and_up_to_date(changed: InProcessServer) -> None:
    """§3.2.5.1: another UIDVALIDITY means the rest is ignored (a full resync is up to the
    client); a client already at HIGHESTMODSEQ hears of nothing."""
    uv = uidvalidity(changed)
    play(
        changed,
        f"""
        {LOGIN_QRESYNC}
        C1: a3 EXAMINE INBOX (QRESYNC ({uv + 1} 7 1:6))
        S1: * FLAGS …
        S1: * OK [PERMANENTFLAGS ()] …
        S1: * 5 EXISTS
        S1: * 0 RECENT
        S1: * OK [UNSEEN 1] …
        S1: * OK [UIDVALIDITY {{uv}}] UIDs valid
        S1: * OK [UIDNEXT 8] …
        S1: * OK [HIGHESTMODSEQ 11] Highest
        S1: a3 OK [READ-ONLY] Examine completed.
        C1: a4 SELECT INBOX (QRESYNC ({{uv}} 11 1:7))
        S1: * OK [CLOSED] Previous mailbox closed.
        {SELECT_5}
        S1: a4 OK [READ-WRITE] Select completed.
        """,
        uv=uv,
    )


def test_expunge_and_move_answer_vanished(changed: InProcessServer) -> None:
    """§3.2.7 / §3.2.9: EXPUNGE and UID EXPUNGE report VANISHED and the new HIGHESTMODSEQ
    in the tagged OK; MOVE reports VANISHED too (RFC 6851 §4.4)."""
    play(
        changed,
        f"""
        {LOGIN_QRESYNC}
        C1: a3 SELECT INBOX (QRESYNC ({{uv}} 11))
        {SELECT_5}
        S1: a3 OK [READ-WRITE] Select completed.
        C1: a4 STORE 1:2 +FLAGS.SILENT (\\Deleted)
        S1: * 1 FETCH (UID 1 MODSEQ (12))
        S1: * 2 FETCH (UID 2 MODSEQ (12))
        S1: a4 OK Store completed.
        C1: a5 UID EXPUNGE 2
        S1: * VANISHED 2
        S1: a5 OK [HIGHESTMODSEQ 13] Expunge completed.
        C1: a6 EXPUNGE
        S1: * VANISHED 1
        S1: a6 OK [HIGHESTMODSEQ 14] Expunge completed.
        C1: a7 EXPUNGE
        S1: a7 OK Expunge completed.
        C1: a8 UID MOVE 4:6 Archive
        S1: * OK [COPYUID … 4,6 1:2] Moved UIDs.
        S1: * VANISHED 4,6
        S1: a8 OK [HIGHESTMODSEQ 15] Move completed.
        C1: a9 CLOSE
        S1: a9 OK Close completed.
        """,
        uv=uidvalidity(changed),
    )


def test_other_sessions_expunge_is_vanished_during_idle(changed: InProcessServer) -> None:
    """§3.2.10.2: a QRESYNC client hears of another session's expunge as VANISHED, and of
    its flag changes with UID and MODSEQ (§3.2.4); after a VANISHED the tagged OK tells the
    new HIGHESTMODSEQ (as Dovecot)."""
    play(
        changed,
        f"""
        {LOGIN_QRESYNC}
        C1: a3 SELECT INBOX (QRESYNC ({{uv}} 11))
        {SELECT_5}
        S1: a3 OK [READ-WRITE] Select completed.
        C1: a4 IDLE
        S1: + idling
        {LOGIN_B1}
        {OPEN2_B2_SELECT}
        C2: b3 STORE 1 +FLAGS (\\Deleted)
        S2: * 1 FETCH (FLAGS (\\Deleted $HasNoAttachment))
        S2: b3 OK Store completed.
        S1: * 1 FETCH (UID 1 MODSEQ (12) FLAGS (\\Deleted $HasNoAttachment))
        C2: b4 EXPUNGE
        S2: * 1 EXPUNGE
        S2: b4 OK Expunge completed.
        S1: * VANISHED 1
        C1: DONE
        S1: a4 OK [HIGHESTMODSEQ 13] Idle completed.
        """,
        uv=uidvalidity(changed),
    )


def test_uid_fetch_changedsince_vanished(changed: InProcessServer) -> None:
    """§3.2.6: VANISHED (EARLIER) for the set's UIDs expunged since n, before the FETCH
    responses; BAD without UID, without CHANGEDSINCE."""
    play(
        changed,
        f"""
        {LOGIN_QRESYNC}
        C1: a3 SELECT INBOX (QRESYNC ({{uv}} 11))
        {SELECT_5}
        S1: a3 OK [READ-WRITE] Select completed.
        C1: a4 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 7 VANISHED)
        {TOLD_SINCE_7}
        S1: * 5 FETCH (UID 7 FLAGS ($HasNoAttachment) MODSEQ (11))
        S1: a4 OK Fetch completed.
        C1: a5 UID FETCH 4:6 (FLAGS) (CHANGEDSINCE 7 VANISHED)
        S1: * VANISHED (EARLIER) 5
        S1: a5 OK Fetch completed.
        C1: a6 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 10 VANISHED)
        S1: * 5 FETCH (UID 7 FLAGS ($HasNoAttachment) MODSEQ (11))
        S1: a6 OK Fetch completed.
        C1: a7 FETCH 1:* (FLAGS) (CHANGEDSINCE 7 VANISHED)
        S1: a7 BAD VANISHED is only allowed in UID FETCH
        C1: a8 UID FETCH 1:* (FLAGS) (VANISHED)
        S1: a8 BAD VANISHED needs CHANGEDSINCE
        """,
        uv=uidvalidity(changed),
    )


def test_resync_below_pruned_floor_is_exact(changed: InProcessServer) -> None:
    """§3.2.5.2: once the history before the client's modseq is pruned, every known UID not
    in the mailbox is VANISHED (EARLIER): the same answer as with the history. Without
    known UIDs, 1:(UIDNEXT-1) is the known set."""
    assert changed.context is not None
    backend = changed.context.backend
    removed = changed.run_in_server(backend.prune_change_log(0))  # type: ignore[attr-defined]
    assert removed > 0
    play(
        changed,
        f"""
        {LOGIN_QRESYNC}
        C1: a3 SELECT INBOX (QRESYNC ({{uv}} 7 2:6))
        {SELECT_5}
        {TOLD_SINCE_7}
        S1: a3 OK [READ-WRITE] Select completed.
        C1: a4 SELECT INBOX (QRESYNC ({{uv}} 7))
        S1: * OK [CLOSED] Previous mailbox closed.
        {SELECT_5}
        {TOLD_SINCE_7}
        S1: * 5 FETCH (UID 7 FLAGS ($HasNoAttachment) MODSEQ (11))
        S1: a4 OK [READ-WRITE] Select completed.
        C1: a5 UID FETCH 1:6 (FLAGS) (CHANGEDSINCE 7 VANISHED)
        {TOLD_SINCE_7}
        S1: a5 OK Fetch completed.
        """,
        uv=uidvalidity(changed),
    )


def test_live_session_below_pruned_floor_still_told(changed: InProcessServer) -> None:
    """A session whose modseq fell below the floor (the log pruned under it) compares UIDs
    and flags with the mailbox instead, so it still hears of every change."""
    assert changed.context is not None
    backend = changed.context.backend
    a = LineClient(changed.port)
    b = LineClient(changed.port)
    a.login()
    assert a.command("a1", "SELECT INBOX")[-1].startswith("a1 OK")
    b.login()
    assert b.command("b1", "SELECT INBOX")[-1].startswith("b1 OK")
    assert b.command("b2", "STORE 1 +FLAGS.SILENT (\\Deleted)")[-1].startswith("b2 OK")
    assert b.command("b3", "EXPUNGE")[-1].startswith("b3 OK")
    assert b.command("b4", "STORE 2 +FLAGS.SILENT ($Late)")[-1].startswith("b4 OK")
    changed.run_in_server(backend.prune_change_log(0))  # type: ignore[attr-defined]
    reply = a.command("a2", "NOOP")
    # b's STORE 2 came after its EXPUNGE: message 2 is UID 4 then.
    assert reply == [
        "* 1 EXPUNGE",
        "* 2 FETCH (FLAGS ($HasNoAttachment $Late))",
        "a2 OK Noop completed.",
    ]
    assert a.command("a3", "FETCH 1:* (UID)")[:-1] == [
        "* 1 FETCH (UID 2)",
        "* 2 FETCH (UID 4)",
        "* 3 FETCH (UID 6)",
        "* 4 FETCH (UID 7)",
    ]


def test_condstore_client_never_sees_modseq_past_unannounced_expunge(
    changed: InProcessServer,
) -> None:
    """RFC 7162 §3.2.10.2 and §5: an expunge that may not be told during FETCH holds back
    the later changes too, so no MODSEQ above the untold expunge reaches the client (it
    would take it as its HIGHESTMODSEQ and miss the expunge when resynchronising)."""
    play(
        changed,
        f"""
        {LOGIN_QRESYNC}
        C1: a3 SELECT INBOX (QRESYNC ({{uv}} 11))
        {SELECT_5}
        S1: a3 OK [READ-WRITE] Select completed.
        {LOGIN_B1}
        {OPEN2_B2_SELECT}
        C2: b3 STORE 1 +FLAGS.SILENT (\\Deleted)
        S2: b3 OK Store completed.
        C1: a4 NOOP
        S1: * 1 FETCH (UID 1 MODSEQ (12) FLAGS (\\Deleted $HasNoAttachment))
        S1: a4 OK Noop completed.
        C2: b4 EXPUNGE
        S2: * 1 EXPUNGE
        S2: b4 OK Expunge completed.
        C2: b5 STORE 1 +FLAGS.SILENT ($After)
        S2: b5 OK Store completed.
        C1: a5 FETCH 2 (FLAGS MODSEQ)
        S1: * 2 FETCH (FLAGS (\\Seen $HasNoAttachment) MODSEQ (8))
        S1: a5 OK Fetch completed.
        C1: a6 FETCH 1 (UID)
        S1: a6 NO [EXPUNGEISSUED] Some of the requested messages no longer exist.
        C1: a7 NOOP
        S1: * VANISHED 1
        S1: * 1 FETCH (UID 2 MODSEQ (14) FLAGS (\\Seen $After $HasNoAttachment))
        S1: a7 OK [HIGHESTMODSEQ 14] Noop completed.
        """,
        uv=uidvalidity(changed),
    )
