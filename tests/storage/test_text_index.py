"""Contract: the full-text index (issue 5) answers SEARCH BODY and TEXT exactly as reading
every message does (tidings/imap/session/search.py), on every backend; it follows COPY and
expunge; messages it has not indexed are named so that SEARCH reads them."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
from tests.storage.storage_support import Harness, message

from tidings.core import mime
from tidings.storage.api import FlagOperation, TextScope
from tidings.storage.sqlite import text_index

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"

# Messages whose texts are hard to get right: charsets and transfer encodings, part headers
# and attached messages (TEXT only), an attachment's name, and the characters that are
# wildcards or escapes in GLOB and LIKE.
CRAFTED = [
    message("Grüße aus Straße", "Wir treffen uns in der STRASSE 5.\r\n"),
    message("wildcards", "Costs 100% of *all* [items] and _more_ at C:\\path? yes\r\n"),
    (
        b"From: a@example.test\r\nSubject: =?UTF-8?B?w5xiZXJzaWNodA==?=\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"RGFzIGlzdCBlaW4gVGVzdDogw6TDtsO8IMOfIOKCrDEwMA==\r\n"
    ),
    (
        b"From: a@example.test\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\nX-Part-Tag: zebracrossing\r\n\r\nfirst part\r\n"
        b"--b\r\nContent-Type: message/rfc822\r\n\r\n"
        b"From: inner@example.test\r\nSubject: inner subject quokka\r\n\r\ninner body wombat\r\n"
        b"--b\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="Rechnung-42.pdf"\r\n\r\n%PDF\r\n'
        b"--b--\r\n"
    ),
    (
        b"From: a@example.test\r\nSubject: qp\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\nK=F6ln ist sch=F6n, na=EFve caf=E9\r\n"
    ),
    # Octets that are not UTF-8, without a charset, in a header and in the body (what an
    # old or broken mailer sends): stored, indexed and found as reading finds them.
    b"From: x@example.test\r\nSubject: caf\xe9 \x80 zanzibarmenu\r\n\r\n"
    b"the cr\xe8me \x80\xff quixotic br\xfbl\xe9e\r\n",
]

# Needles with an answer known by hand: (needle, body_only) -> indexes into CRAFTED.
KNOWN: dict[tuple[str, TextScope], set[int]] = {
    ("strasse", "body"): {0},  # STRASSE in the body; the subject's Straße is a header
    ("strasse", "text"): {0},
    ("grüsse", "text"): {0},  # ß folds to ss
    ("100% of *all*", "body"): {1},
    ("[items]", "body"): {1},
    ("_more_", "body"): {1},
    ("c:\\path?", "body"): {1},
    ("äöü ss €100", "body"): {2},  # needles come folded: ß is ss
    ("übersicht", "text"): {2},
    ("übersicht", "body"): set(),
    ("zebracrossing", "text"): {3},  # a part's MIME header: TEXT, not BODY
    ("zebracrossing", "body"): set(),
    ("quokka", "text"): {3},  # the attached message's header
    ("quokka", "body"): set(),
    ("wombat", "body"): {3},
    ("rechnung-42.pdf", "body"): {3},  # attachment names, both keys
    ("köln ist schön", "body"): {4},
    ("naïve café", "body"): {4},
    ("no such text anywhere", "text"): set(),
    ("zebracrossing", "headers"): {3},
    ("quokka", "headers"): {3},
    ("subject: grüsse", "headers"): {0},
    ("wombat", "headers"): set(),
    ("zanzibarmenu", "headers"): {5},
    ("zanzibarmenu", "body"): set(),
    ("quixotic", "body"): {5},
}
SCOPES: dict[str, bool] = {"body": True, "text": False}  # scope -> search_text's body_only
HEADER_FIELDS = ("subject", "from", "message-id", "to")


def _corpus(count: int) -> list[bytes]:
    paths = sorted(CORPUS.glob("*.eml"))[:count]
    return [path.read_bytes() for path in paths]


def _substrings(text: str, rng: random.Random) -> list[str]:
    found = []
    for length in (2, 3, 5, 12):
        if len(text) > length:
            start = rng.randrange(len(text) - length)
            needle = text[start : start + length]
            if text_index.searchable(needle) and not any(
                "\ud800" <= char <= "\udfff"
                for char in needle  # no client sends these
            ):
                found.append(needle)
    return found


def _needles(raws: list[bytes], rng: random.Random) -> list[tuple[str, TextScope]]:
    # Substrings of each message's own search texts and header values, of several lengths,
    # so most needles are found somewhere (and some in several messages).
    needles: list[tuple[str, TextScope]] = []
    for raw in raws:
        facts = mime.parse_message(raw)
        for scope in ("body", "text"):
            text = mime.search_text(raw, facts, SCOPES[scope]).casefold()
            needles += [(needle, scope) for needle in _substrings(text, rng)]
        for name in HEADER_FIELDS:
            for value in mime.decoded_header_values(raw, facts, name):
                needles += [(needle, "headers") for needle in _substrings(value.casefold(), rng)]
    return needles


class Scanner:
    """The reference answers: what reading every message finds (texts computed once)."""

    def __init__(self, raws: dict[int, bytes]) -> None:
        self.texts: dict[int, dict[str, str]] = {}
        self.headers: dict[int, list[str]] = {}
        for uid, raw in raws.items():
            facts = mime.parse_message(raw)
            self.texts[uid] = {
                scope: mime.search_text(raw, facts, body_only).casefold()
                for scope, body_only in SCOPES.items()
            }
            self.headers[uid] = [
                value.casefold()
                for name in HEADER_FIELDS
                for value in mime.decoded_header_values(raw, facts, name)
            ]

    def find(self, needle: str, scope: TextScope) -> set[int]:
        if scope == "headers":  # what SEARCH HEADER may find: the index must name these
            return {uid for uid, values in self.headers.items() if any(needle in v for v in values)}
        return {uid for uid, texts in self.texts.items() if needle in texts[scope]}


def test_the_index_answers_as_reading_every_message(harness: Harness) -> None:
    store = harness.store()
    raws = [*CRAFTED, *_corpus(40)]
    by_uid = {harness.run(store.append("INBOX", raw)).uid: raw for raw in raws}
    mailbox = harness.run(store.get_mailbox("INBOX")).id
    needles = [*KNOWN, *_needles(raws, random.Random(5))]
    answers = harness.run(store.text_search(mailbox, needles))
    assert set(answers) == set(needles)
    uids = sorted(by_uid)
    for (needle, scope), expected in KNOWN.items():
        assert answers[(needle, scope)].hits == {uids[i] for i in expected}, needle
    found_somewhere = 0
    scanner = Scanner(by_uid)
    for needle, scope in needles:
        answer = answers[(needle, scope)]
        assert answer.unindexed == frozenset()  # everything stored now is indexed
        if scope == "headers":
            assert answer.hits >= scanner.find(needle, scope), (needle, scope)
        else:
            assert answer.hits == scanner.find(needle, scope), (needle, scope)
        found_somewhere += bool(answer.hits)
    assert found_somewhere > len(needles) // 2


def test_needles_with_a_line_break_are_left_to_reading(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.append("INBOX", message("a", "one\r\ntwo\r\n")))
    mailbox = harness.run(store.get_mailbox("INBOX")).id
    answers = harness.run(store.text_search(mailbox, [("one\ntwo", "body"), ("two", "body")]))
    assert list(answers) == [("two", "body")]
    assert answers[("two", "body")].hits == {1}


def test_the_index_follows_copy_and_expunge(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.create_mailbox("Kept"))
    inbox = harness.run(store.get_mailbox("INBOX")).id
    harness.run(store.append("INBOX", message("kept", "a platypus was here\r\n")))
    harness.run(store.append("INBOX", message("other", "nothing to see\r\n")))
    harness.run(store.copy(inbox, [1], "Kept"))
    archive = harness.run(store.get_mailbox("Kept")).id
    needle: list[tuple[str, TextScope]] = [("platypus", "body")]
    assert harness.run(store.text_search(archive, needle))[needle[0]].hits == {1}
    harness.run(store.store_flags(inbox, [1], FlagOperation.ADD, ["\\Deleted"]))
    harness.run(store.expunge(inbox))
    assert harness.run(store.text_search(inbox, needle))[needle[0]].hits == frozenset()
    assert harness.run(store.text_search(archive, needle))[needle[0]].hits == {1}
    harness.run(store.store_flags(archive, [1], FlagOperation.ADD, ["\\Deleted"]))
    harness.run(store.expunge(archive))
    assert harness.run(store.text_search(archive, needle))[needle[0]].hits == frozenset()
    # The same text stored again is indexed again (the old blob and its text are gone).
    harness.run(store.append("Kept", message("kept", "a platypus was here\r\n")))
    assert harness.run(store.text_search(archive, needle))[needle[0]].hits == {2}


def test_messages_stored_before_the_index_are_named_unindexed(sqlite_harness: Harness) -> None:
    # A store upgraded to schema version 5 has blobs below `text_index_floor` and no text
    # for them: made here by moving the floor above the first blob and dropping its text.
    harness = sqlite_harness
    store = harness.store()
    harness.run(store.append("INBOX", message("old", "stored long ago\r\n")))
    harness.run(store.append("INBOX", message("new", "stored long ago\r\n")))
    mailbox = harness.run(store.get_mailbox("INBOX")).id
    with sqlite3.connect(harness.path / "mail.sqlite") as conn:
        conn.execute("DELETE FROM blob_text WHERE blob_id = 1")
        conn.execute("UPDATE meta SET value = 2 WHERE key = 'text_index_floor'")
    conn.close()
    needle: tuple[str, TextScope] = ("long ago", "body")
    answer = harness.run(store.text_search(mailbox, [needle]))[needle]
    assert answer.unindexed == {1}
    assert answer.hits == {2}


def test_a_message_with_too_much_text_is_named_unindexed(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = harness.store()
    harness.run(store.append("INBOX", message("small", "a short text\r\n")))
    monkeypatch.setattr(text_index, "MAX_INDEXED_CHARS", 200)
    harness.run(store.append("INBOX", message("large", "a long text " * 30 + "\r\n")))
    mailbox = harness.run(store.get_mailbox("INBOX")).id
    needle: tuple[str, TextScope] = ("text", "body")
    answer = harness.run(store.text_search(mailbox, [needle]))[needle]
    assert answer.unindexed == {2}
    assert answer.hits == {1}
    harness.run(store.store_flags(mailbox, [2], FlagOperation.ADD, ["\\Deleted"]))
    harness.run(store.expunge(mailbox))  # its "skipped" record goes with the blob
    assert harness.run(store.text_search(mailbox, [needle]))[needle].unindexed == frozenset()
