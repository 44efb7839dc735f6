"""RFC 5256 §2.3 ORDEREDSUBJECT and §2.4 REFERENCES as pure functions (core/threads.py),
with the Message-ID and Date parsing they rely on."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

from tidings.core.base_subject import base_subject
from tidings.core.message_ids import first_message_id, message_ids
from tidings.core.mime.dates import parse_date_value
from tidings.core.threads import ThreadMessage, ThreadNode, ordered_subject, references
from tidings.imap.proto.sort import thread_response


def msg(
    number: int,
    subject: str | None = "topic",
    *,
    date: float | None = None,
    mid: str | None = None,
    refs: str | None = None,
    irt: str | None = None,
) -> ThreadMessage:
    return ThreadMessage(
        number=number,
        order=number,
        date=float(number) if date is None else date,
        subject=base_subject(subject),
        has_subject=subject is not None,
        message_id=mid if mid is not None else f"<{number}@x>",
        references=refs,
        in_reply_to=irt,
    )


def wire(threads: list[ThreadNode]) -> bytes:
    return thread_response(threads)


# -- ORDEREDSUBJECT -------------------------------------------------------------------------------
def test_orderedsubject_groups_by_base_subject_and_sorts_threads_by_first_date() -> None:
    messages = [
        msg(1, "b", date=50),
        msg(2, "Re: a", date=20),
        msg(3, "a", date=10),
        msg(4, "Re: b", date=60),
        msg(5, "[fwd: a]", date=30),
        msg(6, "c", date=40),
    ]
    # thread "a": 3 (10), 2 (20), 5 (30); "c": 6 (40); "b": 1 (50), 4 (60)
    assert wire(ordered_subject(messages)) == b"THREAD (3 (2)(5))(6)(1 4)"


def test_orderedsubject_equal_dates_go_by_mailbox_order() -> None:
    messages = [msg(1, "x", date=5), msg(2, "y", date=5), msg(3, "x", date=5)]
    assert wire(ordered_subject(messages)) == b"THREAD (1 3)(2)"


# -- REFERENCES step (1): links ------------------------------------------------------------------
def test_references_chain_links_parent_to_child() -> None:
    messages = [
        msg(1),
        msg(2, "Re: topic", refs="<1@x>"),
        msg(3, "Re: topic", refs="<1@x> <2@x>"),
        msg(4, "Re: topic", refs="<1@x>"),
    ]
    assert wire(references(messages)) == b"THREAD (1 (2 3)(4))"


def test_in_reply_to_is_used_without_references() -> None:
    messages = [msg(1), msg(2, "Re: topic", irt="<1@x> <other@x>")]
    assert wire(references(messages)) == b"THREAD (1 2)"


def test_missing_parent_makes_a_dummy_that_is_pruned() -> None:
    # 2 and 3 both refer to the absent <0@x>: a dummy holds them at the top level (step 3
    # keeps it, it has two children); alone, a child is promoted.
    messages = [msg(2, "x", refs="<0@x>"), msg(3, "y", refs="<0@x>"), msg(4, "z", refs="<9@x>")]
    assert wire(references(messages)) == b"THREAD ((2)(3))(4)"


def test_dummy_in_the_middle_is_removed_and_children_promoted() -> None:
    messages = [msg(1, "a"), msg(3, "b", refs="<1@x> <2@x>"), msg(4, "c", refs="<1@x> <2@x>")]
    assert wire(references(messages)) == b"THREAD (1 (3)(4))"


def test_duplicate_message_ids_only_the_first_keeps_it() -> None:
    messages = [msg(1, "a", mid="<d@x>"), msg(2, "b", mid="<d@x>"), msg(3, "c", refs="<d@x>")]
    assert wire(references(messages)) == b"THREAD (1 3)(2)"


def test_loops_are_not_created() -> None:
    messages = [
        msg(1, "a", refs="<2@x>"),
        msg(2, "b", refs="<1@x>"),  # would make 1 and 2 each other's parent
        msg(3, "c", refs="<3@x>"),  # refers to itself
    ]
    assert wire(references(messages)) == b"THREAD (2 1)(3)"


def test_first_link_of_a_message_to_its_parent_stays() -> None:
    # 2's own References put it under 5 (a dummy until 5 arrives); 3's References then
    # claim 1 -> 2, which is ignored because 2 already has a parent (§2.4 (1)(A)).
    messages = [
        msg(1, "a"),
        msg(2, "b", refs="<5@x>"),
        msg(3, "c", refs="<1@x> <2@x>"),
        msg(5, "e"),
    ]
    assert wire(references(messages)) == b"THREAD (1)(5 2 3)"


# -- REFERENCES steps (4) to (6) -----------------------------------------------------------------
def test_threads_with_the_same_base_subject_are_gathered() -> None:
    messages = [
        msg(1, "topic", date=10),
        msg(2, "Re: topic", date=20, mid="<lost@x>", refs="<gone@x>"),
        msg(3, "other", date=30),
    ]
    # (5)(C): 2 is a reply and 1 is not: 2 becomes a child of 1.
    assert wire(references(messages)) == b"THREAD (1 2)(3)"


def test_two_non_replies_with_one_subject_get_a_dummy_parent() -> None:
    messages = [msg(1, "topic", date=10), msg(2, "topic", date=20)]
    assert wire(references(messages)) == b"THREAD ((1)(2))"


def test_reply_seen_first_is_replaced_in_the_subject_table() -> None:
    messages = [msg(1, "Re: topic", date=10), msg(2, "topic", date=20)]
    # The table keeps 2 (not a reply); 1 (a reply) becomes its child.
    assert wire(references(messages)) == b"THREAD (2 1)"


def test_empty_subjects_are_not_gathered() -> None:
    messages = [msg(1, None, date=10), msg(2, "", date=20), msg(3, "Re:", date=30)]
    assert wire(references(messages)) == b"THREAD (1)(2)(3)"


def test_siblings_and_threads_sorted_by_sent_date_then_order() -> None:
    messages = [
        msg(1, "a", date=100),
        msg(2, "Re: a", date=50, refs="<1@x>"),
        msg(3, "Re: a", date=40, refs="<1@x>"),
        msg(4, "b", date=90),
        msg(5, "c", date=90),
    ]
    assert wire(references(messages)) == b"THREAD (4)(5)(1 (3)(2))"


def test_no_messages_no_threads() -> None:
    assert references([]) == []
    assert ordered_subject([]) == []


# -- Message-ID parsing (Dovecot's message_id_get_next) -------------------------------------------
def test_message_ids() -> None:
    assert message_ids("<a@b> <c@d>") == ["a@b", "c@d"]
    assert message_ids("<a@b>,\r\n\t<c\r\n @d>") == ["a@b", "c@d"]
    assert message_ids("<no-at-sign> <x@y>") == ["x@y"]
    assert message_ids('<"quoted local"@host> junk <(comment)a@b>') == ["quoted local@host", "a@b"]
    assert message_ids("no brackets a@b") == []
    assert message_ids("<unterminated@x") == []
    assert message_ids(None) == []
    assert first_message_id("  <first@x> <second@x>") == "first@x"


# -- Date parsing (Dovecot's message_date_parse) ---------------------------------------------------
def test_dates_as_dovecot_reads_them() -> None:
    parsed = parse_date_value("Tue, 1 Jul 2003 10:52:37 +0200")
    assert parsed == datetime(2003, 7, 1, 8, 52, 37, tzinfo=UTC)
    assert parsed is not None and parsed.utcoffset() == timedelta(hours=2)
    assert parse_date_value("1 Jul 03 10:52 EDT") == datetime(
        2003, 7, 1, 10, 52, tzinfo=timezone(timedelta(hours=-4))
    )
    assert parse_date_value("01 Jan 2001 00:01 XYZ") == datetime(2001, 1, 1, 0, 1, tzinfo=UTC)
    assert parse_date_value("1 Jan 2001 10.20.30 +0000") == datetime(
        2001, 1, 1, 10, 20, 30, tzinfo=UTC
    )
    # not dates for Dovecot: zone glued to the minutes, a day name without comma, 31 Feb
    assert parse_date_value("01 Jan 2001 00:01+0000") is None
    assert parse_date_value("Mon 1 Jan 2001 00:01 +0000") is None
    assert parse_date_value("31 Feb 2001 00:01 +0000") is None
    assert parse_date_value("") is None
    assert parse_date_value("yesterday") is None


def test_only_the_last_references_are_linked_beyond_the_limit() -> None:
    """Limits.max_thread_references: the IDs nearest the message are kept."""
    messages = [msg(1, "a"), msg(2, "b"), msg(3, "c", refs="<1@x> <2@x>")]
    assert wire(references(messages)) == b"THREAD (1 2 3)"
    assert wire(references(messages, max_refs=1)) == b"THREAD (1)(2 3)"
    assert wire(references(messages, max_refs=0)) == b"THREAD (1)(2)(3)"


def test_a_huge_references_field_is_cheap() -> None:
    refs = " ".join(f"<r{n}@x>" for n in range(200_000))
    started = time.monotonic()
    forest = references([msg(1, "a", refs=refs)])
    assert time.monotonic() - started < 10
    assert wire(forest) == b"THREAD (1)"
