"""`[[account.filter]]`: any filter matching reports a "new" event; all conditions must hold."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tidings.watch.errors import ConfigError
from tidings.watch.filters import Filter, accepts, event_passes, parse_filter

NEW = {
    "uid": 7,
    "from": "The Boss <boss@example.com>",
    "from_address": "boss@example.com",
    "to": ["Alice <alice@example.test>", "team@example.test"],
    "subject": "URGENT: quarterly numbers",
    "flags": ["\\Recent", "\\Flagged"],
    "has_attachment": True,
}


@dataclass(frozen=True)
class FakeEvent:
    kind: str
    mailbox: str | None
    fields: dict[str, object] = field(default_factory=dict)


def make(**table: object) -> Filter:
    return parse_filter(table, "account 'work': filter[0]")


def test_each_condition_alone() -> None:
    assert make(**{"from": r"boss@example\.com"}).matches(NEW, "INBOX")
    assert make(**{"from": "the boss"}).matches(NEW, "INBOX")  # case-insensitive, display name
    assert not make(**{"from": "stranger"}).matches(NEW, "INBOX")
    assert make(to="^team@").matches(NEW, "INBOX")  # any recipient
    assert not make(to="^bob@").matches(NEW, "INBOX")
    assert make(subject="urgent").matches(NEW, "INBOX")
    assert not make(subject="^lunch").matches(NEW, "INBOX")
    assert make(has_attachment=True).matches(NEW, "INBOX")
    assert not make(has_attachment=False).matches(NEW, "INBOX")
    assert make(flags=["\\flagged", "!\\Seen"]).matches(NEW, "INBOX")
    assert not make(flags=["\\Flagged", "!\\Recent"]).matches(NEW, "INBOX")
    assert not make(flags=["\\Answered"]).matches(NEW, "INBOX")


def test_mailbox_glob_and_inbox_case() -> None:
    assert make(mailbox="INBOX").matches(NEW, "inbox")
    assert make(mailbox="Lists/*").matches(NEW, "Lists/python")
    assert not make(mailbox="Lists/*").matches(NEW, "lists/python")  # only INBOX folds case
    assert not make(mailbox="INBOX").matches(NEW, "Junk")
    # The mailbox may come in the fields (Event.to_json()).
    assert make(mailbox="Junk").matches({**NEW, "mailbox": "Junk"})
    assert not make(mailbox="Junk").matches(NEW)


def test_all_conditions_of_one_filter_must_hold() -> None:
    both = make(mailbox="INBOX", subject="urgent", has_attachment=False)
    assert not both.matches(NEW, "INBOX")
    assert make(mailbox="INBOX", subject="urgent", has_attachment=True).matches(NEW, "INBOX")


def test_any_filter_passes_and_no_filters_pass_everything() -> None:
    junk_only = make(mailbox="Junk")
    urgent = make(subject="urgent")
    assert accepts((), NEW, "INBOX")
    assert not accepts((junk_only,), NEW, "INBOX")
    assert accepts((junk_only, urgent), NEW, "INBOX")


def test_only_new_events_are_filtered() -> None:
    junk_only = (make(mailbox="Junk"),)
    assert not event_passes(junk_only, FakeEvent("new", "INBOX", dict(NEW)))
    assert event_passes(junk_only, FakeEvent("new", "Junk", dict(NEW)))
    assert event_passes(junk_only, FakeEvent("expunge", "INBOX", {"uids": [1]}))
    assert event_passes(junk_only, FakeEvent("flags", "INBOX", {"uid": 1}))


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"sender": "x"}, r"filter\[0\]: unknown key 'sender'"),
        ({"subject": "(unclosed"}, r"filter\[0\].subject: bad regular expression"),
        ({"from": 5}, r"filter\[0\].from: must be a string"),
        ({"has_attachment": "yes"}, r"filter\[0\].has_attachment: must be true or false"),
        ({"flags": "\\Seen"}, r"filter\[0\].flags: must be a list"),
        ({"flags": ["!"]}, r"filter\[0\].flags: bad flag name"),
        ({"mailbox": ""}, r"filter\[0\].mailbox: must be a non-empty string"),
    ],
)
def test_bad_filters_are_one_line_errors(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_filter(table, "account 'work': filter[0]")
    assert "\n" not in str(info.value)
