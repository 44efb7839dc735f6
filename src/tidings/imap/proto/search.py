"""SEARCH arguments (RFC 9051 §6.4.4, RFC 3501 §6.4.4, RFC 4731 ESEARCH) into SearchKeys.

    search          = "SEARCH" [search-return-opts] SP search-program
    search-program  = ["CHARSET" SP charset SP] search-key *(SP search-key)
    search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"

Aliases are normalised as `commands.py` describes: FROM/TO/CC/BCC/SUBJECT become
SearchHeader, NEW/OLD/RECENT and the flag keys become SearchFlag combinations.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tidings.imap.proto.commands import (
    DateField,
    DateRelation,
    Search,
    SearchAge,
    SearchAll,
    SearchAnd,
    SearchDate,
    SearchFlag,
    SearchHeader,
    SearchKey,
    SearchNot,
    SearchObjectId,
    SearchOr,
    SearchSequence,
    SearchSize,
    SearchText,
    SearchUid,
    SimpleAttribute,
)
from tidings.imap.proto.condstore import parse_search_modseq
from tidings.imap.proto.lexer import Cursor, ParseError, decode

# Nesting of NOT/OR/parentheses: deeper programs are refused rather than risk the recursion
# limit (Dovecot refuses search programs nested deeper than its parser's list depth too).
MAX_SEARCH_DEPTH = 100

_RECENT = SearchFlag("\\Recent", True)

# RFC 8474 §7: objectid = 1*255(ALPHA / DIGIT / "_" / "-")
MAX_OBJECTID_LENGTH = 255
_OBJECTID = re.compile(r"[A-Za-z0-9_-]+")

# Keys without arguments. RFC 3501 §6.4.4 adds NEW, OLD and RECENT to RFC 9051's list.
_SIMPLE_KEYS: dict[str, SearchKey] = {
    "ALL": SearchAll(),
    "ANSWERED": SearchFlag("\\Answered", True),
    "UNANSWERED": SearchFlag("\\Answered", False),
    "DELETED": SearchFlag("\\Deleted", True),
    "UNDELETED": SearchFlag("\\Deleted", False),
    "DRAFT": SearchFlag("\\Draft", True),
    "UNDRAFT": SearchFlag("\\Draft", False),
    "FLAGGED": SearchFlag("\\Flagged", True),
    "UNFLAGGED": SearchFlag("\\Flagged", False),
    "SEEN": SearchFlag("\\Seen", True),
    "UNSEEN": SearchFlag("\\Seen", False),
    "RECENT": _RECENT,
    "NEW": SearchAnd((_RECENT, SearchFlag("\\Seen", False))),
    "OLD": SearchNot(_RECENT),
    # RFC 8514 §4.3: every mailbox here keeps save dates, so this matches every message.
    "SAVEDATESUPPORTED": SearchAll(),
}

# "FROM" SP astring and friends: a header field search.
_HEADER_KEYS = {"FROM": "From", "TO": "To", "CC": "Cc", "BCC": "Bcc", "SUBJECT": "Subject"}

_DATE_KEYS = {
    "BEFORE": (DateField.INTERNAL, DateRelation.BEFORE),
    "ON": (DateField.INTERNAL, DateRelation.ON),
    "SINCE": (DateField.INTERNAL, DateRelation.SINCE),
    "SENTBEFORE": (DateField.SENT, DateRelation.BEFORE),
    "SENTON": (DateField.SENT, DateRelation.ON),
    "SENTSINCE": (DateField.SENT, DateRelation.SINCE),
    "SAVEDBEFORE": (DateField.SAVED, DateRelation.BEFORE),  # RFC 8514 §4.3
    "SAVEDON": (DateField.SAVED, DateRelation.ON),
    "SAVEDSINCE": (DateField.SAVED, DateRelation.SINCE),
}


def parse_search(cursor: Cursor, tag: str, uid: bool) -> Search:
    """The arguments of [UID] SEARCH, the cursor after the command name."""
    cursor.sp()
    return_options: tuple[str, ...] | None = None
    if _next_keyword_is(cursor, b"RETURN"):
        cursor.pos += len(b"RETURN")
        cursor.sp()
        # search-return-opt = "MIN" / "MAX" / "ALL" / "COUNT" / "SAVE" / search-ret-opt-ext
        return_options = tuple(o.upper() for o in cursor.paren_list(cursor.atom, allow_empty=True))
        cursor.sp()
    charset = None
    if _next_keyword_is(cursor, b"CHARSET"):
        cursor.pos += len(b"CHARSET")
        cursor.sp()
        # charset = atom / quoted
        charset = decode(cursor.astring_bytes()).upper()
        cursor.sp()
    keys = [_search_key(cursor, 0)]
    while cursor.maybe_sp():
        keys.append(_search_key(cursor, 0))
    cursor.end()
    key = keys[0] if len(keys) == 1 else SearchAnd(tuple(keys))
    return Search(tag, key, uid=uid, charset=charset, return_options=return_options)


def parse_search_keys(cursor: Cursor) -> SearchKey:
    """1*(SP search-key) up to the end of the command (after a charset, as in RFC 5256
    search-criteria), as one key: several are ANDed."""
    keys = []
    while True:
        cursor.sp()
        keys.append(_search_key(cursor, 0))
        if cursor.at_end():
            return keys[0] if len(keys) == 1 else SearchAnd(tuple(keys))


def _next_keyword_is(cursor: Cursor, word: bytes) -> bool:
    end = cursor.pos + len(word)
    return cursor.data[cursor.pos : end].upper() == word and cursor.data[end : end + 1] == b" "


def _search_key(cursor: Cursor, depth: int) -> SearchKey:
    """search-key (RFC 9051 §9)."""
    if depth > MAX_SEARCH_DEPTH:
        raise ParseError("Search program nested too deeply")
    byte = cursor.peek()
    if byte == 0x28:
        # "(" search-key *(SP search-key) ")"
        return SearchAnd(cursor.paren_list(lambda: _search_key(cursor, depth + 1)))
    if byte is not None and (0x30 <= byte <= 0x39 or byte in b"*$"):
        return SearchSequence(cursor.sequence_set())
    name = cursor.keyword("search key")
    simple = _SIMPLE_KEYS.get(name)
    if simple is not None:
        return simple
    handler = _ARGUMENT_KEYS.get(name)
    if handler is None:
        raise ParseError(f"Unknown search key {name}")
    cursor.sp()
    return handler(cursor, name, depth)


def _header_alias(cursor: Cursor, name: str, depth: int) -> SearchKey:
    return SearchHeader(_HEADER_KEYS[name], cursor.astring())


def _header(cursor: Cursor, name: str, depth: int) -> SearchKey:
    # "HEADER" SP header-fld-name SP astring ; header-fld-name = astring
    field = cursor.astring()
    cursor.sp()
    return SearchHeader(field, cursor.astring())


def _text(cursor: Cursor, name: str, depth: int) -> SearchKey:
    return SearchText(cursor.astring(), body_only=name == "BODY")


def _date(cursor: Cursor, name: str, depth: int) -> SearchKey:
    field, relation = _DATE_KEYS[name]
    return SearchDate(field, relation, cursor.date())


def _size(cursor: Cursor, name: str, depth: int) -> SearchKey:
    return SearchSize(name == "LARGER", cursor.number("size", bits64=True))


def _keyword(cursor: Cursor, name: str, depth: int) -> SearchKey:
    # "KEYWORD" SP flag-keyword ; flag-keyword = atom
    return SearchFlag(cursor.atom("keyword"), name == "KEYWORD")


def _not(cursor: Cursor, name: str, depth: int) -> SearchKey:
    return SearchNot(_search_key(cursor, depth + 1))


def _or(cursor: Cursor, name: str, depth: int) -> SearchKey:
    left = _search_key(cursor, depth + 1)
    cursor.sp()
    return SearchOr(left, _search_key(cursor, depth + 1))


def _uid(cursor: Cursor, name: str, depth: int) -> SearchKey:
    return SearchUid(cursor.sequence_set())


def _objectid(cursor: Cursor, name: str, depth: int) -> SearchKey:
    """search-key =/ "EMAILID" SP objectid / "THREADID" SP objectid   (RFC 8474 §6, §7)
    objectid = 1*255(ALPHA / DIGIT / "_" / "-")"""
    value = cursor.atom("objectid")
    if len(value) > MAX_OBJECTID_LENGTH or not _OBJECTID.fullmatch(value):
        raise ParseError(f"Invalid {name} objectid")
    return SearchObjectId(SimpleAttribute(name), value)


def _age(cursor: Cursor, name: str, depth: int) -> SearchKey:
    # search-key =/ ( "OLDER" / "YOUNGER" ) SP nz-number   (RFC 5032 §4)
    return SearchAge(name == "OLDER", cursor.number("interval", nonzero=True))


_ARGUMENT_KEYS: dict[str, Callable[[Cursor, str, int], SearchKey]] = {
    **dict.fromkeys(_HEADER_KEYS, _header_alias),
    **dict.fromkeys(_DATE_KEYS, _date),
    "HEADER": _header,
    "BODY": _text,
    "TEXT": _text,
    "LARGER": _size,
    "SMALLER": _size,
    "KEYWORD": _keyword,
    "UNKEYWORD": _keyword,
    "NOT": _not,
    "OR": _or,
    "UID": _uid,
    "EMAILID": _objectid,
    "THREADID": _objectid,
    "MODSEQ": parse_search_modseq,  # RFC 7162 §3.1.5
    "OLDER": _age,  # RFC 5032 §3
    "YOUNGER": _age,
}
