"""Access control lists (RFC 4314): the rights, their text form, and what each command needs.

A right is one letter (§2.1):

    l  lookup: the mailbox is visible to LIST, LSUB and SUBSCRIBE
    r  read: SELECT, EXAMINE, STATUS, FETCH, SEARCH, COPY from
    s  keep \\Seen across sessions (STORE \\Seen, APPEND/COPY with \\Seen)
    w  write the other flags and keywords
    i  insert: APPEND and COPY/MOVE into
    p  post: send mail to the mailbox's submission address (advisory in IMAP)
    k  create mailboxes below it (CREATE, RENAME to a new parent)
    x  delete the mailbox (DELETE, RENAME away)
    t  set and clear \\Deleted
    e  expunge (EXPUNGE, the expunge part of CLOSE and MOVE)
    a  administer: SETACL, DELETEACL, GETACL, LISTRIGHTS

RFC 2086's "c" and "d" are still understood on input (§2.1.1): with RIGHTS=texk, "c"
stands for "k" and "d" for "x", "t" and "e". They are never sent back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ALL_RIGHTS = "lrswipkxtea"
"""Every right, in the order RFC 4314 §2.1 lists them (and the order they are sent in)."""

OBSOLETE = {"c": "k", "d": "xte"}
"""RFC 4314 §2.1.1: RFC 2086's create and delete rights, as the RFC 4314 rights they grant."""

RIGHTS_CAPABILITY = "RIGHTS=texk"
"""§2.1.1: the rights that replaced RFC 2086's c and d (advertised with ACL)."""

ANYONE = "anyone"
"""§2: the identifier that matches every user, authenticated or not."""

DEFAULT_MEMBER_RIGHTS = "lrswipkxte"
"""What `tidings mailbox share` and `tidings shared create` grant when not told: everything
but administering the ACL."""


class RightsError(ValueError):
    """A rights string with a letter that is no right (RFC 4314 §3.1: BAD)."""


def parse_rights(text: str) -> frozenset[str]:
    """The rights a rights string names (without a leading + or -); obsolete c and d
    expanded. RightsError naming the first unknown letter."""
    rights: set[str] = set()
    for letter in text:
        if letter in ALL_RIGHTS:
            rights.add(letter)
        elif letter in OBSOLETE:
            rights.update(OBSOLETE[letter])
        else:
            raise RightsError(f"Invalid rights: {letter!r} is not a right")
    return frozenset(rights)


def rights_text(rights: frozenset[str] | set[str]) -> str:
    """Rights as the canonical string, in ALL_RIGHTS order ("" for none)."""
    return "".join(letter for letter in ALL_RIGHTS if letter in rights)


@dataclass(frozen=True, slots=True)
class RightsChange:
    """A SETACL rights argument (RFC 4314 §3.1): "+lr" adds, "-lr" removes, "lr" replaces."""

    mode: str  # "+", "-" or "="
    rights: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> RightsChange:
        """The change `text` asks for; RightsError for an unknown letter."""
        if text[:1] in ("+", "-"):
            return cls(text[0], parse_rights(text[1:]))
        return cls("=", parse_rights(text))

    def apply(self, current: frozenset[str]) -> frozenset[str]:
        """The rights after this change to `current`."""
        if self.mode == "+":
            return current | self.rights
        if self.mode == "-":
            return current - self.rights
        return self.rights


def flag_right(flag: str) -> str:
    """The right that setting or clearing `flag` needs (RFC 4314 §4, STORE): s for \\Seen,
    t for \\Deleted, w for every other flag and keyword."""
    lowered = flag.lower()
    if lowered == "\\seen":
        return "s"
    if lowered == "\\deleted":
        return "t"
    return "w"


def missing_flag_rights(flags: Iterable[str], rights: frozenset[str]) -> str:
    """The rights (as a string) that storing `flags` needs and `rights` lacks; "" if none."""
    needed = {flag_right(flag) for flag in flags}
    return rights_text(needed - rights)


def valid_identifier(identifier: str) -> bool:
    """An identifier Tidings can grant to: `anyone` or an account address. Negative
    rights (RFC 4314 §2, a leading "-") are not supported."""
    if identifier.lower() == ANYONE:
        return True
    return "@" in identifier and not identifier.startswith("-") and " " not in identifier
