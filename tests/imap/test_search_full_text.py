"""SEARCH BODY, TEXT and HEADER through the full-text index (issue 5), over a real socket
with imaplib against `tidings serve`: the answers are the ones reading every message gives
(the same searches again once the index is made to know nothing, as for mail stored
before it existed), inside AND, OR and NOT, and after EXPUNGE."""

from __future__ import annotations

import imaplib
import sqlite3
from collections.abc import Iterator

import pytest
from tests.conftest import TEST_PASSWORD, TEST_USER, TidingsServer
from tests.storage.test_text_index import CRAFTED

# (criteria, the CRAFTED indexes found). Strings go as literals when they are not atoms.
SEARCHES: list[tuple[tuple[str, ...], set[int]]] = [
    (("BODY", "strasse"), {0}),
    (("TEXT", "Grüsse"), {0}),
    (("BODY", '"100% of *all*"'), {1}),
    (("BODY", '"[items]"'), {1}),
    (("TEXT", "zebracrossing"), {3}),
    (("BODY", "zebracrossing"), set()),
    (("HEADER", "X-Part-Tag", "zebracrossing"), set()),  # a part's header, not the message's
    (("HEADER", "Subject", "parts"), {3}),
    (("HEADER", "Subject", "Straße"), {0}),
    (("TEXT", "quokka"), {3}),
    (("BODY", "wombat", "TEXT", "quokka"), {3}),
    (("OR", "BODY", "wombat", "BODY", "strasse"), {0, 3}),
    (("NOT", "BODY", "strasse"), {1, 2, 3, 4, 5}),
    (("BODY", "quixotic"), {5}),  # a body with octets that are not UTF-8
    (("BODY", "strasse", "NOT", "SEEN"), {0}),
    (("BODY", "strasse", "SEEN"), set()),
    (("BODY", "Köln"), {4}),
    (("BODY", "is"), {2, 4}),  # shorter than a trigram: "ist" in both
    (("TEXT", '""'), {0, 1, 2, 3, 4, 5}),
    (("BODY", "nowhere-to-be-found"), set()),
]


@pytest.fixture
def client(server: TidingsServer) -> Iterator[imaplib.IMAP4]:
    connection = imaplib.IMAP4("127.0.0.1", server.imap_port)
    connection.login(TEST_USER, TEST_PASSWORD)
    connection.create("Texts")
    for raw in CRAFTED:
        typ, _ = connection.append("Texts", None, None, raw)
        assert typ == "OK"
    connection.select("Texts")
    yield connection
    connection.logout()


def _uid_search(client: imaplib.IMAP4, criteria: tuple[str, ...]) -> set[int]:
    literal = next((c for c in criteria if not c.isascii()), None)
    if literal is not None:  # imaplib sends a non-ASCII string as a literal only this way
        client.literal = literal.encode()  # type: ignore[attr-defined]
        criteria = tuple(c for c in criteria if c != literal)
        typ, data = client.uid("SEARCH", "CHARSET", "UTF-8", *criteria)
    else:
        typ, data = client.uid("SEARCH", *criteria)
    assert typ == "OK", data
    return {int(uid) for uid in data[0].split()}


def _answers(client: imaplib.IMAP4) -> dict[tuple[str, ...], set[int]]:
    return {criteria: _uid_search(client, criteria) for criteria, _ in SEARCHES}


def test_searches_give_the_answers_reading_gives(
    server: TidingsServer, client: imaplib.IMAP4
) -> None:
    indexed = _answers(client)
    # Now make the index know nothing, as for messages stored before it existed: every
    # search reads the messages, and must answer the same.
    with sqlite3.connect(server.data_dir / "mail.db") as conn:
        assert conn.execute("SELECT count(*) FROM blob_text").fetchone()[0] == len(CRAFTED)
        conn.execute("DELETE FROM blob_text")
        conn.execute("UPDATE meta SET value = 1000000 WHERE key = 'text_index_floor'")
    conn.close()
    assert _answers(client) == indexed
    for criteria, expected in SEARCHES:
        assert indexed[criteria] == {index + 1 for index in expected}, criteria


def test_expunged_messages_are_not_found(client: imaplib.IMAP4) -> None:
    assert _uid_search(client, ("BODY", "wombat")) == {4}
    client.uid("STORE", "4", "+FLAGS", "(\\Deleted)")
    client.expunge()
    assert _uid_search(client, ("BODY", "wombat")) == set()
    assert _uid_search(client, ("TEXT", "quokka")) == set()
    assert _uid_search(client, ("BODY", "strasse")) == {1}
