"""The mbox separator line: "From " sender SP date (RFC 4155, Appendix A).

RFC 4155 asks for the date in the fixed-width UNIX asctime(3) form in UTC,
`Thu Dec  3 05:46:14 2026`, and documents that writers differ. Met in practice and read here:
a one-digit day with one space, minutes without seconds, a numeric or named zone before the
year (Google Takeout writes `Sat Jan 01 00:00:00 +0000 2022`) or after it, and a comma after
the weekday. A date with no zone is UTC (RFC 4155 says UTC; most local writers meant local
time, which a file does not record). Named zones are the ones RFC 5322 §4.3 defines; any
other name is read as UTC, since its offset is unknowable. The weekday is not checked.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_ZONE = rb"[+-]\d{4}|[A-Za-z]{1,5}"
_DATE_RE = re.compile(
    rb"(?:" + b"|".join(day.encode() for day in _WEEKDAYS) + rb"),?[ \t]+"
    rb"(?P<month>" + b"|".join(month.encode() for month in _MONTHS) + rb")[ \t]+"
    rb"(?P<day>\d{1,2})[ \t]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
    rb"(?:[ \t]+(?P<zone1>" + _ZONE + rb"))?[ \t]+(?P<year>\d{4})"
    rb"(?:[ \t]+(?P<zone2>" + _ZONE + rb"))?[ \t]*$"
)
# RFC 5322 §4.3 (obs-zone): the US zones and universal time; military letters are too
# unreliable to mean anything (the RFC itself says to read them as -0000).
_NAMED_ZONES = {
    b"UT": 0, b"UTC": 0, b"GMT": 0, b"Z": 0,
    b"EST": -5, b"EDT": -4, b"CST": -6, b"CDT": -5,
    b"MST": -7, b"MDT": -6, b"PST": -8, b"PDT": -7,
}  # fmt: skip


def parse_from_date(line: bytes) -> datetime | None:
    """The date of a "From " line as an aware datetime, or None if it has no readable date."""
    match = _DATE_RE.search(line.rstrip(b"\r\n"), 5)
    if match is None:
        return None
    zone = match.group("zone1") or match.group("zone2")
    try:
        moment = datetime(
            int(match.group("year")),
            _MONTHS.index(match.group("month").decode()) + 1,
            int(match.group("day")),
            int(match.group("hour")),
            int(match.group("minute")),
            int(match.group("second") or 0),
            tzinfo=_zone(zone),
        )
    except ValueError:  # February 30th, hour 25, ...
        return None
    return moment.astimezone(UTC)


def _zone(zone: bytes | None) -> timezone:
    if zone is None or zone[:1] not in b"+-":
        hours = _NAMED_ZONES.get((zone or b"UTC").upper(), 0)
        return timezone(timedelta(hours=hours))
    minutes = int(zone[1:3]) * 60 + int(zone[3:5])
    return timezone(timedelta(minutes=-minutes if zone[:1] == b"-" else minutes))


def format_from_line(internaldate: datetime | None, sender: str = "MAILER-DAEMON") -> bytes:
    """A "From " line (with LF) for a message received at `internaldate`.

    The date is asctime(3) in UTC as RFC 4155 asks; a naive datetime is taken as UTC, and a
    message without a date gets the time of writing, which is when it arrived in this file.
    """
    moment = datetime.now(UTC) if internaldate is None else internaldate
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    date = (
        f"{_WEEKDAYS[moment.weekday()]} {_MONTHS[moment.month - 1]} {moment.day:2d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} {moment.year:04d}"
    )
    return f"From {sender} {date}\n".encode("ascii")
