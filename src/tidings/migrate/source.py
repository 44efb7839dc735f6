"""The records every migration reader yields and every writer takes, and line-ending rules.

IMAP stores messages with CRLF line endings (RFC 9051 §2.3.1: a message is a sequence of
CRLF-terminated lines), while mbox files and Maildirs on Unix normally hold LF. `to_crlf`
and `to_lf` are the two directions; they are inverses for any message whose every LF is
preceded by a CR and which has no CR directly before a CRLF (a line ending in a lone CR):
such a CR cannot be told apart from a CRLF once the file is written with LF endings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tidings.imap.proto.lexer import ATOM_CHARS

SEEN = "\\Seen"
ANSWERED = "\\Answered"
FLAGGED = "\\Flagged"
DELETED = "\\Deleted"
DRAFT = "\\Draft"
SYSTEM_FLAGS = frozenset({SEEN, ANSWERED, FLAGGED, DELETED, DRAFT})


@dataclass(frozen=True, slots=True)
class SourceMessage:
    """One message read from (or to be written to) a mail file.

    `raw` is the message with CRLF line endings, otherwise byte for byte as stored. `flags`
    are IMAP flags: system flags with their backslash (`\\Seen`), keywords as given.
    `internaldate` is the IMAP INTERNALDATE (RFC 9051 §2.3.3), None if the source has none.
    `mailbox` is a Tidings mailbox name ("/" is the hierarchy separator); `labels` are every
    mailbox the message belongs to when the source has several (Gmail), `mailbox` first.
    `uid` is the UID the source gave the message, if any.
    """

    raw: bytes
    flags: frozenset[str]
    internaldate: datetime | None
    mailbox: str
    uid: int | None = None
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """Something a reader skipped or repaired: `where` (a path, or path:line) and why."""

    where: str
    reason: str


def is_keyword(name: str) -> bool:
    """True if `name` is an IMAP flag-keyword: a non-empty atom (RFC 9051 §9, flag-keyword)."""
    return bool(name) and all(ord(char) in ATOM_CHARS for char in name)


def to_crlf(data: bytes) -> bytes:
    """`data` with every LF not already preceded by a CR made CRLF; lone CRs are kept."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def to_lf(data: bytes) -> bytes:
    """`data` with every CRLF made LF; lone CRs and LFs are kept."""
    return data.replace(b"\r\n", b"\n")
