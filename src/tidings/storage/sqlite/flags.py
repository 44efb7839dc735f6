"""Flags as stored: system flags in a bitmask, keywords in a space-separated text.

System flags are normalised to their canonical case (RFC 9051 §2.3.2 flags are
case-insensitive). Keywords keep the spelling they were first seen with in a mailbox and are
compared case-insensitively, as Dovecot does. `\\Recent` is never stored: it is session state,
tracked by each mailbox's recent floor.
"""

from __future__ import annotations

from collections.abc import Iterable

SYSTEM_FLAGS: tuple[str, ...] = ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")
_BITS: dict[str, int] = {flag.lower(): 1 << i for i, flag in enumerate(SYSTEM_FLAGS)}
SEEN = _BITS["\\seen"]
DELETED = _BITS["\\deleted"]
ALL_SYSTEM = (1 << len(SYSTEM_FLAGS)) - 1


def split_flags(flags: Iterable[str]) -> tuple[int, dict[str, str]]:
    """(system-flag bits, {folded keyword: keyword as given}) for client-supplied flags.

    `\\Recent` and unknown backslash flags (RFC 9051 `flag-extension`, reserved for future
    standards) are dropped: they cannot be set by a client.
    """
    bits = 0
    keywords: dict[str, str] = {}
    for flag in flags:
        folded = flag.lower()
        if folded.startswith("\\"):
            bits |= _BITS.get(folded, 0)
        elif flag:
            keywords.setdefault(folded, flag)
    return bits, keywords


def encode_keywords(keywords: Iterable[str]) -> str:
    """Stored form of canonical keywords: sorted case-insensitively, space-separated."""
    return " ".join(sorted(keywords, key=str.lower))


def decode_keywords(text: str) -> list[str]:
    """The canonical keywords of a stored text."""
    return text.split() if text else []


class FlagDecoder:
    """Turns stored (bits, keywords) into frozensets, sharing equal sets: a mailbox has
    few distinct flag combinations, so SELECT of a large mailbox builds only a few sets."""

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[tuple[int, str], frozenset[str]] = {}

    def __call__(self, bits: int, keywords: str) -> frozenset[str]:
        """The flag set for stored `bits` and `keywords`."""
        key = (bits, keywords)
        found = self._cache.get(key)
        if found is None:
            system = [flag for i, flag in enumerate(SYSTEM_FLAGS) if bits & (1 << i)]
            found = frozenset(system + decode_keywords(keywords))
            self._cache[key] = found
        return found
