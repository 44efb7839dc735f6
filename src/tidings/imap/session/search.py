"""SEARCH key evaluation (RFC 9051 §6.4.4) for one message at a time.

Cheap keys (flags, sizes, dates, sets) use the candidate's metadata; keys that need the
message (headers, text, sent date) load raw bytes and facts lazily, once per candidate.
Matching follows Dovecot where the RFC leaves room: flags and keywords case-insensitively,
substring matches case-insensitive on decoded (RFC 2047) text.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from tidings.core.mime import MessageFacts, decoded_header_values, search_text
from tidings.imap.proto.commands import (
    DateField,
    DateRelation,
    SearchAge,
    SearchAll,
    SearchAnd,
    SearchDate,
    SearchFlag,
    SearchHeader,
    SearchKey,
    SearchNot,
    SearchObjectId,
    SearchOr,
    SearchSequence,
    SearchSize,
    SearchText,
    SearchUid,
    SimpleAttribute,
)
from tidings.imap.proto.condstore import SearchModseq
from tidings.imap.session.message_extras import search_fold, search_scope
from tidings.storage.api import MessageObjectIds, TextHits, TextScope

Loader = Callable[[], Awaitable[tuple[bytes, MessageFacts]]]

# The sent date of a message whose Date: field is missing or unparseable (see _date_matches).
UNKNOWN_SENT_DATE = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class SearchCandidate:
    """What the evaluator may look at for one message; `load` is called at most once."""

    seq: int
    uid: int
    flags: frozenset[str]
    recent: bool
    internaldate: datetime
    size: int
    load: Loader
    _loaded: tuple[bytes, MessageFacts] | None = field(default=None, repr=False)
    object_ids: MessageObjectIds | None = None  # RFC 8474, when the key compares them
    savedate: datetime | None = None  # RFC 8514, None if unknown or not asked for
    modseq: int = 0  # RFC 7162 §3.1.5 MODSEQ
    # The full-text index's answers by (folded string, scope), for BODY, TEXT and HEADER.
    text_hits: Mapping[tuple[str, TextScope], TextHits] = field(default_factory=dict)

    def indexed(self, key: SearchText | SearchHeader) -> bool | None:
        """Whether the index holds the key's folded string for this message (in the scope
        the key searches), or None when the index cannot tell."""
        answer = _index_answer(key, self.text_hits)
        if answer is None or self.uid in answer.unindexed:
            return None
        return self.uid in answer.hits

    async def message(self) -> tuple[bytes, MessageFacts]:
        """Raw bytes and facts, loaded on first use and cached."""
        if self._loaded is None:
            self._loaded = await self.load()
        return self._loaded


_fold = search_fold


def _index_answer(
    key: SearchText | SearchHeader, text_hits: Mapping[tuple[str, TextScope], TextHits]
) -> TextHits | None:
    # The index's answer for the key's string (None for the empty string, which every text
    # holds, and for one the index was not asked about).
    if not key.value:
        return None
    return text_hits.get((_fold(key.value), search_scope(key)))


def _compare_dates(day: date, relation: DateRelation, wanted: date) -> bool:
    # RFC 9051 §6.4.4: dates only, disregarding time and timezone.
    if relation is DateRelation.BEFORE:
        return day < wanted
    if relation is DateRelation.ON:
        return day == wanted
    return day >= wanted


async def _header_matches(key: SearchHeader, candidate: SearchCandidate) -> bool:
    if candidate.indexed(key) is False:
        return False  # in no header at all, so not in this one (index_texts)
    raw, facts = await candidate.message()
    values = decoded_header_values(raw, facts, key.field)
    if not key.value:
        return bool(values)  # an empty string matches every message with the field
    needle = _fold(key.value)
    return any(needle in _fold(value) for value in values)


async def _date_matches(key: SearchDate, candidate: SearchCandidate) -> bool:
    moment = candidate.internaldate
    if key.field is DateField.SAVED:
        # RFC 8514 §4.3 compares the save date; a message saved before save dates were
        # kept (SAVEDATE NIL) is compared by its internal date, its best estimate.
        moment = candidate.savedate or candidate.internaldate
    elif key.field is DateField.SENT:
        _, facts = await candidate.message()
        # RFC 9051 §6.4.4 does not say what a message without a usable Date: field was
        # sent on. Dovecot takes such a message as sent at time 0 (mail_get_date gives 0),
        # so SENTON 1-Jan-1970 and SENTBEFORE any later day find it; do the same. (SORT is
        # another matter: RFC 5256 §2.2 falls back to the internal date there.)
        moment = facts.sent_date or UNKNOWN_SENT_DATE
    return _compare_dates(moment.date(), key.relation, key.date)


async def _text_matches(key: SearchText, candidate: SearchCandidate) -> bool:
    needle = _fold(key.value)
    if not needle:
        return True  # the empty string is in every text
    indexed = candidate.indexed(key)
    if indexed is not None:
        return indexed  # the same substring test, made by the index (text_index)
    raw, facts = await candidate.message()
    return needle in _fold(search_text(raw, facts, key.body_only))


def _flag_matches(key: SearchFlag, candidate: SearchCandidate) -> bool:
    wanted = key.flag.lower()
    if wanted == "\\recent":
        return candidate.recent == key.present
    return (wanted in _folded_flags(candidate.flags)) == key.present


@functools.lru_cache(maxsize=4096)
def _folded_flags(flags: frozenset[str]) -> frozenset[str]:
    """The flags lower-cased (compared case-insensitively, as Dovecot does); a mailbox has
    few distinct flag sets, so each is folded once, not once per message and search."""
    return frozenset(flag.lower() for flag in flags)


def _needs_message(key: SearchKey) -> bool:
    if isinstance(key, SearchHeader | SearchText):
        return True
    if isinstance(key, SearchDate):
        return key.field is DateField.SENT
    if isinstance(key, SearchAnd):
        return any(_needs_message(sub) for sub in key.keys)
    if isinstance(key, SearchOr):
        return _needs_message(key.left) or _needs_message(key.right)
    if isinstance(key, SearchNot):
        return _needs_message(key.key)
    return False


def possible_uids(
    key: SearchKey, text_hits: Mapping[tuple[str, TextScope], TextHits]
) -> frozenset[int] | None:
    """The UIDs outside which `key` cannot match, as far as the full-text index can tell
    (None: it cannot narrow the search), so a search for rare words evaluates a handful
    of candidates, not the whole mailbox. A superset: every UID is still checked by
    `matches`."""
    if isinstance(key, SearchText | SearchHeader):
        answer = _index_answer(key, text_hits)
        return None if answer is None else answer.hits | answer.unindexed
    if isinstance(key, SearchAnd):
        narrowed = [
            found for sub in key.keys if (found := possible_uids(sub, text_hits)) is not None
        ]
        return frozenset.intersection(*narrowed) if narrowed else None
    if isinstance(key, SearchOr):
        left = possible_uids(key.left, text_hits)
        right = possible_uids(key.right, text_hits)
        return None if left is None or right is None else left | right
    return None


def _age_matches(key: SearchAge, internaldate: datetime, now: datetime) -> bool:
    # RFC 5032 §3: YOUNGER n is "within" the last n seconds (age <= n), OLDER n is "older
    # than" that (age > n), so the two split every mailbox. INTERNALDATE has one-second
    # resolution; the timezone does not matter for an interval.
    age = int((now - internaldate).total_seconds())
    return age > key.seconds if key.older else age <= key.seconds


async def matches(
    key: SearchKey,
    candidate: SearchCandidate,
    *,
    largest_seq: int,
    largest_uid: int,
    saved_uids: frozenset[int] = frozenset(),
) -> bool:
    """Whether `candidate` satisfies `key` (RFC 9051 §6.4.4). `*` in sets stands for
    `largest_seq` / `largest_uid`; `$` (RFC 5182) for `saved_uids`."""
    now = datetime.now(UTC)  # OLDER / YOUNGER (RFC 5032) count back from here

    async def check(item: SearchKey) -> bool:
        if isinstance(item, SearchAll):
            return True
        if isinstance(item, SearchAnd):
            # Cheap keys first, so a failing flag test spares loading the message.
            for sub in sorted(item.keys, key=_needs_message):
                if not await check(sub):
                    return False
            return True
        if isinstance(item, SearchOr):
            return await check(item.left) or await check(item.right)
        if isinstance(item, SearchNot):
            return not await check(item.key)
        if isinstance(item, SearchFlag):
            return _flag_matches(item, candidate)
        if isinstance(item, SearchSequence):
            if item.sequence_set.is_saved:
                return candidate.uid in saved_uids
            return item.sequence_set.contains(candidate.seq, largest_seq)
        if isinstance(item, SearchUid):
            if item.sequence_set.is_saved:
                return candidate.uid in saved_uids
            return item.sequence_set.contains(candidate.uid, largest_uid)
        if isinstance(item, SearchSize):
            if item.larger:
                return candidate.size > item.size
            return candidate.size < item.size
        if isinstance(item, SearchDate):
            return await _date_matches(item, candidate)
        if isinstance(item, SearchHeader):
            return await _header_matches(item, candidate)
        if isinstance(item, SearchModseq):
            # RFC 7162 §3.1.5: modseq >= n; one modseq per message, whatever the entry name.
            return candidate.modseq >= item.modseq
        if isinstance(item, SearchObjectId):
            # RFC 8474 §6: an exact match of the message's EMAILID or THREADID.
            ids = candidate.object_ids
            if ids is None:
                return False
            mine = ids.emailid if item.field is SimpleAttribute.EMAILID else ids.threadid
            return mine == item.value
        if isinstance(item, SearchAge):
            return _age_matches(item, candidate.internaldate, now)
        if isinstance(item, SearchText):
            return await _text_matches(item, candidate)
        raise TypeError(f"unknown search key: {item!r}")

    return await check(key)
