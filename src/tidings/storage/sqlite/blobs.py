"""Content-addressed message storage: each distinct message is stored once, compressed.

A blob row is keyed by the SHA-256 of the raw bytes and also holds the facts parsed from
them (the facts are a function of the bytes, so they share the key). Rows are never
rewritten; COPY shares them, and `collect` deletes those no message references any more.

The bodies sit behind this module's four functions, `put`, `collect`, `body` and
`bodies`: nothing else reads or writes `blobs.body`. An object store (bodies in S3 and the
like, keyed by the digest) replaces these four and leaves the rest of the store as it is.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from tidings.core import mime
from tidings.core.sort_facts import SortFacts, sort_facts
from tidings.storage.sqlite import sort_values, text_index
from tidings.storage.sqlite.sql import Connection

# zlib level 6 (the default): most of level 9's ratio on mail text at a fraction of the cost.
COMPRESSION_LEVEL = 6


@dataclass(frozen=True, slots=True)
class PreparedMessage:
    """A message hashed, parsed and compressed, ready to be written by the writer thread."""

    digest: bytes
    size: int
    wire_size: int  # see pop3_wire_size
    body: bytes  # zlib-compressed raw message
    facts: bytes  # zlib-compressed MessageFacts JSON
    # Whether it has an attachment (issue 9): which of $HasAttachment / $HasNoAttachment
    # `messages.append_many` sets.
    sort_values: SortFacts  # SORT's values (sort_values.py)
    # The folded (headers, body) texts for the full-text index (text_index), None when
    # the message has too much text to index.
    index_texts: tuple[str, str] | None
    has_attachment: bool = False


def pop3_wire_size(raw: bytes) -> int:
    """The octets POP3 RETR sends for `raw` before dot-stuffing: every bare LF goes out as
    CRLF (RFC 1939 §3: lines end in CRLF; §11 asks LIST/STAT sizes to be the sizes sent).
    A CR that is not followed by LF is sent as it is."""
    bare_lf = raw.count(b"\n") - raw.count(b"\r\n")
    return len(raw) + bare_lf


def prepare(raw: bytes) -> PreparedMessage:
    """Hash, parse (once, DESIGN.md "Storage") and compress `raw`. CPU-bound: a big
    message is prepared off the loop (store.SMALL_PREPARE_OCTETS)."""
    facts = mime.parse_message(raw)
    texts, values = derived(raw, facts)
    return PreparedMessage(
        digest=hashlib.sha256(raw).digest(),
        size=len(raw),
        wire_size=pop3_wire_size(raw),
        body=zlib.compress(raw, COMPRESSION_LEVEL),
        facts=zlib.compress(facts.to_json(), COMPRESSION_LEVEL),
        sort_values=values,
        index_texts=texts,
        has_attachment=bool(facts.attachments),
    )


def derived(raw: bytes, facts: mime.MessageFacts) -> tuple[tuple[str, str] | None, SortFacts]:
    """What the index and SORT keep of a message besides its facts: the folded texts (None
    when there is too much text to index) and the sort values."""
    texts = mime.index_texts(raw, facts)
    return (texts if text_index.indexable(*texts) else None), sort_facts(facts)


def record_derived(
    conn: Connection, blob_id: int, texts: tuple[str, str] | None, values: SortFacts
) -> None:
    """Write what `derived` gave for the blob `blob_id`."""
    text_index.record(conn, blob_id, texts)
    sort_values.record(conn, blob_id, values)


# Where a blob has rows, by key column: the blob itself last.
BLOB_TABLES = (
    ("blob_text", "blob_id"),
    ("blob_text_skipped", "blob_id"),
    ("blob_sort", "blob_id"),
    ("blobs", "id"),
)


def put(conn: Connection, message: PreparedMessage) -> int:
    """The id of the blob holding `message`, inserting it (and indexing its text) if it is
    new."""
    inserted = conn.execute(
        "INSERT INTO blobs (digest, size, wire_size, body, facts) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (digest) DO NOTHING RETURNING id",
        (message.digest, message.size, message.wire_size, message.body, message.facts),
    ).fetchone()
    if inserted is None:
        row = conn.execute("SELECT id FROM blobs WHERE digest = ?", (message.digest,)).fetchone()
        return int(row[0])
    blob_id = int(inserted[0])
    record_derived(conn, blob_id, message.index_texts, message.sort_values)
    return blob_id


def collect(conn: Connection, blob_ids: Iterable[int]) -> None:
    """Delete those of `blob_ids` that no message references any more, with their rows in
    the other blob tables."""
    unreferenced = [
        (int(blob_id),)
        for (blob_id,) in conn.execute(
            "SELECT id FROM blobs WHERE id IN (SELECT value FROM json_each(?))"
            " AND NOT EXISTS (SELECT 1 FROM messages WHERE blob_id = blobs.id)",
            (json.dumps(sorted(set(blob_ids))),),
        )
    ]
    for table, key in BLOB_TABLES:
        conn.executemany(f"DELETE FROM {table} WHERE {key} = ?", unreferenced)


def body(conn: Connection, blob_id: int) -> bytes:
    """The raw message stored as `blob_id`."""
    row = conn.execute("SELECT body FROM blobs WHERE id = ?", (blob_id,)).fetchone()
    return decompress(bytes(row[0]))


def bodies(conn: Connection, blob_ids: Iterable[int]) -> dict[int, bytes]:
    """The raw messages stored as `blob_ids`, by id, in one query."""
    wanted = json.dumps(sorted(set(blob_ids)))
    rows = conn.execute(
        "SELECT id, body FROM blobs WHERE id IN (SELECT value FROM json_each(?))", (wanted,)
    )
    return {int(blob_id): decompress(bytes(data)) for blob_id, data in rows}


def decompress(data: bytes) -> bytes:
    """The original bytes of a stored body or facts column."""
    return zlib.decompress(data)


def load_facts(data: bytes) -> mime.MessageFacts:
    """The MessageFacts of a stored facts column."""
    return mime.MessageFacts.from_json(zlib.decompress(data))
