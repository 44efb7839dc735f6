"""Test helpers for the IMAP protocol core: drive the parser, and encode commands back.

`encode_command` is the mirror of the parser for the commands the property tests generate,
built only from `responses.py` helpers so that the round trip also checks the encoder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tidings.imap.proto import commands as c
from tidings.imap.proto.events import NEED_DATA, Event, LiteralRequest
from tidings.imap.proto.lexer import MONTHS
from tidings.imap.proto.parser import CommandParser
from tidings.imap.proto.responses import astring, flag_list, string

Answer = Callable[[LiteralRequest], bool]


def accept_all(request: LiteralRequest) -> bool:
    """A literal policy that accepts every literal."""
    return True


def drain(parser: CommandParser, answer: Answer = accept_all) -> list[Event]:
    """Every event the parser can produce from what it has, answering literal requests."""
    events: list[Event] = []
    while True:
        event = parser.next_event()
        if event is NEED_DATA:
            return events
        events.append(event)
        if isinstance(event, LiteralRequest):
            if answer(event):
                parser.accept_literal()
            else:
                parser.reject_literal()


def feed(
    chunks: Iterable[bytes], answer: Answer = accept_all, parser: CommandParser | None = None
) -> list[Event]:
    """Feed `chunks` one after another and collect all events."""
    parser = parser or CommandParser()
    events: list[Event] = []
    for chunk in chunks:
        parser.receive_data(chunk)
        events += drain(parser, answer)
    return events


def feed_both(data: bytes, answer: Answer = accept_all, **options: int) -> list[Event]:
    """Events for `data` fed whole; asserts that feeding it one byte at a time (and in two
    halves) gives the same events."""
    whole = feed([data], answer, CommandParser(**options))
    bytewise = feed([data[i : i + 1] for i in range(len(data))], answer, CommandParser(**options))
    assert bytewise == whole
    half = len(data) // 2
    assert feed([data[:half], data[half:]], answer, CommandParser(**options)) == whole
    return whole


def parse_one(data: bytes) -> Event:
    """The one non-LiteralRequest event that `data` produces (fed whole and bytewise)."""
    events = [e for e in feed_both(data) if not isinstance(e, LiteralRequest)]
    assert len(events) == 1, events
    return events[0]


# ------------------------------------------------------------------------ encoding


def encode_command(command: c.Command) -> bytes:
    """The wire form of one of the commands the property tests generate."""
    tag = command.tag.encode("ascii")
    return tag + b" " + _ENCODERS[type(command)](command) + b"\r\n"


def _login(cmd: c.Login) -> bytes:
    return b"LOGIN " + astring(cmd.username) + b" " + astring(cmd.password)


def _select(cmd: c.Select) -> bytes:
    name = b"EXAMINE " if cmd.read_only else b"SELECT "
    params = b""
    if cmd.parameters:
        params = b" (" + b" ".join(_param(p) for p in cmd.parameters) + b")"
    return name + astring(cmd.mailbox) + params


def _param(param: tuple[str, str | None]) -> bytes:
    name, value = param
    return name.encode() if value is None else f"{name} {value}".encode()


def _status(cmd: c.Status) -> bytes:
    items = b" ".join(item.value.encode() for item in cmd.items)
    return b"STATUS " + astring(cmd.mailbox) + b" (" + items + b")"


def _uid(cmd: c.Fetch | c.Store | c.Copy | c.Search) -> bytes:
    return b"UID " if cmd.uid else b""


_STORE_SIGNS = {"replace": b"", "add": b"+", "remove": b"-"}


def _store(cmd: c.Store) -> bytes:
    item = _STORE_SIGNS[cmd.operation] + (b"FLAGS.SILENT" if cmd.silent else b"FLAGS")
    return (
        _uid(cmd)
        + b"STORE "
        + str(cmd.sequence_set).encode()
        + b" "
        + item
        + b" "
        + flag_list(cmd.flags)
    )


def _copy(cmd: c.Copy) -> bytes:
    name = b"MOVE " if cmd.move else b"COPY "
    return _uid(cmd) + name + str(cmd.sequence_set).encode() + b" " + astring(cmd.mailbox)


def encode_section(section: c.Section) -> bytes:
    """The inside of BODY[...]."""
    parts = [".".join(str(n) for n in section.part)] if section.part else []
    if section.specifier:
        parts.append(section.specifier)
    text = ".".join(parts).encode()
    if section.fields:
        text += b" (" + b" ".join(astring(f) for f in section.fields) + b")"
    return text


def encode_fetch_item(item: c.FetchItem) -> bytes:
    """One fetch-att."""
    if isinstance(item, c.FetchAttribute):
        return item.attribute.value.encode()
    if isinstance(item, c.FetchBinarySize):
        return b"BINARY.SIZE[" + ".".join(str(n) for n in item.part).encode() + b"]"
    assert isinstance(item, c.FetchSection)
    name = b"BINARY" if item.binary else b"BODY"
    if item.peek:
        name += b".PEEK"
    partial = b"<%d.%d>" % item.partial if item.partial else b""
    return name + b"[" + encode_section(item.section) + b"]" + partial


def _fetch(cmd: c.Fetch) -> bytes:
    items = b"(" + b" ".join(encode_fetch_item(i) for i in cmd.items) + b")"
    modifiers = b""
    if cmd.modifiers:
        modifiers = b" (" + b" ".join(_param(p) for p in cmd.modifiers) + b")"
    return _uid(cmd) + b"FETCH " + str(cmd.sequence_set).encode() + b" " + items + modifiers


_FLAG_KEYS = {
    "\\Answered": ("ANSWERED", "UNANSWERED"),
    "\\Deleted": ("DELETED", "UNDELETED"),
    "\\Draft": ("DRAFT", "UNDRAFT"),
    "\\Flagged": ("FLAGGED", "UNFLAGGED"),
    "\\Seen": ("SEEN", "UNSEEN"),
}


def encode_search_key(key: c.SearchKey) -> bytes:
    """One search-key (a SearchAnd in parentheses)."""
    match key:
        case c.SearchAll():
            return b"ALL"
        case c.SearchAnd(keys):
            return b"(" + b" ".join(encode_search_key(k) for k in keys) + b")"
        case c.SearchOr(left, right):
            return b"OR " + encode_search_key(left) + b" " + encode_search_key(right)
        case c.SearchNot(inner):
            return b"NOT " + encode_search_key(inner)
        case c.SearchSequence(sequence_set):
            return str(sequence_set).encode()
        case c.SearchUid(sequence_set):
            return b"UID " + str(sequence_set).encode()
        case c.SearchFlag("\\Recent", True):
            return b"RECENT"
        case c.SearchFlag(flag, present) if flag in _FLAG_KEYS:
            return _FLAG_KEYS[flag][0 if present else 1].encode()
        case c.SearchFlag(flag, present):
            return (b"KEYWORD " if present else b"UNKEYWORD ") + flag.encode()
        case c.SearchDate(field, relation, day):
            prefix = {c.DateField.SENT: "SENT", c.DateField.SAVED: "SAVED"}.get(field, "")
            text = f"{prefix}{relation.name} {day.day}-{MONTHS[day.month - 1]}-{day.year:04d}"
            return text.encode()
        case c.SearchSize(larger, size):
            return (b"LARGER %d" if larger else b"SMALLER %d") % size
        case c.SearchHeader(field, value):
            return b"HEADER " + astring(field) + b" " + string(value)
        case c.SearchText(value, body_only):
            return (b"BODY " if body_only else b"TEXT ") + string(value)
        case c.SearchObjectId(field, value):  # RFC 8474 §6
            return field.value.encode() + b" " + value.encode()
    raise AssertionError(f"cannot encode {key!r}")


def _search(cmd: c.Search) -> bytes:
    out = _uid(cmd) + b"SEARCH"
    if cmd.return_options is not None:
        out += b" RETURN (" + " ".join(cmd.return_options).encode() + b")"
    if cmd.charset is not None:
        out += b" CHARSET " + astring(cmd.charset)
    key = cmd.key
    if isinstance(key, c.SearchAnd) and len(key.keys) > 1:
        return out + b" " + b" ".join(encode_search_key(k) for k in key.keys)
    return out + b" " + encode_search_key(key)


def _getquota(cmd: c.GetQuota) -> bytes:
    return b"GETQUOTA " + astring(cmd.root)


def _getquotaroot(cmd: c.GetQuotaRoot) -> bytes:
    return b"GETQUOTAROOT " + astring(cmd.mailbox)


def _setquota(cmd: c.SetQuota) -> bytes:
    limits = b" ".join(b"%s %d" % (name.encode(), limit) for name, limit in cmd.limits)
    return b"SETQUOTA " + astring(cmd.root) + b" (" + limits + b")"


_ENCODERS: dict[type, Callable[..., bytes]] = {
    c.Login: _login,
    c.Select: _select,
    c.Status: _status,
    c.Store: _store,
    c.Copy: _copy,
    c.Fetch: _fetch,
    c.Search: _search,
    c.GetQuota: _getquota,
    c.GetQuotaRoot: _getquotaroot,
    c.SetQuota: _setquota,
}
