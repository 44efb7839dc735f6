"""Shared mailboxes in SQLite: team accounts and RFC 4314 access control lists (schema v4).

A team account (`accounts.team` set) owns the mailboxes of a team, as Dovecot's public
namespace owns them: it has no password, so nobody logs in as it, and its mail counts
against its own quota. Its INBOX is what members see as `Shared/NAME`. Rights live in `acl`,
one row per mailbox and identifier; the owner of a personal mailbox holds every right
without a row (RFC 4314 §2 lets a server grant rights implicitly).
"""

from __future__ import annotations

from tidings.core.acl import ALL_RIGHTS, ANYONE, parse_rights, rights_text
from tidings.core.errors import MailError, MailErrorKind
from tidings.storage.api import SharedMailbox
from tidings.storage.sqlite.database import WriteTxn
from tidings.storage.sqlite.mailboxes import insert_mailbox
from tidings.storage.sqlite.sql import Connection

TEAM_PASSWORD_HASH = "!team"
"""Matches no password (tidings.auth.passwords.verify_password never raises)."""


def add_team(txn: WriteTxn, name: str, address: str) -> None:
    """A team account `address` whose INBOX members see as Shared/`name`; EXISTS if the
    name or the address is taken."""
    conn = txn.conn
    taken = conn.execute(
        "SELECT address FROM accounts WHERE address = ? OR team = ?", (address, name)
    ).fetchone()
    if taken is not None:
        raise MailError(MailErrorKind.EXISTS, f"Shared mailbox or account already exists: {name}")
    row = conn.execute(
        "INSERT INTO accounts (address, password_hash, team) VALUES (?, ?, ?) RETURNING id",
        (address, TEAM_PASSWORD_HASH, name),
    ).fetchone()
    insert_mailbox(conn, int(row[0]), "INBOX", None)
    txn.notify(address, None, 0)


def team_names(conn: Connection) -> dict[str, str]:
    """Every team: its Shared/ name -> its account address."""
    return {
        str(team): str(address)
        for team, address in conn.execute(
            "SELECT team, address FROM accounts WHERE team IS NOT NULL ORDER BY team"
        )
    }


def is_team(conn: Connection, account_id: int) -> bool:
    """Whether the account is a team account."""
    row = conn.execute("SELECT team FROM accounts WHERE id = ?", (account_id,)).fetchone()
    return row is not None and row[0] is not None


def get_acl(conn: Connection, mailbox_id: int) -> list[tuple[str, str]]:
    """The (identifier, rights) rows of the mailbox, by identifier."""
    return [
        (str(identifier), str(rights))
        for identifier, rights in conn.execute(
            "SELECT identifier, rights FROM acl WHERE mailbox_id = ? ORDER BY identifier",
            (mailbox_id,),
        )
    ]


def set_acl(txn: WriteTxn, owner: str, mailbox_id: int, identifier: str, rights: str) -> None:
    """Grant `identifier` exactly `rights` on the mailbox ("" removes the entry). The
    owner's account hears of it, so members' LIST and NOTIFY can follow."""
    conn = txn.conn
    if conn.execute("SELECT 1 FROM mailboxes WHERE id = ?", (mailbox_id,)).fetchone() is None:
        raise MailError(MailErrorKind.NOTFOUND, "Mailbox doesn't exist")
    canonical = rights_text(parse_rights(rights))
    if canonical:
        conn.execute(
            "INSERT INTO acl (mailbox_id, identifier, rights) VALUES (?, ?, ?)"
            " ON CONFLICT (mailbox_id, identifier) DO UPDATE SET rights = excluded.rights",
            (mailbox_id, identifier, canonical),
        )
    else:
        conn.execute(
            "DELETE FROM acl WHERE mailbox_id = ? AND identifier = ?", (mailbox_id, identifier)
        )
    txn.notify(owner, None, 0)
    if identifier != ANYONE:
        txn.notify(identifier, None, 0)


def inherit_acl(conn: Connection, parent_id: int, child_id: int) -> None:
    """A new child mailbox starts with its parent's ACL (what Dovecot's ACL plugin does)."""
    conn.execute(
        "INSERT INTO acl (mailbox_id, identifier, rights)"
        " SELECT ?, identifier, rights FROM acl WHERE mailbox_id = ?"
        " ON CONFLICT (mailbox_id, identifier) DO UPDATE SET rights = excluded.rights",
        (child_id, parent_id),
    )


def shared_with(conn: Connection, viewer_id: int, viewer: str) -> list[SharedMailbox]:
    """Every mailbox of another account on which `viewer` (or `anyone`) has a right, with
    the union of those rights, by owner and name."""
    rows = conn.execute(
        "SELECT m.id, m.name, a.address, a.team, acl.rights FROM acl"
        " JOIN mailboxes m ON m.id = acl.mailbox_id JOIN accounts a ON a.id = m.account_id"
        " WHERE acl.identifier IN (?, ?) AND a.id != ? ORDER BY a.address, m.name",
        (viewer, ANYONE, viewer_id),
    ).fetchall()
    merged: dict[int, SharedMailbox] = {}
    for mailbox_id, name, owner, team, rights in rows:
        granted = frozenset(str(rights)) & frozenset(ALL_RIGHTS)
        known = merged.get(mailbox_id)
        if known is not None:
            granted |= known.rights
        merged[int(mailbox_id)] = SharedMailbox(
            str(owner), None if team is None else str(team), int(mailbox_id), str(name), granted
        )
    return list(merged.values())


def rights_of(conn: Connection, mailbox_id: int, viewer: str) -> frozenset[str]:
    """The rights `viewer` holds on the mailbox through its ACL (not as its owner)."""
    granted: set[str] = set()
    for (rights,) in conn.execute(
        "SELECT rights FROM acl WHERE mailbox_id = ? AND identifier IN (?, ?)",
        (mailbox_id, viewer, ANYONE),
    ):
        granted.update(str(rights))
    return frozenset(granted) & frozenset(ALL_RIGHTS)
