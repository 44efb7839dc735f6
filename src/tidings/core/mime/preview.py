"""Message preview text (RFC 8970 PREVIEW), computed once at ingest with the other facts.

RFC 8970 §3.1 leaves the algorithm to the server but asks for at most 256 characters of
UTF-8 text "useful as a contextual preview": no markup, no MIME structure. Ours:

1. The first text/plain or text/html part, walking multiparts depth first; parts with
   `Content-Disposition: attachment` and attached messages (message/rfc822) are skipped.
2. Its body decoded (transfer encoding, then charset; unknown charsets as UTF-8). Only the
   first `MAX_SCANNED_OCTETS` of the part are looked at, so a huge part costs no more than a
   small one.
3. HTML: tags dropped, `<head>`, `<script>`, `<style>` and `<blockquote>` content dropped,
   entities decoded. Plain text: quoted lines (`>`), the "On ... wrote:" line that introduces
   them and everything after a signature separator (`-- `) or Outlook's
   `-----Original Message-----` dropped.
4. Control characters removed, whitespace runs collapsed to one space, trimmed, cut to
   `PREVIEW_MAX_CHARS` characters (code points).

No text part at all gives "" (RFC 8970 §3.1: an empty string, not NIL, when there is no text).
"""

from __future__ import annotations

import contextlib
import re
from html.parser import HTMLParser

from tidings.core.mime.facts import BodyPart, MessageFacts
from tidings.core.mime.sections import UnknownTransferEncoding, decode_body

# RFC 8970 §3.1: "the server MUST NOT return more than 256 characters".
PREVIEW_MAX_CHARS = 256
# Octets of the chosen part decoded for the preview: a generous multiple of 256 characters
# (quoted text and markup are dropped), small enough that a 50 MiB part costs nothing extra.
MAX_SCANNED_OCTETS = 64 * 1024
# Nesting of multiparts walked looking for the text part (the parser bounds depth too).
MAX_PART_DEPTH = 32

_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")
_FORWARD_SEPARATOR = re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE)
_ATTRIBUTION = re.compile(r"^\s*(on\b.*|.*\bwrote|.*\bschrieb|.*\bécrit)\s*:\s*$", re.IGNORECASE)


def _text_part(part: BodyPart, depth: int = 0) -> BodyPart | None:
    if depth > MAX_PART_DEPTH:
        return None
    if part.multipart:
        for child in part.children:
            found = _text_part(child, depth + 1)
            if found is not None:
                return found
        return None
    if part.rfc822 or (part.disposition or "").lower() == "attachment":
        return None
    if part.type is None:  # no usable Content-Type: text/plain (RFC 2045 §5.2)
        return part if part.text else None
    if part.type.lower() == "text" and (part.subtype or "").lower() in ("plain", "html"):
        return part
    return None


def _charset(part: BodyPart) -> str:
    for key, value in part.params:
        if key.lower() == "charset":
            return value.strip().strip('"') or "us-ascii"
    return "us-ascii"


def _decode(raw: bytes, part: BodyPart) -> str:
    end = min(part.body_end, part.body_start + MAX_SCANNED_OCTETS)
    data = raw[part.body_start : end]
    if end < part.body_end:
        # Cut at a line end so base64 and quoted-printable decode whole lines.
        data = data[: data.rfind(b"\n") + 1] or data
    with contextlib.suppress(UnknownTransferEncoding):  # kept as it is
        data = decode_body(data, part.encoding)
    try:
        return data.decode(_charset(part), "replace")
    except (LookupError, ValueError, TypeError):
        return data.decode("utf-8", "replace")


class _HtmlText(HTMLParser):
    """Collects the visible text of an HTML document (no quoted replies)."""

    _HIDDEN = frozenset({"head", "script", "style", "title", "blockquote"})
    _BREAKS = frozenset({"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "table"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BREAKS:
            self.chunks.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and self._hidden:
            self._hidden -= 1
        elif tag in self._BREAKS:
            self.chunks.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.chunks.append(data)


def html_to_text(html: str) -> str:
    """The visible text of `html`, without tags, hidden elements and quoted blocks."""
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # pragma: no cover - HTMLParser is lenient
        pass
    return "".join(parser.chunks)


def strip_quotes(text: str) -> str:
    """Plain text without quoted lines, their attribution line and the signature."""
    lines = text.splitlines()
    kept: list[str] = []
    for index, line in enumerate(lines):
        if line.rstrip("\r") == "-- " or _FORWARD_SEPARATOR.match(line):
            break  # RFC 3676 §4.3 signature separator, or Outlook's quoted original below
        if line.lstrip().startswith(">"):
            continue
        following = next((rest for rest in lines[index + 1 :] if rest.strip()), "")
        if _ATTRIBUTION.match(line) and following.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept)


def normalise(text: str, limit: int = PREVIEW_MAX_CHARS) -> str:
    """Control characters removed, whitespace collapsed and trimmed, at most `limit`
    characters."""
    text = _WHITESPACE.sub(" ", _CONTROL.sub("", text)).strip()
    return text[:limit].rstrip()


def message_preview(raw: bytes, facts: MessageFacts) -> str:
    """The RFC 8970 preview of a message: see the module docstring. Never raises."""
    part = _text_part(facts.body)
    if part is None:
        return ""
    text = _decode(raw, part)
    if (part.subtype or "").lower() == "html":
        text = html_to_text(text)
    return normalise(strip_quotes(text))


__all__ = ["PREVIEW_MAX_CHARS", "html_to_text", "message_preview", "normalise", "strip_quotes"]
