"""search.matches for every key type (RFC 9051 §6.4.4)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta, timezone

from tidings.core.mime import MessageFacts, parse_message
from tidings.core.seqset import SequenceSet
from tidings.imap.proto.commands import (
    DateField,
    DateRelation,
    SearchAll,
    SearchAnd,
    SearchDate,
    SearchFlag,
    SearchHeader,
    SearchKey,
    SearchNot,
    SearchOr,
    SearchSequence,
    SearchSize,
    SearchText,
    SearchUid,
)
from tidings.imap.session.search import SearchCandidate, matches

RAW = (
    b"From: =?utf-8?q?J=C3=B6rg?= <joerg@example.org>\r\n"
    b"Subject: Quarterly STRASSE report\r\n"
    b"X-Empty:\r\n"
    b"Date: Sun, 1 Mar 2020 23:30:00 -0800\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n"
    b"R3LDvMOfZSBhdXMgZGVyIFN0cmHDn2U=\r\n"  # "Grüße aus der Straße"
)


def candidate(raw: bytes = RAW, **changes: object) -> tuple[SearchCandidate, list[int]]:
    calls: list[int] = []

    async def load() -> tuple[bytes, MessageFacts]:
        calls.append(1)
        return raw, parse_message(raw)

    fields: dict[str, object] = dict(
        seq=3, uid=30, flags=frozenset({"\\Seen", "$Work"}), recent=True,
        internaldate=datetime(2020, 3, 2, 1, 0, tzinfo=timezone(timedelta(hours=2))),
        size=len(raw), load=load,
    )
    fields.update(changes)
    return SearchCandidate(**fields), calls  # type: ignore[arg-type]


def run(key: SearchKey, **changes: object) -> bool:
    cand, _ = candidate(**changes)
    saved = frozenset({30})
    return asyncio.run(matches(key, cand, largest_seq=10, largest_uid=100, saved_uids=saved))


def test_all_and_boolean_keys() -> None:
    assert run(SearchAll())
    assert not run(SearchNot(SearchAll()))
    assert run(SearchOr(SearchNot(SearchAll()), SearchAll()))
    assert not run(SearchAnd((SearchAll(), SearchNot(SearchAll()))))


def test_flags_case_insensitive_and_recent() -> None:
    assert run(SearchFlag("\\SEEN", True))
    assert run(SearchFlag("$work", True))
    assert run(SearchFlag("\\Deleted", False))
    assert run(SearchFlag("\\Recent", True))
    assert not run(SearchFlag("\\Recent", True), recent=False)


def test_sequence_uid_and_saved() -> None:
    assert run(SearchSequence(SequenceSet.parse("2:4")))
    assert not run(SearchSequence(SequenceSet.parse("*")))
    assert run(SearchSequence(SequenceSet.parse("*")), seq=10)
    assert run(SearchUid(SequenceSet.parse("30,40:*")))
    assert not run(SearchUid(SequenceSet.parse("31:99")))
    assert run(SearchUid(SequenceSet.saved()))
    assert not run(SearchSequence(SequenceSet.saved()), uid=31)


def test_size_strict() -> None:
    size = len(RAW)
    assert run(SearchSize(True, size - 1)) and not run(SearchSize(True, size))
    assert run(SearchSize(False, size + 1)) and not run(SearchSize(False, size))


def test_internal_dates_use_stored_zone() -> None:
    assert run(SearchDate(DateField.INTERNAL, DateRelation.ON, date(2020, 3, 2)))
    assert run(SearchDate(DateField.INTERNAL, DateRelation.BEFORE, date(2020, 3, 3)))
    assert not run(SearchDate(DateField.INTERNAL, DateRelation.BEFORE, date(2020, 3, 2)))
    assert run(SearchDate(DateField.INTERNAL, DateRelation.SINCE, date(2020, 3, 2)))


def test_sent_dates_use_header_zone_and_fallback() -> None:
    assert run(SearchDate(DateField.SENT, DateRelation.ON, date(2020, 3, 1)))
    assert run(SearchDate(DateField.SENT, DateRelation.SINCE, date(2020, 3, 1)))
    assert not run(SearchDate(DateField.SENT, DateRelation.SINCE, date(2020, 3, 2)))
    no_date = b"Subject: x\r\n\r\nbody"
    assert run(SearchDate(DateField.SENT, DateRelation.ON, date(2020, 3, 2)), raw=no_date)


def test_header_keys() -> None:
    assert run(SearchHeader("FROM", "jörg"))
    assert run(SearchHeader("from", "EXAMPLE.ORG"))
    assert run(SearchHeader("subject", "quarterly"))
    assert run(SearchHeader("x-empty", ""))
    assert not run(SearchHeader("cc", ""))
    assert not run(SearchHeader("subject", "annual"))


def test_text_keys() -> None:
    assert run(SearchText("strasse", body_only=True))  # casefold: Straße ~ STRASSE
    assert run(SearchText("grüße", body_only=True))
    assert not run(SearchText("quarterly", body_only=True))
    assert run(SearchText("quarterly", body_only=False))


def test_load_only_when_needed_and_once() -> None:
    cand, calls = candidate()
    key = SearchAnd((SearchFlag("\\Seen", True), SearchSize(True, 1)))
    assert asyncio.run(matches(key, cand, largest_seq=10, largest_uid=100))
    assert calls == []
    key = SearchAnd((SearchHeader("subject", "report"), SearchText("aus", True)))
    assert asyncio.run(matches(key, cand, largest_seq=10, largest_uid=100))
    assert calls == [1]
    cand, calls = candidate()
    key = SearchAnd((SearchText("aus", True), SearchFlag("\\Draft", True)))
    assert not asyncio.run(matches(key, cand, largest_seq=10, largest_uid=100))
    assert calls == []  # the cheap failing key is evaluated first


def test_internaldate_utc() -> None:
    assert run(
        SearchDate(DateField.INTERNAL, DateRelation.ON, date(2020, 3, 1)),
        internaldate=datetime(2020, 3, 1, 23, 0, tzinfo=UTC),
    )
