"""The Date field (RFC 5322 §3.3 date-time) as Dovecot's message_date_parse reads it.

    [day-of-week ","] day month year hour ":" minute [":" second] [zone]

SEARCH SENT* (RFC 9051 §6.4.4) and SORT DATE / THREAD (RFC 5256 §2.2) depend on which
Date values count as parseable: a value that is not is "no sent date" (the internal date for
SORT). Accepting exactly what Dovecot accepts keeps both answers identical to Dovecot's: the
tokens are RFC 5322 atoms, "." may separate the time fields, an unknown zone is UTC, and, for
example, "00:01+0000" (no space before the zone) is not a date.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from tidings.core.mime.rfc822 import Cursor

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_TIME_SEPARATORS = (":", ".")
_US_ZONES = {"E": -5 * 60, "C": -6 * 60, "M": -7 * 60, "P": -8 * 60}


def _zone_offset(token: str) -> int:
    """Minutes east of UTC for a zone token; 0 for anything unknown (RFC 5322 §4.3 obs-zone
    names, military letters counted from "A" as Dovecot does)."""
    if len(token) == 5 and token[0] in "+-":
        if not token[1:].isascii() or not token[1:].isdigit():
            return 0
        offset = int(token[1:3]) * 60 + int(token[3:5])
        return offset if token[0] == "+" else -offset
    if len(token) == 1:
        upper = token.upper()
        if upper < "J":
            return (ord(token) - ord("A") + 1) * 60
        if upper == "J":
            return 0
        if upper <= "M":
            return (ord(token) - ord("A")) * 60
        if upper < "Z":
            return (ord("M") - ord(token)) * 60
        return 0
    if len(token) == 2 and token.upper() == "UT":
        return 0
    if len(token) == 3 and token[2] == "T" and token[0].upper() in _US_ZONES:
        offset = _US_ZONES[token[0].upper()]
        if token[1].upper() == "D":
            return offset + 60
        if token[1].upper() == "S":
            return offset
    return 0


class _Tokens:
    """RFC 5322 atoms of a Date value, with Dovecot's rfc822 parser semantics."""

    def __init__(self, value: str) -> None:
        self.cursor = Cursor(value)
        self.cursor.skip_lwsp()

    def next(self) -> str | None:
        """The next atom ("" at the end), or None where no atom starts."""
        if self.cursor.pos >= self.cursor.end:
            return ""
        out: list[str] = []
        if self.cursor.parse_atom(out) < 0:
            return None
        return out[0]

    def separator(self, allowed: tuple[str, ...]) -> bool:
        """Consume one of `allowed` (and whitespace after it) if it comes next."""
        if not self.cursor.peek() or self.cursor.peek() not in allowed:
            return False
        self.cursor.pos += 1
        self.cursor.skip_lwsp()
        return True


def _digits(token: str | None, lengths: tuple[int, ...]) -> int | None:
    if token is None or len(token) not in lengths or not token.isascii() or not token.isdigit():
        return None
    return int(token)


def _date_part(tokens: _Tokens) -> tuple[int, int, int] | None:
    """[day-of-week ","] day month year -> (year, month, day)."""
    token = tokens.next()
    if not token:
        return None
    if len(token) == 3:  # a day name, which must be followed by ","
        if not tokens.separator((",",)):
            return None
        token = tokens.next()
    day = _digits(token, (1, 2))
    month_name = tokens.next()
    if day is None or not month_name or len(month_name) < 3:
        return None
    month = _MONTHS.index(month_name[:3].lower()) + 1 if month_name[:3].lower() in _MONTHS else 0
    year_token = tokens.next()
    year = _digits(year_token, (2, 4))
    if not month or year is None or year_token is None:
        return None
    if len(year_token) == 2:
        year += 2000 if year < 70 else 1900  # two-digit years are 1970-2069
    elif year < 1900:
        return None
    return year, month, day


def parse_date_value(value: str | None) -> datetime | None:
    """The moment a Date value names, in its own zone; None when Dovecot would not parse it."""
    if not value:
        return None
    tokens = _Tokens(value)
    date_part = _date_part(tokens)
    hour = _digits(tokens.next(), (1, 2))
    if date_part is None or hour is None or not tokens.separator(_TIME_SEPARATORS):
        return None
    minute = _digits(tokens.next(), (2,))
    if minute is None:
        return None
    second = 0
    if tokens.separator(_TIME_SEPARATORS):
        parsed_second = _digits(tokens.next(), (2,))
        if parsed_second is None:
            return None
        if parsed_second > 60:
            return None
        second = min(parsed_second, 59)  # a leap second counts as :59, as in utc_mktime
    zone = tokens.next()
    if zone is None:
        return None
    offset = _zone_offset(zone) if zone else 0
    year, month, day = date_part
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:  # 31 Feb, hour 25: utc_mktime refuses them
        return None
    moment -= timedelta(minutes=offset)
    try:
        return moment.astimezone(timezone(timedelta(minutes=offset)))
    except (ValueError, OverflowError):  # an offset of a day or more: keep the instant in UTC
        return moment


__all__ = ["parse_date_value"]
