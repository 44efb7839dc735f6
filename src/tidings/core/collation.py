"""String comparators for SORT and THREAD (RFC 5256 §3 "Internationalization
Considerations", RFC 4790 collations, RFC 5051 i;unicode-casemap).

RFC 5256 asks for i;ascii-casemap at least. Dovecot sorts with i;unicode-casemap as its
lib-charset implements it (`uni_utf8_to_decomposed_titlecase`): every character is mapped to
its simple titlecase, then decomposed (compatibility decompositions included), and the results
are compared octet by octet. For ASCII both comparators give the same order (a-z map to A-Z);
for everything else Tidings follows Dovecot (tests/differential/DEVIATIONS.md).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache


def ascii_casemap(text: str) -> str:
    """i;ascii-casemap (RFC 4790 §9.2): a-z folded to A-Z, every other character as is."""
    return text.translate(_ASCII_UPPER)


_ASCII_UPPER = {code: code - 32 for code in range(ord("a"), ord("z") + 1)}


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    if "\udc80" <= char <= "\udcff":
        # An octet that was not UTF-8 (kept by surrogateescape): Dovecot puts U+FFFD.
        return "\ufffd"
    # Simple titlecase mapping (UnicodeData field 14, else the simple uppercase): Python's
    # str.title() and str.upper() give the full mappings, which differ only where the full
    # mapping is several characters ("ß" -> "Ss"); the simple mapping keeps those as they are.
    titled = char.title()
    if len(titled) != 1:
        upper = char.upper()
        titled = upper if len(upper) == 1 else char
    return unicodedata.normalize("NFKD", titled)


def unicode_casemap(text: str) -> str:
    """i;unicode-casemap (RFC 5051) as Dovecot computes it: titlecase, then decompose, per
    character. Compare the results with plain `<` (code point order = UTF-8 octet order)."""
    if text.isascii():
        return text.upper()
    return "".join(_fold_char(char) for char in text)


__all__ = ["ascii_casemap", "unicode_casemap"]
