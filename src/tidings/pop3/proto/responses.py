"""Encoding of POP3 responses (RFC 1939 §3, RFC 2449 §8): the session builds replies here.

    single-line  = status [SP "[" resp-code "]"] [SP text] CRLF      (RFC 2449 §8)
    status       = "+OK" / "-ERR"
    multi-line   = single-line *(stuffed-line CRLF) "." CRLF           (RFC 1939 §3)

Every helper returns bytes ready to write; the session never formats POP3 syntax by hand.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Iterable

CRLF = b"\r\n"
# RFC 1939 §3: a multi-line response ends with a line holding only ".".
TERMINATOR = b".\r\n"
# RFC 2449 §4: "Responses ... MUST NOT exceed 512 octets, including the terminating CRLF".
MAX_RESPONSE_LINE = 512


class ResponseCode(enum.Enum):
    """Extended response codes (RFC 2449 §8, RFC 3206), sent after RESP-CODES is advertised."""

    # RFC 2449 §8.1.2: authentication succeeded but the maildrop is in use elsewhere.
    IN_USE = "IN-USE"
    # RFC 2449 §8.1.1: the user logged in too recently (see the LOGIN-DELAY capability).
    LOGIN_DELAY = "LOGIN-DELAY"
    # RFC 3206 §4: a temporary system problem; trying again later may succeed.
    SYS_TEMP = "SYS/TEMP"
    # RFC 3206 §4: a permanent system problem that needs an administrator.
    SYS_PERM = "SYS/PERM"
    # RFC 3206 §5: the problem is with the credentials (AUTH-RESP-CODE capability).
    AUTH = "AUTH"


def _clean(text: str) -> bytes:
    """Response text as one safe line: CR, LF and other controls become spaces."""
    safe = "".join(ch if ch.isprintable() else " " for ch in text)
    return safe.encode("utf-8", "replace")


def _status(status: bytes, text: str, code: ResponseCode | None) -> bytes:
    line = status
    if code is not None:
        line += b" [" + code.value.encode("ascii") + b"]"
    if text:
        line += b" " + _clean(text)
    return line[: MAX_RESPONSE_LINE - len(CRLF)] + CRLF


def ok(text: str = "", code: ResponseCode | None = None) -> bytes:
    """A positive status line: `+OK text`."""
    return _status(b"+OK", text, code)


def err(text: str, code: ResponseCode | None = None) -> bytes:
    """A negative status line: `-ERR [CODE] text`."""
    return _status(b"-ERR", text, code)


def stuff_line(line: bytes) -> bytes:
    """RFC 1939 §3: a line starting with "." is sent with one more "." before it."""
    return b"." + line if line.startswith(b".") else line


def multiline(first: bytes, lines: Iterable[str]) -> bytes:
    """A whole multi-line response: the status line `first`, the stuffed lines, the end."""
    body = b"".join(stuff_line(line.encode("utf-8")) + CRLF for line in lines)
    return first + body + TERMINATOR


def challenge(data: bytes) -> bytes:
    """A SASL server challenge, `"+" SP base64 CRLF` (RFC 5034 §4); "+ " when empty."""
    return b"+ " + base64.b64encode(data) + CRLF
