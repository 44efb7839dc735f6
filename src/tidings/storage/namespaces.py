"""One user's view of every mailbox they may use: their own, other users' they were given
rights on, and their teams' (RFC 2342 namespaces, RFC 4314 rights).

    INBOX, Sent, Work/Reports            personal namespace ("" prefix): the user's own
    Other Users/bob@example.org/INBOX    bob's INBOX, shared with this user
    Other Users/bob@example.org/Work     bob's Work
    Shared/support                       the INBOX of the team account "support"
    Shared/support/Done                  that team's mailbox "Done"

`NamespacedStore` is a MailStore: it turns a name into the owning account's store and name,
checks the user's rights (RFC 4314 §4, the rights each command needs) and answers NOPERM
when one is missing, or NOTFOUND when the user may not even see the mailbox (§6: without
"l" or "r" a mailbox looks as if it did not exist). The owner of a personal mailbox holds
every right. Messages in another account's mailbox are reached through a guest store, in
which \\Seen is the user's own (storage/sqlite/private_seen.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tidings.core import mime
from tidings.core.acl import ALL_RIGHTS, ANYONE, RightsChange, missing_flag_rights, rights_text
from tidings.core.errors import MailError, MailErrorKind
from tidings.core.sort_facts import SortFacts
from tidings.storage.api import (
    AccountSettings,
    AppendManyResult,
    AppendResult,
    Change,
    ChangeLog,
    ConditionalStore,
    CopyResult,
    FlagOperation,
    MailboxInfo,
    MailboxSnapshot,
    MailboxStatus,
    Maildrop,
    MailStore,
    MessageMeta,
    MessageObjectIds,
    MetadataDepth,
    MetadataLimits,
    NewMessage,
    Quota,
    SharedMailbox,
    TextHits,
    TextScope,
)

DELIMITER = "/"
OTHER_USERS = "Other Users"
SHARED = "Shared"
"""The prefixes (without the delimiter) of the two namespaces besides the personal one."""


class SharingBackend(Protocol):
    """What a backend offers for shared mailboxes (SqliteBackend implements it)."""

    async def mail_store(self, address: str) -> Any: ...
    async def guest_store(self, owner: str, viewer: str) -> Any: ...
    async def teams(self) -> dict[str, str]: ...
    async def shared_with(self, viewer: str) -> list[SharedMailbox]: ...
    async def get_acl(self, mailbox_id: int) -> list[tuple[str, str]]: ...
    async def set_acl(self, owner: str, mailbox_id: int, identifier: str, rights: str) -> None: ...
    async def inherit_acl(self, parent_id: int, child_id: int) -> None: ...
    async def add_team(self, name: str, address: str) -> None: ...


def noperm(right: str, what: str) -> MailError:
    """The refusal of an operation that needs `right` (RFC 4314 §4)."""
    return MailError(MailErrorKind.NOPERM, f"Permission denied: {what} needs the {right!r} right")


def _not_found() -> MailError:
    return MailError(MailErrorKind.NOTFOUND, "Mailbox doesn't exist")


@dataclass(frozen=True, slots=True)
class Route:
    """Where a name of the user's view lives."""

    store: MailStore  # the owner's store (a guest store for another account)
    owner: str  # the owning account
    name: str  # the name in the owner's account
    prefix: str  # what the view puts before the owner's names ("" for the user's own)
    team: bool = False  # the owner is a team: its INBOX is the prefix itself

    def view_name(self, name: str) -> str:
        """The user's name for the owner's mailbox `name`."""
        if not self.prefix:
            return name
        if self.team:
            return self.prefix if name.upper() == "INBOX" else f"{self.prefix}/{name}"
        return f"{self.prefix}/{name}"


class NamespacedStore:
    """A user's MailStore over every namespace (see the module docstring)."""

    def __init__(self, own: MailStore, backend: SharingBackend) -> None:
        self._own = own
        self._backend = backend
        self._guests: dict[str, MailStore] = {}
        self._by_id: dict[int, Route] = {}  # mailboxes of other accounts, once resolved
        self.notice_accounts: frozenset[str] = frozenset()
        """The other accounts whose mailboxes the user sees (their notices matter too)."""

    @property
    def account(self) -> str:
        """The logged-in user's address."""
        return self._own.account

    # ------------------------------------------------------------------ routing
    async def _guest(self, owner: str) -> MailStore:
        store = self._guests.get(owner)
        if store is None:
            store = await self._backend.guest_store(owner, self.account)
            self._guests[owner] = store
        return store

    async def refresh_notice_accounts(self) -> None:
        """Bring `notice_accounts` up to date (at login; LIST and SELECT also do)."""
        await self._shared()

    async def _shared(self) -> list[SharedMailbox]:
        shared = await self._backend.shared_with(self.account)
        self.notice_accounts = frozenset(m.owner for m in shared)
        return shared

    async def route(self, name: str) -> Route:
        """Where `name` lives; NOTFOUND for a name inside another namespace that names no
        account or team (or only the namespace itself)."""
        first, _, rest = name.partition(DELIMITER)
        if first == OTHER_USERS:
            owner, _, inner = rest.partition(DELIMITER)
            if not owner or not inner or owner.lower() == self.account:
                raise _not_found()
            inner = "INBOX" if inner.upper() == "INBOX" else inner
            prefix = f"{OTHER_USERS}/{owner}"
            return Route(await self._guest_or_missing(owner), owner.lower(), inner, prefix)
        if first == SHARED:
            team, _, inner = rest.partition(DELIMITER)
            address = (await self._backend.teams()).get(team)
            if address is None:
                raise _not_found()
            store = await self._guest_or_missing(address)
            return Route(store, address, inner or "INBOX", f"{SHARED}/{team}", team=True)
        return Route(self._own, self.account, name, "")

    async def _guest_or_missing(self, owner: str) -> MailStore:
        try:
            return await self._guest(owner.lower())
        except MailError as error:
            if error.kind is MailErrorKind.NOTFOUND:
                raise _not_found() from None
            raise

    async def rights(self, route: Route, mailbox_id: int) -> frozenset[str]:
        """The user's rights on a mailbox (every right on their own)."""
        if not route.prefix:
            return frozenset(ALL_RIGHTS)
        for shared in await self._shared():
            if shared.mailbox_id == mailbox_id:
                return shared.rights
        return frozenset()

    async def resolve(
        self, name: str, *, need: str = "", what: str = ""
    ) -> tuple[Route, MailboxInfo, frozenset[str]]:
        """The route, the owner's MailboxInfo and the user's rights for `name`; NOTFOUND
        if it does not exist or the user may not know it does (no "l" and no "r"), NOPERM
        when a right in `need` is missing."""
        route = await self.route(name)
        info = await route.store.get_mailbox(route.name)
        rights = await self.rights(route, info.id)
        if route.prefix:
            if not rights & {"l", "r"}:
                raise _not_found()
            self._by_id[info.id] = route
        for right in need:
            if right not in rights:
                raise noperm(right, what or "this")
        return route, info, rights

    def _route_of(self, mailbox_id: int) -> Route:
        return self._by_id.get(mailbox_id) or Route(self._own, self.account, "", "")

    def _view(self, route: Route, info: MailboxInfo) -> MailboxInfo:
        if not route.prefix:
            return info
        return dataclasses.replace(info, name=route.view_name(info.name), subscribed=False)

    # ------------------------------------------------------------------ mailboxes
    async def list_mailboxes(self) -> list[MailboxInfo]:
        """The user's own mailboxes and every shared one they may look up ("l")."""
        listed = await self._own.list_mailboxes()
        shared = [m for m in await self._shared() if "l" in m.rights]
        if not shared:
            return listed
        subscribed = set(await self._own.list_subscriptions())
        teams = {address: team for team, address in (await self._backend.teams()).items()}
        by_owner: dict[str, list[SharedMailbox]] = {}
        for mailbox in shared:
            by_owner.setdefault(mailbox.owner, []).append(mailbox)
        for owner, mailboxes in by_owner.items():
            team = teams.get(owner)
            route = (
                Route(await self._guest(owner), owner, "", f"{SHARED}/{team}", team=True)
                if team is not None
                else Route(await self._guest(owner), owner, "", f"{OTHER_USERS}/{owner}")
            )
            wanted = {m.mailbox_id for m in mailboxes}
            for info in await route.store.list_mailboxes():
                if info.id in wanted:
                    self._by_id[info.id] = route
                    view = self._view(route, info)
                    listed.append(dataclasses.replace(view, subscribed=view.name in subscribed))
        return sorted(listed, key=lambda info: info.name)

    async def list_subscriptions(self) -> list[str]:
        """The user's subscriptions (names in their view)."""
        return await self._own.list_subscriptions()

    async def get_mailbox(self, name: str) -> MailboxInfo:
        """The mailbox `name` of the user's view."""
        route, info, _ = await self.resolve(name)
        return self._view(route, info)

    async def create_mailbox(self, name: str, special_use: str | None = None) -> MailboxInfo:
        """CREATE: in another account it needs "k" on the parent (RFC 4314 §4), and the
        new mailbox starts with the parent's ACL."""
        route = await self.route(name)
        if not route.prefix:
            return await self._own.create_mailbox(name, special_use)
        parent_name, _, _ = route.name.rpartition(DELIMITER)
        parent_view = route.view_name(parent_name or "INBOX")
        _, parent, _ = await self.resolve(parent_view, need="k", what="CREATE")
        info = await route.store.create_mailbox(route.name, special_use)
        await self._backend.inherit_acl(parent.id, info.id)
        self._by_id[info.id] = route
        return self._view(route, info)

    async def delete_mailbox(self, name: str) -> None:
        """DELETE: "x" on the mailbox."""
        route, _, _ = await self.resolve(name, need="x", what="DELETE")
        await route.store.delete_mailbox(route.name)

    async def rename_mailbox(self, old: str, new: str) -> None:
        """RENAME: "x" on the mailbox, "k" on the new parent, within one account."""
        source, _, _ = await self.resolve(old, need="x", what="RENAME")
        target = await self.route(new)
        if target.owner != source.owner:
            raise MailError(MailErrorKind.CANNOT, "Can't rename mailboxes across namespaces")
        if source.prefix:
            parent_name, _, _ = target.name.rpartition(DELIMITER)
            await self.resolve(target.view_name(parent_name or "INBOX"), need="k", what="RENAME")
        await source.store.rename_mailbox(source.name, target.name)

    async def set_subscribed(self, name: str, subscribed: bool) -> None:
        """SUBSCRIBE / UNSUBSCRIBE: kept in the user's own account, under the view name."""
        await self._own.set_subscribed(name, subscribed)

    async def status(self, name: str) -> MailboxStatus:
        """STATUS: "r" (RFC 4314 §4)."""
        route, _, _ = await self.resolve(name, need="r", what="STATUS")
        return await route.store.status(route.name)

    async def open_mailbox(self, name: str, claim_recent: bool) -> MailboxSnapshot:
        """SELECT / EXAMINE: "r"."""
        route, _, _ = await self.resolve(name, need="r", what="SELECT")
        snapshot = await route.store.open_mailbox(route.name, claim_recent)
        return dataclasses.replace(snapshot, info=self._view(route, snapshot.info))

    async def my_rights(self, mailbox_id: int) -> frozenset[str]:
        """The user's current rights on a mailbox they resolved before (the selected one)."""
        route = self._route_of(mailbox_id)
        return await self.rights(route, mailbox_id)

    # ------------------------------------------------------------------ messages
    async def claim_recent(self, mailbox_id: int, up_to_uid: int) -> frozenset[int]:
        return await self._route_of(mailbox_id).store.claim_recent(mailbox_id, up_to_uid)

    async def changes_since(self, mailbox_id: int, modseq: int) -> list[Change]:
        return await self._route_of(mailbox_id).store.changes_since(mailbox_id, modseq)

    async def change_log(self, mailbox_id: int, modseq: int) -> ChangeLog:
        return await self._route_of(mailbox_id).store.change_log(mailbox_id, modseq)

    async def expunged_since(self, mailbox_id: int, modseq: int) -> tuple[int, ...] | None:
        return await self._route_of(mailbox_id).store.expunged_since(mailbox_id, modseq)

    async def _check_flags(self, mailbox_id: int, flags: Sequence[str], what: str) -> None:
        route = self._route_of(mailbox_id)
        if not route.prefix:
            return
        missing = missing_flag_rights(flags, await self.rights(route, mailbox_id))
        if missing:
            raise noperm(missing[0], what)

    async def store_flags_unchanged_since(
        self,
        mailbox_id: int,
        uids: Sequence[int],
        operation: FlagOperation,
        flags: Iterable[str],
        unchanged_since: int,
    ) -> ConditionalStore:
        flags = tuple(flags)
        await self._check_flags(mailbox_id, _touched(operation, flags), "STORE")
        store = self._route_of(mailbox_id).store
        return await store.store_flags_unchanged_since(
            mailbox_id, uids, operation, flags, unchanged_since
        )

    async def store_flags(
        self, mailbox_id: int, uids: Sequence[int], operation: FlagOperation, flags: Iterable[str]
    ) -> list[MessageMeta]:
        """STORE: "s" for \\Seen, "t" for \\Deleted, "w" for the rest (RFC 4314 §4); a
        REPLACE touches all three kinds."""
        flags = tuple(flags)
        await self._check_flags(mailbox_id, _touched(operation, flags), "STORE")
        return await self._route_of(mailbox_id).store.store_flags(
            mailbox_id, uids, operation, flags
        )

    async def _insert_route(self, name: str, what: str) -> tuple[Route, frozenset[str]]:
        route = await self.route(name)
        if not route.prefix:
            return route, frozenset(ALL_RIGHTS)
        _, _, rights = await self.resolve(name, need="i", what=what)
        return route, rights

    async def append(
        self,
        name: str,
        raw: bytes,
        flags: Iterable[str] = (),
        internaldate: datetime | None = None,
    ) -> AppendResult:
        """APPEND: "i"; flags the user may not set are dropped (RFC 4314 §4)."""
        route, rights = await self._insert_route(name, "APPEND")
        allowed = _allowed_flags(flags, rights)
        return await route.store.append(route.name, raw, allowed, internaldate)

    async def append_many(self, name: str, messages: Sequence[NewMessage]) -> AppendManyResult:
        """MULTIAPPEND: "i", as APPEND."""
        route, rights = await self._insert_route(name, "APPEND")
        allowed = [
            dataclasses.replace(m, flags=tuple(_allowed_flags(m.flags, rights))) for m in messages
        ]
        return await route.store.append_many(route.name, allowed)

    async def set_uidvalidity(self, name: str, uidvalidity: int) -> MailboxInfo:
        route, _ = await self._insert_route(name, "APPEND")
        return await route.store.set_uidvalidity(route.name, uidvalidity)

    async def expunge(self, mailbox_id: int, uids: Sequence[int] | None = None) -> list[int]:
        """EXPUNGE: "e"."""
        route = self._route_of(mailbox_id)
        if route.prefix and "e" not in await self.rights(route, mailbox_id):
            raise noperm("e", "EXPUNGE")
        return await route.store.expunge(mailbox_id, uids)

    async def copy(self, mailbox_id: int, uids: Sequence[int], dest_name: str) -> CopyResult:
        """COPY: "i" on the destination (with its flags as APPEND keeps them)."""
        source = self._route_of(mailbox_id)
        target, rights = await self._insert_route(dest_name, "COPY")
        if target.owner == source.owner:
            return await source.store.copy(mailbox_id, uids, target.name)
        return await self._copy_across(source, mailbox_id, uids, target, rights)

    async def _copy_across(
        self,
        source: Route,
        mailbox_id: int,
        uids: Sequence[int],
        target: Route,
        rights: frozenset[str],
    ) -> CopyResult:
        """A COPY between accounts (or with flags to drop): each message appended anew
        in one transaction; the body is stored once all the same (content-addressed)."""
        snapshot_metas = await self._metas(source, mailbox_id, set(uids))
        if not snapshot_metas:
            info = await target.store.get_mailbox(target.name)
            return CopyResult(info.uidvalidity, (), ())
        news = [
            NewMessage(
                await source.store.read_message(mailbox_id, meta.uid),
                tuple(_allowed_flags(meta.flags - {"\\Recent"}, rights)),
                meta.internaldate,
            )
            for meta in snapshot_metas
        ]
        result = await target.store.append_many(target.name, news)
        return CopyResult(
            result.uidvalidity, tuple(m.uid for m in snapshot_metas), tuple(result.uids)
        )

    async def _metas(self, route: Route, mailbox_id: int, wanted: set[int]) -> list[MessageMeta]:
        info_name = await self._name_of(route, mailbox_id)
        snapshot = await route.store.open_mailbox(info_name, False)
        return [meta for meta in snapshot.messages if meta.uid in wanted]

    async def _name_of(self, route: Route, mailbox_id: int) -> str:
        for info in await route.store.list_mailboxes():
            if info.id == mailbox_id:
                return info.name
        raise _not_found()

    async def move(self, mailbox_id: int, uids: Sequence[int], dest_name: str) -> CopyResult:
        """MOVE: "i" on the destination; "t" and "e" on the source (RFC 6851 §3.3 and
        RFC 4314 §4: a MOVE is a COPY, a STORE \\Deleted and an EXPUNGE)."""
        source = self._route_of(mailbox_id)
        if source.prefix:
            rights = await self.rights(source, mailbox_id)
            for right in "te":
                if right not in rights:
                    raise noperm(right, "MOVE")
        target, rights = await self._insert_route(dest_name, "MOVE")
        if target.owner == source.owner:
            return await source.store.move(mailbox_id, uids, target.name)
        copied = await self._copy_across(source, mailbox_id, uids, target, rights)
        await source.store.delete_messages(mailbox_id, copied.source_uids)
        return copied

    async def read_message(self, mailbox_id: int, uid: int) -> bytes:
        return await self._route_of(mailbox_id).store.read_message(mailbox_id, uid)

    async def read_facts(self, mailbox_id: int, uid: int) -> mime.MessageFacts:
        return await self._route_of(mailbox_id).store.read_facts(mailbox_id, uid)

    async def read_messages_many(
        self, mailbox_id: int, uids: Sequence[int]
    ) -> dict[int, tuple[bytes, mime.MessageFacts]]:
        return await self._route_of(mailbox_id).store.read_messages_many(mailbox_id, uids)

    async def read_facts_many(
        self, mailbox_id: int, uids: Sequence[int]
    ) -> dict[int, mime.MessageFacts]:
        return await self._route_of(mailbox_id).store.read_facts_many(mailbox_id, uids)

    async def object_ids(self, mailbox_id: int, uids: Sequence[int]) -> dict[int, MessageObjectIds]:
        return await self._route_of(mailbox_id).store.object_ids(mailbox_id, uids)

    async def savedates(
        self, mailbox_id: int, uids: Sequence[int] | None = None
    ) -> dict[int, datetime | None]:
        return await self._route_of(mailbox_id).store.savedates(mailbox_id, uids)

    async def sort_facts_many(self, mailbox_id: int, uids: Sequence[int]) -> dict[int, SortFacts]:
        return await self._route_of(mailbox_id).store.sort_facts_many(mailbox_id, uids)

    async def text_search(
        self, mailbox_id: int, needles: Sequence[tuple[str, TextScope]]
    ) -> dict[tuple[str, TextScope], TextHits]:
        return await self._route_of(mailbox_id).store.text_search(mailbox_id, needles)

    async def get_metadata(
        self, mailbox: str | None, entries: Sequence[str], depth: MetadataDepth
    ) -> list[tuple[str, bytes]]:
        if mailbox is None:
            return await self._own.get_metadata(None, entries, depth)
        route, _, _ = await self.resolve(mailbox, need="r", what="GETMETADATA")
        return await route.store.get_metadata(route.name, entries, depth)

    async def set_metadata(
        self,
        mailbox: str | None,
        changes: Sequence[tuple[str, bytes | None]],
        limits: MetadataLimits,
    ) -> None:
        if mailbox is None:
            return await self._own.set_metadata(None, changes, limits)
        route, _, _ = await self.resolve(mailbox, need="w", what="SETMETADATA")
        return await route.store.set_metadata(route.name, changes, limits)

    async def quota(self) -> Quota:
        return await self._own.quota()

    async def settings(self) -> AccountSettings:
        return await self._own.settings()

    async def open_maildrop(self) -> Maildrop:
        return await self._own.open_maildrop()

    async def delete_messages(self, mailbox_id: int, uids: Sequence[int]) -> list[int]:
        return await self._route_of(mailbox_id).store.delete_messages(mailbox_id, uids)

    # ------------------------------------------------------------------ ACL (RFC 4314 §3)
    async def get_acl(self, name: str) -> list[tuple[str, str]]:
        """GETACL: "a"; the owner of a personal mailbox is listed with every right."""
        route, info, _ = await self.resolve(name, need="a", what="GETACL")
        rows = await self._backend.get_acl(info.id)
        if route.team:
            return rows
        return [(route.owner, ALL_RIGHTS), *((i, r) for i, r in rows if i != route.owner)]

    async def set_acl(self, name: str, identifier: str, change: RightsChange) -> None:
        """SETACL: "a"; the owner's own rights cannot be changed."""
        route, info, _ = await self.resolve(name, need="a", what="SETACL")
        identifier = identifier if identifier.lower() == ANYONE else identifier.lower()
        if identifier == route.owner and not route.team:
            raise MailError(MailErrorKind.CANNOT, "The owner's rights can't be changed")
        current = dict(await self._backend.get_acl(info.id)).get(identifier, "")
        new = change.apply(frozenset(current))
        await self._backend.set_acl(route.owner, info.id, identifier, rights_text(new))

    async def delete_acl(self, name: str, identifier: str) -> None:
        """DELETEACL: "a"."""
        await self.set_acl(name, identifier, RightsChange("=", frozenset()))

    async def list_rights(self, name: str, identifier: str) -> tuple[str, list[str]]:
        """LISTRIGHTS: "a"; (rights always granted, rights that may be granted one by one)."""
        route, _, _ = await self.resolve(name, need="a", what="LISTRIGHTS")
        if identifier.lower() == route.owner and not route.team:
            return ALL_RIGHTS, []
        return "", list(ALL_RIGHTS)

    async def rights_on(self, name: str) -> frozenset[str]:
        """MYRIGHTS: any right at all (RFC 4314 §3.5)."""
        _, _, rights = await self.resolve(name)
        return rights


def _touched(operation: FlagOperation, flags: Sequence[str]) -> tuple[str, ...]:
    """The flags a STORE changes: a REPLACE can change \\Seen, \\Deleted and others."""
    if operation is FlagOperation.REPLACE:
        return ("\\Seen", "\\Deleted", "$any", *flags)
    return tuple(flags)


def _allowed_flags(flags: Iterable[str], rights: frozenset[str]) -> list[str]:
    """The flags among `flags` the user may set (RFC 4314 §4, APPEND and COPY)."""
    return [flag for flag in flags if not missing_flag_rights((flag,), rights)]
