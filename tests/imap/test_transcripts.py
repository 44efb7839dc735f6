"""Golden transcripts of whole sessions (RFC 9051 §8 style), several connections at once."""

from __future__ import annotations

from tests.imap.harness import InProcessServer, run_transcript


def test_login_select_and_logout(imap_server: InProcessServer) -> None:
    """RFC 9051 §6.2.3, §6.3.2, §6.1.3 as an IMAP4rev1 client sees them."""
    run_transcript(
        imap_server,
        """
        C1: a1 CAPABILITY
        S1: * CAPABILITY IMAP4rev1 IMAP4rev2 …STARTTLS AUTH=PLAIN AUTH=LOGIN
        S1: a1 OK Capability completed.
        C1: a2 LOGIN {user} "{password}"
        S1: a2 OK [CAPABILITY IMAP4rev1 IMAP4rev2 …UIDPLUS MOVE…] Logged in
        C1: a3 SELECT INBOX
        S1: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)
        S1: * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] …
        S1: * 0 EXISTS
        S1: * 0 RECENT
        S1: * OK [UIDVALIDITY …] UIDs valid
        S1: * OK [UIDNEXT 1] Predicted next UID
        S1: * OK [MAILBOXID (F…)] Ok
        S1: a3 OK [READ-WRITE] Select completed.
        C1: a4 LOGOUT
        S1: * BYE Logging out
        S1: a4 OK Logout completed.
    """,
    )


def test_idle_sees_append_flags_and_expunge_from_another_connection(
    imap_server: InProcessServer,
) -> None:
    """RFC 2177 / RFC 9051 §6.3.13: changes by connection 2 reach connection 1 in IDLE."""
    run_transcript(
        imap_server,
        """
        C1: a1 LOGIN {user} "{password}"
        S1: a1 OK …
        C1: a2 SELECT INBOX
        S1: * FLAGS …
        S1: * OK [PERMANENTFLAGS …
        S1: * 0 EXISTS
        S1: * 0 RECENT
        S1: * OK [UIDVALIDITY …
        S1: * OK [UIDNEXT 1] …
        S1: * OK [MAILBOXID (F…)] Ok
        S1: a2 OK [READ-WRITE] …
        C1: a3 IDLE
        S1: + idling
        C2: b1 LOGIN {user} "{password}"
        S2: b1 OK …
        C2: b2 APPEND INBOX {5+}
        C2: hello
        S2: b2 OK [APPENDUID … 1] Append completed.
        S1: * 1 EXISTS
        S1: * 1 RECENT
        C2: b3 SELECT INBOX
        S2: * FLAGS …
        S2: * OK [PERMANENTFLAGS …
        S2: * 1 EXISTS
        S2: * 0 RECENT
        S2: * OK [UNSEEN 1] …
        S2: * OK [UIDVALIDITY …
        S2: * OK [UIDNEXT 2] …
        S2: * OK [MAILBOXID (F…)] Ok
        S2: b3 OK [READ-WRITE] …
        C2: b4 STORE 1 +FLAGS (\\Deleted)
        S2: * 1 FETCH (FLAGS (\\Deleted $HasNoAttachment))
        S2: b4 OK Store completed.
        S1: * 1 FETCH (FLAGS (\\Deleted $HasNoAttachment \\Recent))
        C2: b5 EXPUNGE
        S2: * 1 EXPUNGE
        S2: b5 OK Expunge completed.
        S1: * 1 EXPUNGE
        C1: DONE
        S1: a3 OK Idle completed.
    """,
    )


def test_no_expunge_during_fetch_store_search(imap_server: InProcessServer) -> None:
    """RFC 9051 §7.5.1: another session's EXPUNGE waits until a command that may carry it."""
    run_transcript(
        imap_server,
        """
        C1: a1 LOGIN {user} "{password}"
        S1: a1 OK …
        C1: a2 APPEND INBOX (\\Deleted) {3+}
        C1: one
        S1: a2 OK …
        C1: a3 APPEND INBOX {3+}
        C1: two
        S1: a3 OK …
        C1: a4 EXAMINE INBOX
        S1: * FLAGS …
        S1: * OK [PERMANENTFLAGS ()] …
        S1: * 2 EXISTS
        S1: * 0 RECENT
        S1: * OK [UNSEEN 1] …
        S1: * OK [UIDVALIDITY …
        S1: * OK [UIDNEXT 3] …
        S1: * OK [MAILBOXID (F…)] Ok
        S1: a4 OK [READ-ONLY] Examine completed.
        C2: b1 LOGIN {user} "{password}"
        S2: b1 OK …
        C2: b2 SELECT INBOX
        S2: * FLAGS …
        S2: * OK [PERMANENTFLAGS …
        S2: * 2 EXISTS
        S2: * 2 RECENT
        S2: * OK [UNSEEN 1] …
        S2: * OK [UIDVALIDITY …
        S2: * OK [UIDNEXT 3] …
        S2: * OK [MAILBOXID (F…)] Ok
        S2: b2 OK [READ-WRITE] …
        C2: b3 EXPUNGE
        S2: * 1 EXPUNGE
        S2: b3 OK Expunge completed.
        C1: a5 FETCH 2 (UID)
        S1: * 2 FETCH (UID 2)
        S1: a5 OK Fetch completed.
        C1: a6 SEARCH ALL
        S1: * SEARCH 2
        S1: a6 OK Search completed.
        C1: a7 NOOP
        S1: * 1 EXPUNGE
        S1: a7 OK Noop completed.
        C1: a8 FETCH 1 (UID)
        S1: * 1 FETCH (UID 2)
        S1: a8 OK Fetch completed.
    """,
    )
