"""The SQLite schema and its migrations, keyed by `PRAGMA user_version`.

Design notes (why the tables look the way they do):
- `blobs` holds each distinct message once, keyed by the SHA-256 of its raw bytes, with the
  body and the parsed facts zlib-compressed. Rows are never updated (except once, by the
  version-2 upgrade, to fill in `wire_size`), only inserted and, once no message references
  them, deleted (DESIGN.md "Storage").
- `messages` and `changes` are WITHOUT ROWID tables clustered on (mailbox_id, uid) and
  (mailbox_id, modseq, uid): SELECT reads one contiguous range, and "changes since N" too.
- System flags are a bitmask so STATUS counts \\Seen and \\Deleted in SQL; keywords are a
  space-separated text (IMAP atoms cannot contain spaces, RFC 9051 §9 `atom`).
- Version 2 (issue 3): each account row carries its quota limits (NULL = unlimited) and exact
  usage counters, kept by triggers on `messages` so that no code path (append, copy, move,
  expunge, mailbox deletion, account removal) can forget them; `blobs.wire_size` is the size
  POP3 announces, computed once at ingest like every other fact of the bytes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from tidings.storage.sqlite import blobs

# Version 1: the original schema. Kept verbatim: new databases are built by running every
# step from version 0, and the upgrade tests build a version-1 file from it.
V1_SCRIPT = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    address       TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL
);

CREATE TABLE mailboxes (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL,
    name          TEXT NOT NULL,
    uidvalidity   INTEGER NOT NULL,
    uidnext       INTEGER NOT NULL,
    highestmodseq INTEGER NOT NULL,
    recent_floor  INTEGER NOT NULL DEFAULT 0,
    special_use   TEXT,
    UNIQUE (account_id, name)
);

CREATE TABLE subscriptions (
    account_id INTEGER NOT NULL,
    name       TEXT NOT NULL,
    PRIMARY KEY (account_id, name)
) WITHOUT ROWID;

CREATE TABLE mailbox_keywords (
    mailbox_id INTEGER NOT NULL,
    folded     TEXT NOT NULL,
    name       TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, folded)
) WITHOUT ROWID;

CREATE TABLE blobs (
    id     INTEGER PRIMARY KEY,
    digest BLOB NOT NULL UNIQUE,
    size   INTEGER NOT NULL,
    body   BLOB NOT NULL,
    facts  BLOB NOT NULL
);

CREATE TABLE messages (
    mailbox_id   INTEGER NOT NULL,
    uid          INTEGER NOT NULL,
    modseq       INTEGER NOT NULL,
    sysflags     INTEGER NOT NULL,
    keywords     TEXT NOT NULL,
    internaldate TEXT NOT NULL,
    size         INTEGER NOT NULL,
    blob_id      INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;

CREATE INDEX messages_by_blob ON messages (blob_id);

CREATE TABLE changes (
    mailbox_id   INTEGER NOT NULL,
    modseq       INTEGER NOT NULL,
    uid          INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    sysflags     INTEGER,
    keywords     TEXT,
    internaldate TEXT,
    size         INTEGER,
    PRIMARY KEY (mailbox_id, modseq, uid)
) WITHOUT ROWID;
"""

# Version 2: quotas, usage counters, account settings, POP3 wire sizes.
_V2_SCRIPT = """
ALTER TABLE accounts ADD COLUMN storage_limit INTEGER;
ALTER TABLE accounts ADD COLUMN message_limit INTEGER;
ALTER TABLE accounts ADD COLUMN storage_used INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN messages_used INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN junk_routing INTEGER;
ALTER TABLE blobs ADD COLUMN wire_size INTEGER;

CREATE TRIGGER usage_after_insert AFTER INSERT ON messages BEGIN
    UPDATE accounts SET storage_used = storage_used + NEW.size,
                        messages_used = messages_used + 1
    WHERE id = (SELECT account_id FROM mailboxes WHERE id = NEW.mailbox_id);
END;

CREATE TRIGGER usage_after_delete AFTER DELETE ON messages BEGIN
    UPDATE accounts SET storage_used = storage_used - OLD.size,
                        messages_used = messages_used - 1
    WHERE id = (SELECT account_id FROM mailboxes WHERE id = OLD.mailbox_id);
END;

CREATE TRIGGER usage_after_update AFTER UPDATE OF mailbox_id, size ON messages BEGIN
    UPDATE accounts SET storage_used = storage_used - OLD.size,
                        messages_used = messages_used - 1
    WHERE id = (SELECT account_id FROM mailboxes WHERE id = OLD.mailbox_id);
    UPDATE accounts SET storage_used = storage_used + NEW.size,
                        messages_used = messages_used + 1
    WHERE id = (SELECT account_id FROM mailboxes WHERE id = NEW.mailbox_id);
END;

UPDATE accounts SET
    storage_used = (SELECT coalesce(sum(m.size), 0) FROM messages m
                    JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.account_id = accounts.id),
    messages_used = (SELECT count(*) FROM messages m
                     JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.account_id = accounts.id);
"""

# Version 3 (issue 4): what the extensions for offline clients need.
# - `mailboxes.vanished_floor`: the modseq up to which EXPUNGE rows of the change log have
#   been pruned (RFC 7162 §3.2.5.2 lets a server forget; below the floor QRESYNC falls back
#   to comparing known UIDs).
# - `changes.logged_at`: when the row was logged (unix time), so that rows older than the
#   retention can be pruned; NULL for rows from before version 3 (pruned first).
# - `messages.savedate`: when the message was saved into this mailbox (RFC 8514); NULL for
#   rows from before version 3 (SAVEDATE then answers NIL).
# - `accounts.scram_sha256`: the SCRAM-SHA-256 stored secrets (RFC 5802 §3: salt,
#   iterations, StoredKey, ServerKey), never the password.
# - `metadata`: RFC 5464 annotations; mailbox_id 0 holds the server entries.
_V3_SCRIPT = """
ALTER TABLE mailboxes ADD COLUMN vanished_floor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN logged_at INTEGER;
ALTER TABLE messages ADD COLUMN savedate TEXT;
ALTER TABLE accounts ADD COLUMN scram_sha256 TEXT;

CREATE TABLE metadata (
    account_id INTEGER NOT NULL,
    mailbox_id INTEGER NOT NULL,
    entry      TEXT NOT NULL,
    value      BLOB NOT NULL,
    PRIMARY KEY (account_id, mailbox_id, entry)
) WITHOUT ROWID;
"""

# Version 4 (issue 9): shared mailboxes.
# - `accounts.team`: the Shared/ name of a team account (NULL for a person). A team account
#   owns the mailboxes a team works from; it has no password and never logs in.
# - `acl`: RFC 4314 entries (identifier: an account address or "anyone"; rights: letters in
#   the canonical order). The owner of a personal mailbox has every right without a row.
# - `private_seen`: the \Seen flag of each user other than the owner (per-user \Seen, as
#   Dovecot's and Cyrus's shared mailboxes keep it): a row means "this user has seen it".
#   Rows go with their message.
_V4_SCRIPT = """
ALTER TABLE accounts ADD COLUMN team TEXT;
CREATE UNIQUE INDEX accounts_by_team ON accounts (team) WHERE team IS NOT NULL;

CREATE TABLE acl (
    mailbox_id INTEGER NOT NULL,
    identifier TEXT NOT NULL,
    rights     TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, identifier)
) WITHOUT ROWID;
CREATE INDEX acl_by_identifier ON acl (identifier);

CREATE TABLE private_seen (
    mailbox_id INTEGER NOT NULL,
    account_id INTEGER NOT NULL,
    uid        INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, account_id, uid)
) WITHOUT ROWID;

CREATE TRIGGER private_seen_after_delete AFTER DELETE ON messages BEGIN
    DELETE FROM private_seen WHERE mailbox_id = OLD.mailbox_id AND uid = OLD.uid;
END;

CREATE TRIGGER acl_after_mailbox_delete AFTER DELETE ON mailboxes BEGIN
    DELETE FROM acl WHERE mailbox_id = OLD.id;
END;
"""

# Version 5 (issue 5): the full-text index (tidings/storage/sqlite/text_index.py) and the
# sort values of each blob (`blob_sort`, sort_values.py).
# `blob_text` holds each blob's folded search texts; `blob_text_index` is an FTS5 trigram
# index over them with `blob_text` as its external content (so the text is stored once),
# kept by triggers. detail=none: substring (GLOB) queries need no positions, and the index
# is a fraction of the size. Blobs stored before this version (ids below the meta row
# `text_index_floor`) and those with too much text (`blob_text_skipped`) have no text row:
# SEARCH reads those messages, as it always did.
_V5_TABLE = """
CREATE TABLE blob_text (
    blob_id INTEGER PRIMARY KEY,
    headers TEXT NOT NULL,
    body    TEXT NOT NULL
);
CREATE TABLE blob_text_skipped (blob_id INTEGER PRIMARY KEY);

-- SORT's values of each blob (tidings/storage/sqlite/sort_values.py).
CREATE TABLE blob_sort (
    blob_id      INTEGER PRIMARY KEY,
    sent         REAL NOT NULL,
    subject      TEXT NOT NULL,
    from_addr    TEXT NOT NULL,
    to_addr      TEXT NOT NULL,
    cc_addr      TEXT NOT NULL,
    display_from TEXT NOT NULL,
    display_to   TEXT NOT NULL
);
INSERT INTO meta (key, value)
    SELECT 'text_index_floor', coalesce(max(id), 0) + 1 FROM blobs;
"""
_V5_INDEX = """
CREATE VIRTUAL TABLE blob_text_index USING fts5(
    headers, body,
    content = 'blob_text', content_rowid = 'blob_id',
    tokenize = 'trigram case_sensitive 1', detail = 'none'
);

CREATE TRIGGER blob_text_after_insert AFTER INSERT ON blob_text BEGIN
    INSERT INTO blob_text_index (rowid, headers, body) VALUES (NEW.blob_id, NEW.headers, NEW.body);
END;

CREATE TRIGGER blob_text_after_delete AFTER DELETE ON blob_text BEGIN
    INSERT INTO blob_text_index (blob_text_index, rowid, headers, body)
        VALUES ('delete', OLD.blob_id, OLD.headers, OLD.body);
END;
"""


def _v5(conn: sqlite3.Connection) -> None:
    run_script(conn, _V5_TABLE)
    run_script(conn, _V5_INDEX)


# Blobs whose wire size the version-2 step computes per batch: bounds the memory the
# decompressed bodies take while upgrading a large store.
_BACKFILL_BATCH = 256


def _backfill_wire_sizes(conn: sqlite3.Connection) -> None:
    last_id = 0
    while True:
        rows = conn.execute(
            "SELECT id, body FROM blobs WHERE id > ? AND wire_size IS NULL ORDER BY id LIMIT ?",
            (last_id, _BACKFILL_BATCH),
        ).fetchall()
        if not rows:
            return
        conn.executemany(
            "UPDATE blobs SET wire_size = ? WHERE id = ?",
            ((blobs.pop3_wire_size(blobs.decompress(body)), blob_id) for blob_id, body in rows),
        )
        last_id = int(rows[-1][0])


def _v2(conn: sqlite3.Connection) -> None:
    run_script(conn, _V2_SCRIPT)
    _backfill_wire_sizes(conn)


# A step is a SQL script or a function of the connection; either runs inside the step's
# transaction. Index i takes the schema from version i to i + 1.
Migration = str | Callable[[sqlite3.Connection], None]
MIGRATIONS: tuple[Migration, ...] = (V1_SCRIPT, _v2, _V3_SCRIPT, _V4_SCRIPT, _v5)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer Tidings than this one."""


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Execute each statement of `script` in the current transaction.

    Not `executescript`, which commits first. Statements are split where SQLite says one is
    complete, so a `;` inside a trigger body does not end the trigger."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            conn.execute(pending)
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in migration: {pending.strip()[:60]}")


def migrate(conn: sqlite3.Connection, steps: Sequence[Migration] = MIGRATIONS) -> None:
    """Bring the schema up to len(steps), each step in its own transaction."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > len(steps):
        raise SchemaTooNewError(
            f"database schema version {version} is newer than supported ({len(steps)})"
        )
    for step in range(version, len(steps)):
        conn.execute("BEGIN IMMEDIATE")
        try:
            migration = steps[step]
            if isinstance(migration, str):
                run_script(conn, migration)
            else:
                migration(conn)
            # PRAGMA user_version is transactional, so a crash leaves the old version.
            conn.execute(f"PRAGMA user_version = {step + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
