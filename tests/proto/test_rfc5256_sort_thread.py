"""RFC 5256 SORT / THREAD and RFC 5957 DISPLAYFROM / DISPLAYTO in the protocol core: the
commands parsed whole and byte by byte (with their UID forms), syntax errors refused with
their tag, a Hypothesis round trip of sort criteria, and the SORT / THREAD responses encoded
per RFC 5256 §4 (including the RFC's own thread example)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from imap_proto_helpers import parse_one

from tidings.core.base_subject import BaseSubject
from tidings.core.seqset import SequenceSet
from tidings.core.threads import ThreadMessage, ThreadNode
from tidings.imap.proto import commands as c
from tidings.imap.proto.events import CommandError
from tidings.imap.proto.sort import sort_response, thread_response

ALL = c.SearchAll()
SEEN = c.SearchFlag("\\Seen", True)


def _sort(*keys: str) -> tuple[c.SortCriterion, ...]:
    criteria = []
    for key in keys:
        reverse = key.startswith("-")
        criteria.append(c.SortCriterion(c.SortKey(key.lstrip("-")), reverse))
    return tuple(criteria)


CASES: list[tuple[bytes, c.Command]] = [
    # RFC 5256 §3 examples
    (
        b"A283 SORT (SUBJECT REVERSE DATE) UTF-8 ALL",
        c.Sort("A283", _sort("SUBJECT", "-DATE"), "UTF-8", ALL),
    ),
    (
        b'A284 SORT (SUBJECT) US-ASCII TEXT "not in mailbox"',
        c.Sort("A284", _sort("SUBJECT"), "US-ASCII", c.SearchText("not in mailbox", False)),
    ),
    (
        b'A284 THREAD REFERENCES US-ASCII TEXT "gewp"',
        c.Thread("A284", c.ThreadAlgorithm.REFERENCES, "US-ASCII", c.SearchText("gewp", False)),
    ),
    # RFC 5957 §3 example
    (b"A1 SORT (DISPLAYFROM) UTF-8 ALL", c.Sort("A1", _sort("DISPLAYFROM"), "UTF-8", ALL)),
    # every key, REVERSE, case, charset forms, several search keys, UID forms
    (
        b"t sort (arrival cc date from size subject to displayfrom displayto) utf-8 all",
        c.Sort(
            "t",
            _sort(*(key.value for key in c.SortKey)),
            "UTF-8",
            ALL,
        ),
    ),
    (
        b't SORT (REVERSE ARRIVAL REVERSE SIZE DISPLAYTO) "utf-8" SEEN 1:5',
        c.Sort(
            "t",
            _sort("-ARRIVAL", "-SIZE", "DISPLAYTO"),
            "UTF-8",
            c.SearchAnd((SEEN, c.SearchSequence(SequenceSet.parse("1:5")))),
        ),
    ),
    (b"t UID SORT (DATE) UTF-8 ALL", c.Sort("t", _sort("DATE"), "UTF-8", ALL, uid=True)),
    (b"t SORT (DATE) {5}\r\nUTF-8 ALL", c.Sort("t", _sort("DATE"), "UTF-8", ALL)),
    (
        b"t UID THREAD references UTF-8 SEEN",
        c.Thread("t", c.ThreadAlgorithm.REFERENCES, "UTF-8", SEEN, uid=True),
    ),
    (
        b"t THREAD OrderedSubject UTF-8 (SEEN)",
        c.Thread("t", c.ThreadAlgorithm.ORDEREDSUBJECT, "UTF-8", c.SearchAnd((SEEN,))),
    ),
]


@pytest.mark.parametrize(("line", "expected"), CASES, ids=[repr(line) for line, _ in CASES])
def test_rfc5256_5_commands_parse(line: bytes, expected: c.Command) -> None:
    assert parse_one(line + b"\r\n") == expected


def test_rfc5256_3_examples_with_dates_parse() -> None:
    sort = parse_one(b"A282 SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994\r\n")
    assert isinstance(sort, c.Sort)
    assert sort.criteria == _sort("SUBJECT")
    assert isinstance(sort.key, c.SearchDate)
    thread = parse_one(b"A283 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000\r\n")
    assert isinstance(thread, c.Thread)
    assert thread.algorithm is c.ThreadAlgorithm.ORDEREDSUBJECT
    assert isinstance(thread.key, c.SearchDate)


BAD_LINES = [
    b"a SORT",
    b"a SORT ()",  # sort-criteria needs one criterion
    b"a SORT () UTF-8 ALL",
    b"a SORT (REVERSE) UTF-8 ALL",  # REVERSE needs a key
    b"a SORT (REVERSE REVERSE DATE) UTF-8 ALL",
    b"a SORT (MODSEQ) UTF-8 ALL",  # not a sort-key
    b"a SORT DATE UTF-8 ALL",  # no parentheses
    b"a SORT (DATE) ALL",  # charset is not optional: ALL is taken as the charset
    b"a SORT (DATE) UTF-8",  # at least one search key
    b"a SORT (DATE) UTF-8 ",
    b"a SORT (DATE)",
    b"a SORT (DATE  SIZE) UTF-8 ALL",
    b"a SORT (DATE) UTF-8 ALL extra",
    b"a SORT (DATE) UTF-8 NOSUCHKEY",
    b"a THREAD",
    b"a THREAD REFERENCES",
    b"a THREAD REFERENCES UTF-8",
    b"a THREAD REFS UTF-8 ALL",  # an algorithm this server does not implement
    b"a THREAD (REFERENCES) UTF-8 ALL",
    b"a UID THREAD X UTF-8 ALL",
]


@pytest.mark.parametrize("line", BAD_LINES, ids=[repr(line) for line in BAD_LINES])
def test_rfc5256_5_syntax_errors_keep_the_tag(line: bytes) -> None:
    event = parse_one(line + b"\r\n")
    assert isinstance(event, CommandError), event
    assert event.tag == "a"
    assert event.reason


def test_unknown_sort_key_is_named_in_the_reason() -> None:
    event = parse_one(b"a SORT (MODSEQ) UTF-8 ALL\r\n")
    assert isinstance(event, CommandError)
    assert "MODSEQ" in event.reason


def _encode_sort(command: c.Sort) -> bytes:
    criteria = b" ".join(
        (b"REVERSE " if item.reverse else b"") + item.key.value.encode()
        for item in command.criteria
    )
    uid = b"UID " if command.uid else b""
    return b"%s %sSORT (%s) %s ALL\r\n" % (
        command.tag.encode(),
        uid,
        criteria,
        command.charset.encode(),
    )


@given(
    criteria=st.lists(
        st.builds(c.SortCriterion, st.sampled_from(list(c.SortKey)), st.booleans()),
        min_size=1,
        max_size=6,
    ),
    charset=st.sampled_from(["UTF-8", "US-ASCII", "ISO-8859-1", "X-UNKNOWN"]),
    uid=st.booleans(),
)
def test_sort_criteria_round_trip(criteria: list[c.SortCriterion], charset: str, uid: bool) -> None:
    command = c.Sort("t1", tuple(criteria), charset, ALL, uid=uid)
    assert parse_one(_encode_sort(command)) == command


# ------------------------------------------------------------------------------ responses


def _message(number: int) -> ThreadMessage:
    return ThreadMessage(number=number, order=number, date=0.0, subject=BaseSubject("", False))


def _tree(spec: object) -> ThreadNode:
    """(number, [children]) or (None, [children]) for a dummy."""
    assert isinstance(spec, tuple)
    number, children = spec
    return ThreadNode(
        None if number is None else _message(number), [_tree(child) for child in children]
    )


def test_rfc5256_4_sort_response() -> None:
    assert sort_response([2, 84, 882]) == b"SORT 2 84 882"  # RFC 5256 §4 example
    assert sort_response([]) == b"SORT"  # sort-data = "SORT" *(SP nz-number)


def test_rfc5256_4_thread_response_example() -> None:
    """§4: `(2)(3 6 (4 23)(44 7 96))`: 3 -> 6 -> {4 -> 23, 44 -> 7 -> 96}."""
    threads = [
        _tree((2, [])),
        _tree((3, [(6, [(4, [(23, [])]), (44, [(7, [(96, [])])])])])),
    ]
    assert thread_response(threads) == b"THREAD (2)(3 6 (4 23)(44 7 96))"


def test_rfc5256_4_thread_response_forms() -> None:
    # "((3)(5))": a dummy parent with two children (§4 "no parent" example)
    assert thread_response([_tree((None, [(3, []), (5, [])]))]) == b"THREAD ((3)(5))"
    # a parent with two children, one with a child of its own
    assert thread_response([_tree((1, [(2, [(4, [])]), (3, [])]))]) == b"THREAD (1 (2 4)(3))"
    # a dummy whose children have children
    dummy = _tree((None, [(3, [(4, [])]), (5, [(6, []), (7, [])])]))
    assert thread_response([dummy]) == b"THREAD ((3 4)(5 (6)(7)))"
    # ORDEREDSUBJECT shapes: one, two and three messages
    assert thread_response(
        [_tree((1, [])), _tree((2, [(3, [])])), _tree((4, [(5, []), (6, [])]))]
    ) == (b"THREAD (1)(2 3)(4 (5)(6))")
    # thread-data = "THREAD" [SP 1*thread-list]: nothing found, no trailing space
    assert thread_response([]) == b"THREAD"
