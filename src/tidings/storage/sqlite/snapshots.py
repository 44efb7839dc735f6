"""The messages of recently opened mailboxes, kept between SELECTs (issue 5: SELECT of a
100,000-message mailbox in milliseconds, where reading and decoding every row takes a
few hundred).

An entry is a mailbox's messages as of one HIGHESTMODSEQ, keyed by (mailbox id,
UIDVALIDITY): every change to a mailbox's messages takes a new modseq (records.allocate),
and a mailbox made anew has a new UIDVALIDITY, so an entry whose modseq is the mailbox's
current one is exact. An older entry is brought up to date from the change log, which
holds each APPEND, FLAGS change and EXPUNGE after `vanished_floor` with the message's
state (changelog.py); when the log no longer reaches back to the entry, the mailbox is
read again. This works alike for several nodes on one PostgreSQL database: the modseq is
read in the same transaction as the log.

The cache belongs to one backend (one database), is shared by its sessions and holds at
most MAX_CACHED_MESSAGES messages, the least recently opened mailboxes leaving first. The
entries are immutable tuples, so a session keeps its snapshot whatever the cache does.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from dataclasses import dataclass

from tidings.storage.api import ChangeKind, MessageMeta
from tidings.storage.sqlite import changelog, messages
from tidings.storage.sqlite.records import MailboxRow, Owner
from tidings.storage.sqlite.sql import Connection

MAX_CACHED_MESSAGES = 500_000
"""Messages kept over all cached mailboxes (a MessageMeta is about 150 bytes, shared
with the sessions that have the mailbox selected)."""

MAX_REPLAYED_CHANGES = 10_000
"""An entry further behind than this many change rows is read anew instead (replaying
is only the cheaper way for a few changes)."""


@dataclass(frozen=True, slots=True)
class _Entry:
    modseq: int
    messages: tuple[MessageMeta, ...]


class SnapshotCache:
    """Mailbox messages by (mailbox id, UIDVALIDITY), as of a HIGHESTMODSEQ. Thread-safe:
    the store's reads run on several database threads."""

    def __init__(self, max_messages: int = MAX_CACHED_MESSAGES) -> None:
        self._max_messages = max_messages
        self._entries: OrderedDict[tuple[int, int], _Entry] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def messages(self, conn: Connection, owner: Owner, row: MailboxRow) -> tuple[MessageMeta, ...]:
        """Every message of the mailbox `row` (read in `conn`'s transaction), ascending by
        UID, exactly as messages.all_metas reads them."""
        held = self.held_messages(conn, owner, row)
        if held is not None:
            return held
        current = messages.all_metas(conn, row.id)
        self._keep((row.id, row.uidvalidity), _Entry(row.highestmodseq, current))
        return current

    def held_messages(
        self, conn: Connection, owner: Owner, row: MailboxRow
    ) -> tuple[MessageMeta, ...] | None:
        """`messages` when this cache holds the mailbox (brought up to date from the change
        log if need be); None when only reading every message would tell."""
        key = (row.id, row.uidvalidity)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is not None and entry.modseq == row.highestmodseq:
            return entry.messages
        if entry is None or entry.modseq > row.highestmodseq:
            return None
        current = _replayed(conn, owner, row, entry)
        if current is not None:
            self._keep(key, _Entry(row.highestmodseq, current))
        return current

    def _keep(self, key: tuple[int, int], entry: _Entry) -> None:
        if len(entry.messages) > self._max_messages:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._held -= len(previous.messages)
                if previous.modseq > entry.modseq:  # a newer one was kept meanwhile
                    entry = previous
            self._entries[key] = entry
            self._held += len(entry.messages)
            while self._held > self._max_messages:
                _, dropped = self._entries.popitem(last=False)
                self._held -= len(dropped.messages)

    def held(self) -> int:
        """Messages held now, over all entries (for tests and metrics)."""
        with self._lock:
            return self._held


def _replayed(
    conn: Connection, owner: Owner, row: MailboxRow, entry: _Entry
) -> tuple[MessageMeta, ...] | None:
    # The entry brought up to row.highestmodseq from the change log (the mailbox as it is,
    # when the log no longer reaches back to the entry); None if the gap is large.
    log = changelog.change_log(conn, owner, row.id, entry.modseq)
    if log.current is not None:
        return log.current
    changes = log.changes
    if len(changes) > MAX_REPLAYED_CHANGES:
        return None
    current = list(entry.messages)
    uids = [meta.uid for meta in current]
    gone: set[int] = set()
    for change in changes:  # in modseq order: the last state of each UID wins
        at = bisect.bisect_left(uids, change.uid)
        present = at < len(uids) and uids[at] == change.uid
        if change.kind is ChangeKind.EXPUNGE:
            gone.add(change.uid)
        elif change.meta is not None and present:
            current[at] = change.meta
        elif change.meta is not None:
            uids.insert(at, change.uid)
            current.insert(at, change.meta)
    if gone:
        current = [meta for meta in current if meta.uid not in gone]
    return tuple(current)
