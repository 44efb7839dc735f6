"""What one session asked NOTIFY (RFC 5465) to watch, and how change notices become responses.

A `NotifyWatch` holds its own hub subscription for the account (every mailbox, and the
mailbox list). The driver waits on it between commands and IDLE waits on it too, so events
go out "whenever the server can" (§3): the moment a change is committed, not at the next
command. Notices only say "look" (DESIGN.md "Notifications"); the watch looks:

- the selected mailbox: the usual sync of `SelectedMailbox` (EXISTS / EXPUNGE / FETCH),
  plus MessageNew's fetch attributes for new messages (§5.2). SELECTED-DELAYED holds the
  expunges back until a command that may report them (§6.1); IDLE is one.
- other mailboxes: STATUS when their counters moved (§5.1 - §5.3).
- the mailbox list: a diff of the last list seen against the store's, by mailbox id, gives
  creations, deletions (`\\NonExistent`) and renames (OLDNAME), §5.4; a diff of the
  subscriptions gives SubscriptionChange (§5.5). A lost or coalesced notice therefore
  loses nothing: the next diff shows it.
- metadata (§5.6, §5.7): `MetadataNotice`s name the entries; see `publish_metadata_change`.

A subscription that overflows (more mailboxes changed than `notify_queue_size` before the
session could look) ends the watch with `* OK [NOTIFICATIONOVERFLOW]`, as §5.8 requires.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tidings.core.errors import MailError
from tidings.imap.proto import commands as c
from tidings.imap.proto.notify import (
    SELECTED_FILTERS,
    EventGroup,
    Filter,
    Notify,
    NotifyEvent,
)
from tidings.imap.proto.responses import astring
from tidings.imap.session.core import CommandFailed
from tidings.notify.api import ChangeNotice, MetadataNotice
from tidings.storage.api import HIERARCHY_DELIMITER, MailboxInfo

if TYPE_CHECKING:
    from tidings.imap.session.core import ImapSession
    from tidings.notify.hub import NotificationHub, Subscription

log = logging.getLogger(__name__)
E = NotifyEvent
_STATUS_EVENTS = frozenset({E.MESSAGE_NEW, E.MESSAGE_EXPUNGE, E.FLAG_CHANGE})


def publish_metadata_change(
    hub: NotificationHub, account: str, mailbox: str | None, entries: Iterable[str]
) -> None:
    """The hook for METADATA (RFC 5464): call after SETMETADATA has committed, with the
    mailbox name (None for server annotations) and the entries set or removed. NOTIFY
    watchers then get `* METADATA mailbox (entry ...)` (RFC 5465 §5.6, §5.7)."""
    hub.publish(MetadataNotice(account, mailbox, tuple(entries)))


@dataclass(frozen=True, slots=True)
class _Group:
    """An event group with its mailbox names decoded to storage names."""

    filter: Filter
    events: frozenset[NotifyEvent]
    names: tuple[str, ...]

    def matches(self, name: str, subscribed: bool) -> bool:
        """RFC 5465 §6.2 - §6.6 (one personal namespace, so INBOXES is PERSONAL, §6.3)."""
        if self.filter in (Filter.PERSONAL, Filter.INBOXES):
            return True
        if self.filter is Filter.SUBSCRIBED:
            return subscribed
        if self.filter is Filter.MAILBOXES:  # §6.6: no wildcard expansion
            return name in self.names
        return any(_within(name, root) for root in self.names)


class NotifyWatch:
    """One session's NOTIFY SET: the groups, its subscription, and what it last reported."""

    def __init__(self, command: Notify, groups: list[_Group], subscription: Subscription):
        assert command.groups is not None
        selected = next((g for g in command.groups if g.filter in SELECTED_FILTERS), None)
        self.subscription = subscription
        self.selected_events = selected.events if selected else frozenset()
        self.selected_delayed = selected is not None and selected.filter is Filter.SELECTED_DELAYED
        self.fetch_items = selected.fetch_items if selected else ()
        self.groups = groups
        self._mailboxes: dict[int, MailboxInfo] = {}
        self._subscriptions: set[str] = set()
        self._status: dict[int, tuple[int, ...]] = {}  # last STATUS values, by mailbox id
        self._fetch_view: object | None = None  # the SelectedMailbox `_fetched_upto` is for
        self._fetched_upto = 0

    @classmethod
    async def start(
        cls, session: ImapSession, command: Notify, previous: NotifyWatch | None = None
    ) -> NotifyWatch:
        """Subscribe, take the first snapshot, and send the STATUS of §3.1 if asked.

        A NOTIFY SET that replaces `previous` starts from the mailbox list the client was
        last told about, not from the store's: a CREATE or RENAME by another client that
        raced the new SET (committed, its notice not yet seen) is still reported."""
        assert command.groups is not None
        groups = [
            _Group(group.filter, group.events, _decode_names(session, group))
            for group in command.groups
            if group.filter not in SELECTED_FILTERS
        ]
        limit = session.context.limits.notify_queue_size
        watch = cls(command, groups, session.subscribe_notices(limit))
        try:
            if previous is not None:
                watch._mailboxes = dict(previous._mailboxes)
                watch._subscriptions = set(previous._subscriptions)
                await watch._sync_list(session)
            else:
                await watch._load_list(session)
            for info in watch._mailboxes.values():
                if watch._status_events(session, info):
                    await watch._report_status(session, info, send=command.status)
        except BaseException:
            watch.close()
            raise
        watch._note_view(session)
        return watch

    def close(self) -> None:
        """Stop watching (NOTIFY NONE, a new NOTIFY SET, the end of the connection)."""
        self.subscription.close()

    # ------------------------------------------------------------------ matching
    def events_for(self, name: str, subscribed: bool) -> frozenset[NotifyEvent]:
        """Every event some non-selected group asks for on mailbox `name`."""
        events: frozenset[NotifyEvent] = frozenset()
        for group in self.groups:
            if group.matches(name, subscribed):
                events |= group.events
        return events

    def _status_events(self, session: ImapSession, info: MailboxInfo) -> frozenset[NotifyEvent]:
        selected = session.selected
        if selected is not None and selected.mailbox_id == info.id:
            return frozenset()  # the selected mailbox gets EXISTS/EXPUNGE/FETCH instead
        return self.events_for(info.name, info.name in self._subscriptions) & _STATUS_EVENTS

    # ------------------------------------------------------------------ delivery
    async def deliver(self, session: ImapSession, *, expunge_allowed: bool) -> None:
        """Send every event that the pending notices stand for (§3: at any time)."""
        overflowed = self.subscription.overflowed
        notices, metadata = self.subscription.drain_all()
        if overflowed:
            # §5.8: say so "and behave as if a NOTIFY NONE command had just been received".
            await session.untagged("OK [NOTIFICATIONOVERFLOW] Too many changes; NOTIFY is off.")
            session.stop_notify()
            return
        try:
            await self._deliver(session, notices, metadata, expunge_allowed)
        except MailError as error:  # a store failure: later notices (and diffs) catch up
            log.warning("NOTIFY for %s: %s", session.account, error.reason)

    async def _deliver(
        self,
        session: ImapSession,
        notices: list[ChangeNotice],
        metadata: list[MetadataNotice],
        expunge_allowed: bool,
    ) -> None:
        mailbox_ids = {notice.mailbox_id for notice in notices}
        if None in mailbox_ids or not mailbox_ids <= set(self._mailboxes) | {None}:
            await self._sync_list(session)
        await self._sync_selected(session, _selected_touched(session, notices), expunge_allowed)
        if session.notify is not self:  # the selected mailbox vanished: BYE was sent
            return
        for mailbox_id in sorted(i for i in mailbox_ids if i is not None):
            info = self._mailboxes.get(mailbox_id)
            if info is not None and self._status_events(session, info):
                await self._report_status(session, info, send=True)
        for notice in metadata:
            await self._report_metadata(session, notice)

    async def _sync_selected(self, session: ImapSession, touched: bool, expunge: bool) -> None:
        view = session.selected
        if view is None:
            return
        self._note_view(session)
        if touched and self.selected_events:
            try:
                allow_expunge = expunge or not self.selected_delayed
                # hold_back: as send_updates does for CONDSTORE clients (RFC 7162 §3.2.10.2).
                updates = await view.sync(
                    session.store, allow_expunge, hold_back=_condstore(session)
                )
            except MailError:
                await session.mailbox_vanished()
                session.stop_notify()
                return
            if E.FLAG_CHANGE not in self.selected_events:
                updates.flag_changes = []  # not asked for (Dovecot drops them likewise)
            await session.announce(updates)
        if self.fetch_items and view.largest_uid > self._fetched_upto:
            await self._fetch_new(session)

    def _note_view(self, session: ImapSession) -> None:
        if session.selected is not self._fetch_view:
            self._fetch_view = session.selected
            self._fetched_upto = session.selected.largest_uid if session.selected else 0

    async def _fetch_new(self, session: ImapSession) -> None:
        """§5.2: a FETCH with the client's attributes for each new message."""
        # Imported here: handlers/ imports this module (METADATA publishes through it).
        from tidings.imap.session.handlers.fetch import fetch_response  # noqa: PLC0415

        view = session.selected
        assert view is not None
        new = [uid for uid in view.uids if uid > self._fetched_upto]
        self._fetched_upto = view.largest_uid
        for uid in new:
            seq = view.seq_of(uid)
            if seq is not None and uid not in view.expunged_unannounced:
                line = await fetch_response(session, seq, view.messages[uid], self.fetch_items)
                if line is not None:
                    await session.untagged(line)

    async def _report_status(self, session: ImapSession, info: MailboxInfo, *, send: bool) -> None:
        """STATUS for a watched mailbox other than the selected one, if its counters moved."""
        try:
            status = await session.store.status(info.name)
        except MailError:
            return  # deleted meanwhile: the list diff reports it
        items = [("MESSAGES", status.messages), ("UIDNEXT", status.uidnext)]
        items += [("UIDVALIDITY", status.uidvalidity), ("UNSEEN", status.unseen)]
        if _condstore(session):
            items.append(("HIGHESTMODSEQ", status.highestmodseq))
        key = tuple(value for _, value in items)
        if E.FLAG_CHANGE not in self._status_events(session, info):
            key = key[:3]  # flag changes alone are not news to this client
        if self._status.get(info.id) == key:
            return
        self._status[info.id] = key
        if send:
            text = " ".join(f"{name} {value}" for name, value in items)
            await session.untagged(
                b"STATUS " + session.encode_mailbox(info.name) + f" ({text})".encode()
            )

    async def _report_metadata(self, session: ImapSession, notice: MetadataNotice) -> None:
        """RFC 5465 §5.6 / §5.7 with RFC 5464 §4.4.2's unsolicited METADATA response."""
        if notice.mailbox is None:
            wanted = any(E.SERVER_METADATA_CHANGE in group.events for group in self.groups)
            name = b'""'
        else:
            subscribed = notice.mailbox in self._subscriptions
            wanted = E.MAILBOX_METADATA_CHANGE in self.events_for(notice.mailbox, subscribed)
            name = session.encode_mailbox(notice.mailbox)
        if wanted and notice.entries:
            entries = b" ".join(astring(entry) for entry in notice.entries)
            await session.untagged(b"METADATA " + name + b" (" + entries + b")")

    # ------------------------------------------------------------------ own changes
    async def after_command(self, session: ImapSession, command: c.Command) -> None:
        """§5: "The server SHOULD omit notifying the client if the event is caused by this
        client." After this session's own CREATE, DELETE, RENAME or (UN)SUBSCRIBE, fold
        exactly what that command changed into the snapshot, so the next diff reports only
        what others did meanwhile."""
        if not isinstance(command, c.Create | c.Delete | c.Rename | c.Subscribe):
            return
        try:
            own = _Own.of(session, command)
        except CommandFailed:
            return
        try:
            current = {info.id: info for info in await session.store.list_mailboxes()}
            subscriptions = set(await session.store.list_subscriptions())
        except MailError:
            return
        merged = dict(self._mailboxes)
        for mailbox_id, info in self._mailboxes.items():
            if mailbox_id not in current and info.name == own.deleted:
                del merged[mailbox_id]
        for mailbox_id, info in current.items():
            before = self._mailboxes.get(mailbox_id)
            ours = own.created(info.name) if before is None else own.renamed(before.name)
            if ours is True or ours == info.name:
                merged[mailbox_id] = info
        self._mailboxes = merged
        for name in subscriptions ^ self._subscriptions:
            if own.subscription_changed(name):
                self._subscriptions ^= {name}

    # ------------------------------------------------------------------ the mailbox list
    async def _load_list(self, session: ImapSession) -> None:
        self._mailboxes = {info.id: info for info in await session.store.list_mailboxes()}
        self._subscriptions = set(await session.store.list_subscriptions())

    async def _sync_list(self, session: ImapSession) -> None:
        """§5.4 and §5.5 from the difference between the last list seen and the store's."""
        old, old_subscriptions = self._mailboxes, self._subscriptions
        await self._load_list(session)
        new, subscriptions = self._mailboxes, self._subscriptions
        names = {info.name for info in new.values()}
        reported: set[str] = set()
        for mailbox_id, info in old.items():
            if mailbox_id not in new:
                self._status.pop(mailbox_id, None)
                if self._wants(E.MAILBOX_NAME, info.name, old_subscriptions):
                    await self._send_list(session, info.name, None, names)
                    reported.add(info.name)
        for mailbox_id, info in sorted(new.items(), key=lambda item: item[1].name):
            before = old.get(mailbox_id)
            if before is not None and before.name == info.name:
                continue
            old_name = before.name if before is not None else None
            if self._wants(E.MAILBOX_NAME, info.name, subscriptions) or (
                old_name is not None and self._wants(E.MAILBOX_NAME, old_name, old_subscriptions)
            ):
                await self._send_list(session, info.name, info, names, old_name=old_name)
                reported.update({info.name, old_name or info.name})
        for name in sorted(subscriptions ^ old_subscriptions):
            was = name in old_subscriptions
            if name not in reported and (
                self._wants(E.SUBSCRIPTION_CHANGE, name, subscriptions)
                or (was and self._wants(E.SUBSCRIPTION_CHANGE, name, old_subscriptions))
            ):
                existing = next((i for i in new.values() if i.name == name), None)
                await self._send_list(session, name, existing, names)

    def _wants(self, event: NotifyEvent, name: str, subscriptions: set[str]) -> bool:
        return event in self.events_for(name, name in subscriptions)

    async def _send_list(
        self,
        session: ImapSession,
        name: str,
        info: MailboxInfo | None,
        names: set[str],
        *,
        old_name: str | None = None,
    ) -> None:
        """One unsolicited LIST (RFC 5258 attributes, RFC 5465 §5.4 OLDNAME)."""
        attributes: list[str] = []
        if info is None:
            attributes.append("\\NonExistent")
        else:
            prefix = name + HIERARCHY_DELIMITER
            has_children = any(other.startswith(prefix) for other in names)
            attributes.append("\\HasChildren" if has_children else "\\HasNoChildren")
        if name in self._subscriptions:
            attributes.append("\\Subscribed")
        if info is not None and info.special_use:
            attributes.append(info.special_use)
        line = f'LIST ({" ".join(attributes)}) "{HIERARCHY_DELIMITER}" '.encode()
        line += session.encode_mailbox(name)
        if old_name is not None:
            line += b' ("OLDNAME" (' + session.encode_mailbox(old_name) + b"))"
        await session.untagged(line)


@dataclass(frozen=True, slots=True)
class _Own:
    """What one of the session's own mailbox commands changed, as storage names."""

    create: str | None = None  # CREATE (with its missing parents) or RENAME's target
    deleted: str | None = None
    rename: tuple[str, str] | None = None
    subscription: str | None = None

    @classmethod
    def of(cls, session: ImapSession, command: c.Command) -> _Own:
        """The changes `command` makes (decoding its names as the handlers do)."""
        if isinstance(command, c.Create):
            return cls(create=session.decode_mailbox(command.mailbox))
        if isinstance(command, c.Delete):
            return cls(deleted=session.decode_mailbox(command.mailbox))
        if isinstance(command, c.Rename):
            old, new = session.decode_mailbox(command.old), session.decode_mailbox(command.new)
            # Renaming INBOX creates `new` and moves the messages (RFC 9051 §6.3.6).
            return cls(create=new, rename=(old, new))
        assert isinstance(command, c.Subscribe)
        return cls(subscription=session.decode_mailbox(command.mailbox))

    def created(self, name: str) -> bool:
        """Whether a new mailbox `name` is this command's (the target or a new parent)."""
        return self.create is not None and _within(self.create, name)

    def renamed(self, name: str) -> str | None:
        """The name this command gave mailbox `name`, if it renamed it."""
        if self.rename is None:
            return None
        old, new = self.rename
        return new + name[len(old) :] if _within(name, old) else None

    def subscription_changed(self, name: str) -> bool:
        """Whether the subscription of `name` changed because of this command (RENAME
        moves the subscriptions of the renamed mailboxes along)."""
        if self.subscription is not None:
            return name == self.subscription
        if self.rename is not None:
            new = self.rename[1]
            return self.renamed(name) is not None or _within(name, new)
        return False


def _within(name: str, ancestor: str) -> bool:
    """Whether `name` is `ancestor` or below it."""
    return name == ancestor or name.startswith(ancestor + HIERARCHY_DELIMITER)


def _decode_names(session: ImapSession, group: EventGroup) -> tuple[str, ...]:
    return tuple(session.decode_mailbox(name) for name in group.mailboxes)


def _selected_touched(session: ImapSession, notices: list[ChangeNotice]) -> bool:
    view = session.selected
    # A mailbox-list notice (None) may be the selected mailbox's deletion, or a resync after
    # notices were missed (NotificationHub.resync_all): look at the selected one too.
    return view is not None and any(
        notice.mailbox_id in (view.mailbox_id, None) for notice in notices
    )


def _condstore(session: ImapSession) -> bool:
    """Whether the session has CONDSTORE enabled (RFC 7162 §3.1: then STATUS carries
    HIGHESTMODSEQ, RFC 5465 §5.2). Read defensively: CONDSTORE is a separate extension."""
    return bool(getattr(session, "condstore", False))
