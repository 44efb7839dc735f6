"""LMTP replies: a reply code, an enhanced status code and text, encoded and parsed.

    Reply-line = *( Reply-code "-" [ textstring ] CRLF )
                 Reply-code [ SP textstring ] CRLF               (RFC 5321 §4.2)
    status-code = class "." subject "." detail                   (RFC 3463 §2)

With ENHANCEDSTATUSCODES (RFC 2034 §3) every line of a reply starts its text with the
enhanced code, except the greeting and the LHLO reply, which carry none (as Dovecot's).
`encode` and `parse_reply` are mirror images: `parse_reply(r.encode()) == (r, b"")`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CRLF = b"\r\n"

# RFC 3463 §2: class "." subject "." detail; class is 2, 4 or 5.
_ENHANCED_RE = re.compile(r"[245]\.[0-9]{1,3}\.[0-9]{1,3}\Z")
_LINE_RE = re.compile(rb"([2-5][0-9][0-9])(?:([ -])(.*))?\Z", re.DOTALL)
# Reply text is sent as it is; characters that would break the line framing are replaced.
_UNSAFE_TEXT_RE = re.compile(r"[\x00-\x1f\x7f]")


class ReplySyntaxError(ValueError):
    """Bytes that are not an LMTP reply (only tests and clients parse replies)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """One (possibly multi-line) reply: `code` (RFC 5321 §4.2.3), `enhanced` (RFC 3463,
    None for the greeting and LHLO) and one text per line."""

    code: int
    enhanced: str | None
    lines: tuple[str, ...]

    def __post_init__(self) -> None:
        if not 200 <= self.code <= 599:
            raise ValueError(f"reply code {self.code} is not 2xx-5xx")
        if self.enhanced is not None:
            if not _ENHANCED_RE.match(self.enhanced):
                raise ValueError(f"bad enhanced status code {self.enhanced!r}")
            if self.enhanced[0] != str(self.code)[0] and self.code // 100 != 3:
                # RFC 3463 §3.1: the class of the enhanced code matches the reply's.
                raise ValueError(f"{self.enhanced} does not match reply code {self.code}")
        if not self.lines:
            raise ValueError("a reply has at least one line")

    @property
    def is_positive(self) -> bool:
        """2xx or 3xx (RFC 5321 §4.2.1)."""
        return self.code < 400

    def encode(self) -> bytes:
        """The reply as it goes on the wire, each line ended by CRLF."""
        out = bytearray()
        last = len(self.lines) - 1
        for index, text in enumerate(self.lines):
            separator = "-" if index < last else " "
            parts = [p for p in (self.enhanced, _UNSAFE_TEXT_RE.sub("?", text)) if p]
            line = f"{self.code}{separator}{' '.join(parts)}".rstrip(" ")
            out += line.encode("utf-8") + CRLF
        return bytes(out)


def reply(code: int, enhanced: str | None, *lines: str) -> Reply:
    """Shorthand: reply(250, "2.0.0", "OK")."""
    return Reply(code, enhanced, tuple(lines))


def parse_reply(data: bytes) -> tuple[Reply, bytes]:
    """The first complete reply in `data` and the bytes after it.

    `enhanced` is taken from the first line when every line starts with the same code.
    Raises ReplySyntaxError when `data` does not start with a complete reply.
    """
    codes: list[bytes] = []
    texts: list[str] = []
    rest = data
    while True:
        line, found, after = rest.partition(CRLF)
        if not found:
            raise ReplySyntaxError("incomplete reply")
        match = _LINE_RE.match(line)
        if match is None or (codes and match.group(1) != codes[0]):
            raise ReplySyntaxError(f"not a reply line: {line!r}")
        codes.append(match.group(1))
        texts.append((match.group(3) or b"").decode("utf-8"))
        rest = after
        if match.group(2) != b"-":
            break
    return _with_enhanced(int(codes[0]), texts), rest


def _with_enhanced(code: int, texts: list[str]) -> Reply:
    firsts = {text.split(" ", 1)[0] for text in texts}
    if len(firsts) == 1:
        (candidate,) = firsts
        if _ENHANCED_RE.match(candidate) and candidate[0] == str(code)[0]:
            stripped = tuple(text[len(candidate) + 1 :] for text in texts)
            return Reply(code, candidate, stripped)
    return Reply(code, None, tuple(texts))
