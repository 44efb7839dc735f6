"""Golden transcripts of THREAD and UID THREAD (RFC 5256 §3) with ORDEREDSUBJECT (§2.3) and
REFERENCES (§2.4), over real sockets to the in-process server, including the RFC's examples
(the §4 thread shape `(3 6 (4 23)(44 7 96))` and the empty answers of §3)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from tests.imap.harness import FAST_LIMITS, InProcessServer
from tests.imap.rfc5256_helpers import append_all, message, play

from tidings.config import limits_from_table
from tidings.core.limits import Limits


def _mail(n: int, subject: str, **fields: str) -> bytes:
    fields.setdefault("date", f"{n} Feb 2024 10:00:00 +0000")
    return message(subject, message_id=f"<{n}@t.example>", **fields)


def _ref(*numbers: int) -> str:
    return " ".join(f"<{n}@t.example>" for n in numbers)


# 1, 2: "Lunch", neither a reply: REFERENCES gathers them under a dummy (§2.4 (5)(C)).
# 3-7: "Plans" with References: 3 -> {4 -> 5, 6 -> 7}, 6 sent before 4 (step 6 sorts them).
# 8: "Re: Budget" whose parent is not in the mailbox (a dummy, pruned in step 3).
# 9: "Budget": 8 is a reply and 9 is not, so 8 goes under 9 (§2.4 (5)(C)).
# 10: "Re: Lunch" in reply to 2, with no Date: its internal date (10 Jan) is its sent date.
MAILBOX = [
    _mail(1, "Lunch"),
    _mail(2, "Lunch"),
    _mail(3, "Plans"),
    _mail(4, "Re: Plans", references=_ref(3)),
    _mail(5, "Re: Plans", references=_ref(3, 4)),
    _mail(6, "Re: Plans", references=_ref(3), date="4 Feb 2024 09:00:00 +0000"),
    _mail(7, "Re: Plans", references=_ref(3, 6)),
    _mail(8, "Re: Budget", references="<elsewhere@t.example>"),
    _mail(9, "Budget"),
    message("Re: Lunch", message_id="<10@t.example>", in_reply_to=_ref(2)),
]


@pytest.fixture
def threads_mailbox(imap_server: InProcessServer) -> InProcessServer:
    append_all(imap_server, MAILBOX)
    return imap_server


def test_rfc5256_2_4_references(threads_mailbox: InProcessServer) -> None:
    play(
        threads_mailbox,
        """
        C1: t1 THREAD REFERENCES UTF-8 ALL
        S1: * THREAD ((1)(2 10))(3 (6 7)(4 5))(9 8)
        S1: t1 OK Thread completed.
    """,
    )


def test_rfc5256_2_3_orderedsubject(threads_mailbox: InProcessServer) -> None:
    """One thread per base subject, its messages by sent date: the first is the parent of
    the others; threads by their first message's date (10 has the internal date 10 Jan)."""
    play(
        threads_mailbox,
        """
        C1: t1 THREAD ORDEREDSUBJECT UTF-8 ALL
        S1: * THREAD (10 (1)(2))(3 (6)(4)(5)(7))(8 9)
        S1: t1 OK Thread completed.
    """,
    )


def test_rfc5256_3_examples_with_no_match(threads_mailbox: InProcessServer) -> None:
    """RFC 5256 §3, A284: nothing matches. thread-data = "THREAD" [SP 1*thread-list]."""
    play(
        threads_mailbox,
        """
        C1: A284 THREAD ORDEREDSUBJECT US-ASCII TEXT "gewp"
        S1: * THREAD
        S1: A284 OK Thread completed.
        C1: A285 THREAD REFERENCES UTF-8 TEXT "gewp"
        S1: * THREAD
        S1: A285 OK Thread completed.
        C1: A286 THREAD REFERENCES UTF-8 SINCE 5-MAR-2000
        S1: * THREAD ((1)(2 10))(3 (6 7)(4 5))(9 8)
        S1: A286 OK Thread completed.
    """,
    )


def test_search_program_selects_what_is_threaded(threads_mailbox: InProcessServer) -> None:
    """Only matching messages are threaded; a parent left out becomes a dummy (§2.4 (1)(A))
    that the pruning of step (3) removes or keeps as a common parent."""
    play(
        threads_mailbox,
        """
        C1: t1 THREAD REFERENCES UTF-8 SUBJECT plans
        S1: * THREAD (3 (6 7)(4 5))
        S1: t1 OK Thread completed.
        C1: t2 THREAD REFERENCES UTF-8 4:7
        S1: * THREAD ((6 7)(4 5))
        S1: t2 OK Thread completed.
        C1: t3 THREAD REFERENCES UTF-8 5,7
        S1: * THREAD ((5)(7))
        S1: t3 OK Thread completed.
        C1: t4 THREAD ORDEREDSUBJECT UTF-8 NOT SUBJECT plans
        S1: * THREAD (10 (1)(2))(8 9)
        S1: t4 OK Thread completed.
    """,
    )


def test_uid_thread_answers_uids(threads_mailbox: InProcessServer) -> None:
    """After message 1 is expunged, sequence numbers are UIDs minus one."""
    play(
        threads_mailbox,
        """
        C1: x1 STORE 1 +FLAGS.SILENT (\\Deleted)
        S1: x1 OK Store completed.
        C1: x2 EXPUNGE
        S1: * 1 EXPUNGE
        S1: x2 OK Expunge completed.
        C1: t1 THREAD REFERENCES UTF-8 ALL
        S1: * THREAD (1 9)(2 (5 6)(3 4))(8 7)
        S1: t1 OK Thread completed.
        C1: t2 UID THREAD REFERENCES UTF-8 ALL
        S1: * THREAD (2 10)(3 (6 7)(4 5))(9 8)
        S1: t2 OK Thread completed.
        C1: t3 UID THREAD ORDEREDSUBJECT UTF-8 ALL
        S1: * THREAD (10 2)(3 (6)(4)(5)(7))(8 9)
        S1: t3 OK Thread completed.
    """,
    )


def test_errors(threads_mailbox: InProcessServer) -> None:
    play(
        threads_mailbox,
        """
        C1: e1 THREAD REFERENCES X-UNKNOWN ALL
        S1: e1 NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset.
        C1: e2 THREAD REFS UTF-8 ALL
        S1: e2 BAD Unknown thread algorithm REFS
        C1: e3 THREAD REFERENCES UTF-8
        S1: e3 BAD …
        C1: e4 UID THREAD ORDEREDSUBJECT
        S1: e4 BAD …
    """,
    )


def test_max_thread_references_limit(tmp_path: Path) -> None:
    """[limits] max_thread_references: only the last n References IDs are linked."""
    server = InProcessServer(tmp_path, limits=replace(FAST_LIMITS, max_thread_references=1))
    server.start()
    try:
        append_all(server, [_mail(1, "a"), _mail(2, "b"), _mail(3, "c", references=_ref(1, 2))])
        play(
            server,
            """
            C1: t1 THREAD REFERENCES UTF-8 ALL
            S1: * THREAD (1)(2 3)
            S1: t1 OK Thread completed.
        """,
        )
    finally:
        server.stop()
    assert Limits().max_thread_references == 1000


def test_max_thread_references_is_a_config_key() -> None:
    assert limits_from_table({"max_thread_references": 5}).max_thread_references == 5
