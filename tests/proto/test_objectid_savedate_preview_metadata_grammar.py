"""The grammar of RFC 8474 (EMAILID/THREADID/MAILBOXID), RFC 8514 (SAVEDATE and its search
keys), RFC 8970 (PREVIEW) and RFC 5464 (GETMETADATA/SETMETADATA), each command fed whole
and one byte at a time (imap_proto_helpers.parse_one)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from imap_proto_helpers import feed_both, parse_one

from tidings.core.seqset import SequenceSet
from tidings.imap.proto import commands as c
from tidings.imap.proto.events import CommandError
from tidings.imap.proto.metadata import (
    MAX_ENTRY_LENGTH,
    GetMetadata,
    SetMetadata,
    encode_value,
)
from tidings.imap.proto.responses import astring

A = c.SimpleAttribute
ONE = SequenceSet.parse("1")
CASES: list[tuple[bytes, c.Command]] = [
    (
        b"a FETCH 1 (EMAILID THREADID SAVEDATE PREVIEW)",
        c.Fetch(
            "a",
            ONE,
            (
                c.FetchAttribute(A.EMAILID),
                c.FetchAttribute(A.THREADID),
                c.FetchAttribute(A.SAVEDATE),
                c.FetchPreview(),
            ),
        ),
    ),
    (b"a FETCH 1 PREVIEW (LAZY)", c.Fetch("a", ONE, (c.FetchPreview(lazy=True),))),
    (
        b"a FETCH 1 (preview (lazy) UID)",
        c.Fetch("a", ONE, (c.FetchPreview(lazy=True), c.FetchAttribute(A.UID))),
    ),
    (
        b"a FETCH 1 PREVIEW (CHANGEDSINCE 5)",
        c.Fetch("a", ONE, (c.FetchPreview(),), modifiers=(("CHANGEDSINCE", "5"),)),
    ),
    (b"a STATUS foo (MAILBOXID)", c.Status("a", "foo", (c.StatusItem.MAILBOXID,))),
    (
        b"a SEARCH EMAILID M6d99ac3275bb4e THREADID T64b478a75b7ea9",
        c.Search(
            "a",
            c.SearchAnd(
                (
                    c.SearchObjectId(A.EMAILID, "M6d99ac3275bb4e"),
                    c.SearchObjectId(A.THREADID, "T64b478a75b7ea9"),
                )
            ),
        ),
    ),
    (
        b"a UID SEARCH SAVEDBEFORE 1-Feb-2019 SAVEDON 2-Feb-2019 SAVEDSINCE 3-Feb-2019",
        c.Search(
            "a",
            c.SearchAnd(
                tuple(
                    c.SearchDate(c.DateField.SAVED, relation, date(2019, 2, day))
                    for relation, day in zip(c.DateRelation, (1, 2, 3), strict=True)
                )
            ),
            uid=True,
        ),
    ),
    (b"a SEARCH SAVEDATESUPPORTED", c.Search("a", c.SearchAll())),
    (
        b"a GETMETADATA (MAXSIZE 1024 DEPTH 1) INBOX (/shared/comment /private/comment)",
        GetMetadata("a", "INBOX", ("/shared/comment", "/private/comment"), 1024, "1"),
    ),
    (
        b"a SETMETADATA INBOX (/private/comment {33}\r\nMy new comment across\r\ntwo lines.)",
        SetMetadata("a", "INBOX", (("/private/comment", b"My new comment across\r\ntwo lines."),)),
    ),
    (
        b'a SETMETADATA "" (/shared/comment ~{2}\r\n\x00\x01 /shared/x NIL)',
        SetMetadata("a", "", (("/shared/comment", b"\x00\x01"), ("/shared/x", None))),
    ),
]


@pytest.mark.parametrize(("line", "expected"), CASES, ids=[repr(line) for line, _ in CASES])
def test_forms(line: bytes, expected: c.Command) -> None:
    assert parse_one(line + b"\r\n") == expected


BAD = [
    b"a FETCH 1 PREVIEW (LAZY FUZZY)",
    b"a FETCH 1 (PREVIEW (FUZZY))",
    b"a SEARCH EMAILID M-1.2",
    b"a SEARCH THREADID " + b"T" * 256,
    b"a SEARCH SAVEDON 1-Foo-2019",
    b"a GETMETADATA (DEPTH 2) INBOX /shared/x",
    b"a GETMETADATA INBOX (/shared/x /shared//y)",
    b"a SETMETADATA INBOX (/shared/x)",
    b"a SETMETADATA INBOX (/other/x NIL)",
    b"a GETMETADATA INBOX /shared/" + b"x" * (MAX_ENTRY_LENGTH - len("/shared/") + 1),
]


def test_longest_entry_name_is_accepted() -> None:
    entry = "/shared/" + "x" * (MAX_ENTRY_LENGTH - len("/shared/"))
    assert parse_one(b"a GETMETADATA INBOX " + entry.encode() + b"\r\n") == GetMetadata(
        "a", "INBOX", (entry,)
    )


@pytest.mark.parametrize("line", BAD, ids=repr)
def test_errors_carry_the_tag(line: bytes) -> None:
    events = feed_both(line + b"\r\n")
    assert len(events) == 1 and isinstance(events[0], CommandError), events
    assert events[0].tag == "a"


@given(st.binary(max_size=60))
def test_metadata_commands_never_crash(tail: bytes) -> None:
    for head in (b"a GETMETADATA ", b"a SETMETADATA INBOX ("):
        events = feed_both(head + tail.replace(b"\r\n", b"") + b"\r\n")
        assert events  # a command or a clean CommandError, never an exception


_ENTRIES = st.from_regex(r"/(private|shared)(/[a-z0-9._-]{1,8}){0,3}", fullmatch=True)
_VALUES = st.one_of(st.none(), st.binary(max_size=40))


def _encode(command: GetMetadata | SetMetadata) -> bytes:
    mailbox = b'""' if command.mailbox == "" else astring(command.mailbox)
    if isinstance(command, GetMetadata):
        options = []
        if command.maxsize is not None:
            options.append(b"MAXSIZE %d" % command.maxsize)
        if command.depth != "0":
            options.append(b"DEPTH " + command.depth.encode())
        head = b"GETMETADATA " + (b"(" + b" ".join(options) + b") " if options else b"")
        entries = b"(" + b" ".join(e.encode() for e in command.entries) + b")"
        return b"a " + head + mailbox + b" " + entries + b"\r\n"
    pairs = b" ".join(e.encode() + b" " + encode_value(v) for e, v in command.values)
    return b"a SETMETADATA " + mailbox + b" (" + pairs + b")\r\n"


@given(
    st.sampled_from(["", "INBOX", "Archive/2024"]),
    st.lists(_ENTRIES, min_size=1, max_size=4),
    st.one_of(st.none(), st.integers(0, 2**32)),
    st.sampled_from(["0", "1", "infinity"]),
)
def test_getmetadata_round_trip(
    mailbox: str, entries: list[str], maxsize: int | None, depth: str
) -> None:
    command = GetMetadata("a", mailbox, tuple(entries), maxsize, depth)
    assert parse_one(_encode(command)) == command


@given(
    st.sampled_from(["", "INBOX", "Archive/2024"]),
    st.lists(st.tuples(_ENTRIES, _VALUES), min_size=1, max_size=4),
)
def test_setmetadata_round_trip(mailbox: str, values: list[tuple[str, bytes | None]]) -> None:
    """encode_value's quoted strings, literals and literal8 all parse back to the value."""
    command = SetMetadata("a", mailbox, tuple(values))
    assert parse_one(_encode(command)) == command
