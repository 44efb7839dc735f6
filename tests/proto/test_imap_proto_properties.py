"""Property tests: parse(encode(x)) == x for the protocol core's values and commands, and
fuzzing: any input gives events (the same whole and byte by byte), never an exception."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from imap_proto_helpers import drain, encode_command, feed, feed_both

from tidings.core.seqset import MAX_NUMBER, SequenceSet
from tidings.imap.proto import commands as c
from tidings.imap.proto.events import LineTooLong, LiteralRequest
from tidings.imap.proto.lexer import ATOM_CHARS, TAG_CHARS, Cursor, decode
from tidings.imap.proto.mutf7 import decode_mutf7, encode_mutf7
from tidings.imap.proto.parser import CommandParser
from tidings.imap.proto.responses import (
    astring,
    format_imap_datetime,
    parse_imap_datetime,
    quoted,
    string,
)

SETTINGS = settings(deadline=None, max_examples=200)

# ----------------------------------------------------------------------- strategies
bounds = st.one_of(st.none(), st.integers(1, MAX_NUMBER))
sequence_sets = st.one_of(
    st.just(SequenceSet.saved()),
    st.lists(st.tuples(bounds, bounds), min_size=1, max_size=5).map(
        lambda ranges: SequenceSet(tuple(ranges))
    ),
)
# Any text a client can send: every code point but surrogates (not UTF-8) and NUL (CHAR8).
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
atoms = st.text(st.sampled_from(sorted(chr(b) for b in ATOM_CHARS)), min_size=1, max_size=12)
tags = st.text(st.sampled_from(sorted(chr(b) for b in TAG_CHARS)), min_size=1, max_size=8)
flags = st.one_of(atoms, atoms.map(lambda a: "\\" + a))
part_numbers = st.lists(st.integers(1, 1000), min_size=1, max_size=4).map(tuple)


@st.composite
def sections(draw: st.DrawFn) -> c.Section:
    part = draw(st.one_of(st.just(()), part_numbers))
    choices = [None, "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT"]
    if part:
        choices.append("MIME")
    specifier = draw(st.sampled_from(choices))
    fields: tuple[str, ...] = ()
    if specifier in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        fields = tuple(draw(st.lists(st.one_of(atoms, texts), min_size=1, max_size=3)))
    if part and specifier is None:
        return c.Section(part)
    return c.Section(part, specifier, fields)


partials = st.one_of(st.none(), st.tuples(st.integers(0, 2**40), st.integers(1, 2**40)))
fetch_items = st.one_of(
    st.sampled_from(list(c.SimpleAttribute)).map(c.FetchAttribute),
    st.builds(c.FetchSection, sections(), st.booleans(), st.just(False), partials),
    st.builds(
        c.FetchSection,
        st.one_of(st.just(()), part_numbers).map(c.Section),
        st.booleans(),
        st.just(True),
        partials,
    ),
    st.one_of(st.just(()), part_numbers).map(c.FetchBinarySize),
)
dates = st.dates(min_value=datetime(1900, 1, 1).date(), max_value=datetime(9999, 12, 31).date())
search_leaves = st.one_of(
    st.just(c.SearchAll()),
    st.builds(
        c.SearchFlag,
        st.sampled_from(["\\Answered", "\\Deleted", "\\Draft", "\\Flagged", "\\Seen"]),
        st.booleans(),
    ),
    st.just(c.SearchFlag("\\Recent", True)),
    st.builds(c.SearchFlag, atoms, st.booleans()),
    st.builds(c.SearchSequence, sequence_sets),
    st.builds(c.SearchUid, sequence_sets),
    st.builds(c.SearchDate, st.sampled_from(c.DateField), st.sampled_from(c.DateRelation), dates),
    st.builds(c.SearchSize, st.booleans(), st.integers(0, 2**63 - 1)),
    st.builds(c.SearchHeader, st.one_of(atoms, texts.filter(bool)), texts),
    st.builds(c.SearchText, texts, st.booleans()),
)
search_keys = st.recursive(
    search_leaves,
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3).map(lambda keys: c.SearchAnd(tuple(keys))),
        st.builds(c.SearchOr, children, children),
        st.builds(c.SearchNot, children),
    ),
    max_leaves=8,
)
modifiers = st.one_of(
    st.just(()), st.integers(1, 2**63 - 1).map(lambda n: (("CHANGEDSINCE", str(n)),))
)
quota_limits = st.lists(st.tuples(atoms.map(str.upper), st.integers(0, 2**63 - 1)), max_size=4).map(
    tuple
)
commands = st.one_of(
    st.builds(c.Login, tags, texts, texts),
    st.builds(c.GetQuota, tags, texts),
    st.builds(c.GetQuotaRoot, tags, texts),
    st.builds(c.SetQuota, tags, texts, quota_limits),
    st.builds(
        c.Select,
        tags,
        texts,
        st.booleans(),
        st.sampled_from([(), (("CONDSTORE", None),), (("QRESYNC", "(1 2)"),)]),
    ),
    st.builds(
        c.Status,
        tags,
        texts,
        st.lists(st.sampled_from(c.StatusItem), min_size=1, max_size=4).map(tuple),
    ),
    st.builds(
        c.Store,
        tags,
        sequence_sets,
        st.sampled_from(["replace", "add", "remove"]),
        st.lists(flags, max_size=4).map(tuple),
        st.booleans(),
        st.booleans(),
    ),
    st.builds(c.Copy, tags, sequence_sets, texts, st.booleans(), st.booleans()),
    st.builds(
        c.Fetch,
        tags,
        sequence_sets,
        st.lists(fetch_items, min_size=1, max_size=4).map(tuple),
        st.booleans(),
        modifiers,
    ),
    st.builds(
        c.Search,
        tags,
        search_keys,
        st.booleans(),
        st.sampled_from([None, "UTF-8", "US-ASCII"]),
        st.one_of(
            st.none(),
            st.lists(st.sampled_from(["MIN", "MAX", "ALL", "COUNT", "SAVE"]), unique=True).map(
                tuple
            ),
        ),
    ),
)

# ---------------------------------------------------------------------- round trips


@SETTINGS
@given(sequence_sets)
def test_rfc9051_9_sequence_set_round_trip(sequence_set: SequenceSet) -> None:
    assert SequenceSet.parse(str(sequence_set)) == sequence_set
    assert Cursor(str(sequence_set).encode()).sequence_set() == sequence_set


@SETTINGS
@given(st.text(st.characters(blacklist_categories=("Cs",))))
def test_rfc3501_5_1_3_mutf7_round_trip(name: str) -> None:
    encoded = encode_mutf7(name)
    assert encoded.isascii()
    assert decode_mutf7(encoded) == name


@SETTINGS
@given(st.text(st.sampled_from("&-AZaz09+,/ \u00e9")))
def test_mutf7_decode_accepts_only_canonical_input(candidate: str) -> None:
    try:
        name = decode_mutf7(candidate)
    except ValueError:
        return
    assert encode_mutf7(name) == candidate


@SETTINGS
@given(texts)
def test_rfc9051_9_strings_round_trip(text: str) -> None:
    assert decode(Cursor(string(text)).string_bytes()) == text
    assert Cursor(astring(text)).astring() == text
    if "\r" not in text and "\n" not in text:
        assert Cursor(quoted(text)).string() == text


@SETTINGS
@given(
    st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
)
def test_rfc9051_9_date_time_round_trip(moment: datetime, offset_minutes: int) -> None:
    aware = moment.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=offset_minutes)))
    parsed = parse_imap_datetime(format_imap_datetime(aware))
    assert parsed == aware
    assert parsed.utcoffset() == aware.utcoffset()


@SETTINGS
@given(commands)
def test_commands_round_trip(command: c.Command) -> None:
    events = [e for e in feed_both(encode_command(command)) if not isinstance(e, LiteralRequest)]
    assert events == [command]


# --------------------------------------------------------------------------- fuzzing


def small_literals_only(request: LiteralRequest) -> bool:
    return request.size < 64


@SETTINGS
@given(st.binary(max_size=300), st.sampled_from([16, 64, 65536]))
def test_random_bytes_give_events_never_exceptions(data: bytes, max_line: int) -> None:
    feed_both(data, small_literals_only, max_line_length=max_line)


@SETTINGS
@given(
    commands,
    st.lists(st.tuples(st.integers(0, 10_000), st.binary(min_size=0, max_size=3)), max_size=4),
)
def test_mutated_commands_give_events_never_exceptions(
    command: c.Command, edits: list[tuple[int, bytes]]
) -> None:
    data = bytearray(encode_command(command))
    for position, replacement in edits:
        at = position % (len(data) + 1)
        data[at : at + 1] = replacement
    feed_both(bytes(data) + b"\r\na NOOP\r\n", small_literals_only)


@SETTINGS
@given(st.lists(st.integers(1, 5000), min_size=1, max_size=50), st.binary(min_size=1, max_size=1))
def test_endless_line_memory_is_bounded(chunk_sizes: list[int], filler: bytes) -> None:
    filler = b"x" if filler in (b"\n",) else filler
    parser = CommandParser(max_line_length=1024)
    events = []
    for size in chunk_sizes:
        parser.receive_data(filler * size)
        events += drain(parser, small_literals_only)
        assert len(parser._buffer) <= 1024 + size
    if sum(chunk_sizes) > 1024:
        assert any(isinstance(e, LineTooLong) for e in events)


def test_fuzz_helper_sanity() -> None:
    assert feed([b"a NOOP\r\n"]) == [c.Noop("a")]
