"""Mailbox name rules: normalisation of INBOX, validation, and hierarchy helpers.

Nothing here is SQLite-specific; it lives beside the backend until a second backend needs it
(then it moves to `tidings.storage`).
"""

from __future__ import annotations

from tidings.core.errors import MailError, MailErrorKind
from tidings.core.limits import Limits
from tidings.storage.api import HIERARCHY_DELIMITER

INBOX = "INBOX"
MAX_NAME_LENGTH = Limits().max_mailbox_name_length

# The character right after the delimiter: every child of "a" sorts in ["a/", "a0"), so a
# range query finds children without LIKE and its escaping of "%" and "_".
_AFTER_DELIMITER = chr(ord(HIERARCHY_DELIMITER) + 1)


def normalize(name: str) -> str:
    """`name` with its first level spelled "INBOX" if it is INBOX in any case (RFC 9051
    §5.1); Dovecot applies the same to INBOX's children ("inbox/x" is "INBOX/x")."""
    first, delimiter, rest = name.partition(HIERARCHY_DELIMITER)
    if first.isascii() and first.upper() == INBOX:
        return INBOX + delimiter + rest
    return name


def validate(name: str, max_length: int = MAX_NAME_LENGTH) -> str:
    """The normalised `name`, or MailError(CANNOT) saying why it cannot be a mailbox."""
    if not name:
        raise MailError(MailErrorKind.CANNOT, "Mailbox name is empty")
    if len(name.encode("utf-8", "surrogatepass")) > max_length:
        raise MailError(MailErrorKind.CANNOT, "Mailbox name is too long")
    if name.startswith(HIERARCHY_DELIMITER) or name.endswith(HIERARCHY_DELIMITER):
        raise MailError(MailErrorKind.CANNOT, "Mailbox name begins or ends with the delimiter")
    if HIERARCHY_DELIMITER * 2 in name:
        raise MailError(MailErrorKind.CANNOT, "Mailbox name has an empty hierarchy level")
    # C0, DEL and C1 controls: they break LIST output and mean nothing in a name.
    # RFC 6855 §3 forbids the line and paragraph separators U+2028 and U+2029 as well.
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029" for c in name):
        raise MailError(MailErrorKind.CANNOT, "Mailbox name contains control characters")
    return normalize(name)


def parents(name: str) -> list[str]:
    """The ancestors of `name`, outermost first: "a/b/c" -> ["a", "a/b"]."""
    levels = name.split(HIERARCHY_DELIMITER)
    return [HIERARCHY_DELIMITER.join(levels[:i]) for i in range(1, len(levels))]


def children_range(name: str) -> tuple[str, str]:
    """Bounds (exclusive) such that low < child < high for every descendant of `name`."""
    return name + HIERARCHY_DELIMITER, name + _AFTER_DELIMITER


def is_within(name: str, ancestor: str) -> bool:
    """Whether `name` is `ancestor` itself or one of its descendants."""
    return name == ancestor or name.startswith(ancestor + HIERARCHY_DELIMITER)
