"""Sort keys of one message (RFC 5256 §3, RFC 5957 §3), from its metadata and its
SortFacts (tidings/core/sort_facts.py, worked out at ingest). Ties are the caller's business
(RFC 5256 §3: "sorted according to the order in which they appear in the mailbox").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from tidings.core.sort_facts import SortFacts
from tidings.imap.proto.commands import SortKey
from tidings.storage.api import MessageMeta

SortValue = float | int | str

# Keys answered from the message metadata alone, without the facts.
METADATA_KEYS = frozenset({SortKey.ARRIVAL, SortKey.SIZE})


def sent_timestamp(sent: float, internaldate: datetime) -> float:
    """RFC 5256 §2.2: the Date field as UTC seconds (`sent`, 0.0 when unusable), or the
    internal date when there is no usable Date (as Dovecot, also when the Date is exactly
    the epoch: its "unknown")."""
    return sent or internaldate.timestamp()


_FROM_FACTS: dict[SortKey, Callable[[SortFacts], str]] = {
    SortKey.FROM: lambda facts: facts.from_,
    SortKey.TO: lambda facts: facts.to,
    SortKey.CC: lambda facts: facts.cc,
    SortKey.DISPLAYFROM: lambda facts: facts.display_from,
    SortKey.DISPLAYTO: lambda facts: facts.display_to,
    SortKey.SUBJECT: lambda facts: facts.subject,
}


def sort_value(key: SortKey, meta: MessageMeta, facts: SortFacts | None) -> SortValue:
    """The value `key` compares for one message; `facts` may be None for METADATA_KEYS."""
    if key is SortKey.ARRIVAL:
        return meta.internaldate.timestamp()
    if key is SortKey.SIZE:
        return meta.size
    assert facts is not None
    if key is SortKey.DATE:
        return sent_timestamp(facts.sent, meta.internaldate)
    return _FROM_FACTS[key](facts)


__all__ = ["METADATA_KEYS", "sent_timestamp", "sort_value"]
