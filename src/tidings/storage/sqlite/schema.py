"""The SQLite schema and its migrations, keyed by `PRAGMA user_version`.

Design notes (why the tables look the way they do):
- `blobs` holds each distinct message once, keyed by the SHA-256 of its raw bytes, with the
  body and the parsed facts zlib-compressed. Rows are never updated, only inserted and, once
  no message references them, deleted (DESIGN.md "Storage").
- `messages` and `changes` are WITHOUT ROWID tables clustered on (mailbox_id, uid) and
  (mailbox_id, modseq, uid): SELECT reads one contiguous range, and "changes since N" too.
- System flags are a bitmask so STATUS counts \\Seen and \\Deleted in SQL; keywords are a
  space-separated text (IMAP atoms cannot contain spaces, RFC 9051 §9 `atom`).
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 1

_V1 = """
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

# Index i holds the script that takes the schema from version i to i + 1.
_MIGRATIONS: tuple[str, ...] = (_V1,)


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer Tidings than this one."""


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema up to SCHEMA_VERSION, each step in its own transaction."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"database schema version {version} is newer than supported ({SCHEMA_VERSION})"
        )
    for step in range(version, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _MIGRATIONS[step].split(";"):
                if statement.strip():
                    conn.execute(statement)
            # PRAGMA user_version is transactional, so a crash leaves the old version.
            conn.execute(f"PRAGMA user_version = {step + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
