"""The full-text index that answers SEARCH BODY and TEXT (RFC 9051 §6.4.4) without reading
the messages (issue 5: body-text SEARCH at 100,000 messages in milliseconds).

At ingest, `blob_text` gets one row per blob: the two case-folded texts of
`mime.index_texts` (headers, body), in the same transaction as the blob, so the index is
never behind the mail. On SQLite an FTS5 table with the trigram tokenizer indexes them
(schema version 5: external content, kept by triggers on `blob_text`); on PostgreSQL a
pg_trgm GIN index does (where the extension is available; a plain scan of the folded text
otherwise, still without parsing a message).

SEARCH semantics stay those of the scan (tidings/imap/session/search.py): `needle in text`
on folded text. A trigram GLOB (SQLite) or LIKE (PostgreSQL) pattern with the needle's
wildcards escaped is that same substring test, so the answer is exact, not a candidate
list. Two cases are left to the scan: a needle with a line break (index_texts' guarantee
needs none), and messages without a `blob_text` row (stored before version 5, or with
more text than MAX_INDEXED_CHARS): `search` returns those as `unindexed`.
"""

from __future__ import annotations

from collections.abc import Sequence

from tidings.storage.api import TextHits, TextScope
from tidings.storage.sqlite.records import mailbox_by_id
from tidings.storage.sqlite.sql import Connection, engine_of

MAX_INDEXED_CHARS = 4 * 1024 * 1024
"""A message with more folded text than this (headers and body together) is not indexed:
its SEARCH BODY/TEXT reads the message, as before the index. Bounds the index's growth
from one huge text part."""


SCOPE_COLUMNS: dict[TextScope, tuple[str, ...]] = {
    "body": ("body",),
    "text": ("headers", "body"),
    "headers": ("headers",),
}

TRIGRAM = 3
"""The shortest needle the trigram index finds (FTS5 answers shorter GLOBs with nothing)."""


def indexable(headers: str, body: str) -> bool:
    """Whether texts of these lengths go into the index (MAX_INDEXED_CHARS)."""
    return len(headers) + len(body) <= MAX_INDEXED_CHARS


def searchable(needle: str) -> bool:
    """Whether the index can answer a search for the folded `needle` (see the module)."""
    return not any(char in needle for char in "\n\r\ufffd")  # see mime.text.storable


def record(conn: Connection, blob_id: int, texts: tuple[str, str] | None) -> None:
    """Index the folded (headers, body) texts of the new blob `blob_id`; None: its text is
    too large, and it is recorded as not indexed."""
    if texts is None:
        conn.execute("INSERT INTO blob_text_skipped (blob_id) VALUES (?)", (blob_id,))
        return
    conn.execute(
        "INSERT INTO blob_text (blob_id, headers, body) VALUES (?, ?, ?)", (blob_id, *texts)
    )


def floor(conn: Connection) -> int:
    """The blob id below which blobs are not indexed: stored before the index existed
    (schema version 5) and not yet filled in by `tidings db index` (backfill.py)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'text_index_floor'").fetchone()
    return int(row[0]) if row is not None else 0


def search_many(
    conn: Connection,
    account_id: int,
    mailbox_id: int,
    needles: Sequence[tuple[str, TextScope]],
) -> dict[tuple[str, TextScope], TextHits]:
    """For each (folded needle, scope): which messages of the mailbox hold the needle in
    their BODY or TEXT search text or their headers, in one snapshot. Every needle must be
    `searchable`. NOTFOUND for another account's mailbox."""
    mailbox_by_id(conn, account_id, mailbox_id)
    unindexed = frozenset(
        int(uid)
        for (uid,) in conn.execute(
            "SELECT uid FROM messages WHERE mailbox_id = ?"
            " AND (blob_id < ? OR blob_id IN (SELECT blob_id FROM blob_text_skipped))",
            (mailbox_id, floor(conn)),
        )
    )
    found = {}
    for needle, scope in needles:
        columns = SCOPE_COLUMNS[scope]
        if engine_of(conn) == "postgresql":
            pattern = "%" + _like_escaped(needle) + "%"
            where = " OR ".join(f"{column} LIKE ?" for column in columns)
            blob_ids = f"SELECT blob_id FROM blob_text WHERE {where}"
        elif len(needle) < TRIGRAM:
            # Too short for a trigram: the folded texts are read, still no message.
            pattern = needle
            where = " OR ".join(f"instr({column}, ?) > 0" for column in columns)
            blob_ids = f"SELECT blob_id FROM blob_text WHERE {where}"
        else:
            # The trigram tokenizer answers GLOB from the index (case_sensitive 1: the text
            # is folded already, and GLOB compares exactly).
            pattern = "*" + _glob_escaped(needle) + "*"
            blob_ids = " UNION ".join(
                f"SELECT rowid FROM blob_text_index WHERE {column} GLOB ?" for column in columns
            )
        rows = conn.execute(
            f"SELECT uid FROM messages WHERE mailbox_id = ? AND blob_id IN ({blob_ids})",
            (mailbox_id, *([pattern] * len(columns))),
        )
        found[(needle, scope)] = TextHits(frozenset(int(uid) for (uid,) in rows), unindexed)
    return found


def _glob_escaped(text: str) -> str:
    # GLOB's wildcards become one-character classes; "]" outside a class is literal.
    return "".join(f"[{char}]" if char in "*?[" else char for char in text)


def _like_escaped(text: str) -> str:
    # PostgreSQL's LIKE escapes with a backslash by default.
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
