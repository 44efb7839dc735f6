"""Quotas and account settings: the limits and usage counters on each account row.

Usage (octets and messages over all the account's mailboxes, \\Deleted messages included, as
Dovecot's `count` backend counts) is kept by triggers on `messages` (schema version 2), so it
is exact whatever path adds or removes a message. The checks here run inside the write
transaction that adds the messages: `Database.write` holds `BEGIN IMMEDIATE`, the database's
single write lock, so two deliveries (from this process or another one on the same file)
cannot both see room for one message and both take it.
"""

from __future__ import annotations

from tidings.core.errors import OVERQUOTA_REASON, MailError, MailErrorKind
from tidings.storage.api import AccountSettings, Quota
from tidings.storage.sqlite.database import WriteTxn
from tidings.storage.sqlite.records import Owner
from tidings.storage.sqlite.sql import Connection

# Limits are SQLite INTEGERs, and IMAP reports them as number64 (RFC 9051 §9): both top out
# at 2^63 - 1.
MAX_QUOTA_LIMIT = 2**63 - 1

# Dovecot's default `quota_exceeded_message`, which clients and users already know.


def read_quota(conn: Connection, owner: Owner) -> Quota:
    """The account's limits and usage as of this transaction."""
    row = conn.execute(
        "SELECT storage_limit, message_limit, storage_used, messages_used FROM accounts"
        " WHERE id = ?",
        (owner.id,),
    ).fetchone()
    if row is None:
        raise MailError(MailErrorKind.NOTFOUND, f"No such account: {owner.address}")
    storage_limit, message_limit, storage_used, messages_used = row
    return Quota(storage_limit, message_limit, int(storage_used), int(messages_used))


def ensure_room(conn: Connection, owner: Owner, octets: int, messages: int) -> None:
    """OVERQUOTA unless `messages` more messages of `octets` in total fit in the account.

    Checked inside the caller's write transaction, so concurrent writers never overshoot."""
    if not read_quota(conn, owner).fits(octets, messages):
        raise MailError(MailErrorKind.OVERQUOTA, OVERQUOTA_REASON)


def _check_limit(name: str, value: int | None) -> None:
    if value is not None and not 0 <= value <= MAX_QUOTA_LIMIT:
        raise MailError(
            MailErrorKind.CANNOT, f"{name} limit must be between 0 and {MAX_QUOTA_LIMIT}"
        )


def set_quota(
    txn: WriteTxn, owner: Owner, storage_limit: int | None, message_limit: int | None
) -> None:
    """Replace both limits (None = unlimited). Usage may already exceed a new limit: then
    nothing more can be added until enough is expunged, and nothing is removed."""
    _check_limit("Storage", storage_limit)
    _check_limit("Message", message_limit)
    txn.conn.execute(
        "UPDATE accounts SET storage_limit = ?, message_limit = ? WHERE id = ?",
        (storage_limit, message_limit, owner.id),
    )


def read_settings(conn: Connection, owner: Owner) -> AccountSettings:
    """The account's delivery settings (NULL columns: the server's default)."""
    row = conn.execute("SELECT junk_routing FROM accounts WHERE id = ?", (owner.id,)).fetchone()
    if row is None:
        raise MailError(MailErrorKind.NOTFOUND, f"No such account: {owner.address}")
    return AccountSettings(junk_routing=None if row[0] is None else bool(row[0]))


def set_settings(txn: WriteTxn, owner: Owner, settings: AccountSettings) -> None:
    """Replace the account's delivery settings."""
    junk_routing = None if settings.junk_routing is None else int(settings.junk_routing)
    txn.conn.execute("UPDATE accounts SET junk_routing = ? WHERE id = ?", (junk_routing, owner.id))
