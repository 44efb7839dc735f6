"""The thread root of a message, for RFC 8474 THREADID: computed once at ingest.

The rule (documented in README "Object ids"): the root is the first message-id of
`References` (RFC 5322 §3.6.4: the first one is the thread's first message, and clients keep
it when they trim the list), else the first of `In-Reply-To`, else the message's own
`Message-ID`. Every message of a thread whose replies carry References or In-Reply-To thus
names the same root, so they share one THREADID, like Cyrus's conversation ids but without a
table. A message with none of the three fields has no root (""); it is a thread of its own.
"""

from __future__ import annotations

import re

from tidings.core.mime.facts import MessageFacts
from tidings.core.mime.text import header_fields

# RFC 5322 §3.6.4 msg-id = [CFWS] "<" id-left "@" id-right ">" [CFWS]; leniently, anything
# between angle brackets without whitespace (obsolete forms lack the "@").
_MSG_ID = re.compile(r"<[^<>\s]+>")
# Longest root kept: message-ids are at most 998 octets on a line (RFC 5322 §2.1.1).
MAX_ROOT_LENGTH = 998


def _first_id(values: list[str]) -> str:
    for value in values:
        found = _MSG_ID.search(value)
        if found is not None:
            return found.group(0)[:MAX_ROOT_LENGTH]
    return ""


def thread_root(raw: bytes, facts: MessageFacts) -> str:
    """The message-id naming the thread `raw` belongs to, "" if it names none."""
    fields = header_fields(raw, facts, ("References", "In-Reply-To", "Message-ID"))
    for name in ("references", "in-reply-to", "message-id"):
        root = _first_id([value for field, value in fields if field.lower() == name])
        if root:
            return root
    return ""


__all__ = ["thread_root"]
