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
        seq=3,
        uid=30,
        flags=frozenset({"\\Seen", "$Work"}),
        recent=True,
        internaldate=datetime(2020, 3, 2, 1, 0, tzinfo=timezone(timedelta(hours=2))),
        size=len(raw),
        load=load,
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


def test_sent_dates_use_header_zone() -> None:
    assert run(SearchDate(DateField.SENT, DateRelation.ON, date(2020, 3, 1)))
    assert run(SearchDate(DateField.SENT, DateRelation.SINCE, date(2020, 3, 1)))
    assert not run(SearchDate(DateField.SENT, DateRelation.SINCE, date(2020, 3, 2)))


def test_sent_date_without_usable_date_field_is_1970() -> None:
    # Dovecot takes time 0 for a missing or unparseable Date: (the corpus differential's
    # SENTBEFORE 1-Jan-2010 finds such messages although their internal dates are 2023),
    # not the internal date (here 2-Mar-2020).
    for raw in (b"Subject: x\r\n\r\nbody", b"Date: garbage here\r\nSubject: x\r\n\r\nbody"):
        assert run(SearchDate(DateField.SENT, DateRelation.ON, date(1970, 1, 1)), raw=raw)
        assert run(SearchDate(DateField.SENT, DateRelation.BEFORE, date(2010, 1, 1)), raw=raw)
        assert run(SearchDate(DateField.SENT, DateRelation.SINCE, date(1970, 1, 1)), raw=raw)
        assert not run(SearchDate(DateField.SENT, DateRelation.SINCE, date(1970, 1, 2)), raw=raw)
        assert not run(SearchDate(DateField.SENT, DateRelation.ON, date(2020, 3, 2)), raw=raw)


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


ATTACHED = (
    b"From: a@example.org\r\nSubject: outer\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
    b"--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
    b"--XX\r\nContent-Type: message/rfc822\r\nX-Part: walrus\r\n\r\n"
    b"From: zebra@example.org\r\nSubject: inner\r\n\r\ngiraffe\r\n"
    b"--XX\r\nContent-Type: application/octet-stream\r\n\r\nokapi\r\n"
    b"--XX--\r\n"
)


def test_body_skips_every_header_text_has_them_all() -> None:
    # As Dovecot: BODY looks at text bodies only, embedded messages' included, but at no
    # header (part MIME headers, attached messages' headers); TEXT adds all headers.
    def body(word: str) -> bool:
        return run(SearchText(word, body_only=True), raw=ATTACHED)

    def text(word: str) -> bool:
        return run(SearchText(word, body_only=False), raw=ATTACHED)

    assert body("hello") and body("giraffe")
    assert not body("zebra") and not body("walrus") and not body("inner")
    assert not body("okapi") and not body("content-type")
    assert text("zebra") and text("walrus") and text("outer") and text("giraffe")
    assert not text("okapi")


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
