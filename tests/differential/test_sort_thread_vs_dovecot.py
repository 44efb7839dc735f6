"""Differential test: SORT and THREAD (RFC 5256, RFC 5957) on Tidings against Dovecot.

Every corpus message is APPENDed to a fresh mailbox on each server, with the same flags and
internal dates (test_corpus_vs_dovecot.load). Then each SORT (every key, each REVERSEd,
several keys together, UID forms, search programs that pick subsets) and each THREAD (both
algorithms, the same variety) must give the same untagged bytes and the same tagged status on
both. The only difference accepted is the one in DEVIATIONS.md under "SORT and THREAD",
recognised by `t1_empty_thread` below.

Set TIDINGS_DIFF_TARGET=dovecot to run the comparison between two Dovecots (a check of the
harness: everything must then be identical).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.differential.raw_imap import Reply
from tests.differential.test_corpus_vs_dovecot import CORPUS, Mailbox, load
from tests.support.corpus import corpus_dir

pytestmark = pytest.mark.dovecot

KEYS = ["ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"]

# The arguments after "SORT " / "THREAD ".
SORTS = [
    *(f"({key}) UTF-8 ALL" for key in KEYS),
    *(f"(REVERSE {key}) UTF-8 ALL" for key in KEYS),
    "(FROM DATE) UTF-8 ALL",
    "(REVERSE FROM REVERSE DATE) UTF-8 ALL",
    "(SUBJECT REVERSE ARRIVAL) UTF-8 ALL",
    "(TO CC SIZE) UTF-8 ALL",
    "(DISPLAYTO REVERSE DISPLAYFROM) UTF-8 ALL",
    "(REVERSE SUBJECT FROM) UTF-8 ALL",
    "(CC REVERSE TO DATE) UTF-8 ALL",
    "(DATE SUBJECT) UTF-8 ALL",
    "(SIZE REVERSE DISPLAYFROM ARRIVAL) UTF-8 ALL",
    "(DATE) UTF-8 UNSEEN",
    "(SUBJECT) UTF-8 1:100",
    "(FROM) US-ASCII FLAGGED",
    "(DISPLAYFROM) utf-8 NOT SEEN",
    '(ARRIVAL) UTF-8 SUBJECT "Re:"',
    "(REVERSE SIZE) UTF-8 LARGER 10000",
    '(SUBJECT) UTF-8 OR FROM "python" SUBJECT "Re:"',
    "(DATE) UTF-8 SENTSINCE 1-Jan-2023",
    "(DATE) UTF-8 NOT ALL",
    "(DATE) X-NO-SUCH-CHARSET ALL",
]
UID_SORTS = ["(SUBJECT) UTF-8 ALL", "(REVERSE DATE) UTF-8 ALL", "(DISPLAYTO) UTF-8 51:150"]
THREADS = [
    f"{algorithm} {search}"
    for algorithm in ("REFERENCES", "ORDEREDSUBJECT")
    for search in (
        "UTF-8 ALL",
        "US-ASCII UNSEEN",
        "UTF-8 1:100",
        "UTF-8 50:150",
        'UTF-8 SUBJECT "Re:"',
        "UTF-8 FLAGGED",
        "UTF-8 SINCE 10-Jan-2023",
        'UTF-8 NOT HEADER In-Reply-To ""',
        "UTF-8 NOT ALL",
    )
]
UID_THREADS = ["REFERENCES UTF-8 ALL", "ORDEREDSUBJECT UTF-8 ALL", "REFERENCES UTF-8 NOT SEEN"]

COMMANDS = (
    [f"SORT {args}" for args in SORTS]
    + [f"UID SORT {args}" for args in UID_SORTS]
    + [f"THREAD {args}" for args in THREADS]
    + [f"UID THREAD {args}" for args in UID_THREADS]
)


@pytest.fixture(scope="module")
def mailboxes(dovecot: Any, target_server: Any) -> Iterator[tuple[Mailbox, Mailbox]]:
    """The corpus loaded into Dovecot (the reference) and into the target."""
    assert CORPUS, f"no .eml files in {corpus_dir()} (set TIDINGS_CORPUS)"
    reference = load(dovecot)
    try:
        target = load(target_server)
    except BaseException:
        reference.conn.close()
        raise
    assert reference.seq_of == target.seq_of, "the servers accepted different messages"
    assert reference.uid_of == target.uid_of
    yield reference, target
    reference.conn.close()
    target.conn.close()


def _untagged(reply: Reply) -> bytes:
    return b"".join(reply.untagged)


def t1_empty_thread(command: str, reference: Reply, target: Reply) -> bool:
    """T1: nothing to thread; Dovecot writes `* THREAD ` (with a space), Tidings `* THREAD`
    as the thread-data ABNF of RFC 5256 §5 has it."""
    return (
        " THREAD " in f" {command}"
        and _untagged(reference) == b"* THREAD \r\n"
        and _untagged(target) == b"* THREAD\r\n"
    )


DEVIATION_RULES = [t1_empty_thread]


@pytest.mark.parametrize("command", COMMANDS)
def test_same_answer_as_dovecot(mailboxes: tuple[Mailbox, Mailbox], command: str) -> None:
    reference, target = mailboxes
    expected = reference.conn.command(command.encode())
    got = target.conn.command(command.encode())
    assert got.status == expected.status, (expected.tagged, got.tagged)
    if any(rule(command, expected, got) for rule in DEVIATION_RULES):
        return
    assert _untagged(got) == _untagged(expected)


def test_the_comparison_can_tell_orders_apart(mailboxes: tuple[Mailbox, Mailbox]) -> None:
    """The corpus makes the keys disagree, so a server that ignored a key would be caught."""
    reference, _ = mailboxes
    answers = {
        _untagged(reference.conn.command(f"SORT ({key}) UTF-8 ALL".encode())) for key in KEYS
    }
    assert len(answers) == len(KEYS)
    forward = _untagged(reference.conn.command(b"SORT (SUBJECT) UTF-8 ALL"))
    backward = _untagged(reference.conn.command(b"SORT (REVERSE SUBJECT) UTF-8 ALL"))
    assert forward != backward
