"""RFC 5465 (NOTIFY) in the protocol core: NOTIFY NONE and NOTIFY SET [STATUS] parsed whole and
byte by byte (§8), the BAD rules of §5 and §6.1, and unsupported events kept for the NO
[BADEVENT] of §3.1 rather than refused as syntax."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imap_proto_helpers import encode_fetch_item, feed_both, parse_one

from tidings.imap.proto import commands as c
from tidings.imap.proto.events import CommandError
from tidings.imap.proto.notify import (
    MESSAGE_EVENTS,
    SELECTED_FILTERS,
    EventGroup,
    Filter,
    Notify,
    NotifyEvent,
    badevent_code,
)
from tidings.imap.proto.responses import astring

E = NotifyEvent
NEW_EXPUNGE = frozenset({E.MESSAGE_NEW, E.MESSAGE_EXPUNGE})
UID = c.FetchAttribute(c.SimpleAttribute.UID)
HEADERS = c.FetchSection(c.Section((), "HEADER.FIELDS", ("from", "to", "subject")), peek=True)

CASES: list[tuple[bytes, Notify]] = [
    (b"a NOTIFY NONE", Notify("a", None)),
    (b"a notify none", Notify("a", None)),
    # RFC 5465 §3.1's example (with the event lists parenthesised as §8 requires, errata 1804).
    (
        b"a notify set status (selected (MessageNew (uid body.peek[header.fields (from to"
        b" subject)]) MessageExpunge)) (subtree Lists (MessageNew MessageExpunge))",
        Notify(
            "a",
            (
                EventGroup(Filter.SELECTED, NEW_EXPUNGE, (), (UID, HEADERS)),
                EventGroup(Filter.SUBTREE, NEW_EXPUNGE, ("Lists",)),
            ),
            status=True,
        ),
    ),
    (
        b"b NOTIFY SET (selected-delayed (MessageNew MessageExpunge FlagChange))"
        b" (inboxes NONE) (personal (MailboxName SubscriptionChange))",
        Notify(
            "b",
            (
                EventGroup(Filter.SELECTED_DELAYED, NEW_EXPUNGE | {E.FLAG_CHANGE}),
                EventGroup(Filter.INBOXES, frozenset()),
                EventGroup(Filter.PERSONAL, frozenset({E.MAILBOX_NAME, E.SUBSCRIPTION_CHANGE})),
            ),
        ),
    ),
    (
        b'c NOTIFY SET (mailboxes (INBOX "Lists/a b" {3}\r\nx y) (MessageNew MessageExpunge))'
        b" (subscribed (MailboxMetadataChange ServerMetadataChange))",
        Notify(
            "c",
            (
                EventGroup(Filter.MAILBOXES, NEW_EXPUNGE, ("INBOX", "Lists/a b", "x y")),
                EventGroup(
                    Filter.SUBSCRIBED,
                    frozenset({E.MAILBOX_METADATA_CHANGE, E.SERVER_METADATA_CHANGE}),
                ),
            ),
        ),
    ),
    # Case-insensitive names (§8); an unknown event is data for the session's NO.
    (
        b"d Notify Set (Personal (messagenew MESSAGEEXPUNGE XFutureEvent))",
        Notify(
            "d",
            (EventGroup(Filter.PERSONAL, NEW_EXPUNGE),),
            unsupported=("XFutureEvent",),
        ),
    ),
    (
        b"e NOTIFY SET (personal (MessageNew MessageExpunge FlagChange AnnotationChange))",
        Notify(
            "e",
            (EventGroup(Filter.PERSONAL, NEW_EXPUNGE | {E.FLAG_CHANGE, E.ANNOTATION_CHANGE}),),
            unsupported=("AnnotationChange",),
        ),
    ),
]


@pytest.mark.parametrize(("line", "expected"), CASES)
def test_rfc5465_8_notify_parses(line: bytes, expected: Notify) -> None:
    assert parse_one(line + b"\r\n") == expected


@pytest.mark.parametrize(
    "line",
    [
        b"a NOTIFY",
        b"a NOTIFY BOGUS",
        b"a NOTIFY NONE ",
        b"a NOTIFY SET",
        b"a NOTIFY SET STATUS",
        b"a NOTIFY SET ()",
        b"a NOTIFY SET (bogus (MessageNew MessageExpunge))",
        b"a NOTIFY SET (personal MessageNew)",
        b"a NOTIFY SET (personal ())",
        b"a NOTIFY SET (personal (MailboxName) )",
        b"a NOTIFY SET (personal (MailboxName)) ",
        b"a NOTIFY SET (subtree (MailboxName))",
        b"a NOTIFY SET (mailboxes () (MailboxName))",
        b"a NOTIFY SET (personal (MessageNew (BOGUS) MessageExpunge))",
        # §5: MessageNew and MessageExpunge together; FlagChange needs both.
        b"a NOTIFY SET (selected (MessageNew))",
        b"a NOTIFY SET (personal (MessageExpunge))",
        b"a NOTIFY SET (selected (FlagChange))",
        b"a NOTIFY SET (personal (MessageNew FlagChange))",
        # §6.1: only message events with SELECTED, and only one selected filter.
        b"a NOTIFY SET (selected (MailboxName))",
        b"a NOTIFY SET (selected-delayed (MessageNew MessageExpunge SubscriptionChange))",
        b"a NOTIFY SET (selected NONE) (selected-delayed NONE)",
        b"a NOTIFY SET (selected NONE) (selected NONE)",
    ],
)
def test_rfc5465_5_and_6_1_violations_are_bad_with_the_tag(line: bytes) -> None:
    event = parse_one(line + b"\r\n")
    assert isinstance(event, CommandError), event
    assert event.tag == "a"


def test_rfc5465_3_1_badevent_lists_every_supported_event() -> None:
    assert badevent_code() == (
        "BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange"
        " MailboxMetadataChange ServerMetadataChange)"
    )


# ------------------------------------------------------------------ property tests
SETTINGS = settings(deadline=None, max_examples=200)
_MESSAGE_SETS = [
    frozenset(),
    frozenset({E.MESSAGE_NEW, E.MESSAGE_EXPUNGE}),
    frozenset({E.MESSAGE_NEW, E.MESSAGE_EXPUNGE, E.FLAG_CHANGE}),
]
_OTHER = sorted(set(NotifyEvent) - MESSAGE_EVENTS, key=lambda event: event.value)
names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n"))
fetch_items = st.lists(
    st.sampled_from(
        [
            UID,
            c.FetchAttribute(c.SimpleAttribute.FLAGS),
            c.FetchAttribute(c.SimpleAttribute.ENVELOPE),
            c.FetchAttribute(c.SimpleAttribute.BODYSTRUCTURE),
            HEADERS,
            c.FetchSection(c.Section((1, 2), "MIME"), peek=True, partial=(0, 10)),
        ]
    ),
    max_size=3,
    unique=True,
).map(tuple)


@st.composite
def groups(draw: st.DrawFn, kind: Filter) -> EventGroup:
    events = draw(st.sampled_from(_MESSAGE_SETS))
    if kind not in SELECTED_FILTERS:
        events |= frozenset(draw(st.lists(st.sampled_from(_OTHER), max_size=3)))
    mailboxes: tuple[str, ...] = ()
    if kind in (Filter.SUBTREE, Filter.MAILBOXES):
        mailboxes = tuple(draw(st.lists(names, min_size=1, max_size=3)))
    new = E.MESSAGE_NEW in events
    items = draw(fetch_items) if new and kind in SELECTED_FILTERS else ()
    return EventGroup(kind, events, mailboxes, items)


@st.composite
def notify_commands(draw: st.DrawFn) -> Notify:
    if draw(st.booleans()):
        return Notify("t", None)
    others = [kind for kind in Filter if kind not in SELECTED_FILTERS]
    kinds = draw(st.lists(st.sampled_from(others), min_size=0, max_size=3))
    selected = draw(st.sampled_from([None, Filter.SELECTED, Filter.SELECTED_DELAYED]))
    if selected is not None:
        kinds.insert(draw(st.integers(0, len(kinds))), selected)
    if not kinds:
        kinds = [Filter.PERSONAL]
    return Notify("t", tuple(draw(groups(kind)) for kind in kinds), status=draw(st.booleans()))


def encode_notify(command: Notify) -> bytes:
    """The wire form of `command` (§8), the mirror of the parser."""
    if command.groups is None:
        return b"t NOTIFY NONE"
    parts = [b"t NOTIFY SET" + (b" STATUS" if command.status else b"")]
    for group in command.groups:
        text = b"(" + group.filter.value.encode()
        if group.mailboxes:
            text += b" (" + b" ".join(astring(name) for name in group.mailboxes) + b")"
        if not group.events:
            parts.append(text + b" NONE)")
            continue
        events = []
        for event in sorted(group.events, key=lambda e: e.value):
            events.append(event.value.encode())
            if event is E.MESSAGE_NEW and group.fetch_items:
                items = b" ".join(encode_fetch_item(item) for item in group.fetch_items)
                events[-1] += b" (" + items + b")"
        parts.append(text + b" (" + b" ".join(events) + b"))")
    return b" ".join(parts)


@SETTINGS
@given(notify_commands())
def test_rfc5465_8_notify_round_trip(command: Notify) -> None:
    assert parse_one(encode_notify(command) + b"\r\n") == command


@SETTINGS
@given(notify_commands(), st.integers(0, 400), st.binary(max_size=3))
def test_mutated_notify_gives_events_never_exceptions(
    command: Notify, position: int, noise: bytes
) -> None:
    line = encode_notify(command)
    cut = position % (len(line) + 1)
    feed_both(line[:cut] + noise + line[cut:] + b"\r\n")
