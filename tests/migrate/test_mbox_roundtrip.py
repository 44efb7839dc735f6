"""write_mbox then read_mbox: every corpus message and generated ones come back unchanged."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.migrate.helpers import read_bytes, split
from tests.support.corpus import corpus_files

from tidings.migrate.mbox import MboxParser, encode_mbox_message, write_mbox
from tidings.migrate.source import SourceMessage

CORPUS = corpus_files()
FLAG_SETS = [
    frozenset(),
    frozenset({"\\Seen"}),
    frozenset({"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"}),
    frozenset({"\\Flagged", "$Junk", "work"}),
    frozenset({"$Forwarded"}),
]


def _corpus_messages() -> list[SourceMessage]:
    return [
        SourceMessage(
            path.read_bytes(),
            FLAG_SETS[index % len(FLAG_SETS)],
            datetime(2020, 1, 1 + index % 28, index % 24, index % 60, tzinfo=UTC),
            "INBOX",
        )
        for index, path in enumerate(CORPUS)
    ]


def test_corpus_is_there() -> None:
    assert len(CORPUS) >= 200


def test_corpus_round_trips_byte_for_byte(tmp_path: Path) -> None:
    originals = _corpus_messages()
    stream = io.BytesIO()
    assert write_mbox(stream, originals) == len(originals)
    messages, problems = read_bytes(tmp_path, stream.getvalue(), strip_status_headers=True)
    assert problems == []
    assert len(messages) == len(originals)
    for original, message in zip(originals, messages, strict=True):
        assert message.raw == _without_flag_fields(original.raw)
        assert message.flags == original.flags
        assert message.internaldate == original.internaldate


def _without_flag_fields(raw: bytes) -> bytes:
    """`raw` less the header fields write_mbox owns (027.eml has a "Status: R")."""
    header, separator, body = raw.partition(b"\r\n\r\n")
    lines = header.split(b"\r\n")
    kept = [line for line in lines if not _FLAG_FIELD_RE.match(line)]
    return b"\r\n".join(kept) + separator + body


def test_a_message_with_its_own_status_field_loses_it(tmp_path: Path) -> None:
    """The written flags replace the old fields: the flags are what the store says."""
    (path,) = (path for path in CORPUS if path.name == "027.eml")
    original = SourceMessage(path.read_bytes(), frozenset({"\\Flagged"}), None, "INBOX")
    assert b"\r\nStatus: R\r\n" in original.raw
    messages, _ = read_bytes(tmp_path, encode_mbox_message(original), strip_status_headers=True)
    assert messages[0].raw == original.raw.replace(b"\r\nStatus: R\r\n", b"\r\n")
    assert messages[0].flags == {"\\Flagged"}


def test_without_stripping_the_flag_fields_stay_in_raw(tmp_path: Path) -> None:
    original = SourceMessage(
        b"Subject: s\r\n\r\nbody\r\n", frozenset({"\\Seen", "\\Answered", "k"}), None, "INBOX"
    )
    messages, _ = read_bytes(tmp_path, encode_mbox_message(original))
    assert (
        messages[0].raw
        == b"Subject: s\r\nStatus: RO\r\nX-Status: A\r\nX-Keywords: k\r\n\r\nbody\r\n"
    )
    assert messages[0].flags == original.flags


def test_written_entry() -> None:
    message = SourceMessage(
        b"From: a\r\nStatus: O\r\nX-Status: D\r\n\r\nFrom me\r\n>From you\r\n",
        frozenset({"\\Seen", "\\Flagged"}),
        datetime(2026, 12, 3, 5, 46, 14, tzinfo=UTC),
        "INBOX",
    )
    assert encode_mbox_message(message) == (
        b"From MAILER-DAEMON Thu Dec  3 05:46:14 2026\n"
        b"From: a\nStatus: RO\nX-Status: F\n\n>From me\n>>From you\n\n"
    )


def test_message_without_flags_gets_no_flag_fields() -> None:
    message = SourceMessage(b"S: a\r\n\r\nb\r\n", frozenset(), None, "INBOX")
    assert encode_mbox_message(message).split(b"\n", 1)[1] == b"S: a\n\nb\n\n"


@pytest.mark.parametrize(
    ("raw", "back"),
    [
        (b"", b""),
        (b"\r\n", b"\r\n"),
        (b"no line break at the end", b"no line break at the end\r\n"),
        (b"From the first line\r\n\r\nFrom x\r\n", b"From the first line\r\n\r\nFrom x\r\n"),
        (b"no separator\r\nat all\r\n", b"no separator\r\nat all\r\n"),
    ],
)
def test_edge_messages(raw: bytes, back: bytes) -> None:
    original = SourceMessage(raw, frozenset({"\\Seen", "kw"}), None, "INBOX")
    parser = MboxParser(strip_status_headers=True)
    data = encode_mbox_message(original) * 2
    messages, problems = split([*parser.feed(data), *parser.close()])
    assert problems == []
    assert [m.raw for m in messages] == [back, back]
    assert all(m.flags == original.flags for m in messages)


# Lines of a generated message: anything but line breaks, often starting with "From " or
# ">From ", never ending in a lone CR (source.py: it cannot survive LF storage), never one of
# the flag fields write_mbox owns.
_FLAG_FIELD_RE = re.compile(rb"(?i)(status|x-status|x-keywords)[ \t]*:")
_line = st.tuples(
    st.sampled_from([b"", b"From ", b">From ", b">>From ", b"Subject: ", b" ", b">"]),
    st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b"")),
    st.sampled_from([b"", b"\rx", b"\xff"]),
).map(b"".join)
_raw = st.lists(_line.filter(lambda line: not _FLAG_FIELD_RE.match(line)), max_size=12).map(
    lambda lines: b"".join(line + b"\r\n" for line in lines)
)
_flags = st.frozensets(
    st.sampled_from(["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft", "$Junk", "a"])
)
_date = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ).map(lambda moment: moment.replace(microsecond=0)),
)
_message = st.builds(SourceMessage, _raw, _flags, _date, st.just("INBOX"))


@settings(max_examples=300, deadline=None)
@given(st.lists(_message, max_size=6), st.integers(min_value=1, max_value=50))
def test_any_messages_round_trip(originals: list[SourceMessage], chunk: int) -> None:
    stream = io.BytesIO()
    write_mbox(stream, originals)
    data = stream.getvalue()
    parser = MboxParser(strip_status_headers=True, map_mozilla_status=False)
    events = [
        e for start in range(0, len(data), chunk) for e in parser.feed(data[start : start + chunk])
    ]
    messages, problems = split([*events, *parser.close()])
    assert problems == []
    assert [m.raw for m in messages] == [m.raw for m in originals]
    assert [m.flags for m in messages] == [m.flags for m in originals]
    for original, message in zip(originals, messages, strict=True):
        if original.internaldate is not None:
            assert message.internaldate == original.internaldate
