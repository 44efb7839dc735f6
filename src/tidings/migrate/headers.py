"""The header fields mail programs keep IMAP flags in, over a message's lines.

A message here is a list of lines, each with its own line ending (LF or CRLF), as the mbox
reader collects them. The header section ends at the first empty line (RFC 5322 §2.1); a
message without one is all header. Fields are `name ":" value` with folded continuation
lines starting with a space or tab (RFC 5322 §2.2, §3.2.2); any other line in the header
section (8-bit garbage, a body line of a message without a separator) belongs to no field
and is left alone.

Flag fields, as read:

- `Status:` (mutt, Pine, Dovecot mbox): "R" read → \\Seen; "O" (old, not new) means nothing
  in IMAP and is ignored.
- `X-Status:` (the same programs): "A" answered, "F" flagged, "T" draft, "D" deleted.
- `X-Keywords:` (Dovecot mbox): keywords separated by white space.
- `X-Mozilla-Status:` (Thunderbird): four hex digits; bit 0x0001 read, 0x0002 replied,
  0x0004 marked (flagged), 0x0008 expunged (deleted). `X-Mozilla-Keys:` holds Thunderbird's
  tags, white-space separated and padded with spaces so it can be rewritten in place.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from tidings.migrate.source import ANSWERED, DELETED, DRAFT, FLAGGED, SEEN, is_keyword

# RFC 5322 §3.6.8: field-name = 1*ftext, ftext = %d33-57 / %d59-126; white space before the
# colon is the obsolete syntax of §4.5, still met in old mbox files.
_FIELD_RE = re.compile(rb"([!-9;-~]+)[ \t]*:")
_BLANK = (b"\n", b"\r\n")
_WSP = (b" ", b"\t")

# The fields `write_mbox` writes to carry flags, and `read_mbox(strip_status_headers=True)`
# removes again.
FLAG_FIELDS = frozenset({b"status", b"x-status", b"x-keywords"})

_X_STATUS = {"A": ANSWERED, "F": FLAGGED, "T": DRAFT, "D": DELETED}
_MOZILLA_BITS = {0x0001: SEEN, 0x0002: ANSWERED, 0x0004: FLAGGED, 0x0008: DELETED}


@dataclass(frozen=True, slots=True)
class Field:
    """One header field: lines [start, stop) of the message, lower-case name, unfolded value."""

    start: int
    stop: int
    name: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class HeaderFlags:
    """The flags found in a header section, and keywords too malformed to keep."""

    flags: frozenset[str]
    bad_keywords: tuple[str, ...]


def header_end(lines: Sequence[bytes]) -> int:
    """The index of the empty line that ends the header section, or len(lines) if none."""
    for index, line in enumerate(lines):
        if line in _BLANK:
            return index
    return len(lines)


def header_length(data: bytes) -> int:
    """The length of the header section of `data`: up to the empty line that ends it.

    The whole of `data` when it has no empty line (a message without a body separator).
    """
    if data.startswith(_BLANK):
        return 0
    ends = [found + 1 for found in (data.find(b"\n\n"), data.find(b"\n\r\n")) if found >= 0]
    return min(ends, default=len(data))


def split_lines(data: bytes) -> list[bytes]:
    """`data` as lines split at LF only, each keeping its line ending (lone CRs stay inside)."""
    lines = [line + b"\n" for line in data.split(b"\n")]
    last = lines.pop()  # what follows the final LF: nothing, or an unterminated last line
    if last != b"\n":
        lines.append(last[:-1])
    return lines


def iter_fields(lines: Sequence[bytes], end: int) -> Iterator[Field]:
    """The header fields among lines [0, end), each with its continuation lines."""
    index = 0
    while index < end:
        match = _FIELD_RE.match(lines[index])
        if match is None:
            index += 1
            continue
        stop = index + 1
        while stop < end and lines[stop][:1] in _WSP:
            stop += 1
        first = lines[index][match.end() :]
        value = b"".join(line.rstrip(b"\r\n") for line in (first, *lines[index + 1 : stop]))
        yield Field(index, stop, match.group(1).lower(), value.strip())
        index = stop


def strip_fields(lines: list[bytes], names: frozenset[bytes]) -> list[bytes]:
    """`lines` without the header fields named `names` (lower case), continuations included."""
    end = header_end(lines)
    drop = [field for field in iter_fields(lines, end) if field.name in names]
    if not drop:
        return lines
    kept: list[bytes] = []
    position = 0
    for field in drop:
        kept.extend(lines[position : field.start])
        position = field.stop
    kept.extend(lines[position:])
    return kept


def header_flags(fields: Sequence[Field], *, mozilla: bool) -> HeaderFlags:
    """The IMAP flags the flag fields among `fields` carry (see the module docstring)."""
    flags: set[str] = set()
    words: list[str] = []
    for field in fields:
        text = field.value.decode("ascii", "replace")
        if field.name == b"status" and "R" in text:
            flags.add(SEEN)
        elif field.name == b"x-status":
            flags.update(_X_STATUS[char] for char in text if char in _X_STATUS)
        elif field.name == b"x-keywords" or (mozilla and field.name == b"x-mozilla-keys"):
            words.extend(text.split())
        elif mozilla and field.name == b"x-mozilla-status":
            flags.update(_mozilla_flags(text))
    bad = tuple(word for word in words if not is_keyword(word))
    flags.update(word for word in words if is_keyword(word))
    return HeaderFlags(frozenset(flags), bad)


def _mozilla_flags(text: str) -> set[str]:
    try:
        bits = int(text, 16)
    except ValueError:
        return set()
    return {flag for bit, flag in _MOZILLA_BITS.items() if bits & bit}
