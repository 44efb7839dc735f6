"""What SORT compares of one message's header fields (RFC 5256 §3, RFC 5957 §3), worked out
from the facts parsed at ingest and stored beside them, so that SORT of a large mailbox
reads a few short columns per message instead of decoding every message's facts (issue 5).

Strings are folded with i;unicode-casemap as Dovecot does (core/collation.py); RFC 5256's
required i;ascii-casemap gives the same order on ASCII text.
"""

from __future__ import annotations

from dataclasses import dataclass

from tidings.core.base_subject import base_subject
from tidings.core.collation import unicode_casemap
from tidings.core.mime import Address, MessageFacts, decode_words
from tidings.core.mime.text import storable


@dataclass(frozen=True, slots=True)
class SortFacts:
    """The header-derived sort values of one message."""

    sent: float  # the Date field as UTC seconds; 0.0 when there is no usable one
    subject: str  # RFC 5256 §2.1 base subject
    from_: str  # addr-mailbox of the first From address, "" without one (RFC 5256 §3)
    to: str
    cc: str
    display_from: str  # RFC 5957 §3 display name, else addr-spec, of the first From
    display_to: str


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


def sent_seconds(facts: MessageFacts) -> float:
    """The Date field of `facts` as UTC seconds, 0.0 when there is no usable one."""
    return facts.sent_date.timestamp() if facts.sent_date is not None else 0.0


def sort_facts(facts: MessageFacts) -> SortFacts:
    """The sort values of a message with these facts."""
    envelope = facts.envelope
    # storable: an 8-bit header octet (a lone surrogate) as U+FFFD, as i;unicode-casemap
    # folds it anyway, so that the values can be stored.
    return SortFacts(
        sent=sent_seconds(facts),
        subject=storable(base_subject(envelope.subject).text),
        from_=storable(_mailbox(envelope.from_)),
        to=storable(_mailbox(envelope.to)),
        cc=storable(_mailbox(envelope.cc)),
        display_from=storable(_display(envelope.from_)),
        display_to=storable(_display(envelope.to)),
    )
