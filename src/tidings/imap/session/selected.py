"""The selected mailbox as one session sees it, and how it catches up with the change log.

RFC 9051 §7.5.1 and §5.5: a client's message sequence numbers change only when the server
says so (EXPUNGE, EXISTS). Changes made by other sessions are read from the storage change
log ("changes since modseq N", DESIGN.md) and turned into untagged responses at the moments
the RFC allows: new messages and flag changes after any command, expunges never while a
FETCH, STORE or SEARCH is answered. Until announced, an expunged message keeps its number.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from tidings.core.seqset import SequenceSet
from tidings.storage.api import Change, ChangeKind, MailboxSnapshot, MailStore, MessageMeta

SHARED_MESSAGES = 500_000
"""Messages kept over the snapshots' shared (UIDs, messages by UID), the least recently
opened leaving first (the storage's snapshot cache holds as many)."""

_Index = tuple[list[int], dict[int, MessageMeta]]


class _SharedIndexes:
    """The UID list and the messages by UID of a snapshot's `messages`, built once for the
    sessions that get the same snapshot (storage/sqlite/snapshots.py hands them one tuple):
    ten thousand IDLE sessions on a hundred mailboxes then hold a hundred of them, not ten
    thousand (issue 5: memory per idle connection). A session copies them before its first
    change (SelectedMailbox._own). Keyed by the tuple's identity; the entry holds the tuple,
    so the identity is not reused while it is kept. On the event loop only."""

    def __init__(self, max_messages: int = SHARED_MESSAGES) -> None:
        self._max_messages = max_messages
        self._entries: OrderedDict[int, tuple[tuple[MessageMeta, ...], _Index]] = OrderedDict()
        self._held = 0

    def index(self, messages: tuple[MessageMeta, ...]) -> _Index:
        key = id(messages)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is messages:
            self._entries.move_to_end(key)
            return entry[1]
        index = ([meta.uid for meta in messages], {meta.uid: meta for meta in messages})
        if len(messages) > self._max_messages:
            return index
        self._entries[key] = (messages, index)
        self._held += len(messages)
        while self._held > self._max_messages:
            _, (dropped, _index) = self._entries.popitem(last=False)
            self._held -= len(dropped)
        return index


_shared_indexes = _SharedIndexes()


@dataclass(slots=True)
class PendingUpdates:
    """What a sync found that the client has not been told yet."""

    expunged_seqs: list[int] = field(default_factory=list)  # in announcement order
    expunged_uids: list[int] = field(default_factory=list)  # the same messages' UIDs
    exists: int | None = None
    recent: int | None = None
    flag_changes: list[tuple[int, MessageMeta]] = field(default_factory=list)  # (seq, meta)


class SelectedMailbox:
    """A session's view of its selected mailbox: UIDs by sequence number, flags, recent."""

    def __init__(self, snapshot: MailboxSnapshot, read_only: bool) -> None:
        info = snapshot.info
        self.mailbox_id = info.id
        self.name = info.name
        self.uidvalidity = info.uidvalidity
        self.uidnext = info.uidnext
        self.read_only = read_only
        self.modseq = info.highestmodseq
        # Shared with the other sessions of this snapshot until the first change (_own):
        # read them freely, change them only after _own.
        self.uids, self.messages = _shared_indexes.index(snapshot.messages)
        self._owned = False
        self.recent: set[int] = set(snapshot.recent_uids)
        # Expunged by someone, not yet announced to this client (keeps its sequence number).
        self.expunged_unannounced: set[int] = set()
        # The modseq of the oldest of those expunges, None when there are none.
        self._first_unannounced: int | None = None

    # ------------------------------------------------------------------ numbering
    @property
    def exists(self) -> int:
        """The message count the client knows."""
        return len(self.uids)

    @property
    def announced_modseq(self) -> int:
        """The highest modseq the client may take as fully known (RFC 7162 HIGHESTMODSEQ):
        our modseq, or just below an expunge it has not been told about yet."""
        if self._first_unannounced is None:
            return self.modseq
        return min(self.modseq, self._first_unannounced - 1)

    @property
    def largest_uid(self) -> int:
        """The UID of the last message, or 0 in an empty mailbox (`*` in a UID set)."""
        return self.uids[-1] if self.uids else 0

    def seq_of(self, uid: int) -> int | None:
        """The sequence number of `uid`, or None if the client does not know it."""
        index = bisect.bisect_left(self.uids, uid)
        if index < len(self.uids) and self.uids[index] == uid:
            return index + 1
        return None

    def resolve(
        self, sequence_set: SequenceSet, by_uid: bool, saved: frozenset[int] = frozenset()
    ) -> list[tuple[int, int]]:
        """(seq, uid) pairs the set names, ascending; RFC 9051 §6.4.8 for UID sets.

        `$` (RFC 5182 §2.1) names the `saved` UIDs still in the mailbox, in either form.
        """
        if sequence_set.is_saved:
            return [(seq, uid) for uid in sorted(saved) if (seq := self.seq_of(uid)) is not None]
        if by_uid:
            selected = SequenceSet.select(sequence_set, self.uids, self.largest_uid)
            return [(self.seq_of(uid) or 0, uid) for uid in selected]
        ranges = sequence_set.resolve(self.exists)
        pairs: list[tuple[int, int]] = []
        for seq in range(1, self.exists + 1):
            if any(low <= seq <= high for low, high in ranges):
                pairs.append((seq, self.uids[seq - 1]))
        return pairs

    def live_targets(
        self, sequence_set: SequenceSet, by_uid: bool, saved: frozenset[int]
    ) -> list[tuple[int, int]]:
        """Like `resolve`, without messages already expunged by another session."""
        return [
            (seq, uid)
            for seq, uid in self.resolve(sequence_set, by_uid, saved)
            if uid not in self.expunged_unannounced
        ]

    def seq_range_valid(self, sequence_set: SequenceSet) -> bool:
        """RFC 9051 §6.4.5: a sequence number above EXISTS is an error ("BAD")."""
        for low, high in sequence_set.ranges:
            for bound in (low, high):
                if bound is not None and bound > self.exists:
                    return False
        return True

    # ------------------------------------------------------------------ own changes
    def _own(self) -> None:
        """Copy the shared UID list and messages before changing them."""
        if not self._owned:
            self.uids, self.messages = list(self.uids), dict(self.messages)
            self._owned = True

    def update_flags(self, metas: Iterable[MessageMeta]) -> None:
        """Record flag changes this session made itself (they need no announcement)."""
        for meta in metas:
            if meta.uid in self.messages:
                self._own()
                self.messages[meta.uid] = meta

    def remove(self, uid: int) -> int | None:
        """Forget an expunged message; return the sequence number it had."""
        seq = self.seq_of(uid)
        if seq is None:
            return None
        self._own()
        del self.uids[seq - 1]
        self.messages.pop(uid, None)
        self.recent.discard(uid)
        self.expunged_unannounced.discard(uid)
        if not self.expunged_unannounced:
            self._first_unannounced = None
        return seq

    def remove_all(self, uids: Iterable[int]) -> tuple[list[int], list[int]]:
        """Forget messages this session expunged; (their sequence numbers in announcement
        order, their UIDs), for `ImapSession.announce_expunged`."""
        seqs, removed = [], []
        for uid in uids:
            seq = self.remove(uid)
            if seq is not None:
                seqs.append(seq)
                removed.append(uid)
        return seqs, removed

    # ------------------------------------------------------------------ sync
    async def sync(
        self, store: MailStore, allow_expunge: bool, *, hold_back: bool = False
    ) -> PendingUpdates:
        """Read the change log since our modseq and fold it in; return what to announce.

        With `hold_back` (CONDSTORE clients) nothing after an expunge that may not be
        announced yet is folded in: a client that took a later MODSEQ from a FETCH as its
        high-water mark would otherwise miss that expunge when it resynchronises (RFC 7162
        §3.2.10.2 / §5). The rows are read again by the next sync."""
        log = await store.change_log(self.mailbox_id, self.modseq)
        if log.current is not None:
            # The log was pruned past our modseq: compare with the mailbox as it is.
            changes = self._changes_from(log.current, log.highestmodseq)
        else:
            changes = list(log.changes)
        rewind = None
        if hold_back and not allow_expunge:
            changes, rewind = self._until_first_expunge(changes)
        updates = await self._fold(store, changes, allow_expunge)
        if rewind is not None:
            # Read again from just below the held-back expunge next time.
            self.modseq = min(self.modseq, rewind)
        return updates

    def _changes_from(self, current: tuple[MessageMeta, ...], highest: int) -> list[Change]:
        """Synthetic change rows that take this view to `current` (all at modseq `highest`)."""
        present = {meta.uid: meta for meta in current}
        changes = [
            Change(highest, uid, ChangeKind.EXPUNGE, None)
            for uid in self.uids
            if uid not in present
        ]
        for meta in current:
            kind = ChangeKind.FLAGS if meta.uid in self.messages else ChangeKind.APPEND
            changes.append(Change(highest, meta.uid, kind, meta))
        return changes

    def _until_first_expunge(self, changes: list[Change]) -> tuple[list[Change], int | None]:
        """The rows before the first expunge of a message the client knows, plus every
        expunge row of that modseq (they only mark messages as gone), and the modseq to
        read from next time; (all rows, None) if there is no such expunge."""
        for index, change in enumerate(changes):
            if change.kind is ChangeKind.EXPUNGE and change.uid in self.messages:
                cut = change.modseq
                kept = changes[:index]
                kept += [c for c in changes[index:] if c.modseq == cut and c.kind is change.kind]
                return kept, cut - 1
        return changes, None

    async def _fold(
        self, store: MailStore, changes: list[Change], allow_expunge: bool
    ) -> PendingUpdates:
        updates = PendingUpdates()
        # New messages by UID, in log (so ascending UID) order; their latest state wins.
        appended: dict[int, MessageMeta] = {}
        changed_flags: dict[int, MessageMeta] = {}
        for change in changes:
            self.modseq = max(self.modseq, change.modseq)
            if change.kind is ChangeKind.EXPUNGE:
                appended.pop(change.uid, None)
                changed_flags.pop(change.uid, None)
                if change.uid in self.messages:
                    self.expunged_unannounced.add(change.uid)
                    if self._first_unannounced is None:
                        self._first_unannounced = change.modseq
            elif change.meta is not None:
                if change.uid in self.messages:
                    changed_flags[change.uid] = change.meta
                elif change.uid in appended or (
                    change.kind is ChangeKind.APPEND and change.uid > self.largest_uid
                ):
                    appended[change.uid] = change.meta
        if allow_expunge:
            for uid in sorted(self.expunged_unannounced):
                seq = self.remove(uid)
                if seq is not None:
                    updates.expunged_seqs.append(seq)
                    updates.expunged_uids.append(uid)
        for uid, meta in changed_flags.items():
            if uid in self.expunged_unannounced or uid not in self.messages:
                continue
            self._own()
            if self.messages[uid].flags != meta.flags:
                self.messages[uid] = meta
                seq = self.seq_of(uid)
                if seq is not None:
                    updates.flag_changes.append((seq, meta))
            else:
                self.messages[uid] = meta
        if appended:
            self._own()
            for uid, meta in appended.items():
                self.uids.append(uid)
                self.messages[uid] = meta
            last_uid = self.uids[-1]
            self.uidnext = max(self.uidnext, last_uid + 1)
            if not self.read_only:
                won = await store.claim_recent(self.mailbox_id, last_uid)
                self.recent.update(won)
            updates.exists = self.exists
            updates.recent = len(self.recent)
        return updates
