"""Sync of one mailbox: the never-miss core of `tidings watch`.

`MailboxSync` EXAMINEs a mailbox, compares UIDVALIDITY with the stored state, fetches every
message with a UID above the last one reported and (with CONDSTORE) every flag change since the
stored HIGHESTMODSEQ, and turns untagged responses seen while idling into events.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date

from tidings.imap.client import CommandFailed, CommandResult, ImapClient
from tidings.imap.proto.client_responses import (
    Exists,
    Expunge,
    Fetch,
    ResponseCode,
    Untagged,
    Vanished,
    encode_mailbox,
)
from tidings.watch.events import Event
from tidings.watch.state import MailboxState

log = logging.getLogger("tidings.watch")

Emit = Callable[[Event | None, MailboxState | None], Awaitable[None]]
"""Hands an event and the state to store once all sinks accepted it to the dispatcher."""

_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass(slots=True)
class MailboxSync:
    """The per-mailbox state of one connection: UIDs seen, flags cache, last state."""

    client: ImapClient
    account: str
    mailbox: str
    emit: Emit
    include: frozenset[str]
    stored: MailboxState | None
    since: date | None = None
    uids: list[int] = field(default_factory=list)
    flags: dict[int, tuple[str, ...]] = field(default_factory=dict)
    exists: int = 0

    async def select(self) -> None:
        """EXAMINE the mailbox and report what happened since the stored state."""
        caps = self.client.capabilities
        condstore = "CONDSTORE" in caps or "QRESYNC" in caps
        args: list[bytes | str] = [encode_mailbox(self.mailbox)]
        if condstore:
            args.append(b"(CONDSTORE)")  # RFC 7162 §3.1.8
        result = await self.client.command("EXAMINE", *args)
        codes: dict[str, str] = {}
        for item in result.untagged:
            code = getattr(item, "code", None)
            if isinstance(code, ResponseCode):
                codes[code.name.upper()] = code.arguments
            if isinstance(item, Exists):
                self.exists = item.count
        uidvalidity = int(codes.get("UIDVALIDITY", "0") or 0)
        uidnext = int(codes.get("UIDNEXT", "0") or 0)
        modseq_text = codes.get("HIGHESTMODSEQ")
        highest = int(modseq_text) if modseq_text and condstore else None
        stored = self.stored
        # The UID list and flags cache map EXPUNGE sequence numbers to UIDs (RFC 9051 §7.5.1).
        all_flags = await self._fetch("1:*", "(UID FLAGS)") if self.exists else []
        self.uids = sorted(f.uid for f in all_flags if f.uid is not None)
        old_flags = dict(self.flags)
        old_uids = set(old_flags)
        self.flags = {f.uid: f.flags or () for f in all_flags if f.uid is not None}
        if uidnext == 0:
            uidnext = (self.uids[-1] + 1) if self.uids else 1
        if stored is not None and stored.uidvalidity != uidvalidity:
            # RFC 9051 §2.3.1.1: a new UIDVALIDITY invalidates every UID; restart without a flood.
            fresh = MailboxState(uidvalidity, uidnext - 1, highest)
            await self.emit(
                self._event("mailbox", change="uidvalidity", name=self.mailbox, old_name=None),
                fresh,
            )
            self.stored = fresh
            return
        if stored is None:
            start = MailboxState(uidvalidity, uidnext - 1, highest)
            if self.since is not None:
                start = MailboxState(uidvalidity, 0, highest)
                self.stored = start
                await self._report_since(uidvalidity)
                return
            self.stored = start
            await self.emit(None, start)
            return
        if old_uids:
            # Selected before on this connection: compare with the cache (polling mode).
            gone = sorted(old_uids - set(self.flags))
            if gone:
                await self.emit(self._event("expunge", uids=gone), None)
            for uid in sorted(old_uids & set(self.flags)):
                if set(old_flags[uid]) != set(self.flags[uid]):
                    await self.emit(
                        self._flags_event(_flags_only(uid, self.flags[uid]), old_flags[uid]), None
                    )
            await self.fetch_new()
            await self._flag_changes(None, highest, old_flags, stored.last_uid)
            return
        await self.fetch_new()
        await self._flag_changes(stored.highestmodseq, highest, old_flags, stored.last_uid)

    async def _report_since(self, uidvalidity: int) -> None:
        assert self.since is not None
        when = f"{self.since.day}-{_MONTHS[self.since.month - 1]}-{self.since.year}"
        result = await self.client.command("UID", "SEARCH", "SINCE", when)
        numbers: list[int] = []
        for item in result.untagged:
            numbers.extend(getattr(item, "numbers", ()))
        for uid in sorted(numbers):
            await self._fetch_and_report(f"{uid}:{uid}")

    async def fetch_new(self) -> None:
        """UID FETCH last+1:* and report each message with a UID above the last (RFC 9051
        §6.4.8: `n:*` also matches the highest UID when it is below n)."""
        assert self.stored is not None
        await self._fetch_and_report(f"{self.stored.last_uid + 1}:*")

    async def _fetch_and_report(self, uid_set: str) -> None:
        assert self.stored is not None
        items = "UID FLAGS RFC822.SIZE ENVELOPE INTERNALDATE BODYSTRUCTURE"
        if "headers" in self.include:
            items += " BODY.PEEK[HEADER]"
        if "body" in self.include:
            items += " BODY.PEEK[]"
        fetched = await self._fetch(uid_set, f"({items})")
        for item in sorted(fetched, key=lambda f: f.uid or 0):
            if item.uid is None or item.uid <= self.stored.last_uid:
                continue
            if item.uid not in self.uids:
                self.uids.append(item.uid)
                self.uids.sort()
            self.flags[item.uid] = item.flags or ()
            new_state = MailboxState(self.stored.uidvalidity, item.uid, self.stored.highestmodseq)
            await self.emit(self._new_event(item), new_state)
            self.stored = new_state

    async def _flag_changes(
        self,
        since: int | None,
        highest: int | None,
        old_flags: dict[int, tuple[str, ...]],
        reported: int,
    ) -> None:
        """Flag changes (RFC 7162) of the messages reported before this sync (UID <= reported)."""
        assert self.stored is not None
        if since is None or highest is None or highest <= since:
            if highest is not None and highest != self.stored.highestmodseq:
                self.stored = MailboxState(self.stored.uidvalidity, self.stored.last_uid, highest)
                await self.emit(None, self.stored)
            return
        # RFC 7162 §3.1.4: CHANGEDSINCE returns the messages whose mod-sequence is above it.
        changed = await self._fetch("1:*", f"(UID FLAGS) (CHANGEDSINCE {since})")
        for item in sorted(changed, key=lambda f: f.uid or 0):
            if item.uid is None or item.uid > reported:
                continue
            await self.emit(self._flags_event(item, old_flags.get(item.uid)), None)
        self.stored = MailboxState(self.stored.uidvalidity, self.stored.last_uid, highest)
        await self.emit(None, self.stored)

    async def _fetch(self, uid_set: str, items: str) -> list[Fetch]:
        """UID FETCH. A message expunged by another client but not yet announced to us makes
        the server answer NO [EXPUNGEISSUED] (RFC 5530 §3; `n:*` names the highest UID even
        below n, RFC 9051 §6.4.8); a NOOP then lets it announce the expunge, which is
        reported, and the FETCH is asked once more."""
        try:
            result = await self._uid_fetch(uid_set, items)
        except CommandFailed as failure:
            code = failure.tagged.code
            if code is None or code.name.upper() != "EXPUNGEISSUED":
                raise
            for response in (await self.client.command("NOOP")).untagged:
                await self.handle(response)
            result = await self._uid_fetch(uid_set, items)
        return [u for u in result.untagged if isinstance(u, Fetch)]

    async def _uid_fetch(self, uid_set: str, items: str) -> CommandResult:
        return await self.client.command("UID", "FETCH", uid_set.encode(), items.encode())

    async def handle(self, response: Untagged) -> bool:
        """Turn an unsolicited response into events; True when new messages should be fetched
        (the caller leaves IDLE and calls `fetch_new`)."""
        if isinstance(response, Exists):
            grew = response.count > self.exists
            self.exists = response.count
            return grew
        if isinstance(response, Expunge):
            self.exists = max(0, self.exists - 1)
            if 0 < response.seq <= len(self.uids):
                uid = self.uids.pop(response.seq - 1)
                self.flags.pop(uid, None)
                await self.emit(self._event("expunge", uids=[uid]), None)
            return False
        if isinstance(response, Vanished):
            gone = [u for u in response.uids if u in self.flags or not response.earlier]
            for uid in gone:
                if uid in self.uids:
                    self.uids.remove(uid)
                self.flags.pop(uid, None)
            if gone:
                await self.emit(self._event("expunge", uids=sorted(gone)), None)
            return False
        if isinstance(response, Fetch) and response.flags is not None:
            uid = response.uid or 0
            if not uid and 0 < response.seq <= len(self.uids):
                uid = self.uids[response.seq - 1]
            if not uid or self.stored is None or uid > self.stored.last_uid:
                return False  # not reported yet: the `new` event will carry its flags
            old = self.flags.get(uid)
            if old is not None and set(old) == set(response.flags):
                return False
            self.flags[uid] = response.flags
            fetched = _flags_only(uid, response.flags, response.modseq, response.seq)
            await self.emit(self._flags_event(fetched, old), None)
        return False

    def _event(self, kind: str, **fields: object) -> Event:
        return Event(kind=kind, account=self.account, mailbox=self.mailbox, fields=dict(fields))

    def _flags_event(self, item: Fetch, old: tuple[str, ...] | None) -> Event:
        self.flags[item.uid or 0] = item.flags or ()
        return self._event(
            "flags",
            uid=item.uid,
            old_flags=list(old) if old is not None else None,
            flags=list(item.flags or ()),
            modseq=item.modseq,
        )

    def _new_event(self, item: Fetch) -> Event:
        env = item.envelope
        sender = env.from_[0] if env is not None and env.from_ else None
        fields: dict[str, object] = {
            "uid": item.uid,
            "uidvalidity": self.stored.uidvalidity if self.stored else None,
            "from": sender.display if sender else None,
            "from_address": sender.email if sender else None,
            "to": [a.email for a in env.to] if env is not None else [],
            "subject": env.subject if env is not None else None,
            "date": env.date if env is not None else item.internaldate,
            "message_id": env.message_id if env is not None else None,
            "size": item.size,
            "flags": list(item.flags or ()),
            "has_attachment": has_attachment(item),
        }
        for key, name in (("BODY[HEADER]", "headers"), ("BODY[]", "body")):
            if name in self.include:
                raw = item.sections.get(key)
                fields[name] = raw.decode("utf-8", "replace") if raw is not None else None
        return self._event("new", **fields)


def _flags_only(uid: int, flags: tuple[str, ...], modseq: int | None = None, seq: int = 0) -> Fetch:
    return Fetch(
        seq=seq, uid=uid, flags=flags, modseq=modseq, size=None, internaldate=None,
        envelope=None, bodystructure=None, sections={},
    )  # fmt: skip


def has_attachment(item: Fetch) -> bool:
    """$HasAttachment (RFC 8457 §3) or a BODYSTRUCTURE part that is an attachment."""
    if any(f.lower() == "$hasattachment" for f in item.flags or ()):
        return True
    return _part_is_attachment(item.bodystructure, top=True)


def _part_is_attachment(part: object, *, top: bool) -> bool:
    if not isinstance(part, list | tuple) or not part:
        return False
    if isinstance(part[0], list | tuple):  # multipart: children, then the subtype (RFC 9051 §7.5.2)
        return any(
            _part_is_attachment(child, top=False)
            for child in part
            if isinstance(child, list | tuple)
        )
    text = _flatten(part)
    lowered = [t.lower() for t in text]
    if "attachment" in lowered:
        return True
    kind = lowered[0] if lowered else ""
    named = "name" in lowered or "filename" in lowered
    return not top and kind != "text" and named


def _flatten(value: object) -> list[str]:
    if isinstance(value, bytes):
        return [value.decode("latin-1")]
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        out: list[str] = []
        for child in value:
            out.extend(_flatten(child))
        return out
    return []
