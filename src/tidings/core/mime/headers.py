"""Header blocks (RFC 5322 §2.2) scanned with byte offsets, and RFC 2047 encoded words.

The scanner mirrors Dovecot's message-header-parser: a line starting with SP/HTAB continues
the previous field, an empty line ends the block, a line without ":" is a field with no
value. Unfolded values are built as with MESSAGE_HEADER_PARSER_FLAG_CLEAN_ONELINE: line
breaks removed, continuation whitespace kept.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass

REPLACEMENT = "\ufffd"  # Dovecot turns NUL in header values into U+FFFD


@dataclass(frozen=True, slots=True)
class HeaderField:
    """One field of a header block: raw[start:end] are its bytes with folding and newline."""

    name: str
    start: int
    end: int
    value: str | None  # unfolded value, None when the line had no ":"


def decode_header_bytes(data: bytes) -> str:
    """Header octets as str: UTF-8 with surrogateescape (lossless), NUL as U+FFFD."""
    return data.decode("utf-8", "surrogateescape").replace("\0", REPLACEMENT)


def _line_end(raw: bytes, pos: int, stop: int) -> int:
    newline = raw.find(b"\n", pos, stop)
    return stop if newline < 0 else newline + 1


def _strip_newline(line: bytes) -> bytes:
    if line.endswith(b"\n"):
        line = line[:-1]
    if line.endswith(b"\r"):
        line = line[:-1]
    return line


def scan_header(
    raw: bytes, start: int, stop: int, at_boundary: Callable[[int], bool] | None = None
) -> tuple[list[HeaderField], int, bool]:
    """Scan the header block at raw[start:stop].

    Returns (fields, body_start, cut): body_start is just after the blank line (or `stop`
    when there is none). When `at_boundary(pos)` says a line is a MIME boundary, the block
    ends before the newline preceding it (RFC 2046 §5.1.1: that CRLF belongs to the
    boundary) and `cut` is True.
    """
    fields: list[HeaderField] = []
    current: tuple[int, list[bytes], str, bool] | None = None  # start, value lines, name, colon
    pos = start

    def flush(end: int) -> None:
        if current is None:
            return
        field_start, parts, name, has_colon = current
        value = decode_header_bytes(b"".join(parts)) if has_colon else None
        fields.append(HeaderField(name, field_start, end, value))

    while pos < stop:
        if at_boundary is not None and at_boundary(pos):
            end = pos
            if pos > start:
                end = pos - 1
                if end - 1 >= start and raw[end - 1] == 0x0D:
                    end -= 1
            flush(end)
            return fields, end, True
        end = _line_end(raw, pos, stop)
        line = _strip_newline(raw[pos:end])
        if not line and raw[pos:end] in (b"\n", b"\r\n"):
            flush(pos)
            return fields, end, False
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current[1].append(line)
        else:
            flush(pos)
            colon = line.find(b":")
            if colon < 0:
                current = (pos, [], decode_header_bytes(line), False)
            else:
                name = decode_header_bytes(line[:colon].rstrip(b" \t"))
                current = (pos, [line[colon + 1 :].lstrip(b" \t")], name, True)
        pos = end
    flush(stop)
    return fields, stop, False


def header_block_fields(raw: bytes, start: int, stop: int) -> list[HeaderField]:
    """The fields of the header block raw[start:stop] (already delimited)."""
    return scan_header(raw, start, stop)[0]


# --------------------------------------------------------------------- RFC 2047 decoding

# RFC 2047 §2 encoded-word = "=?" charset "?" encoding "?" encoded-text "?="
# (charset may carry an RFC 2231 §5 "*language" suffix).
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"[ \t\r\n]*")


def _charset_decode(data: bytes, charset: str) -> str:
    charset = charset.split("*", 1)[0].strip().lower()
    try:
        codecs.lookup(charset)
    except (LookupError, ValueError):
        charset = "utf-8"
    try:
        return data.decode(charset, "replace")
    except (LookupError, ValueError, TypeError):  # pragma: no cover - odd codecs
        return data.decode("utf-8", "replace")


def _decode_word(charset: str, encoding: str, text: str) -> str | None:
    raw_text = text.encode("ascii", "replace")
    try:
        if encoding in "bB":
            # RFC 2047 §4.1: base64; be lenient with missing padding.
            data = base64.b64decode(raw_text + b"=" * (-len(raw_text) % 4), validate=True)
        else:
            # RFC 2047 §4.2: "Q", "_" is a space.
            data = binascii.a2b_qp(raw_text.replace(b"_", b" "))
    except (binascii.Error, ValueError):
        return None
    return _charset_decode(data, charset)


def decode_words(value: str | bytes) -> str:
    """Decode RFC 2047 encoded words in `value`; whitespace between two adjacent encoded
    words is dropped (§6.2). Bytes are taken as UTF-8 (invalid octets replaced)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if "=?" not in value:
        return value
    out: list[str] = []
    pos = 0
    last_was_word = False
    for match in _ENCODED_WORD.finditer(value):
        between = value[pos : match.start()]
        decoded = _decode_word(match.group(1), match.group(2), match.group(3))
        if decoded is None:
            out.append(between + match.group(0))
            last_was_word = False
        else:
            if not (last_was_word and _BETWEEN_WORDS.fullmatch(between)):
                out.append(between)
            out.append(decoded)
            last_was_word = True
        pos = match.end()
    out.append(value[pos:])
    return "".join(out)


def unfold(value: str) -> str:
    """Remove line breaks of a folded value (RFC 5322 §2.2.3)."""
    return value.replace("\r", "").replace("\n", "")
