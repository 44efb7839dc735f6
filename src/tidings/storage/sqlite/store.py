"""`SqliteMailStore`: the async MailStore of one account, a thin layer over the database
threads. Each method is one transaction; see `mailboxes` and `messages` for the rules."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from tidings.core import mime
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
    MessageMeta,
    MessageObjectIds,
    MetadataDepth,
    MetadataLimits,
    NewMessage,
    Quota,
    TextHits,
    TextScope,
)
from tidings.storage.sqlite import (
    blobs,
    changelog,
    mailboxes,
    maildrop,
    messages,
    private_seen,
    sort_values,
    text_index,
)
from tidings.storage.sqlite import metadata as account_metadata
from tidings.storage.sqlite import objectids as message_ids
from tidings.storage.sqlite import quota as account_quota
from tidings.storage.sqlite.messages import append_many as store_many
from tidings.storage.sqlite.records import Owner
from tidings.storage.sqlite.snapshots import SnapshotCache
from tidings.storage.sqlite.sql import SqlDatabase

SMALL_UIDS = 64
"""A read or write of the messages among at most this many UIDs is small (sql.SqlDatabase:
`read_small`, `write_small`): FETCH or STORE of a screenful, not of a whole mailbox."""

SMALL_PREPARE_OCTETS = 128 * 1024
"""A message up to this size is parsed on the loop (SqliteMailStore._prepare): about a
millisecond of work."""

T = TypeVar("T")


def _internaldate(value: datetime | None) -> datetime:
    if value is None:
        # INTERNALDATE has one-second resolution (RFC 9051 §9 `date-time`).
        return datetime.now(UTC).replace(microsecond=0)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class SqliteMailStore:
    """One account's mailboxes and messages in a SQLite database (implements MailStore)."""

    def __init__(
        self,
        db: SqlDatabase,
        owner: Owner,
        max_message_size: int | None,
        change_retention: float = changelog.DEFAULT_RETENTION,
        viewer: Owner | None = None,
        *,
        snapshots: SnapshotCache | None = None,
    ) -> None:
        self._db = db
        self._snapshots = snapshots
        self._owner = owner
        # Another user working in this account's shared mailboxes: \Seen is the viewer's
        # own (storage/sqlite/private_seen.py), every other flag is the owner's.
        self._guest = viewer if viewer is not None and viewer.id != owner.id else None
        self._max_message_size = max_message_size
        # Seconds the change log (and so expunged UIDs, for QRESYNC) is kept.
        self._change_retention = change_retention

    @property
    def account(self) -> str:
        """The account's address (lower-cased)."""
        return self._owner.address

    async def list_mailboxes(self) -> list[MailboxInfo]:
        """Every existing mailbox, sorted by name."""
        return await self._db.read_small(mailboxes.list_mailboxes, self._owner)

    async def list_subscriptions(self) -> list[str]:
        """Subscribed names, which may include mailboxes that no longer exist."""
        return await self._db.read_small(mailboxes.list_subscriptions, self._owner)

    async def get_mailbox(self, name: str) -> MailboxInfo:
        """The mailbox called `name`; NOTFOUND if none."""
        return await self._db.read_small(mailboxes.get_mailbox, self._owner, name)

    async def create_mailbox(self, name: str, special_use: str | None = None) -> MailboxInfo:
        """Create `name` and any missing parents; EXISTS if it exists, CANNOT if invalid."""
        return await self._db.write(mailboxes.create_mailbox, self._owner, name, special_use)

    async def delete_mailbox(self, name: str) -> None:
        """Delete `name` with its messages; NOPERM for INBOX, CANNOT if it has children."""
        await self._db.write(mailboxes.delete_mailbox, self._owner, name)

    async def rename_mailbox(self, old: str, new: str) -> None:
        """Rename `old` and its children to `new` (INBOX: move its messages)."""
        await self._db.write(mailboxes.rename_mailbox, self._owner, old, new)

    async def set_subscribed(self, name: str, subscribed: bool) -> None:
        """Add or remove `name` from the subscriptions."""
        await self._db.write(mailboxes.set_subscribed, self._owner, name, subscribed)

    async def status(self, name: str) -> MailboxStatus:
        """Counters of `name`; NOTFOUND if none."""
        if self._guest is not None:
            return await self._db.read(private_seen.status, self._owner, self._guest, name)
        return await self._db.read_small(mailboxes.status, self._owner, name)

    async def open_mailbox(self, name: str, claim_recent: bool) -> MailboxSnapshot:
        """Snapshot for SELECT (claim_recent=True) or EXAMINE (False)."""
        # The snapshot is read beside the writer (a large mailbox takes a while to load),
        # or on the loop when the cache holds it; the claim is a short write covering
        # exactly the UIDs the snapshot can hold.
        if self._guest is not None:
            snapshot = await self._db.read(
                private_seen.open_mailbox, self._owner, self._guest, name, self._snapshots
            )
        elif (held := await self._open_held_mailbox(name)) is not None:
            snapshot = held
        else:
            snapshot = await self._db.read(
                messages.open_mailbox, self._owner, name, self._snapshots
            )
        if not claim_recent:
            return snapshot
        info = snapshot.info
        # It claims at most the messages the snapshot holds (the later ones have greater
        # UIDs): a small write for a small mailbox.
        recent = await self._write_sized(
            len(snapshot.messages), messages.claim_recent, self._owner, info.id, info.uidnext - 1
        )
        return dataclasses.replace(snapshot, recent_uids=recent)

    async def _write_sized(
        self, messages_touched: int | None, fn: Callable[..., T], *args: Any, **kwargs: Any
    ) -> T:
        """`write_small` for a write of at most SMALL_UIDS messages, else `write` (None:
        how many is not known beforehand)."""
        if messages_touched is not None and messages_touched <= SMALL_UIDS:
            return await self._db.write_small(fn, *args, **kwargs)
        return await self._db.write(fn, *args, **kwargs)

    async def _open_held_mailbox(self, name: str) -> MailboxSnapshot | None:
        """The snapshot as a small read when the cache holds the mailbox; None if not."""
        if self._snapshots is None:
            return None
        return await self._db.read_small(
            messages.open_held_mailbox, self._owner, name, self._snapshots
        )

    async def claim_recent(self, mailbox_id: int, up_to_uid: int) -> frozenset[int]:
        """Claim \\Recent for unclaimed messages with UIDs up to `up_to_uid`. A small write:
        the sessions that have the mailbox selected claim what arrives as it arrives, so
        only the few messages above the floor are touched (SELECT, which may claim a whole
        mailbox's worth, sizes its own claim in open_mailbox)."""
        return await self._db.write_small(messages.claim_recent, self._owner, mailbox_id, up_to_uid)

    async def changes_since(self, mailbox_id: int, modseq: int) -> list[Change]:
        """Change-log rows with modseq > `modseq`, ascending; NOTFOUND if the mailbox is gone."""
        if self._guest is not None:
            return await self._db.read_shared(
                private_seen.changes_since, self._owner, self._guest, mailbox_id, modseq
            )
        return await self._db.read_shared(messages.changes_since, self._owner, mailbox_id, modseq)

    async def change_log(self, mailbox_id: int, modseq: int) -> ChangeLog:
        """The changes after `modseq`, or the current messages when pruned past it."""
        if self._guest is not None:
            return await self._db.read_shared(
                private_seen.change_log, self._owner, self._guest, mailbox_id, modseq
            )
        return await self._db.read_shared(changelog.change_log, self._owner, mailbox_id, modseq)

    async def expunged_since(self, mailbox_id: int, modseq: int) -> tuple[int, ...] | None:
        """UIDs expunged above `modseq`; None when the log was pruned past it."""
        return await self._db.read_small(changelog.expunged_since, self._owner, mailbox_id, modseq)

    async def store_flags_unchanged_since(
        self,
        mailbox_id: int,
        uids: Sequence[int],
        operation: FlagOperation,
        flags: Iterable[str],
        unchanged_since: int,
    ) -> ConditionalStore:
        """STORE (UNCHANGEDSINCE n), RFC 7162 §3.1.3, the test and the change in one
        transaction."""
        if self._guest is not None:
            return await self._db.write(
                private_seen.store_if_unchanged,
                self._owner,
                self._guest,
                mailbox_id,
                tuple(uids),
                operation=operation,
                flags=tuple(flags),
                unchanged_since=unchanged_since,
            )
        return await self._db.write(
            changelog.store_if_unchanged,
            self._owner,
            mailbox_id,
            tuple(uids),
            operation=operation,
            flags=tuple(flags),
            unchanged_since=unchanged_since,
        )

    async def _prepare(self, raw: bytes) -> blobs.PreparedMessage:
        """`blobs.prepare` (parse, compress, index texts): on the loop for a message of up
        to SMALL_PREPARE_OCTETS, where handing it to a thread costs more than it saves (it
        is Python, holding the GIL either way); a bigger one off the loop."""
        if len(raw) <= SMALL_PREPARE_OCTETS:
            return blobs.prepare(raw)
        return await self._db.compute(blobs.prepare, raw)

    async def append(
        self,
        name: str,
        raw: bytes,
        flags: Iterable[str] = (),
        internaldate: datetime | None = None,
    ) -> AppendResult:
        """Parse and store `raw` in mailbox `name`; committed before returning. OVERQUOTA
        if it does not fit in the account's quota, TOOBIG above the size limit."""
        if self._max_message_size is not None and len(raw) > self._max_message_size:
            raise MailError(MailErrorKind.TOOBIG, "Message is larger than the size limit")
        prepared = await self._prepare(raw)
        if self._guest is not None:
            return await self._db.write(
                private_seen.append,
                self._owner,
                self._guest,
                name,
                prepared,
                flags=tuple(flags),
                internaldate=_internaldate(internaldate),
            )
        return await self._db.write_small(
            messages.append,
            self._owner,
            name,
            prepared,
            flags=tuple(flags),
            internaldate=_internaldate(internaldate),
        )

    async def append_many(self, name: str, messages: Sequence[NewMessage]) -> AppendManyResult:
        """Store all of `messages` in `name` in one transaction, or none (RFC 3502 §3);
        OVERQUOTA if they do not fit together, TOOBIG if one is above the size limit."""
        if not messages:
            raise MailError(MailErrorKind.CANNOT, "No messages to append")
        limit = self._max_message_size
        if limit is not None and any(len(new.raw) > limit for new in messages):
            raise MailError(MailErrorKind.TOOBIG, "Message is larger than the size limit")
        given = [new.uid for new in messages if new.uid is not None]
        if given and (
            len(given) != len(messages) or any(b <= a for a, b in itertools.pairwise(given))
        ):
            raise MailError(MailErrorKind.CANNOT, "Given UIDs must cover the batch, ascending")
        # Hashing, parsing and compressing run side by side on the pool (zlib and hashlib
        # release the GIL): a batch of an import uses every core.
        parsed = await asyncio.gather(*(self._db.compute(blobs.prepare, m.raw) for m in messages))
        prepared = [
            (one, new.flags, _internaldate(new.internaldate))
            for one, new in zip(parsed, messages, strict=True)
        ]
        uids = tuple(given) if given else None
        return await self._db.write(store_many, self._owner, name, prepared, uids=uids)

    async def set_uidvalidity(self, name: str, uidvalidity: int) -> MailboxInfo:
        """The imported UIDVALIDITY for a never-used mailbox (see MailStore)."""
        return await self._db.write(mailboxes.set_uidvalidity, self._owner, name, uidvalidity)

    async def store_flags(
        self, mailbox_id: int, uids: Sequence[int], operation: FlagOperation, flags: Iterable[str]
    ) -> list[MessageMeta]:
        """Change flags of `uids`; return the messages whose flags changed."""
        if self._guest is not None:
            return await self._db.write(
                private_seen.store_flags,
                self._owner,
                self._guest,
                mailbox_id,
                tuple(uids),
                operation=operation,
                flags=tuple(flags),
            )
        return await self._write_sized(
            len(uids),
            messages.store_flags,
            self._owner,
            mailbox_id,
            tuple(uids),
            operation=operation,
            flags=tuple(flags),
        )

    async def expunge(self, mailbox_id: int, uids: Sequence[int] | None = None) -> list[int]:
        """Remove the \\Deleted messages (only among `uids` if given); expunged UIDs."""
        chosen = None if uids is None else tuple(uids)
        return await self._write_sized(
            None if chosen is None else len(chosen),
            changelog.expunge_and_prune,
            self._owner,
            mailbox_id,
            chosen,
            retention=self._change_retention,
        )

    async def copy(self, mailbox_id: int, uids: Sequence[int], dest_name: str) -> CopyResult:
        """Copy `uids` to `dest_name` with flags and dates; OVERQUOTA (copying nothing) if
        the copies do not fit in the account's quota."""
        return await self._write_sized(
            len(uids),
            private_seen.carried,
            messages.copy,
            self._owner,
            mailbox_id,
            tuple(uids),
            dest_name,
            move=False,
        )

    async def move(self, mailbox_id: int, uids: Sequence[int], dest_name: str) -> CopyResult:
        """Copy then expunge from the source, in one transaction (RFC 6851); usage does not
        change, so it is never refused for quota."""
        return await self._write_sized(
            len(uids),
            private_seen.carried,
            changelog.move_and_prune,
            self._owner,
            mailbox_id,
            tuple(uids),
            dest_name,
            retention=self._change_retention,
        )

    async def read_message(self, mailbox_id: int, uid: int) -> bytes:
        """The message exactly as stored; EXPUNGED if it is gone."""
        return await self._db.read_small(messages.read_message, self._owner, mailbox_id, uid)

    async def read_facts(self, mailbox_id: int, uid: int) -> mime.MessageFacts:
        """The facts parsed at APPEND; EXPUNGED if gone."""
        return await self._db.read_small(messages.read_facts, self._owner, mailbox_id, uid)

    async def read_messages_many(
        self, mailbox_id: int, uids: Sequence[int]
    ) -> dict[int, tuple[bytes, mime.MessageFacts]]:
        """Raw bytes and facts of the existing messages among `uids`, at once."""
        return await self._read_many(messages.read_messages_many, self._owner, mailbox_id, uids)

    async def read_facts_many(
        self, mailbox_id: int, uids: Sequence[int]
    ) -> dict[int, mime.MessageFacts]:
        """The facts of the existing messages among `uids` (absent: expunged), at once."""
        return await self._read_many(messages.read_facts_many, self._owner, mailbox_id, uids)

    async def object_ids(self, mailbox_id: int, uids: Sequence[int]) -> dict[int, MessageObjectIds]:
        """RFC 8474 EMAILID/THREADID of the existing messages among `uids`."""
        return await self._read_many(message_ids.object_ids, self._owner, mailbox_id, uids)

    async def savedates(
        self, mailbox_id: int, uids: Sequence[int] | None = None
    ) -> dict[int, datetime | None]:
        """RFC 8514 save dates (None where unknown) of the existing messages among `uids`."""
        chosen = None if uids is None else tuple(uids)
        return await self._db.read(message_ids.savedates, self._owner, mailbox_id, chosen)

    async def sort_facts_many(self, mailbox_id: int, uids: Sequence[int]) -> dict[int, SortFacts]:
        """SORT's values of the messages among `uids` that have them stored."""
        return await self._read_many(sort_values.read_many, self._owner.id, mailbox_id, uids)

    async def _read_many(
        self, fn: Callable[..., T], owner: object, mailbox_id: int, uids: Sequence[int]
    ) -> T:
        """`fn(conn, owner, mailbox_id, uids)`, a small read for at most SMALL_UIDS."""
        chosen = tuple(uids)
        read = self._db.read_small if len(chosen) <= SMALL_UIDS else self._db.read
        return await read(fn, owner, mailbox_id, chosen)

    async def text_search(
        self, mailbox_id: int, needles: Sequence[tuple[str, TextScope]]
    ) -> dict[tuple[str, TextScope], TextHits]:
        """The full-text index's answer for each searchable (folded string, scope)."""
        wanted = [(needle, scope) for needle, scope in needles if text_index.searchable(needle)]
        if not wanted:
            return {}
        return await self._db.read(text_index.search_many, self._owner.id, mailbox_id, wanted)

    async def get_metadata(
        self, mailbox: str | None, entries: Sequence[str], depth: MetadataDepth
    ) -> list[tuple[str, bytes]]:
        """RFC 5464 entries of `mailbox` (None: server) at or below `entries`."""
        return await self._db.read(
            account_metadata.get_metadata, self._owner, mailbox, tuple(entries), depth
        )

    async def set_metadata(
        self,
        mailbox: str | None,
        changes: Sequence[tuple[str, bytes | None]],
        limits: MetadataLimits,
    ) -> None:
        """Set or remove RFC 5464 entries, all or none; LIMIT past `limits`."""
        await self._db.write(
            account_metadata.set_metadata, self._owner, mailbox, tuple(changes), limits
        )

    async def quota(self) -> Quota:
        """The account's quota limits and its exact current usage."""
        return await self._db.read_small(account_quota.read_quota, self._owner)

    async def settings(self) -> AccountSettings:
        """The account's delivery settings."""
        return await self._db.read_small(account_quota.read_settings, self._owner)

    async def open_maildrop(self) -> Maildrop:
        """INBOX with every message's POP3 wire size, in one consistent read."""
        return await self._db.read(maildrop.open_maildrop, self._owner)

    async def delete_messages(self, mailbox_id: int, uids: Sequence[int]) -> list[int]:
        """Expunge exactly `uids` whatever their flags, in one transaction; the UIDs that
        were still there, ascending."""
        return await self._db.write(maildrop.delete_messages, self._owner, mailbox_id, tuple(uids))
