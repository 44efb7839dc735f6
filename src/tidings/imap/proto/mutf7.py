"""Modified UTF-7 for IMAP4rev1 mailbox names (RFC 3501 §5.1.3).

    Printable US-ASCII (0x20-0x7E) except "&" stands for itself; "&" is "&-". Any other run
    of characters is "&", the modified BASE64 (RFC 2152, "," for "/", no padding) of its
    UTF-16BE form, then "-".

The encoding is canonical: `decode_mutf7` refuses every input that `encode_mutf7` would not
produce (an encoded printable character, two adjacent encoded runs, stray bits), since two
spellings of one name would let a client create look-alike mailboxes.
"""

from __future__ import annotations

import base64
import binascii
import re

_PRINTABLE = range(0x20, 0x7F)
_RUN_RE = re.compile(r"&([A-Za-z0-9+,]*)-")


def _b64encode(text: str) -> str:
    raw = text.encode("utf-16-be")
    return base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",")


def encode_mutf7(name: str) -> str:
    """`name` in modified UTF-7; ValueError if it holds a lone surrogate."""
    out: list[str] = []
    pending: list[str] = []  # a run of characters to encode together
    for char in name:
        if ord(char) in _PRINTABLE:
            if pending:
                out.append(f"&{_encode_run(pending)}-")
                pending = []
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    if pending:
        out.append(f"&{_encode_run(pending)}-")
    return "".join(out)


def _encode_run(chars: list[str]) -> str:
    try:
        return _b64encode("".join(chars))
    except UnicodeEncodeError:
        raise ValueError("mailbox name holds a lone surrogate") from None


def decode_mutf7(name: str) -> str:
    """The Unicode name a modified UTF-7 `name` stands for; ValueError if it is invalid."""
    out: list[str] = []
    pos = 0
    while pos < len(name):
        char = name[pos]
        if ord(char) not in _PRINTABLE:
            raise ValueError(f"invalid character {char!r} in modified UTF-7")
        if char != "&":
            out.append(char)
            pos += 1
            continue
        match = _RUN_RE.match(name, pos)
        if match is None:
            raise ValueError("'&' not followed by modified BASE64 and '-'")
        run = match.group(1)
        out.append(_decode_run(run) if run else "&")
        pos = match.end()
    decoded = "".join(out)
    # Canonical form only (see the module docstring).
    if encode_mutf7(decoded) != name:
        raise ValueError(f"non-canonical modified UTF-7: {name!r}")
    return decoded


def _decode_run(run: str) -> str:
    padded = run.replace(",", "/") + "=" * (-len(run) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
        return raw.decode("utf-16-be")
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError(f"invalid modified BASE64 run {run!r}") from None
