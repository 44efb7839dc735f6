"""How far an IMAP import got, so that a rerun copies only what is missing.

The record is the watcher's state file (tidings.watch.state: JSON, atomic writes, a lock
against a second process), keyed by source account and source folder:

    {"version": 1, "accounts": {"me@imap.example.com:993":
                                  {"INBOX": {"uidvalidity": 5, "last_uid": 1042}}}}

`last_uid` only moves once every message at or below it is durably stored: `CommitTracker`
hears the Importer's `committed` callback, counts the copies of each source message (a Gmail
message filed under several labels has one per label), and moves a folder's mark past a UID
only when that UID and every UID before it are settled. A message skipped as a duplicate is
settled at once. So an import killed anywhere, or one whose source connection drops, loses
nothing on the rerun; at worst it fetches a batch again, and the Importer's Message-ID dedup
skips what was already stored. UIDs are only comparable under one UIDVALIDITY (RFC 9051
§2.3.1.1): when the source's changes, that folder starts over (again relying on the dedup).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tidings.migrate.importer import ImportStopped
from tidings.migrate.source import SourceMessage
from tidings.watch.errors import ConfigError
from tidings.watch.state import MailboxState, WatchState


def default_resume_path(data_dir: Path, address: str, source_key: str) -> Path:
    """Where the resume record of importing `source_key` (`user@host:port`) into the
    account `address` lives: one file per pair, under the data directory."""
    digest = hashlib.sha256(f"{address.lower()}\0{source_key}".encode()).hexdigest()[:16]
    return Path(data_dir) / "imports" / f"imap-{digest}.json"


class ImapResumeState:
    """Per source folder: its UIDVALIDITY and the UID up to which everything is stored.

    With a `path` the record is read at open and written (atomically) on every advance;
    `read_only` (a dry run) reads it but never writes; without a path it lives in memory.
    """

    def __init__(self, source_key: str, state: WatchState | None, *, read_only: bool = False):
        self.source_key = source_key
        self._state = state
        self._read_only = read_only
        self._folders = state.mailboxes(source_key) if state is not None else {}

    @classmethod
    def open(
        cls, path: Path | None, source_key: str, *, read_only: bool = False
    ) -> ImapResumeState:
        """The record at `path` (missing: empty); ImportStopped if it is unreadable or in
        use by another import."""
        if path is None:
            return cls(source_key, None)
        try:
            state = WatchState.open(path, holder="another import from the same source")
        except ConfigError as error:
            raise ImportStopped(f"cannot use the resume file: {error}") from None
        return cls(source_key, state, read_only=read_only)

    def get(self, folder: str) -> MailboxState | None:
        """What is recorded for source folder `folder`."""
        return self._folders.get(folder)

    def first_uid(self, folder: str, uidvalidity: int) -> int:
        """The first UID of `folder` still to copy: 1 for a new folder or a new
        UIDVALIDITY (the record of that folder is reset), else the recorded one + 1."""
        stored = self._folders.get(folder)
        if stored is None or stored.uidvalidity != uidvalidity:
            self._folders[folder] = MailboxState(uidvalidity, 0)
            return 1
        return stored.last_uid + 1

    def advance(self, folder: str, last_uid: int) -> None:
        """Everything of `folder` up to `last_uid` is stored; write the record."""
        stored = self._folders.get(folder)
        if stored is None or last_uid <= stored.last_uid:
            return
        new = MailboxState(stored.uidvalidity, last_uid)
        self._folders[folder] = new
        if self._state is not None and not self._read_only:
            self._state.set(self.source_key, folder, new)

    def close(self) -> None:
        """Release the file's lock (the record on disk is already current)."""
        if self._state is not None:
            self._state.close()


@dataclass(slots=True)
class _Pending:
    """One source message whose copies are not all stored yet."""

    folder: str
    uid: int
    raw: bytes  # held, so that id(raw) names this message for as long as it is pending
    outstanding: int = 0  # copies queued in the Importer minus copies committed
    queued: bool = False  # the Importer has taken every copy (committed, queued or skipped)


class CommitTracker:
    """Turns the Importer's `committed` calls into `ImapResumeState.advance` calls.

    A committed batch holds the very `raw` bytes objects of the SourceMessages that were
    added (label copies share them), so a copy is matched to its source message by
    identity, never by comparing contents.
    """

    def __init__(self, resume: ImapResumeState) -> None:
        self.resume = resume
        self._order: dict[str, dict[int, bool]] = {}  # folder -> UID -> settled, ascending
        self._pending: dict[int, _Pending] = {}  # id(raw) -> its message
        self.backlog = 0
        """UIDs the marks cannot pass yet: those not stored, and those behind them."""

    def expect(self, folder: str, uid: int, raw: bytes) -> _Pending:
        """Source message `uid` of `folder` (UIDs ascending per folder) is being added."""
        pending = _Pending(folder, uid, raw)
        self._pending[id(raw)] = pending
        self._order.setdefault(folder, {})[uid] = False
        self.backlog += 1
        return pending

    def queued(self, pending: _Pending, copies: int) -> None:
        """The Importer has taken the message: `copies` of it wait for a commit (or were
        committed already, while it was being added)."""
        pending.outstanding += copies
        pending.queued = True
        self._check(pending)

    def done_up_to(self, folder: str, uid: int) -> None:
        """The reader has looked at every UID of `folder` up to `uid` (those it skipped,
        or that were expunged, need not be looked at again)."""
        order = self._order.setdefault(folder, {})
        if uid not in order:
            order[uid] = True
            self.backlog += 1
        self._advance(folder)

    def committed(self, mailbox: str, batch: Sequence[SourceMessage]) -> None:
        """The Importer's `committed` callback: `batch` is durably stored in `mailbox`."""
        del mailbox  # a message's folder is known from its pending record
        for message in batch:
            pending = self._pending.get(id(message.raw))
            if pending is not None and pending.raw is message.raw:
                pending.outstanding -= 1
                self._check(pending)

    def _check(self, pending: _Pending) -> None:
        if not pending.queued or pending.outstanding > 0:
            return
        del self._pending[id(pending.raw)]
        self._order[pending.folder][pending.uid] = True
        self._advance(pending.folder)

    def _advance(self, folder: str) -> None:
        order = self._order[folder]
        last = None
        while order:
            uid = next(iter(order))
            if not order[uid]:
                break
            del order[uid]
            self.backlog -= 1
            last = uid
        if last is not None:
            self.resume.advance(folder, last)
