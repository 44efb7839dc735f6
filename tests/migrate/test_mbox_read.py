"""Reading mbox files (RFC 4155): separators, mboxrd unquoting, line endings, damage, flags."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.migrate.helpers import read_bytes

from tidings.migrate.mbox import MboxParser
from tidings.migrate.source import ImportProblem, SourceMessage

FROM = b"From alice@example.test Thu Dec  3 05:46:14 2026\n"
DATE = datetime(2026, 12, 3, 5, 46, 14, tzinfo=UTC)


def test_two_messages_split_at_from_lines_after_an_empty_line(tmp_path: Path) -> None:
    data = FROM + b"Subject: one\n\nbody one\n\n" + FROM + b"Subject: two\n\nbody two\n\n"
    messages, problems = read_bytes(tmp_path, data)
    assert problems == []
    assert [m.raw for m in messages] == [
        b"Subject: one\r\n\r\nbody one\r\n",
        b"Subject: two\r\n\r\nbody two\r\n",
    ]
    assert all(m.internaldate == DATE and m.mailbox == "INBOX" for m in messages)
    assert all(m.flags == frozenset() and m.uid is None and m.labels == () for m in messages)


def test_from_line_not_after_an_empty_line_is_body(tmp_path: Path) -> None:
    data = FROM + b"Subject: s\n\nI said\nFrom here on, no.\n\n"
    messages, _ = read_bytes(tmp_path, data)
    assert [m.raw for m in messages] == [b"Subject: s\r\n\r\nI said\r\nFrom here on, no.\r\n"]


def test_mboxrd_quoting_loses_one_gt(tmp_path: Path) -> None:
    body = b">From a\n>>From b\n>>>From c\n> From d\n>Fromage\nx >From e\n"
    messages, _ = read_bytes(tmp_path, FROM + b"S: q\n\n" + body + b"\n")
    assert messages[0].raw == (
        b"S: q\r\n\r\nFrom a\r\n>From b\r\n>>From c\r\n> From d\r\n>Fromage\r\nx >From e\r\n"
    )


def test_quoted_from_after_empty_line_does_not_split(tmp_path: Path) -> None:
    data = FROM + b"S: q\n\n>From the start\n\n>From again\n\n"
    messages, _ = read_bytes(tmp_path, data)
    assert len(messages) == 1
    assert messages[0].raw == b"S: q\r\n\r\nFrom the start\r\n\r\nFrom again\r\n"


def test_crlf_mbox_stays_crlf(tmp_path: Path) -> None:
    """Thunderbird on Windows writes its mbox files with CRLF."""
    data = FROM.replace(b"\n", b"\r\n") + b"S: a\r\n\r\nb\r\n\r\n" + FROM + b"S: c\r\n\r\nd\r\n"
    messages, _ = read_bytes(tmp_path, data)
    assert [m.raw for m in messages] == [b"S: a\r\n\r\nb\r\n", b"S: c\r\n\r\nd\r\n"]


def test_lone_cr_is_kept(tmp_path: Path) -> None:
    messages, _ = read_bytes(tmp_path, FROM + b"S: a\n\nx\ry\n\n")
    assert messages[0].raw == b"S: a\r\n\r\nx\ry\r\n"


def test_empty_file_has_no_messages(tmp_path: Path) -> None:
    assert read_bytes(tmp_path, b"") == ([], [])


def test_empty_message(tmp_path: Path) -> None:
    messages, _ = read_bytes(tmp_path, FROM + b"\n" + FROM + b"S: x\n\n")
    assert [m.raw for m in messages] == [b"", b"S: x\r\n"]


def test_text_before_the_first_from_line_is_one_message(tmp_path: Path) -> None:
    data = b"Subject: stray\n\nno From line\n\n" + FROM + b"S: real\n\n"
    messages, problems = read_bytes(tmp_path, data)
    assert [m.raw for m in messages] == [b"Subject: stray\r\n\r\nno From line\r\n", b"S: real\r\n"]
    assert messages[0].internaldate is None
    assert [p.reason for p in problems] == ["text before the first From line, read as one message"]
    assert problems[0].where.endswith("test.mbox:1")


def test_a_plain_eml_file_is_one_message(tmp_path: Path) -> None:
    messages, problems = read_bytes(tmp_path, b"Subject: x\r\n\r\nbody\r\n")
    assert [m.raw for m in messages] == [b"Subject: x\r\n\r\nbody\r\n"]
    assert len(problems) == 1


def test_empty_lines_before_the_first_from_line_are_skipped(tmp_path: Path) -> None:
    messages, problems = read_bytes(tmp_path, b"\n\n" + FROM + b"S: a\n\n")
    assert [m.raw for m in messages] == [b"S: a\r\n"]
    assert [p.reason for p in problems] == ["empty lines before the first From line"]


def test_truncated_final_message_is_yielded(tmp_path: Path) -> None:
    data = FROM + b"S: one\n\nbody\n\n" + FROM + b"Subject: cut off\nX-Half: wa"
    messages, problems = read_bytes(tmp_path, data)
    assert problems == []
    assert messages[1].raw == b"Subject: cut off\r\nX-Half: wa"


def test_malformed_message_comes_back_byte_for_byte(tmp_path: Path) -> None:
    garbage = b"From: a@b\nSubject: \xff\xfe\x00\x80 8-bit\n\x1b[31m not a header\nlast line \xe9\n"
    messages, problems = read_bytes(tmp_path, FROM + garbage + b"\n")
    assert problems == []
    assert messages[0].raw == garbage.replace(b"\n", b"\r\n")


def test_problem_positions_are_line_numbers(tmp_path: Path) -> None:
    data = FROM + b"S: a\n\n" + b"From nobody no date at all\nS: b\n\n"
    _, problems = read_bytes(tmp_path, data)
    assert problems == [
        ImportProblem(f"{tmp_path / 'test.mbox'}:4", "From line without a readable date")
    ]


def test_status_and_x_status_flags(tmp_path: Path) -> None:
    data = (
        FROM + b"Status: RO\nX-Status: AF\n\n\n"
        + FROM + b"Status: O\nX-Status: TD\nX-Keywords: $Junk work\n\n\n"
    )  # fmt: skip
    messages, _ = read_bytes(tmp_path, data)
    assert messages[0].flags == {"\\Seen", "\\Answered", "\\Flagged"}
    assert messages[1].flags == {"\\Draft", "\\Deleted", "$Junk", "work"}


def test_flag_fields_in_the_body_mean_nothing(tmp_path: Path) -> None:
    messages, _ = read_bytes(tmp_path, FROM + b"S: a\n\nStatus: RO\n\n")
    assert messages[0].flags == frozenset()


def test_keyword_that_is_no_atom_is_dropped_with_a_problem(tmp_path: Path) -> None:
    messages, problems = read_bytes(tmp_path, FROM + b"X-Keywords: ok (bad\n\n")
    assert messages[0].flags == {"ok"}
    assert [p.reason for p in problems] == ["keyword '(bad' is not an IMAP atom; dropped"]


def test_thunderbird_mozilla_status_and_keys(tmp_path: Path) -> None:
    data = (
        FROM + b"X-Mozilla-Status: 0005\nX-Mozilla-Status2: 00000000\n"
        b"X-Mozilla-Keys: $label1 work                              \n\n\n"
        + FROM + b"X-Mozilla-Status: 000a\nX-Mozilla-Keys:\n\n\n"
        + FROM + b"X-Mozilla-Status: 0000\n\n\n"
        + FROM + b"X-Mozilla-Status: zzzz\n\n\n"
    )  # fmt: skip
    messages, _ = read_bytes(tmp_path, data)
    assert [m.flags for m in messages] == [
        {"\\Seen", "\\Flagged", "$label1", "work"},
        {"\\Answered", "\\Deleted"},
        frozenset(),
        frozenset(),
    ]
    raw = messages[0].raw
    assert raw.startswith(b"X-Mozilla-Status: 0005\r\n")  # the fields stay in the message


def test_mozilla_status_can_be_ignored(tmp_path: Path) -> None:
    data = FROM + b"X-Mozilla-Status: 0001\nX-Mozilla-Keys: work\n\n\n"
    messages, _ = read_bytes(tmp_path, data, map_mozilla_status=False)
    assert messages[0].flags == frozenset()


def test_strip_status_headers_removes_the_three_fields_folded_or_not(tmp_path: Path) -> None:
    data = (
        FROM + b"Subject: s\nStatus: RO\nX-Status: A\nX-Keywords: a\n b\nTo: t\n\n"
        b"Status: body line\n\n"
    )
    messages, _ = read_bytes(tmp_path, data, strip_status_headers=True)
    assert messages[0].raw == b"Subject: s\r\nTo: t\r\n\r\nStatus: body line\r\n"
    assert messages[0].flags == {"\\Seen", "\\Answered", "a", "b"}


def test_over_long_lines_are_read_in_pieces(tmp_path: Path) -> None:
    long_line = b"x" * 300_000
    data = FROM + b"S: a\n\n" + long_line + b"\nFrom x\n\n>From y" + long_line + b"\n\n"
    data += FROM + b"S: b\n\n" + long_line
    messages, _ = read_bytes(tmp_path, data)
    assert [m.raw for m in messages] == [
        b"S: a\r\n\r\n" + long_line + b"\r\nFrom x\r\n\r\nFrom y" + long_line + b"\r\n",
        b"S: b\r\n\r\n" + long_line,
    ]


def test_over_long_from_line_is_a_separator(tmp_path: Path) -> None:
    data = FROM + b"S: a\n\n" + b"From " + b"y" * 200_000 + b"\nS: b\n\n"
    messages, problems = read_bytes(tmp_path, data)
    assert [m.raw for m in messages] == [b"S: a\r\n", b"S: b\r\n"]
    assert [p.reason for p in problems] == ["From line without a readable date"]


def _parse(data: bytes, sizes: list[int]) -> list[SourceMessage | ImportProblem]:
    parser = MboxParser("m")
    events: list[SourceMessage | ImportProblem] = []
    position = 0
    for size in sizes:
        events.extend(parser.feed(data[position : position + size]))
        position += size
    events.extend(parser.feed(data[position:]))
    events.extend(parser.close())
    return events


SAMPLE = (
    b"junk first\n\n" + FROM + b"Status: R\nS: a\n\n>From x\nFrom y\n\n>>From z\n\n"
    + FROM + b"\n" + FROM.replace(b"\n", b"\r\n") + b"X-Status: F\r\n\r\nb\r\n\r\n"
    + b"From bad date\nX-Keywords: k (\n\nno end"
)  # fmt: skip


def test_feeding_one_byte_at_a_time_gives_the_same_events() -> None:
    whole = _parse(SAMPLE, [])
    assert len(whole) == 8
    assert _parse(SAMPLE, [1] * len(SAMPLE)) == whole


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), max_size=30))
def test_feeding_in_any_chunks_gives_the_same_events(sizes: list[int]) -> None:
    assert _parse(SAMPLE, sizes) == _parse(SAMPLE, [])


def test_line_after_an_over_long_from_line_is_not_after_an_empty_line() -> None:
    parser = MboxParser("m")
    events = [*parser.feed(b"From " + b"y" * 70_000), *parser.feed(b"\nFrom z\n\n")]
    events.extend(parser.close())
    assert [e.raw for e in events if isinstance(e, SourceMessage)] == [b"From z\r\n"]
