"""Decoding what MIME header parameters and text bodies say in their own charsets: RFC 2231
parameter values, RFC 2047 words in (non-standard, but common) quoted values, and text bodies
in the charset their Content-Type names. Shared by SEARCH text and attachment detection."""

from __future__ import annotations

from tidings.core.mime.facts import BodyPart, Params
from tidings.core.mime.headers import decode_words


def part_charset(part: BodyPart) -> str:
    """The charset parameter of a text part; us-ascii (RFC 2046 §4.1.2) when absent."""
    for key, value in part.params:
        if key.lower() == "charset":
            return value.strip() or "us-ascii"
    return "us-ascii"


def decode_charset(data: bytes, charset: str) -> str:
    """`data` decoded from `charset`, undecodable bytes replaced."""
    try:
        return data.decode(charset, "replace")
    except (LookupError, ValueError, TypeError):
        # Unknown charsets: UTF-8 is the best guess for mail written this century.
        return data.decode("utf-8", "replace")


def decoded_param(params: Params, name: str) -> str | None:
    """A parameter value with RFC 2231 §4 charset/percent decoding undone (BodyPart keeps
    Dovecot's merged `name*` form for BODYSTRUCTURE), None if absent."""
    lname = name.lower()
    for key, value in params:
        if key.lower() == lname:
            return decode_words(value)
        if key.lower() == lname + "*":
            charset, _, rest = value.partition("'")
            _, _, encoded = rest.partition("'")
            data = _percent_decode(encoded if rest else value)
            return decode_charset(data, charset or "us-ascii")
    return None


def _percent_decode(text: str) -> bytes:
    out = bytearray()
    data = text.encode("utf-8", "surrogateescape")
    i = 0
    while i < len(data):
        if data[i] == 0x25 and _is_hex(data[i + 1 : i + 3]):
            out.append(int(data[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(data[i])
            i += 1
    return bytes(out)


def _is_hex(pair: bytes) -> bool:
    return len(pair) == 2 and all(c in b"0123456789abcdefABCDEF" for c in pair)


__all__ = ["decode_charset", "decoded_param", "part_charset"]
