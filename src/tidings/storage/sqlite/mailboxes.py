"""Mailbox-level operations: list, create, delete, rename, subscribe, status.

Each function runs on a database thread inside a transaction; those that change anything
take a `WriteTxn` and record the change notice to publish after the commit.
"""

from __future__ import annotations

from tidings.core.errors import MailError, MailErrorKind
from tidings.storage.api import MailboxInfo, MailboxStatus
from tidings.storage.sqlite import names
from tidings.storage.sqlite.database import WriteTxn
from tidings.storage.sqlite.flags import DELETED, SEEN
from tidings.storage.sqlite.objectids import mailbox_objectid
from tidings.storage.sqlite.records import (
    MAILBOX_COLUMNS,
    MAX_UID,
    MailboxRow,
    Owner,
    copy_rows,
    drop_mailbox,
    mailbox_by_name,
    new_uidvalidity,
    remove_rows,
)
from tidings.storage.sqlite.sql import Connection


def _info(row: MailboxRow, subscribed: bool, mailboxid: str) -> MailboxInfo:
    return MailboxInfo(
        id=row.id,
        name=row.name,
        uidvalidity=row.uidvalidity,
        uidnext=row.uidnext,
        highestmodseq=row.highestmodseq,
        special_use=row.special_use,
        subscribed=subscribed,
        mailboxid=mailboxid,
    )


def _is_subscribed(conn: Connection, owner: Owner, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM subscriptions WHERE account_id = ? AND name = ?", (owner.id, name)
    ).fetchone()
    return row is not None


def mailbox_info(conn: Connection, owner: Owner, row: MailboxRow) -> MailboxInfo:
    """The MailboxInfo of a row read in this transaction."""
    mailboxid = mailbox_objectid(conn, row.id, row.uidvalidity)
    return _info(row, _is_subscribed(conn, owner, row.name), mailboxid)


def list_mailboxes(conn: Connection, owner: Owner) -> list[MailboxInfo]:
    """Every mailbox of the account, sorted by name (code point order, as stored)."""
    columns = ", ".join(f"m.{column.strip()}" for column in MAILBOX_COLUMNS.split(","))
    rows = conn.execute(
        f"SELECT {columns}, s.name IS NOT NULL FROM mailboxes m"
        " LEFT JOIN subscriptions s ON s.account_id = m.account_id AND s.name = m.name"
        " WHERE m.account_id = ? ORDER BY m.name",
        (owner.id,),
    ).fetchall()
    infos = [(MailboxRow(*row[:-1]), bool(row[-1])) for row in rows]
    return [_info(r, sub, mailbox_objectid(conn, r.id, r.uidvalidity)) for r, sub in infos]


def list_subscriptions(conn: Connection, owner: Owner) -> list[str]:
    """Subscribed names, sorted; they may name mailboxes that no longer exist."""
    rows = conn.execute(
        "SELECT name FROM subscriptions WHERE account_id = ? ORDER BY name", (owner.id,)
    )
    return [str(row[0]) for row in rows]


def get_mailbox(conn: Connection, owner: Owner, name: str) -> MailboxInfo:
    """The mailbox called `name`; NOTFOUND if none."""
    return mailbox_info(conn, owner, mailbox_by_name(conn, owner.id, names.normalize(name)))


def insert_mailbox(
    conn: Connection, account_id: int, name: str, special_use: str | None
) -> MailboxRow:
    """Insert one new, empty mailbox row (the caller has checked the name is free)."""
    uidvalidity = new_uidvalidity(conn)
    row = conn.execute(
        "INSERT INTO mailboxes (account_id, name, uidvalidity, uidnext, highestmodseq,"
        f" special_use) VALUES (?, ?, ?, 1, 1, ?) RETURNING {MAILBOX_COLUMNS}",
        (account_id, name, uidvalidity, special_use),
    ).fetchone()
    return MailboxRow(*row)


def set_uidvalidity(txn: WriteTxn, owner: Owner, name: str, uidvalidity: int) -> MailboxInfo:
    """Set the UIDVALIDITY of a mailbox that has never held a message (an import keeping
    the source's, RFC 9051 §2.3.1.1); CANNOT once it has handed out a UID."""
    conn = txn.conn
    if not 0 < uidvalidity <= MAX_UID:
        raise MailError(MailErrorKind.CANNOT, f"UIDVALIDITY {uidvalidity} is out of range")
    row = mailbox_by_name(conn, owner.id, names.normalize(name))
    if row.uidvalidity != uidvalidity:
        if row.uidnext != 1:
            raise MailError(
                MailErrorKind.CANNOT,
                f"{row.name} has held messages: its UIDVALIDITY cannot change",
            )
        conn.execute("UPDATE mailboxes SET uidvalidity = ? WHERE id = ?", (uidvalidity, row.id))
    return get_mailbox(conn, owner, name)


def _exists(conn: Connection, owner: Owner, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM mailboxes WHERE account_id = ? AND name = ?", (owner.id, name)
    ).fetchone()
    return row is not None


def _create_parents(conn: Connection, owner: Owner, name: str) -> None:
    for parent in names.parents(name):
        if not _exists(conn, owner, parent):
            insert_mailbox(conn, owner.id, parent, None)


def create_mailbox(txn: WriteTxn, owner: Owner, name: str, special_use: str | None) -> MailboxInfo:
    """Create `name` and its missing parents; EXISTS if it exists, CANNOT if invalid."""
    name = names.validate(name)
    if _exists(txn.conn, owner, name):
        raise MailError(MailErrorKind.EXISTS, "Mailbox already exists")
    _create_parents(txn.conn, owner, name)
    row = insert_mailbox(txn.conn, owner.id, name, special_use)
    txn.notify(owner.address, None, 0)
    return mailbox_info(txn.conn, owner, row)


def _has_children(conn: Connection, owner: Owner, name: str) -> bool:
    low, high = names.children_range(name)
    row = conn.execute(
        "SELECT 1 FROM mailboxes WHERE account_id = ? AND name > ? AND name < ? LIMIT 1",
        (owner.id, low, high),
    ).fetchone()
    return row is not None


def delete_mailbox(txn: WriteTxn, owner: Owner, name: str) -> None:
    """Delete `name` and its messages; NOPERM for INBOX, CANNOT if it has children.

    Subscriptions are left alone: RFC 9051 §6.3.9 says DELETE does not unsubscribe.
    """
    name = names.normalize(name)
    if name == names.INBOX:
        raise MailError(MailErrorKind.NOPERM, "INBOX can't be deleted.")
    row = mailbox_by_name(txn.conn, owner.id, name)
    if _has_children(txn.conn, owner, name):
        # Dovecot's wording; RFC 9051 §6.3.9 would allow a \Noselect parent instead.
        raise MailError(MailErrorKind.CANNOT, "Mailbox has children, delete them first")
    drop_mailbox(txn.conn, row.id)
    txn.notify(owner.address, None, 0)


def rename_mailbox(txn: WriteTxn, owner: Owner, old: str, new: str) -> None:
    """Rename `old` and its children to `new` (INBOX: move its messages, RFC 9051 §6.3.6)."""
    conn = txn.conn
    old = names.normalize(old)
    new = names.validate(new)
    source = mailbox_by_name(conn, owner.id, old)
    if _exists(conn, owner, new):
        raise MailError(MailErrorKind.EXISTS, "Target mailbox already exists")
    if old == names.INBOX:
        _rename_inbox(txn, owner, source, new)
        return
    if names.is_within(new, old):
        raise MailError(MailErrorKind.CANNOT, "Can't rename mailbox under itself")
    low, high = names.children_range(old)
    moved = [old] + [
        str(row[0])
        for row in conn.execute(
            "SELECT name FROM mailboxes WHERE account_id = ? AND name > ? AND name < ?",
            (owner.id, low, high),
        )
    ]
    _create_parents(conn, owner, new)
    for name in moved:
        target = new + name[len(old) :]
        if _exists(conn, owner, target):  # only reachable if the hierarchy has holes
            raise MailError(MailErrorKind.EXISTS, f"Target mailbox already exists: {target}")
        conn.execute(
            "UPDATE mailboxes SET name = ? WHERE account_id = ? AND name = ?",
            (target, owner.id, name),
        )
    _rename_subscriptions(conn, owner, old, new)
    txn.notify(owner.address, None, 0)


def _rename_subscriptions(conn: Connection, owner: Owner, old: str, new: str) -> None:
    # Dovecot renames the subscriptions of the mailbox and its children along with them.
    low, high = names.children_range(old)
    subscribed = [
        str(row[0])
        for row in conn.execute(
            "DELETE FROM subscriptions WHERE account_id = ? AND (name = ? OR"
            " (name > ? AND name < ?)) RETURNING name",
            (owner.id, old, low, high),
        )
    ]
    conn.executemany(
        "INSERT INTO subscriptions (account_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING",
        ((owner.id, new + name[len(old) :]) for name in subscribed),
    )


def _rename_inbox(txn: WriteTxn, owner: Owner, inbox: MailboxRow, new: str) -> None:
    # RFC 9051 §6.3.6: the messages move to a new mailbox, INBOX stays (empty), and INBOX's
    # children are not renamed.
    conn = txn.conn
    _create_parents(conn, owner, new)
    target = insert_mailbox(conn, owner.id, new, None)
    all_uids = [
        int(row[0])
        for row in conn.execute(
            "SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid", (inbox.id,)
        )
    ]
    _, _, target_modseq = copy_rows(conn, inbox, all_uids, target)
    inbox_modseq = remove_rows(conn, inbox.id, all_uids)
    txn.notify(owner.address, None, 0)
    if inbox_modseq:
        txn.notify(owner.address, inbox.id, inbox_modseq)
        txn.notify(owner.address, target.id, target_modseq)


def set_subscribed(txn: WriteTxn, owner: Owner, name: str, subscribed: bool) -> None:
    """Add or remove `name` from the subscriptions; CANNOT if it is not a valid name."""
    name = names.validate(name)
    if subscribed:
        statement = "INSERT INTO subscriptions VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING 1"
    else:
        statement = "DELETE FROM subscriptions WHERE account_id = ? AND name = ? RETURNING 1"
    if txn.conn.execute(statement, (owner.id, name)).fetchone() is not None:
        txn.notify(owner.address, None, 0)


def status(conn: Connection, owner: Owner, name: str) -> MailboxStatus:
    """STATUS counters of `name` (RECENT: messages above the recent floor; DELETED-STORAGE:
    the octets of the \\Deleted messages, which EXPUNGE would free, RFC 9208 §4.1.4)."""
    row = mailbox_by_name(conn, owner.id, names.normalize(name))
    messages, recent, unseen, deleted, size, deleted_storage = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE uid > ?),"
        " count(*) FILTER (WHERE (sysflags & ?) = 0), count(*) FILTER (WHERE (sysflags & ?) != 0),"
        " coalesce(sum(size), 0), coalesce(sum(size) FILTER (WHERE (sysflags & ?) != 0), 0)"
        " FROM messages WHERE mailbox_id = ?",
        (row.recent_floor, SEEN, DELETED, DELETED, row.id),
    ).fetchone()
    return MailboxStatus(
        messages=int(messages),
        recent=int(recent),
        unseen=int(unseen),
        deleted=int(deleted),
        size=int(size),
        uidnext=row.uidnext,
        uidvalidity=row.uidvalidity,
        highestmodseq=row.highestmodseq,
        deleted_storage=int(deleted_storage),
        mailboxid=mailbox_objectid(conn, row.id, row.uidvalidity),
    )
