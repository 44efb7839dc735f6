"""SORT and THREAD (RFC 5256, with RFC 5957 DISPLAYFROM / DISPLAYTO): the commands' arguments
into typed commands, and the SORT and THREAD responses into bytes. No I/O.

    sort            = ["UID" SP] "SORT" SP sort-criteria SP search-criteria
    sort-criteria   = "(" sort-criterion *(SP sort-criterion) ")"
    sort-criterion  = ["REVERSE" SP] sort-key
    sort-key        = "ARRIVAL" / "CC" / "DATE" / "FROM" / "SIZE" / "SUBJECT" / "TO"
    sort-key        =/ "DISPLAYFROM" / "DISPLAYTO"                    ; RFC 5957 §3
    thread          = ["UID" SP] "THREAD" SP thread-alg SP search-criteria
    thread-alg      = "ORDEREDSUBJECT" / "REFERENCES" / thread-alg-ext
    search-criteria = charset 1*(SP search-key)
    charset         = atom / quoted

    sort-data       = "SORT" *(SP nz-number)
    thread-data     = "THREAD" [SP 1*thread-list]
    thread-list     = "(" (thread-members / thread-nested) ")"
    thread-members  = nz-number *(SP nz-number) [SP thread-nested]
    thread-nested   = 2*thread-list
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tidings.core.threads import ThreadNode
from tidings.imap.proto.commands import Sort, SortCriterion, SortKey, Thread, ThreadAlgorithm
from tidings.imap.proto.lexer import Cursor, ParseError, decode
from tidings.imap.proto.search import parse_search_keys


def _criterion(cursor: Cursor) -> SortCriterion:
    word = cursor.keyword("sort key")
    reverse = word == "REVERSE"
    if reverse:
        cursor.sp()
        word = cursor.keyword("sort key")
    try:
        return SortCriterion(SortKey(word), reverse)
    except ValueError:
        raise ParseError(f"Unknown sort key {word}") from None


def _charset(cursor: Cursor) -> str:
    cursor.sp()
    if cursor.at_end():
        raise ParseError("Missing charset")
    return decode(cursor.astring_bytes()).upper()


def parse_sort(cursor: Cursor, tag: str, uid: bool) -> Sort:
    """The arguments of [UID] SORT, the cursor after the command name."""
    cursor.sp()
    if cursor.peek() != 0x28:
        raise ParseError("Expected sort criteria in parentheses")
    criteria = cursor.paren_list(lambda: _criterion(cursor))
    charset = _charset(cursor)
    return Sort(tag, criteria, charset, parse_search_keys(cursor), uid=uid)


def parse_thread(cursor: Cursor, tag: str, uid: bool) -> Thread:
    """The arguments of [UID] THREAD, the cursor after the command name."""
    cursor.sp()
    name = cursor.keyword("thread algorithm")
    try:
        algorithm = ThreadAlgorithm(name)
    except ValueError:
        raise ParseError(f"Unknown thread algorithm {name}") from None
    charset = _charset(cursor)
    return Thread(tag, algorithm, charset, parse_search_keys(cursor), uid=uid)


def sort_response(numbers: Iterable[int]) -> bytes:
    """sort-data, e.g. `SORT 2 3 1` (just `SORT` when nothing matched)."""
    return b" ".join([b"SORT", *(b"%d" % number for number in numbers)])


def _number(node: ThreadNode) -> bytes:
    assert node.message is not None
    return b"%d" % node.message.number


def _members(children: Sequence[ThreadNode], out: list[bytes]) -> None:
    """What follows a message inside its thread-list: one child continues the chain
    (thread-members); two or more are a thread-nested of one thread-list each."""
    if len(children) == 1:
        child = children[0]
        out.append(b" " + _number(child))
        _members(child.children, out)
        return
    if children:
        out.append(b" ")
        for child in children:
            _thread_list(child, out)


def _thread_list(node: ThreadNode, out: list[bytes]) -> None:
    """RFC 5256 §4: "(" a message and what follows it ")"; a dummy (the common parent of
    messages whose parent is missing) writes only its children, as a thread-nested."""
    out.append(b"(")
    if node.message is None:
        for child in node.children:
            _thread_list(child, out)
    else:
        out.append(_number(node))
        _members(node.children, out)
    out.append(b")")


def thread_response(threads: Iterable[ThreadNode]) -> bytes:
    """thread-data, e.g. `THREAD (2)(3 6 (4 23)(44 7 96))` (just `THREAD` when empty)."""
    out: list[bytes] = []
    for thread in threads:
        _thread_list(thread, out)
    return b"THREAD " + b"".join(out) if out else b"THREAD"


__all__ = ["parse_sort", "parse_thread", "sort_response", "thread_response"]
