"""The mbox "From " line (RFC 4155): the date variants writers produce, and the one we write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tidings.migrate.fromline import format_from_line, parse_from_date

WHEN = datetime(2026, 12, 3, 5, 46, 14, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"From MAILER-DAEMON Thu Dec  3 05:46:14 2026\n", WHEN),
        (b"From a@b.example Thu Dec 3 05:46:14 2026\r\n", WHEN),
        (b"From a@b.example Thu Dec 03 05:46:14 2026", WHEN),
        (b"From a@b.example  Thu Dec  3 05:46 2026\n", WHEN.replace(second=0)),
        (b"From 1784@xxx Thu Dec 03 05:46:14 +0000 2026\n", WHEN),  # Google Takeout
        (b"From a@b Thu Dec  3 06:46:14 +0100 2026\n", WHEN),
        (b"From a@b Thu Dec  3 06:46:14 2026 +0100\n", WHEN),
        (b"From a@b Wed Dec  2 21:46:14 PST 2026\n", WHEN),
        (b"From a@b Thu Dec  3 05:46:14 CEST 2026\n", WHEN),  # unknown zone name: UTC
        (b"From a@b Thu, Dec  3 05:46:14 2026\n", WHEN),
        (b"From Mon Thu Dec  3 05:46:14 2026\n", WHEN),  # a sender that looks like a day
    ],
)
def test_dates_writers_produce(line: bytes, expected: datetime) -> None:
    assert parse_from_date(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        b"From a@b\n",
        b"From a@b yesterday\n",
        b"From a@b Thu Feb 30 05:46:14 2026\n",
        b"From a@b Thu Dec  3 25:46:14 2026\n",
        b"From a@b Thu Dec  3 05:46:14 +9999 2026\n",
        b"From a@b Thu Dec  3 05:46:14 2026 trailing words\n",
    ],
)
def test_unreadable_dates_are_none(line: bytes) -> None:
    assert parse_from_date(line) is None


def test_format_is_asctime_in_utc() -> None:
    moment = datetime(2026, 1, 5, 1, 2, 3, tzinfo=timezone(timedelta(hours=2)))
    assert format_from_line(moment) == b"From MAILER-DAEMON Sun Jan  4 23:02:03 2026\n"
    assert format_from_line(WHEN) == b"From MAILER-DAEMON Thu Dec  3 05:46:14 2026\n"
    assert format_from_line(WHEN.replace(tzinfo=None)) == format_from_line(WHEN)
    assert parse_from_date(format_from_line(WHEN)) == WHEN


def test_format_without_a_date_uses_now() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    written = parse_from_date(format_from_line(None))
    assert written is not None
    assert before <= written <= datetime.now(UTC)
