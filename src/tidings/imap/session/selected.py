"""The selected mailbox as one session sees it, and how it catches up with the change log.

RFC 9051 §7.5.1 and §5.5: a client's message sequence numbers change only when the server
says so (EXPUNGE, EXISTS). Changes made by other sessions are read from the storage change
log ("changes since modseq N", DESIGN.md) and turned into untagged responses at the moments
the RFC allows: new messages and flag changes after any command, expunges never while a
FETCH, STORE or SEARCH is answered. Until announced, an expunged message keeps its number.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

from tidings.core.seqset import SequenceSet
from tidings.storage.api import ChangeKind, MailboxSnapshot, MailStore, MessageMeta


@dataclass(slots=True)
class PendingUpdates:
    """What a sync found that the client has not been told yet."""

    expunged_seqs: list[int] = field(default_factory=list)  # in announcement order
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
        self.uids: list[int] = [meta.uid for meta in snapshot.messages]
        self.messages: dict[int, MessageMeta] = {meta.uid: meta for meta in snapshot.messages}
        self.recent: set[int] = set(snapshot.recent_uids)
        # Expunged by someone, not yet announced to this client (keeps its sequence number).
        self.expunged_unannounced: set[int] = set()

    # ------------------------------------------------------------------ numbering
    @property
    def exists(self) -> int:
        """The message count the client knows."""
        return len(self.uids)

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
    def update_flags(self, metas: Iterable[MessageMeta]) -> None:
        """Record flag changes this session made itself (they need no announcement)."""
        for meta in metas:
            if meta.uid in self.messages:
                self.messages[meta.uid] = meta

    def remove(self, uid: int) -> int | None:
        """Forget an expunged message; return the sequence number it had."""
        seq = self.seq_of(uid)
        if seq is None:
            return None
        del self.uids[seq - 1]
        self.messages.pop(uid, None)
        self.recent.discard(uid)
        self.expunged_unannounced.discard(uid)
        return seq

    # ------------------------------------------------------------------ sync
    async def sync(self, store: MailStore, allow_expunge: bool) -> PendingUpdates:
        """Read the change log since our modseq and fold it in; return what to announce."""
        updates = PendingUpdates()
        changes = await store.changes_since(self.mailbox_id, self.modseq)
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
        for uid, meta in changed_flags.items():
            if uid in self.expunged_unannounced or uid not in self.messages:
                continue
            if self.messages[uid].flags != meta.flags:
                self.messages[uid] = meta
                seq = self.seq_of(uid)
                if seq is not None:
                    updates.flag_changes.append((seq, meta))
            else:
                self.messages[uid] = meta
        if appended:
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
