"""Message IDs out of Message-ID, In-Reply-To and References values (RFC 5322 §3.6.4), for
THREAD=REFERENCES (RFC 5256 §2.4 step (1)).

    msg-id          = [CFWS] "<" id-left "@" id-right ">" [CFWS]

Parsed leniently, as Dovecot's message_id_get_next does, so that threads come out the same:
an ID is what stands between "<" and ">" with whitespace removed, as long as it holds an "@";
where quotes, comments or domain literals appear inside, it is tokenised properly. Anything
else between IDs is skipped.
"""

from __future__ import annotations

from tidings.core.mime.rfc822 import Cursor

_LWSP = str.maketrans("", "", " \t\r\n")
_SLOW_PATH = frozenset('>"([')


def _tokenised(value: str, start: int, out: list[str]) -> int | None:
    """id-left "@" id-right ">" at value[start:], appended to `out`; the position after ">"
    or None. `out` is not reset on failure (Dovecot reuses its buffer the same way)."""
    cursor = Cursor(value)
    cursor.pos = start
    cursor.skip_lwsp()
    parse = cursor.parse_quoted_string if cursor.peek() == '"' else cursor.parse_dot_atom
    ret = parse(out)
    if ret <= 0 or cursor.peek() != "@":
        return None
    out.append("@")
    cursor.pos += 1
    cursor.skip_lwsp()
    if cursor.parse_dot_atom(out) <= 0 or cursor.peek() != ">":
        return None
    return cursor.pos + 1


def message_ids(value: str | None) -> list[str]:
    """Every message ID in `value` in order, without the angle brackets."""
    found: list[str] = []
    if not value:
        return found
    pos = 0
    end = len(value)
    slow: list[str] = []
    while True:
        opening = value.find("<", pos)
        if opening < 0:
            return found
        start = opening + 1
        scan = start
        has_at = False
        while scan < end and not (value[scan] < "A" and value[scan] in _SLOW_PATH):
            has_at = has_at or value[scan] == "@"
            scan += 1
        if scan >= end:
            return found
        if value[scan] == ">":
            pos = scan + 1
            if has_at:
                found.append(value[start:scan].translate(_LWSP))
            continue
        after = _tokenised(value, start, slow)
        if after is None:
            pos = start
        else:
            found.append("".join(slow))
            slow = []
            pos = after


def first_message_id(value: str | None) -> str | None:
    """The first message ID in `value`, or None."""
    ids = message_ids(value)
    return ids[0] if ids else None


__all__ = ["first_message_id", "message_ids"]
