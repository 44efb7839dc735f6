"""The NOTIFY command's syntax (RFC 5465 §8) and the rules of §5 and §6.1 on its arguments.

    notify          = "NOTIFY" SP (notify-set / notify-none)
    notify-set      = "SET" [status-indicator] SP event-groups
    status-indicator = SP "STATUS"
    notify-none     = "NONE"
    event-groups    = event-group *(SP event-group)
    event-group     = "(" filter-mailboxes SP events ")"
    filter-mailboxes = filter-mailboxes-selected / filter-mailboxes-other
    filter-mailboxes-selected = "selected" / "selected-delayed"
    filter-mailboxes-other = "inboxes" / "personal" / "subscribed" /
                      ("subtree" SP one-or-more-mailbox) /
                      ("mailboxes" SP one-or-more-mailbox)
    one-or-more-mailbox = mailbox / many-mailboxes
    many-mailboxes  = "(" mailbox *(SP mailbox) ")"
    events          = ("(" event *(SP event) ")") / "NONE"
    event           = message-event / mailbox-event / user-event / event-ext
    message-event   = ("MessageNew" [SP "(" fetch-att *(SP fetch-att) ")"]) /
                      "MessageExpunge" / "FlagChange" / "AnnotationChange"
    mailbox-event   = "MailboxName" / "SubscriptionChange" / "MailboxMetadataChange" /
                      "ServerMetadataChange"
    event-ext       = atom

Syntax errors and the rules the RFC answers with BAD (§5: MessageNew and MessageExpunge come
together, FlagChange needs both; §6.1: one selected filter, message events only) raise
`ParseError`. An event this server does not support is not a syntax error: §3.1 wants a NO
with `[BADEVENT (...)]`, so it is kept in `Notify.unsupported` for the session to refuse.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tidings.imap.proto.commands import Command, FetchItem
from tidings.imap.proto.fetch import _fetch_att
from tidings.imap.proto.lexer import Cursor, ParseError


class NotifyEvent(enum.Enum):
    """The event names of RFC 5465 §5 (compared case-insensitively, §8)."""

    MESSAGE_NEW = "MessageNew"
    MESSAGE_EXPUNGE = "MessageExpunge"
    FLAG_CHANGE = "FlagChange"
    ANNOTATION_CHANGE = "AnnotationChange"
    MAILBOX_NAME = "MailboxName"
    SUBSCRIPTION_CHANGE = "SubscriptionChange"
    MAILBOX_METADATA_CHANGE = "MailboxMetadataChange"
    SERVER_METADATA_CHANGE = "ServerMetadataChange"


MESSAGE_EVENTS = frozenset(
    {
        NotifyEvent.MESSAGE_NEW,
        NotifyEvent.MESSAGE_EXPUNGE,
        NotifyEvent.FLAG_CHANGE,
        NotifyEvent.ANNOTATION_CHANGE,
    }
)
# AnnotationChange needs ANNOTATE (RFC 5257), which this server does not have.
SUPPORTED_EVENTS = tuple(
    event for event in NotifyEvent if event is not NotifyEvent.ANNOTATION_CHANGE
)
_BY_NAME = {event.value.upper(): event for event in NotifyEvent}


class Filter(enum.Enum):
    """The mailbox filters of RFC 5465 §6."""

    SELECTED = "SELECTED"
    SELECTED_DELAYED = "SELECTED-DELAYED"
    INBOXES = "INBOXES"
    PERSONAL = "PERSONAL"
    SUBSCRIBED = "SUBSCRIBED"
    SUBTREE = "SUBTREE"
    MAILBOXES = "MAILBOXES"


SELECTED_FILTERS = frozenset({Filter.SELECTED, Filter.SELECTED_DELAYED})
_NAMED_FILTERS = frozenset({Filter.SUBTREE, Filter.MAILBOXES})


@dataclass(frozen=True, slots=True)
class EventGroup:
    """One `(filter events)` group; `events` is empty for NONE.

    `mailboxes` are the names of SUBTREE / MAILBOXES as sent (the session decodes them);
    `fetch_items` are MessageNew's fetch attributes (§5.2)."""

    filter: Filter
    events: frozenset[NotifyEvent]
    mailboxes: tuple[str, ...] = ()
    fetch_items: tuple[FetchItem, ...] = ()


@dataclass(frozen=True, slots=True)
class Notify(Command):
    """NOTIFY NONE (`groups` is None) or NOTIFY SET [STATUS] with its event groups.

    `unsupported` holds event names that parse (event-ext) but that this server does not
    support, in the order sent."""

    groups: tuple[EventGroup, ...] | None
    status: bool = False
    unsupported: tuple[str, ...] = ()


def parse_notify(cursor: Cursor, tag: str) -> Notify:
    """The arguments of NOTIFY, the cursor after the command name."""
    cursor.sp()
    mode = cursor.keyword("NOTIFY SET or NONE")
    if mode == "NONE":
        cursor.end()
        return Notify(tag, None)
    if mode != "SET":
        raise ParseError("Expected NOTIFY SET or NOTIFY NONE")
    cursor.sp()
    status = False
    if cursor.peek() != 0x28:
        if cursor.keyword("STATUS") != "STATUS":
            raise ParseError("Expected STATUS or an event group")
        status = True
        cursor.sp()
    unsupported: list[str] = []
    groups = [_event_group(cursor, unsupported)]
    while cursor.maybe_sp():
        groups.append(_event_group(cursor, unsupported))
    cursor.end()
    if sum(group.filter in SELECTED_FILTERS for group in groups) > 1:
        # §6.1: "Only one of the mailbox specifiers affecting the currently selected
        # mailbox can be specified in any NOTIFY command."
        raise ParseError("Only one of SELECTED and SELECTED-DELAYED may be given")
    return Notify(tag, tuple(groups), status, tuple(dict.fromkeys(unsupported)))


def _event_group(cursor: Cursor, unsupported: list[str]) -> EventGroup:
    cursor.expect(b"(", "'(' to open an event group")
    name = cursor.keyword("mailbox filter")
    try:
        kind = Filter(name)
    except ValueError:
        raise ParseError(f"Unknown mailbox filter {name}") from None
    mailboxes: tuple[str, ...] = ()
    if kind in _NAMED_FILTERS:
        cursor.sp()
        if cursor.peek() == 0x28:
            mailboxes = cursor.paren_list(cursor.mailbox)
        else:
            mailboxes = (cursor.mailbox(),)
    cursor.sp()
    events: set[NotifyEvent] = set()
    fetch_items: tuple[FetchItem, ...] = ()
    if cursor.peek() == 0x28:

        def event() -> None:
            nonlocal fetch_items
            atom = cursor.atom("event")
            known = _BY_NAME.get(atom.upper())
            if known is None or known not in SUPPORTED_EVENTS:
                unsupported.append(known.value if known else atom)
            if known is None:
                return
            events.add(known)
            if known is NotifyEvent.MESSAGE_NEW and cursor.peek_is(b" ("):
                cursor.sp()
                fetch_items = cursor.paren_list(lambda: _fetch_att(cursor))

        cursor.paren_list(event)
    elif cursor.keyword("events") != "NONE":
        raise ParseError("Expected an event list or NONE")
    cursor.expect(b")", "')' to close an event group")
    _check_events(kind, frozenset(events))
    return EventGroup(kind, frozenset(events), mailboxes, fetch_items)


def _check_events(kind: Filter, events: frozenset[NotifyEvent]) -> None:
    """The combinations §5 and §6.1 answer with a tagged BAD."""
    if kind in SELECTED_FILTERS and events - MESSAGE_EVENTS:
        # §6.1: "It is an error to specify other types of events with either the SELECTED
        # or the SELECTED-DELAYED selector."
        raise ParseError(f"Only message events are allowed with {kind.value}")
    new = NotifyEvent.MESSAGE_NEW in events
    expunge = NotifyEvent.MESSAGE_EXPUNGE in events
    if new != expunge:
        # §5: "If one of MessageNew or MessageExpunge is specified, then both events MUST
        # be specified."
        raise ParseError("MessageNew and MessageExpunge must be given together")
    if events & {NotifyEvent.FLAG_CHANGE, NotifyEvent.ANNOTATION_CHANGE} and not new:
        # §5: "If the FlagChange and/or AnnotationChange events are specified, MessageNew
        # and MessageExpunge MUST also be specified by the client."
        raise ParseError("FlagChange and AnnotationChange need MessageNew and MessageExpunge")


def badevent_code() -> str:
    """§3.1: the BADEVENT response code, listing every event this server supports."""
    return "BADEVENT (" + " ".join(event.value for event in SUPPORTED_EVENTS) + ")"
