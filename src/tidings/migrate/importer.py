"""Messages from any reader (mbox, Maildir, IMAP) into one account's store, in batches.

`Importer` buffers `SourceMessage`s per mailbox and commits them with `append_many` (one
transaction per batch of `batch_messages` or `batch_bytes`), so a large import costs few
commits and a running server's IDLE clients see each batch as it lands. Memory holds one
batch at most, whatever the size of the source.

- Duplicates are skipped by the key Message-ID + size + Date (imapsync's default key): a
  message whose key is already in the target mailbox, or earlier in the same import, is
  not stored again, so a rerun of an interrupted import adds only what is missing. A
  message without a Message-ID is keyed by a digest of its bytes instead.
- UIDs: when a target mailbox has never held a message and the source gives UIDVALIDITY
  and UIDs (Dovecot's dovecot-uidlist, an IMAP source), both are kept, so that clients
  synced against the old server do not download everything again. Otherwise messages get
  new UIDs in source order.
- Over quota: a batch is stored whole or not at all; the import stops with `ImportStopped`
  naming what was committed before. With `expected_octets` (a file's size) an import
  that cannot fit is refused before anything is stored.
- `dry_run`: everything is read, parsed and counted; nothing is written.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from tidings.core.errors import MailError, MailErrorKind
from tidings.migrate.headers import header_end, iter_fields, split_lines
from tidings.migrate.source import ImportProblem, SourceMessage
from tidings.storage.api import MailboxInfo, MailStore, NewMessage

BATCH_MESSAGES = 500
"""Messages per transaction (a batch is also cut at BATCH_BYTES)."""

BATCH_BYTES = 32 * 1024 * 1024
"""Octets per transaction: bounds the memory an import holds."""

_WHITESPACE = re.compile(rb"\s+")

DedupKey = tuple[bytes, int, bytes]


class ImportStopped(Exception):
    """The import cannot go on (over quota, a store refusal); the message says why and
    what was committed before."""


class ImportProgress(Protocol):
    """What an import reports as it goes (a progress bar, or nothing)."""

    def advance(self, messages: int, octets: int) -> None:
        """`messages` more source messages (of `octets`) were handled."""

    def mailbox(self, name: str) -> None:
        """Messages now go to mailbox `name`."""


@dataclass
class ImportSummary:
    """The counts an import ends with."""

    imported: int = 0
    duplicates: int = 0
    octets: int = 0
    mailboxes: list[str] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)

    @property
    def failed(self) -> int:
        """Problems that cost a message (a reader's repairs are also listed)."""
        return len(self.problems)


def dedup_key(raw: bytes) -> DedupKey:
    """Message-ID + size + Date of `raw` (without a Message-ID, a digest of the message
    stands in for it). Whitespace inside
    the field values is dropped, so folding differences do not matter; when a field
    repeats the last one counts, as in the stored ENVELOPE."""
    end_of_header = raw.find(b"\r\n\r\n")
    head = raw if end_of_header < 0 else raw[: end_of_header + 2]
    lines = split_lines(head)
    message_id = date = b""
    for item in iter_fields(lines, header_end(lines)):
        if item.name == b"message-id":
            message_id = item.value
        elif item.name == b"date":
            date = item.value
    message_id = _WHITESPACE.sub(b"", message_id) or _content_id(raw)
    return message_id, len(raw), _WHITESPACE.sub(b"", date)


def _content_id(raw: bytes) -> bytes:
    """The stand-in for a missing Message-ID: a digest of the whole message, so that only
    a byte-identical message counts as the same."""
    return b"sha256:" + hashlib.sha256(raw).hexdigest().encode("ascii")


def _stored_key(message_id: str | None, size: int, date: str | None) -> DedupKey | None:
    """`dedup_key` from a stored message's ENVELOPE (8-bit octets are kept as surrogates);
    None without a Message-ID (the caller hashes the message then)."""
    key = _squeeze(message_id or "")
    return (key, size, _squeeze(date or "")) if key else None


def _squeeze(text: str) -> bytes:
    return _WHITESPACE.sub(b"", text.encode("utf-8", "surrogateescape"))


@dataclass
class _Target:
    """One target mailbox: the keys it holds, whether it keeps source UIDs, the batch."""

    name: str
    keys: set[DedupKey]
    keep_uids: bool
    next_uid: int
    batch: list[SourceMessage] = field(default_factory=list)
    octets: int = 0


class Importer:
    """Imports into `store`; see the module docstring. Use `open_mailbox` before adding
    messages that carry source UIDs, `add` per message, `finish` at the end."""

    def __init__(
        self,
        store: MailStore,
        *,
        dry_run: bool = False,
        keep_uids: bool = True,
        batch_messages: int = BATCH_MESSAGES,
        batch_bytes: int = BATCH_BYTES,
        progress: ImportProgress | None = None,
        committed: Callable[[str, Sequence[SourceMessage]], None] | None = None,
    ) -> None:
        self.store = store
        self.dry_run = dry_run
        self.keep_uids = keep_uids
        self.batch_messages = max(1, batch_messages)
        self.batch_bytes = max(1, batch_bytes)
        self.progress = progress
        self.committed = committed
        """Called with (mailbox, messages) after each batch is durably stored: an IMAP
        source records how far it got, for a resumable import."""
        self.summary = ImportSummary()
        self._targets: dict[str, _Target] = {}
        self._inflight: asyncio.Task[None] | None = None
        self._labels: dict[str, str] = {}  # folded name -> target name

    # ------------------------------------------------------------------ mailboxes
    async def open_mailbox(
        self,
        name: str,
        *,
        uidvalidity: int | None = None,
        special_use: str | None = None,
    ) -> str:
        """Make `name` ready (created if missing; with `uidvalidity` kept when it has never
        held a message, and the source's UIDs kept while the mailbox has that UIDVALIDITY
        and they are above its UIDNEXT); the name messages for it go to. With
        `special_use`, an existing mailbox of that use takes the messages (a source's
        "Sent Items" \\Sent goes to the account's Sent)."""
        target = self._targets.get(_fold(name))
        if target is not None:
            return target.name
        existing = {_fold(info.name): info for info in await self.store.list_mailboxes()}
        info = existing.get(_fold(name))
        if info is None and special_use is not None:
            info = next((i for i in existing.values() if i.special_use == special_use), None)
        if info is None and not self.dry_run:
            try:
                info = await self.store.create_mailbox(name, special_use)
            except MailError as error:
                if error.kind is not MailErrorKind.CANNOT:
                    raise ImportStopped(f"cannot create mailbox {name!r}: {error.reason}") from None
                info = await self.store.create_mailbox(name)  # a special use already taken
        keep = False
        if info is not None and uidvalidity is not None and self.keep_uids and info.uidnext == 1:
            if not self.dry_run:
                info = await self.store.set_uidvalidity(info.name, uidvalidity)
            keep = True
        elif info is not None and uidvalidity is not None and self.keep_uids:
            # A rerun (or a resume) of the same source: its UIDs above ours still fit.
            keep = info.uidvalidity == uidvalidity
        elif info is None:
            keep = uidvalidity is not None and self.keep_uids
        keys = await self._stored_keys(info) if info is not None else set()
        target = _Target(
            name=info.name if info is not None else name,
            keys=keys,
            keep_uids=keep,
            next_uid=info.uidnext if info is not None else 1,
        )
        self._targets[_fold(name)] = target
        self._targets[_fold(target.name)] = target
        if target.name not in self.summary.mailboxes:
            self.summary.mailboxes.append(target.name)
        if self.progress is not None:
            self.progress.mailbox(target.name)
        return target.name

    async def _stored_keys(self, info: MailboxInfo) -> set[DedupKey]:
        """The keys of the messages `info` already holds (their facts were parsed at
        ingest: no message is read again)."""
        keys: set[DedupKey] = set()
        if info.uidnext == 1:
            return keys
        metas = (await self.store.open_mailbox(info.name, False)).messages
        for start in range(0, len(metas), 1000):
            chunk = [meta.uid for meta in metas[start : start + 1000]]
            facts = await self.store.read_facts_many(info.id, chunk)
            for uid, fact in facts.items():
                key = _stored_key(fact.envelope.message_id, fact.size, fact.envelope.date)
                if key is None:  # rare: only these are read again, to be hashed
                    key = dedup_key(await self.store.read_message(info.id, uid))
                keys.add(key)
        return keys

    # ------------------------------------------------------------------ messages
    def problem(self, problem: ImportProblem) -> None:
        """Record something a reader skipped or repaired."""
        self.summary.problems.append(problem)

    async def add(self, message: SourceMessage) -> bool:
        """Queue `message` (committing a full batch); False if skipped as a duplicate."""
        name = await self.open_mailbox(message.mailbox)
        target = self._targets[_fold(name)]
        size = len(message.raw)
        if self.progress is not None:
            self.progress.advance(1, size)
        key = dedup_key(message.raw)
        if key in target.keys:
            self.summary.duplicates += 1
            return False
        target.keys.add(key)
        if target.keep_uids and (message.uid is None or message.uid < target.next_uid):
            await self._flush(target)
            target.keep_uids = False  # a message without a usable UID: new UIDs from here
        if target.keep_uids:
            assert message.uid is not None
            target.next_uid = message.uid + 1
        target.batch.append(message)
        target.octets += size
        if len(target.batch) >= self.batch_messages or target.octets >= self.batch_bytes:
            await self._flush(target)
        for label in message.labels:
            if _fold(label) != _fold(name):
                await self.add(
                    SourceMessage(message.raw, message.flags, message.internaldate, label)
                )
        return True

    async def finish(self) -> ImportSummary:
        """Commit what is still buffered; the summary."""
        for target in {id(t): t for t in self._targets.values()}.values():
            await self._flush(target)
        await self._settle()
        return self.summary

    async def _flush(self, target: _Target) -> None:
        """Hand the batch of `target` to the store. The commit runs while the reader goes
        on with the next batch (one batch in flight at most, so memory stays at two)."""
        batch, octets = target.batch, target.octets
        if not batch:
            return
        target.batch, target.octets = [], 0
        await self._settle()
        if self.dry_run:
            self._count(batch, octets)
            return
        new = [
            NewMessage(
                m.raw, tuple(sorted(m.flags)), m.internaldate, m.uid if target.keep_uids else None
            )
            for m in batch
        ]
        self._inflight = asyncio.create_task(self._commit(target.name, batch, octets, new))

    async def _commit(
        self, name: str, batch: list[SourceMessage], octets: int, new: list[NewMessage]
    ) -> None:
        try:
            await self.store.append_many(name, new)
        except MailError as error:
            raise ImportStopped(
                f"{name}: {error.reason}; stopped after {self.summary.imported}"
                f" messages were imported (the last batch of {len(batch)} was not stored)"
            ) from None
        self._count(batch, octets)
        if self.committed is not None:
            self.committed(name, batch)

    async def _settle(self) -> None:
        """Wait for the batch in flight; its ImportStopped (or store error) is raised here."""
        inflight, self._inflight = self._inflight, None
        if inflight is not None:
            await inflight

    def _count(self, batch: list[SourceMessage], octets: int) -> None:
        self.summary.imported += len(batch)
        self.summary.octets += octets

    # ------------------------------------------------------------------ quota
    async def check_room(self, expected_octets: int) -> None:
        """ImportStopped now if `expected_octets` more cannot fit in the account's quota."""
        quota = await self.store.quota()
        limit = quota.storage_limit
        if limit is not None and quota.storage_used + expected_octets > limit:
            free = max(0, limit - quota.storage_used)
            raise ImportStopped(
                f"over quota: the import needs about {expected_octets} octets and the"
                f" account has {free} free of {limit}; nothing was imported"
            )


async def import_all(
    importer: Importer, items: Iterable[SourceMessage | ImportProblem]
) -> ImportSummary:
    """Every message of a reader into `importer`, problems recorded; the summary."""
    for item in items:
        if isinstance(item, ImportProblem):
            importer.problem(item)
        else:
            await importer.add(item)
    return await importer.finish()


async def import_all_async(
    importer: Importer, items: AsyncIterable[SourceMessage | ImportProblem]
) -> ImportSummary:
    """`import_all` for a reader that is itself asynchronous (an IMAP source)."""
    async for item in items:
        if isinstance(item, ImportProblem):
            importer.problem(item)
        else:
            await importer.add(item)
    return await importer.finish()


def _fold(name: str) -> str:
    return "INBOX" if name.upper() == "INBOX" else name
