"""Flag names (RFC 9051 §2.3.2): system flags are case-insensitive and canonicalised."""

from __future__ import annotations

from collections.abc import Iterable

from tidings.imap.session.core import CommandFailed

SYSTEM_FLAGS = frozenset({"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"})
_CANONICAL = {flag.lower(): flag for flag in SYSTEM_FLAGS | {"\\Recent"}}


def normalise_flags(flags: Iterable[str], *, allow_recent: bool = False) -> frozenset[str]:
    """Canonical system flags and keywords; CommandFailed(BAD) for unknown system flags.

    `\\Recent` may not be stored (RFC 3501 §2.3.2); APPEND ignores it (`allow_recent`).
    """
    result = set()
    for flag in flags:
        if flag.startswith("\\"):
            canonical = _CANONICAL.get(flag.lower())
            if canonical is None or (canonical == "\\Recent" and not allow_recent):
                raise CommandFailed(f"Invalid system flag {flag}", status="BAD")
            result.add(canonical)
        else:
            result.add(flag)
    return frozenset(result)
