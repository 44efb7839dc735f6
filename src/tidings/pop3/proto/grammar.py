"""One POP3 command line to a typed command (RFC 1939 §3), or a CommandError saying why not.

RFC 1939 §3: "Commands in the POP3 consist of a case-insensitive keyword, possibly followed
by one or more arguments. ... Keywords and arguments are each separated by a single SPACE
character. Keywords are three or four characters long."

    msg    = 1*DIGIT        ; "a message-number argument" (RFC 1939 §5); leading zeros allowed
    n      = 1*DIGIT        ; TOP's line count (RFC 1939 §7), "a non-negative number"

Like Dovecot, more than one space between arguments is accepted, and arguments after a
command that takes none are ignored (a client sending "QUIT " must still reach UPDATE).
USER and PASS take the rest of the line (RFC 1939 §7: "the server may treat the remainder of
the argument as the password"), so a password may contain spaces.
"""

from __future__ import annotations

from tidings.pop3.proto import commands as c
from tidings.pop3.proto.events import CommandError

# Message numbers are counted in the snapshot; ten digits is beyond any maildrop and keeps
# int() away from pathological inputs.
MAX_NUMBER_DIGITS = 10
# TOP's line count may be large ("everything"): Dovecot accepts 99999999999.
MAX_LINE_COUNT_DIGITS = 18
# How much of an unknown keyword is quoted back in the error.
_MAX_SHOWN_KEYWORD = 16

_NO_ARGUMENTS: dict[str, type[c.Command]] = {
    "STLS": c.Stls,
    "CAPA": c.Capa,
    "QUIT": c.Quit,
    "STAT": c.Stat,
    "NOOP": c.Noop,
    "RSET": c.Rset,
}


def parse_command(line: bytes) -> c.Command | CommandError:
    """Parse one line (without its line end)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return CommandError(None, "Command line is not valid UTF-8.")
    word, _, rest = text.partition(" ")
    keyword = word.upper()
    if not keyword:
        return CommandError(None, "Empty command line.")
    if keyword in _NO_ARGUMENTS:
        return _NO_ARGUMENTS[keyword]()
    parse = _PARSERS.get(keyword)
    if parse is None:
        return CommandError(keyword, _unknown(word))
    try:
        return parse(rest)
    except _ArgumentError as error:
        return CommandError(keyword, str(error))


class _ArgumentError(Exception):
    """An argument is missing or malformed; the text is the client-facing reason."""


def _unknown(word: str) -> str:
    if len(word) <= _MAX_SHOWN_KEYWORD and word.isascii() and word.isprintable():
        return f"Unknown command: {word}"
    return "Unknown command."


def _user(rest: str) -> c.Command:
    if not rest:
        raise _ArgumentError("USER needs a user name.")
    return c.User(rest)


def _pass(rest: str) -> c.Command:
    if not rest:
        raise _ArgumentError("PASS needs a password.")
    return c.Pass(rest)


def _auth(rest: str) -> c.Command:
    """AUTH [mechanism [initial-response]] (RFC 5034 §4)."""
    words = rest.split()
    if not words:
        return c.Auth()
    if len(words) > 2:
        raise _ArgumentError("Noise after the initial response.")
    return c.Auth(words[0].upper(), words[1] if len(words) == 2 else None)


def _numbers(rest: str, count: int, keyword: str) -> list[int]:
    """Exactly `count` decimal arguments: message numbers, then (for TOP) a line count."""
    words = rest.split()
    if len(words) < count:
        raise _ArgumentError(f"{keyword} needs {_needs(count)}.")
    if len(words) > count:
        raise _ArgumentError(f"Noise after the arguments: {_shown(words[count])}")
    values = [_message_number(words[0])]
    if count == 2:
        values.append(_line_count(words[1]))
    return values


def _needs(count: int) -> str:
    return "a message number" if count == 1 else "a message number and a line count"


def _shown(word: str) -> str:
    return word[:_MAX_SHOWN_KEYWORD] if word.isascii() and word.isprintable() else "?"


def _message_number(word: str) -> int:
    if not (word.isascii() and word.isdigit()):
        raise _ArgumentError(f"Invalid message number: {_shown(word)}")
    if len(word) > MAX_NUMBER_DIGITS:
        raise _ArgumentError(f"Message number too large: {_shown(word)}")
    return int(word)


def _line_count(word: str) -> int:
    if not (word.isascii() and word.isdigit()):
        raise _ArgumentError(f"Invalid line count: {_shown(word)}")
    if len(word) > MAX_LINE_COUNT_DIGITS:
        raise _ArgumentError(f"Line count too large: {_shown(word)}")
    return int(word)


def _optional_number(rest: str, keyword: str) -> int | None:
    return _numbers(rest, 1, keyword)[0] if rest.strip() else None


def _list(rest: str) -> c.Command:
    return c.List(_optional_number(rest, "LIST"))


def _uidl(rest: str) -> c.Command:
    return c.Uidl(_optional_number(rest, "UIDL"))


def _retr(rest: str) -> c.Command:
    return c.Retr(_numbers(rest, 1, "RETR")[0])


def _dele(rest: str) -> c.Command:
    return c.Dele(_numbers(rest, 1, "DELE")[0])


def _top(rest: str) -> c.Command:
    message, lines = _numbers(rest, 2, "TOP")
    return c.Top(message, lines)


_PARSERS = {
    "USER": _user,
    "PASS": _pass,
    "AUTH": _auth,
    "LIST": _list,
    "UIDL": _uidl,
    "RETR": _retr,
    "DELE": _dele,
    "TOP": _top,
}
