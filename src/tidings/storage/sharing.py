"""What the admin CLI does for shared mailboxes (`tidings mailbox share`, `tidings shared
create|list`), over any backend that keeps ACLs (tidings.storage.namespaces.SharingBackend).

A grant covers the mailbox and every mailbox below it (`Work` and `Work/Reports`), since a
team or a colleague is usually given a folder tree; new mailboxes created below a shared one
later start with its ACL. A team's delivery address is the team account's address:
`support@example.org` for `tidings shared create support@example.org`; a team created
with a bare name gets `NAME@shared.invalid`, which no mail can reach (RFC 2606 §2).
"""

from __future__ import annotations

from collections.abc import Sequence

from tidings.core.acl import ANYONE, parse_rights, rights_text
from tidings.core.errors import MailError, MailErrorKind
from tidings.storage.namespaces import DELIMITER, SHARED, SharingBackend

UNDELIVERABLE_DOMAIN = "shared.invalid"


def split_spec(spec: str) -> tuple[str, str]:
    """ADDRESS/MAILBOX as (address, mailbox); a bare ADDRESS means its INBOX."""
    address, _, mailbox = spec.partition(DELIMITER)
    return address.strip().lower(), mailbox or "INBOX"


async def share_mailbox(
    backend: SharingBackend, owner: str, mailbox: str, identifier: str, rights: str
) -> list[str]:
    """Grant `identifier` exactly `rights` ("" takes every right away) on `owner`'s
    `mailbox` and the mailboxes below it; the names changed. NOTFOUND for a missing
    account or mailbox, CANNOT for bad rights."""
    canonical = rights_text(parse_rights(rights))
    if identifier.lower() != ANYONE:
        await backend.mail_store(identifier)  # NOTFOUND unless the account exists
        identifier = identifier.lower()
    if identifier == owner:
        raise MailError(MailErrorKind.CANNOT, "An owner has every right on their own mailboxes")
    store = await backend.mail_store(owner)
    try:
        root = await store.get_mailbox(mailbox)
    except MailError as error:
        if error.kind is MailErrorKind.NOTFOUND:
            raise MailError(MailErrorKind.CANNOT, f"no such mailbox: {owner}/{mailbox}") from None
        raise
    below = [
        info
        for info in await store.list_mailboxes()
        if info.id == root.id or info.name.startswith(root.name + DELIMITER)
    ]
    for info in below:
        await backend.set_acl(owner, info.id, identifier, canonical)
    return [info.name for info in below]


def team_address(name: str) -> tuple[str, str]:
    """(Shared/ name, account address) of `tidings shared create NAME`."""
    if "@" in name:
        local = name.partition("@")[0]
        return local, name.lower()
    return name, f"{name.lower()}@{UNDELIVERABLE_DOMAIN}"


async def create_team(
    backend: SharingBackend, name: str, members: Sequence[str], rights: str
) -> tuple[str, str]:
    """A team mailbox Shared/NAME with `members` holding `rights`; (view name, address)."""
    team, address = team_address(name)
    if not team or DELIMITER in team or team.startswith("."):
        raise MailError(MailErrorKind.CANNOT, f"Invalid team name: {team!r}")
    for member in members:
        await backend.mail_store(member)
    try:
        await backend.add_team(team, address)
    except MailError as error:
        if error.kind is MailErrorKind.EXISTS:
            raise MailError(
                MailErrorKind.CANNOT, f"{SHARED}/{team} or the account {address} exists already"
            ) from None
        raise
    for member in members:
        await share_mailbox(backend, address, "INBOX", member, rights)
    return f"{SHARED}/{team}", address


async def team_lines(backend: SharingBackend) -> list[str]:
    """`Shared/NAME address member=rights ...` for every team."""
    lines = []
    for team, address in (await backend.teams()).items():
        store = await backend.mail_store(address)
        inbox = await store.get_mailbox("INBOX")
        members = " ".join(f"{i}={r}" for i, r in await backend.get_acl(inbox.id))
        lines.append(f"{SHARED}/{team} {address} {members}".rstrip())
    return lines
