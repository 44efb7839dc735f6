"""Google Takeout's `X-Gmail-Labels:` field: Gmail labels as mailboxes and flags.

Takeout exports All Mail as one mbox and records each message's labels in the field,
comma-separated, with a label that holds a comma or a quote in a quoted-string
(`Inbox,"Work, old",Starred`) and a non-ASCII label as raw UTF-8 or RFC 2047 encoded-words.
Gmail has no separate read or flagged state: both are labels ("Unread", "Starred"). The
mapping to Tidings:

- "Unread" present → not \\Seen; absent → \\Seen. "Starred" → \\Flagged.
- "Important", "Opened" and the tab labels "Category Social" etc. are Gmail's own sorting
  and are dropped.
- "Inbox" → INBOX; "Sent", "Drafts", "Trash" keep their names; "Spam" → "Junk" (the RFC 6154
  \\Junk mailbox's usual name); "Archived" (what newer exports put on a message outside the
  Inbox) → "Archive".
- Every other label is a mailbox of that name: Gmail nests labels with "/", as Tidings nests
  mailboxes. Empty levels ("a//b", a trailing "/") are dropped.
- A message left with no mailbox goes to "Archive", Gmail's All Mail.

INBOX comes first among the mailboxes when present (a message in the inbox is inbox mail
first of all), the rest in the field's order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.header import decode_header, make_header

from tidings.migrate.source import FLAGGED, SEEN

ARCHIVE = "Archive"
_RENAMED = {
    "sent": "Sent",
    "drafts": "Drafts",
    "trash": "Trash",
    "spam": "Junk",
    "archived": ARCHIVE,
}
_DROPPED = frozenset({"important", "opened", "unread", "starred"})
# RFC 2047 §2: encoded-word = "=?" charset "?" encoding "?" encoded-text "?=". Matched whole so
# that a comma inside one (allowed in the Q encoding) does not split the label.
_ENCODED_WORD_RE = re.compile(r"=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=")


@dataclass(frozen=True, slots=True)
class GmailState:
    """What a message's labels say: its mailboxes (first is the main one) and flags."""

    mailboxes: tuple[str, ...]
    flags: frozenset[str]


def split_labels(value: bytes) -> list[str]:
    """The labels of an `X-Gmail-Labels:` value, unquoted and decoded, empty ones dropped."""
    text = value.decode("utf-8", "replace")
    labels: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == ",":
            labels.append("".join(current))
            current = []
            index += 1
        elif char == '"':
            index = _take_quoted(text, index + 1, current)
        elif (match := _ENCODED_WORD_RE.match(text, index)) is not None:
            current.append(match.group())
            index = match.end()
        else:
            current.append(char)
            index += 1
    labels.append("".join(current))
    decoded = (_decode_words(label.strip()) for label in labels)
    return [label for label in decoded if label]


def _take_quoted(text: str, index: int, out: list[str]) -> int:
    """Append the quoted-string starting after its '"' at `index`; the index after it."""
    while index < len(text) and text[index] != '"':
        if text[index] == "\\" and index + 1 < len(text):
            index += 1
        out.append(text[index])
        index += 1
    return index + 1


def _decode_words(label: str) -> str:
    if "=?" not in label:
        return label
    try:
        return str(make_header(decode_header(label))).strip()
    except (HeaderParseError, LookupError, UnicodeError):
        return label


def gmail_state(labels: list[str]) -> GmailState:
    """The mailboxes and flags `labels` map to (see the module docstring)."""
    folded = {label.casefold() for label in labels}
    flags = set() if "unread" in folded else {SEEN}
    if "starred" in folded:
        flags.add(FLAGGED)
    mailboxes: list[str] = []
    for label in labels:
        mailbox = _mailbox(label)
        if mailbox is not None and mailbox not in mailboxes:
            mailboxes.append(mailbox)
    if "INBOX" in mailboxes:
        mailboxes.remove("INBOX")
        mailboxes.insert(0, "INBOX")
    return GmailState(tuple(mailboxes or [ARCHIVE]), frozenset(flags))


def _mailbox(label: str) -> str | None:
    key = label.casefold()
    if key in _DROPPED or key.startswith("category "):
        return None
    if key == "inbox":
        return "INBOX"
    if key in _RENAMED:
        return _RENAMED[key]
    return "/".join(level for level in label.split("/") if level.strip()) or None
