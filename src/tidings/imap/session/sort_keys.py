"""Sort keys of one message (RFC 5256 §3, RFC 5957 §3), from the facts parsed at ingest.

Strings are folded with i;unicode-casemap as Dovecot does (core/collation.py); RFC 5256's
required i;ascii-casemap gives the same order on ASCII text. Ties are the caller's business
(RFC 5256 §3: "sorted according to the order in which they appear in the mailbox").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from tidings.core.base_subject import base_subject
from tidings.core.collation import unicode_casemap
from tidings.core.mime import Address, MessageFacts, decode_words
from tidings.imap.proto.commands import SortKey
from tidings.storage.api import MessageMeta

SortValue = float | int | str

# Keys answered from the message metadata alone, without the facts.
METADATA_KEYS = frozenset({SortKey.ARRIVAL, SortKey.SIZE})


def sent_timestamp(facts: MessageFacts, internaldate: datetime) -> float:
    """RFC 5256 §2.2: the Date field as UTC seconds, or the internal date when there is no
    usable Date (as Dovecot, also when the Date is exactly the epoch: its "unknown")."""
    moment = facts.sent_date.timestamp() if facts.sent_date is not None else 0.0
    return moment or internaldate.timestamp()


def _first(addresses: tuple[Address, ...]) -> Address | None:
    return addresses[0] if addresses else None


def _mailbox(addresses: tuple[Address, ...]) -> str:
    # RFC 5256 §3: "the [IMAP] addr-mailbox of the first" address; "" when there is none.
    first = _first(addresses)
    return unicode_casemap(first.mailbox or "") if first is not None else ""


def _display(addresses: tuple[Address, ...]) -> str:
    """RFC 5957 §3: the decoded display-name of the first address, else its addr-spec
    (mailbox@host; for a group, its name)."""
    first = _first(addresses)
    if first is None:
        return ""
    name = decode_words(first.name) if first.name else ""
    if not name:
        if first.mailbox is not None and first.host is not None:
            name = f"{first.mailbox}@{first.host}"
        else:
            name = first.mailbox or ""
    return unicode_casemap(name)


_FROM_FACTS: dict[SortKey, Callable[[MessageFacts], str]] = {
    SortKey.FROM: lambda facts: _mailbox(facts.envelope.from_),
    SortKey.TO: lambda facts: _mailbox(facts.envelope.to),
    SortKey.CC: lambda facts: _mailbox(facts.envelope.cc),
    SortKey.DISPLAYFROM: lambda facts: _display(facts.envelope.from_),
    SortKey.DISPLAYTO: lambda facts: _display(facts.envelope.to),
    SortKey.SUBJECT: lambda facts: base_subject(facts.envelope.subject).text,
}


def sort_value(key: SortKey, meta: MessageMeta, facts: MessageFacts | None) -> SortValue:
    """The value `key` compares for one message; `facts` may be None for METADATA_KEYS."""
    if key is SortKey.ARRIVAL:
        return meta.internaldate.timestamp()
    if key is SortKey.SIZE:
        return meta.size
    assert facts is not None
    if key is SortKey.DATE:
        return sent_timestamp(facts, meta.internaldate)
    return _FROM_FACTS[key](facts)


__all__ = ["METADATA_KEYS", "sent_timestamp", "sort_value"]
