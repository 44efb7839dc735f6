"""The base subject of a message (RFC 5256 §2.1), used by SORT SUBJECT and by both THREAD
algorithms. A pure function: the raw Subject value in, the base subject out.

The ABNF of RFC 5256 §5 that the steps below refer to:

    subj-refwd      = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
    subj-blob       = "[" *BLOBCHAR "]" *WSP
    subj-fwd-hdr    = "[fwd:"
    subj-fwd-trl    = "]"
    subj-leader     = (*subj-blob subj-refwd) / WSP
    subj-trailer    = "(fwd)" / WSP
    BLOBCHAR        = %x01-5a / %x5c / %x5e-ff   ; any CHAR8 except '[' and ']'

The literals are case-insensitive (RFC 5234 §2.3). Step (1) folds the text with the
comparator first, as Dovecot's imap_get_base_subject_cased does, so the result is ready to be
compared with `<` and `==`; pass `fold=str` to keep the original case.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tidings.core.collation import ascii_casemap, unicode_casemap
from tidings.core.mime.headers import decode_words

# RFC 5256 §2.1 step (1): "Convert all tabs and continuations to space. Convert all multiple
# spaces to a single space." Continuations are the CR LF of folded lines.
_WHITESPACE = re.compile(r"[ \t\r\n]+")


@dataclass(frozen=True, slots=True)
class BaseSubject:
    """The base subject text and whether the subject marked a reply or a forward: a
    subj-refwd leader, a "(fwd)" trailer or a "[fwd: ...]" wrapper was removed (what
    THREAD=REFERENCES step (5) calls "a reply or forward")."""

    text: str
    is_reply_or_forward: bool


def _is(text: str, pos: int, literal: str) -> bool:
    """Whether `literal` (upper-case ASCII) is at text[pos:], ignoring ASCII case."""
    return ascii_casemap(text[pos : pos + len(literal)]) == literal


def _blob_end(text: str, pos: int) -> int | None:
    """The end of the subj-blob at text[pos] ("[" *BLOBCHAR "]" *WSP), or None."""
    if not text.startswith("[", pos):
        return None
    close = pos + 1
    while close < len(text) and text[close] not in "[]":
        close += 1
    if close >= len(text) or text[close] != "]":
        return None
    end = close + 1
    # Whitespace is packed to single spaces by step (1), so *WSP is at most one space.
    return end + 1 if text.startswith(" ", end) else end


def _remove_trailers(text: str, start: int) -> tuple[str, bool]:
    """Step (2): drop trailing subj-trailer ("(fwd)" / WSP), repeatedly."""
    end = len(text)
    forwarded = False
    while end > start:
        if text[end - 1] == " ":
            end -= 1
        elif end - 5 >= start and _is(text, end - 5, "(FWD)"):
            end -= 5
            forwarded = True
        else:
            break
    return text[:end], forwarded


def _refwd_end(text: str, pos: int) -> int | None:
    """The end of `*subj-blob subj-refwd` at text[pos], or None if there is none."""
    while text.startswith("[", pos):
        blob = _blob_end(text, pos)
        if blob is None:
            return None
        pos = blob
    for word in ("RE", "FWD", "FW"):  # "fw" ["d"]: try the longer form first
        if _is(text, pos, word):
            pos += len(word)
            break
    else:
        return None
    if text.startswith(" ", pos):
        pos += 1
    if text.startswith("[", pos):
        blob = _blob_end(text, pos)
        if blob is None:
            return None
        pos = blob
    return pos + 1 if text.startswith(":", pos) else None


def _strip_leaders(text: str, pos: int) -> tuple[int, bool]:
    """Steps (3) to (5): remove subj-leader prefixes and, where something is left after
    them, subj-blob prefixes, until neither matches. Returns (new start, saw a subj-refwd)."""
    replied = False
    while True:
        found = False
        # (3) subj-leader = (*subj-blob subj-refwd) / WSP
        if text.startswith(" ", pos):
            pos += 1
            found = True
        refwd = _refwd_end(text, pos)
        if refwd is not None:
            pos = refwd
            found = replied = True
        # (4) a subj-blob prefix, if removing it leaves a non-empty subj-base
        blob = _blob_end(text, pos)
        if blob is not None and blob < len(text):
            pos = blob
            found = True
        # (5) repeat (3) and (4) until no matches remain
        if not found:
            return pos, replied


def base_subject(
    subject: str | bytes | None, fold: Callable[[str], str] = unicode_casemap
) -> BaseSubject:
    """RFC 5256 §2.1: the base subject of the raw (undecoded, possibly folded) Subject value.
    None (no Subject field) gives the empty base subject."""
    if subject is None:
        return BaseSubject("", False)
    # (1) RFC 2047 encoded words to Unicode (§3 of RFC 5256: UTF-8), fold for comparison,
    # tabs and continuations to space, runs of spaces to one.
    text = _WHITESPACE.sub(" ", fold(decode_words(subject)))
    marked = False
    pos = 0
    while True:
        # (2) trailers; (3)-(5) leaders and blobs
        text, forwarded = _remove_trailers(text, pos)
        pos, replied = _strip_leaders(text, pos)
        marked = marked or forwarded or replied
        # (6) "[fwd:" ... "]" around the whole rest: remove both and repeat from (2)
        if _is(text, pos, "[FWD:") and text.endswith("]") and len(text) - pos >= 6:
            text = text[:-1]
            pos += 5
            marked = True
            continue
        # (7) what is left is the base subject
        return BaseSubject(text[pos:], marked)


__all__ = ["BaseSubject", "base_subject"]
