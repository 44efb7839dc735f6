"""`SqliteBackend`: the embedded storage backend (accounts plus lifecycle)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from tidings.core.errors import MailError, MailErrorKind
from tidings.notify.hub import NotificationHub
from tidings.storage.api import DEFAULT_MAILBOXES, AccountSettings, SharedMailbox
from tidings.storage.sqlite import acl, backfill, blobs, changelog, credentials, objectids, quota
from tidings.storage.sqlite.database import Database, WriteTxn
from tidings.storage.sqlite.mailboxes import insert_mailbox
from tidings.storage.sqlite.records import Owner
from tidings.storage.sqlite.snapshots import SnapshotCache
from tidings.storage.sqlite.sql import Connection, SqlDatabase
from tidings.storage.sqlite.store import SqliteMailStore


def _address(address: str) -> str:
    # Lookups ignore case: the whole address, as Dovecot's auth_username_format=%Lu does.
    return address.strip().lower()


def _owner(conn: Connection, address: str) -> Owner:
    row = conn.execute("SELECT id FROM accounts WHERE address = ?", (address,)).fetchone()
    if row is None:
        raise MailError(MailErrorKind.NOTFOUND, f"No such account: {address}")
    return Owner(address, int(row[0]))


def _add_account(txn: WriteTxn, address: str, password_hash: str, scram: str | None) -> None:
    conn = txn.conn
    row = conn.execute(
        "INSERT INTO accounts (address, password_hash, scram_sha256) VALUES (?, ?, ?)"
        " ON CONFLICT (address) DO NOTHING RETURNING id",
        (address, password_hash, scram),
    ).fetchone()
    if row is None:
        raise MailError(MailErrorKind.EXISTS, f"Account already exists: {address}")
    for name, special_use in DEFAULT_MAILBOXES:
        insert_mailbox(conn, int(row[0]), name, special_use)
        conn.execute("INSERT INTO subscriptions (account_id, name) VALUES (?, ?)", (row[0], name))


def _set_password_hash(txn: WriteTxn, address: str, password_hash: str, scram: str | None) -> None:
    owner = _owner(txn.conn, address)
    txn.conn.execute(
        "UPDATE accounts SET password_hash = ?, scram_sha256 = ? WHERE id = ?",
        (password_hash, scram, owner.id),
    )


def _remove_account(txn: WriteTxn, address: str) -> None:
    conn = txn.conn
    owner = _owner(conn, address)
    mailbox_ids = "SELECT id FROM mailboxes WHERE account_id = ?"
    blob_ids = [
        int(row[0])
        for row in conn.execute(
            f"DELETE FROM messages WHERE mailbox_id IN ({mailbox_ids}) RETURNING blob_id",
            (owner.id,),
        )
    ]
    for table in ("changes", "mailbox_keywords", "acl", "private_seen"):
        conn.execute(f"DELETE FROM {table} WHERE mailbox_id IN ({mailbox_ids})", (owner.id,))
    for table in ("mailboxes", "subscriptions", "metadata"):
        conn.execute(f"DELETE FROM {table} WHERE account_id = ?", (owner.id,))
    conn.execute("DELETE FROM accounts WHERE id = ?", (owner.id,))
    conn.execute("DELETE FROM acl WHERE identifier = ?", (address,))
    conn.execute("DELETE FROM private_seen WHERE account_id = ?", (owner.id,))
    blobs.collect(conn, blob_ids)
    txn.notify(address, None, 0)


def _set_quota(
    txn: WriteTxn, address: str, storage_limit: int | None, message_limit: int | None
) -> None:
    quota.set_quota(txn, _owner(txn.conn, address), storage_limit, message_limit)


def _set_settings(txn: WriteTxn, address: str, settings: AccountSettings) -> None:
    quota.set_settings(txn, _owner(txn.conn, address), settings)


def _list_accounts(conn: Connection) -> list[str]:
    return [str(row[0]) for row in conn.execute("SELECT address FROM accounts ORDER BY address")]


def _password_hash(conn: Connection, address: str) -> str | None:
    row = conn.execute(
        "SELECT password_hash FROM accounts WHERE address = ?", (address,)
    ).fetchone()
    return None if row is None else str(row[0])


class SqliteBackend:
    """Accounts and mail in one SQLite file (implements `tidings.storage.api.Backend`)."""

    def __init__(
        self,
        db: SqlDatabase,
        max_message_size: int | None,
        change_retention: float = changelog.DEFAULT_RETENTION,
    ) -> None:
        self._db = db
        self._max_message_size = max_message_size
        self._change_retention = change_retention
        self._snapshots = SnapshotCache()  # what SELECT reads again, shared by the sessions

    @classmethod
    async def open(
        cls,
        path: Path,
        hub: NotificationHub | None = None,
        *,
        max_message_size: int | None = None,
        change_retention: float = changelog.DEFAULT_RETENTION,
    ) -> SqliteBackend:
        """Open or create the database file at `path`; notices go to `hub` if given.
        Change-log rows older than `change_retention` seconds are pruned (here, bounded,
        and on every expunge; see storage/sqlite/changelog.py)."""
        db = await Database.open(Path(path), hub)
        return await cls.on(
            db, max_message_size=max_message_size, change_retention=change_retention
        )

    @classmethod
    async def open_memory(
        cls,
        hub: NotificationHub | None = None,
        *,
        max_message_size: int | None = None,
        change_retention: float = changelog.DEFAULT_RETENTION,
    ) -> SqliteBackend:
        """A new store in memory only (the "memory" backend): for tests and throwaway
        servers; everything is gone when it is closed."""
        db = await Database.open_memory(hub)
        return await cls.on(
            db, max_message_size=max_message_size, change_retention=change_retention
        )

    @classmethod
    async def on(
        cls,
        db: SqlDatabase,
        *,
        max_message_size: int | None = None,
        change_retention: float = changelog.DEFAULT_RETENTION,
    ) -> Self:
        """The backend over an open database (SQLite's, or PostgreSQL's: the SQL is the
        same), once the store's key exists and the change log is pruned."""
        try:
            if not await db.read(objectids.has_secret):  # RFC 8474 ids need the key (once)
                await db.write(objectids.ensure_secret)
            backend = cls(db, max_message_size, change_retention)
            await backend.prune_change_log()
        except BaseException:
            await db.close()
            raise
        return backend

    async def prune_change_log(self, retention: float | None = None) -> int:
        """Drop change-log rows older than `retention` seconds (default: the configured
        retention) in every mailbox, bounded; return how many went."""
        keep = self._change_retention if retention is None else retention
        return await self._db.write(changelog.prune_all, changelog.cutoff_for(keep))

    async def add_account(
        self, address: str, password_hash: str, *, scram_sha256: str | None = None
    ) -> None:
        """Create the account with the DEFAULT_MAILBOXES, subscribed; EXISTS if present."""
        await self._db.write(_add_account, _address(address), password_hash, scram_sha256)

    async def set_password_hash(
        self, address: str, password_hash: str, *, scram_sha256: str | None = None
    ) -> None:
        """Replace the stored hash and SCRAM secrets; NOTFOUND if no such account."""
        await self._db.write(_set_password_hash, _address(address), password_hash, scram_sha256)

    async def scram_sha256(self, address: str) -> str | None:
        """The stored SCRAM-SHA-256 secrets, None if no such account or none stored."""
        return await self._db.read_small(credentials.scram_sha256, _address(address))

    async def set_scram_sha256(self, address: str, scram_sha256: str, password_hash: str) -> bool:
        """Store SCRAM secrets while the hash is still `password_hash`; whether stored."""
        return await self._db.write(
            credentials.set_scram_sha256, _address(address), scram_sha256, password_hash
        )

    async def auth_secret(self) -> bytes:
        """The store's random auth key, made on first use."""
        secret = await self._db.read_small(credentials.read_auth_secret)
        if secret is None:
            secret = await self._db.write(credentials.ensure_auth_secret)
        return secret

    async def count_accounts_without_scram(self) -> int:
        """Accounts whose `scram_sha256` is still NULL."""
        return await self._db.read(credentials.count_without_scram)

    async def remove_account(self, address: str) -> None:
        """Delete the account and all its mail; NOTFOUND if none."""
        await self._db.write(_remove_account, _address(address))

    async def list_accounts(self) -> list[str]:
        """All account addresses, sorted."""
        return await self._db.read(_list_accounts)

    async def password_hash(self, address: str) -> str | None:
        """The stored hash, None if there is no such account."""
        return await self._db.read_small(_password_hash, _address(address))

    async def index_old_mail(self, batch: int = backfill.BACKFILL_BATCH) -> tuple[int, int]:
        """Index one batch of the mail stored before the full-text index existed (the
        newest first); (how many messages' blobs were indexed, how many are left)."""
        return await self._db.write(backfill.index_batch, batch)

    async def mail_store(self, address: str) -> SqliteMailStore:
        """The account's mail; NOTFOUND if no such account."""
        owner = await self._db.read_small(_owner, _address(address))
        return SqliteMailStore(
            self._db, owner, self._max_message_size, self._change_retention,
            snapshots=self._snapshots,
        )  # fmt: skip

    # ------------------------------------------------------------------ sharing (RFC 4314)
    async def guest_store(self, owner: str, viewer: str) -> SqliteMailStore:
        """`owner`'s mail as `viewer` works in it: \\Seen is the viewer's own. Rights are
        not checked here (tidings.storage.namespaces does); NOTFOUND if either is missing."""
        owning = await self._db.read_small(_owner, _address(owner))
        viewing = await self._db.read_small(_owner, _address(viewer))
        return SqliteMailStore(
            self._db, owning, self._max_message_size, self._change_retention, viewing,
            snapshots=self._snapshots,
        )  # fmt: skip

    async def add_team(self, name: str, address: str) -> None:
        """A team account `address` whose INBOX members see as Shared/`name`."""
        await self._db.write(acl.add_team, name, _address(address))

    async def teams(self) -> dict[str, str]:
        """Every team: Shared/ name -> account address."""
        return await self._db.read(acl.team_names)

    async def shared_with(self, viewer: str) -> list[SharedMailbox]:
        """The mailboxes of other accounts `viewer` holds rights on."""
        viewing = await self._db.read_small(_owner, _address(viewer))
        return await self._db.read(acl.shared_with, viewing.id, viewing.address)

    async def get_acl(self, mailbox_id: int) -> list[tuple[str, str]]:
        """The ACL rows (identifier, rights) of a mailbox."""
        return await self._db.read(acl.get_acl, mailbox_id)

    async def set_acl(self, owner: str, mailbox_id: int, identifier: str, rights: str) -> None:
        """Grant `identifier` exactly `rights` ("" removes it) on `owner`'s mailbox."""
        ident = identifier if identifier == "anyone" else _address(identifier)
        await self._db.write(acl.set_acl, _address(owner), mailbox_id, ident, rights)

    async def inherit_acl(self, parent_id: int, child_id: int) -> None:
        """Give a new mailbox its parent's ACL."""

        def copy(txn: WriteTxn) -> None:
            acl.inherit_acl(txn.conn, parent_id, child_id)

        await self._db.write(copy)

    async def set_quota(
        self, address: str, storage_limit: int | None, message_limit: int | None
    ) -> None:
        """Set both limits (octets, messages; None = unlimited); NOTFOUND if no such
        account, CANNOT for a negative or over-large limit."""
        await self._db.write(_set_quota, _address(address), storage_limit, message_limit)

    async def set_settings(self, address: str, settings: AccountSettings) -> None:
        """Replace the account's delivery settings; NOTFOUND if no such account."""
        await self._db.write(_set_settings, _address(address), settings)

    async def close(self) -> None:
        """Finish queued work and close the database."""
        await self._db.close()
