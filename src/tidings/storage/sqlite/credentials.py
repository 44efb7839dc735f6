"""SCRAM secrets and the store's auth key in SQLite (the SCRAM side of `AccountStore`).

`accounts.scram_sha256` (schema v3) holds the RFC 5803 text of tidings.auth.scram_secrets;
the auth key is a `meta` row made on first use.
"""

from __future__ import annotations

import secrets

from tidings.core.errors import MailError, MailErrorKind
from tidings.storage.sqlite.database import WriteTxn
from tidings.storage.sqlite.sql import Connection

AUTH_SECRET_KEY = "auth_secret"
# meta.value has INTEGER affinity: a prefix keeps the hex text from ever reading as a number.
_PREFIX = "k"


def scram_sha256(conn: Connection, address: str) -> str | None:
    """The stored SCRAM secrets of `address` (already lower case), None if none."""
    row = conn.execute("SELECT scram_sha256 FROM accounts WHERE address = ?", (address,)).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def set_scram_sha256(txn: WriteTxn, address: str, scram: str, password_hash: str) -> bool:
    """Store `scram` if the account's hash is still `password_hash`; NOTFOUND if no account."""
    stored = txn.conn.execute(
        "UPDATE accounts SET scram_sha256 = ? WHERE address = ? AND password_hash = ? RETURNING 1",
        (scram, address, password_hash),
    ).fetchone()
    if stored is not None:
        return True
    exists = txn.conn.execute("SELECT 1 FROM accounts WHERE address = ?", (address,)).fetchone()
    if exists is None:
        raise MailError(MailErrorKind.NOTFOUND, f"No such account: {address}")
    return False


def count_without_scram(conn: Connection) -> int:
    """Accounts without SCRAM secrets."""
    row = conn.execute("SELECT COUNT(*) FROM accounts WHERE scram_sha256 IS NULL").fetchone()
    return int(row[0])


def read_auth_secret(conn: Connection) -> bytes | None:
    """The key, None before it was made."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (AUTH_SECRET_KEY,)).fetchone()
    return None if row is None else bytes.fromhex(str(row[0]).removeprefix(_PREFIX))


def ensure_auth_secret(txn: WriteTxn) -> bytes:
    """The key, made now (32 random bytes) if there is none."""
    txn.conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
        (AUTH_SECRET_KEY, _PREFIX + secrets.token_hex(32)),
    )
    secret = read_auth_secret(txn.conn)
    assert secret is not None
    return secret
