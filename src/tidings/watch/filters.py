"""Which "new" events an account reports: `[[account.filter]]` tables.

Semantics: an account with no filters reports every event. With several filters, a "new"
event is reported when *any* filter matches; within one filter *all* its conditions must hold.
Other event kinds (flags, expunge, mailbox, ...) are never filtered: they keep the receiver's
view of the mailbox consistent.

Conditions (all optional):
    mailbox = "Lists/*"        # glob (`*` any text, `?` one character); INBOX case-insensitive
    from = "regex"             # re.search, case-insensitive, on the From display and address
    to = "regex"               # re.search on each To recipient; matches if any does
    subject = "regex"          # re.search, case-insensitive
    has_attachment = true
    flags = ["\\Flagged", "!\\Seen"]   # must have \\Flagged and must not have \\Seen
Flag names compare case-insensitively (RFC 9051 §2.3.2: flags are case-insensitive atoms).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from tidings.watch.errors import ConfigError

FILTER_KEYS = frozenset({"mailbox", "from", "to", "subject", "has_attachment", "flags"})


@dataclass(frozen=True, slots=True)
class Filter:
    """One `[[account.filter]]`: every condition that is set must hold."""

    mailbox: str | None = None
    from_: re.Pattern[str] | None = None
    to: re.Pattern[str] | None = None
    subject: re.Pattern[str] | None = None
    has_attachment: bool | None = None
    flags: tuple[str, ...] = ()

    def matches(self, event_fields: Mapping[str, object], mailbox: str | None = None) -> bool:
        """Whether a "new" event's fields satisfy this filter.

        The mailbox is `mailbox` if given, else `event_fields["mailbox"]` (so an
        `Event.to_json()` dict works as is).
        """
        if self.mailbox is not None:
            name = mailbox if mailbox is not None else event_fields.get("mailbox")
            if not isinstance(name, str) or not _mailbox_matches(self.mailbox, name):
                return False
        if self.from_ is not None:
            texts = _texts(event_fields.get("from")) + _texts(event_fields.get("from_address"))
            if not any(self.from_.search(t) for t in texts):
                return False
        if self.to is not None and not any(
            self.to.search(t) for t in _texts(event_fields.get("to"))
        ):
            return False
        if self.subject is not None and not any(
            self.subject.search(t) for t in _texts(event_fields.get("subject"))
        ):
            return False
        if self.has_attachment is not None and (
            bool(event_fields.get("has_attachment")) != self.has_attachment
        ):
            return False
        return self._flags_match(event_fields.get("flags"))

    def _flags_match(self, value: object) -> bool:
        if not self.flags:
            return True
        present = {f.lower() for f in _texts(value)}
        for wanted in self.flags:
            if wanted.startswith("!"):
                if wanted[1:].lower() in present:
                    return False
            elif wanted.lower() not in present:
                return False
        return True


class _EventLike(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def mailbox(self) -> str | None: ...
    @property
    def fields(self) -> Mapping[str, object]: ...


def accepts(
    filters: Sequence[Filter], event_fields: Mapping[str, object], mailbox: str | None = None
) -> bool:
    """Whether a "new" event passes an account's filters (none = all pass; else any matches)."""
    return not filters or any(f.matches(event_fields, mailbox) for f in filters)


def event_passes(filters: Sequence[Filter], event: _EventLike) -> bool:
    """Whether an Event is reported: non-"new" kinds always, "new" ones through `accepts`."""
    if event.kind != "new":
        return True
    return accepts(filters, event.fields, event.mailbox)


def parse_filter(table: Mapping[str, object], where: str) -> Filter:
    """A Filter from one `[[account.filter]]` table; ConfigError names `where` and the key."""
    for key in table:
        if key not in FILTER_KEYS:
            raise ConfigError(
                f"{where}: unknown key {key!r} (known: {', '.join(sorted(FILTER_KEYS))})"
            )
    mailbox = table.get("mailbox")
    if mailbox is not None and (not isinstance(mailbox, str) or not mailbox):
        raise ConfigError(f"{where}.mailbox: must be a non-empty string")
    has_attachment = table.get("has_attachment")
    if has_attachment is not None and not isinstance(has_attachment, bool):
        raise ConfigError(f"{where}.has_attachment: must be true or false")
    return Filter(
        mailbox=mailbox,
        from_=_regex(table.get("from"), f"{where}.from"),
        to=_regex(table.get("to"), f"{where}.to"),
        subject=_regex(table.get("subject"), f"{where}.subject"),
        has_attachment=has_attachment,
        flags=_flag_list(table.get("flags"), f"{where}.flags"),
    )


def _regex(value: object, where: str) -> re.Pattern[str] | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where}: must be a string (a regular expression)")
    try:
        return re.compile(value, re.IGNORECASE)
    except re.error as exc:
        raise ConfigError(f"{where}: bad regular expression {value!r}: {exc}") from None


def _flag_list(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(f, str) for f in value):
        raise ConfigError(f"{where}: must be a list of flag names")
    for flag in value:
        if not flag.removeprefix("!") or any(c in flag for c in " ()"):
            raise ConfigError(f"{where}: bad flag name {flag!r}")
    return tuple(value)


def _mailbox_matches(pattern: str, name: str) -> bool:
    # RFC 9051 §5.1: INBOX is case-insensitive; every other name is compared exactly.
    def canon(text: str) -> str:
        head, sep, rest = text.partition("/")
        return ("INBOX" + sep + rest) if head.upper() == "INBOX" else text

    return fnmatch.fnmatchcase(canon(name), canon(pattern))


def _texts(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return [str(v) for v in value if v is not None]
    return [str(value)]
