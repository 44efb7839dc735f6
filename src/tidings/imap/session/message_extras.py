"""Per-message data of RFC 8474 (EMAILID, THREADID), RFC 8514 (SAVEDATE) and RFC 8970
(PREVIEW) for FETCH and SEARCH: read for all requested messages in one storage call each,
before the per-message loop, instead of once per message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from tidings.core.errors import MailError, MailErrorKind
from tidings.core.mime import message_preview
from tidings.imap.proto import commands as c
from tidings.imap.proto import responses as r
from tidings.storage.api import MailStore, MessageObjectIds, TextHits, TextScope

A = c.SimpleAttribute
OBJECT_ID_ATTRIBUTES = frozenset({A.EMAILID, A.THREADID})
EXTRA_ATTRIBUTES = frozenset({*OBJECT_ID_ATTRIBUTES, A.SAVEDATE})


@dataclass(slots=True)
class MessageExtras:
    """What FETCH/SEARCH read up front: ids, save dates and previews by UID."""

    object_ids: dict[int, MessageObjectIds] = field(default_factory=dict)
    savedates: dict[int, datetime | None] = field(default_factory=dict)
    previews: dict[int, str | None] = field(default_factory=dict)
    # The full-text index's answers for SEARCH BODY, TEXT and HEADER, by (folded string,
    # scope): see search_scope.
    text_hits: dict[tuple[str, TextScope], TextHits] = field(default_factory=dict)


def is_extra(item: c.FetchItem) -> bool:
    """Whether `encode_extra` answers this fetch item."""
    if isinstance(item, c.FetchAttribute):
        return item.attribute in EXTRA_ATTRIBUTES
    return isinstance(item, c.FetchPreview)


async def _previews(
    store: MailStore, mailbox_id: int, uids: Sequence[int], lazy: bool
) -> dict[int, str | None]:
    # RFC 8970 §3.2: LAZY answers NIL for a preview not computed yet (facts stored before
    # previews existed); without LAZY it is computed now from the stored message.
    previews: dict[int, str | None] = {}
    for uid in uids:
        try:
            facts = await store.read_facts(mailbox_id, uid)
            if facts.preview is None and not lazy:
                raw = await store.read_message(mailbox_id, uid)
                facts = replace(facts, preview=message_preview(raw, facts))
        except MailError as error:
            if error.kind is not MailErrorKind.EXPUNGED:
                raise
            continue  # FETCH reports the message as gone
        previews[uid] = facts.preview
    return previews


async def load_for_fetch(
    store: MailStore, mailbox_id: int, items: Iterable[c.FetchItem], uids: Sequence[int]
) -> MessageExtras:
    """The extras `items` need for `uids` (nothing is read for items that need none)."""
    wanted = {item.attribute for item in items if isinstance(item, c.FetchAttribute)}
    previews = [item for item in items if isinstance(item, c.FetchPreview)]
    extras = MessageExtras()
    if wanted & OBJECT_ID_ATTRIBUTES:
        extras.object_ids = await store.object_ids(mailbox_id, uids)
    if A.SAVEDATE in wanted:
        extras.savedates = await store.savedates(mailbox_id, uids)
    if previews:
        lazy = all(item.lazy for item in previews)
        extras.previews = await _previews(store, mailbox_id, uids, lazy)
    return extras


def _preview_string(text: str) -> bytes:
    # RFC 8970 §3.1: UTF-8 text; quoted when plain ASCII, else a literal (no quoted string
    # may carry 8-bit octets for a rev1 client).
    return r.string(text)


def encode_extra(item: c.FetchItem, uid: int, extras: MessageExtras) -> bytes:
    """`EMAILID (id)`, `THREADID (id)`, `SAVEDATE "date"` or `PREVIEW text` for one message;
    NIL where the value is unknown (RFC 8514 §4.2: a message saved before save dates were
    kept; RFC 8970 §3.2: a LAZY preview not computed yet)."""
    if isinstance(item, c.FetchPreview):
        preview = extras.previews.get(uid)
        return b"PREVIEW " + (b"NIL" if preview is None else _preview_string(preview))
    assert isinstance(item, c.FetchAttribute)
    if item.attribute is A.SAVEDATE:
        saved = extras.savedates.get(uid)
        return b"SAVEDATE " + (b"NIL" if saved is None else r.imap_datetime(saved))
    name = b"EMAILID" if item.attribute is A.EMAILID else b"THREADID"
    ids = extras.object_ids.get(uid)
    if ids is None:
        return name + b" NIL"
    value = ids.emailid if item.attribute is A.EMAILID else ids.threadid
    return name + b" (" + value.encode("ascii") + b")"


def _walk(key: c.SearchKey) -> Iterable[c.SearchKey]:
    yield key
    if isinstance(key, c.SearchAnd):
        for sub in key.keys:
            yield from _walk(sub)
    elif isinstance(key, c.SearchOr):
        yield from _walk(key.left)
        yield from _walk(key.right)
    elif isinstance(key, c.SearchNot):
        yield from _walk(key.key)


async def load_for_search(
    store: MailStore, mailbox_id: int, key: c.SearchKey, uids: Sequence[int]
) -> MessageExtras:
    """The ids and save dates the search program `key` compares (RFC 8474 §6, RFC 8514 §4.3)."""
    keys = list(_walk(key))
    extras = MessageExtras()
    if any(isinstance(k, c.SearchObjectId) for k in keys):
        extras.object_ids = await store.object_ids(mailbox_id, uids)
    if any(isinstance(k, c.SearchDate) and k.field is c.DateField.SAVED for k in keys):
        extras.savedates = await store.savedates(mailbox_id, None)
    needles = {
        (search_fold(k.value), search_scope(k))
        for k in keys
        if isinstance(k, c.SearchText | c.SearchHeader) and k.value
    }
    if needles:
        extras.text_hits = await store.text_search(mailbox_id, sorted(needles))
    return extras


def search_scope(key: c.SearchText | c.SearchHeader) -> TextScope:
    """Where the full-text index looks for the string of a BODY, TEXT or HEADER key. For
    HEADER the answer is a superset (the string in some header, maybe not the one named):
    only the messages it names are read."""
    if isinstance(key, c.SearchHeader):
        return "headers"
    return "body" if key.body_only else "text"


def search_fold(text: str) -> str:
    """A search string as SEARCH compares it: Unicode case folding, so "Straße" matches
    "STRASSE" (RFC 9051 §6.4.4 leaves the comparator to the server; Dovecot's
    i;unicode-casemap folds likewise)."""
    return text.casefold()
