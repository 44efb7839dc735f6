"""Reading one folder of an IMAP source: EXAMINE, the UIDs still to copy, then the messages
a bounded chunk at a time, as the records `read_imap` (tidings.migrate.imap_source) yields.

For each `fetch_batch` of UIDs the sizes come first (RFC822.SIZE), then the messages in
chunks of at most FETCH_BYTES (a larger message alone): the client keeps a command's whole
answer in memory, so that is what memory holds, whatever the size of the folder.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from tidings.imap.client import CommandFailed, ImapClient
from tidings.imap.proto.client_responses import (
    Exists,
    Fetch,
    ResponseCode,
    Search,
    encode_mailbox,
)
from tidings.imap.proto.lexer import ParseError, parse_date_time
from tidings.migrate.imap_gmail import GmailLabels
from tidings.migrate.imap_resume import ImapResumeState
from tidings.migrate.source import SYSTEM_FLAGS, ImportProblem, SourceMessage, is_keyword, to_crlf

FETCH_BATCH = 200
"""UIDs whose sizes are asked in one UID FETCH (and the most messages in one chunk)."""

FETCH_BYTES = 16 * 1024 * 1024
"""Octets of messages in one UID FETCH: the client holds a command's whole answer."""

FETCH_MIN_RATE = 32 * 1024
"""Octets per second below which a chunk's FETCH counts as stalled (its timeout)."""

SPECIAL_USES = ("\\Sent", "\\Drafts", "\\Junk", "\\Trash", "\\Archive")
"""Special uses a target mailbox is matched by (RFC 6154 §2: the Importer maps a source's
\\Sent onto the account's Sent); \\All, \\Flagged and \\Important folders are not."""

_SYSTEM = {flag.lower(): flag for flag in SYSTEM_FLAGS}


@dataclass(frozen=True, slots=True)
class MailboxStart:
    """Open Tidings mailbox `name` before messages for it: `Importer.open_mailbox(name,
    uidvalidity=..., special_use=...)` (a source's \\Sent goes to the account's Sent)."""

    name: str
    uidvalidity: int | None
    special_use: str | None


@dataclass(frozen=True, slots=True)
class FolderStart:
    """The messages that follow come from source folder `source` (its UIDVALIDITY)."""

    source: str
    uidvalidity: int


@dataclass(frozen=True, slots=True)
class FolderDone:
    """Every UID of source folder `source` up to `last_uid` has been looked at."""

    source: str
    last_uid: int


ImapItem = MailboxStart | FolderStart | FolderDone | SourceMessage | ImportProblem


@dataclass(frozen=True, slots=True)
class SourceFolder:
    """One selectable folder of the source: its name there, its Tidings name, its use."""

    source: str
    name: str
    special_use: str | None
    delimiter: str | None


@dataclass(slots=True)
class _Fetched:
    """The FETCH data of one message, merged: a server may split it over several
    responses (RFC 9051 §7.5.2 allows any order and any grouping of data items)."""

    uid: int | None = None
    flags: tuple[str, ...] = ()
    internaldate: str | None = None
    body: bytes | None = None
    labels: tuple[str, ...] = ()

    def take(self, item: Fetch) -> None:
        self.uid = item.uid if item.uid is not None else self.uid
        self.flags = item.flags if item.flags is not None else self.flags
        self.internaldate = item.internaldate or self.internaldate
        self.labels = item.labels if item.labels is not None else self.labels
        body = item.sections.get("BODY[]")
        self.body = body if body is not None else self.body


class FolderReader:
    """Reads one source folder: EXAMINE, the UIDs to copy, then chunk after chunk."""

    def __init__(self, client: ImapClient, folder: SourceFolder, fetch_batch: int) -> None:
        self.client = client
        self.folder = folder
        self.fetch_batch = fetch_batch
        self.gmail: GmailLabels | None = None

    async def read(self, resume: ImapResumeState) -> AsyncIterator[ImapItem]:
        """FolderStart, MailboxStart (unless Gmail labels place the messages), the
        messages above what `resume` records, FolderDone; a folder that cannot be opened
        or fetched is an ImportProblem (the rest of it is left for the next run)."""
        source = self.folder.source
        try:
            uidvalidity, exists = await self._examine()
        except CommandFailed as error:
            yield ImportProblem(source, f"cannot open the folder: {error}")
            return
        yield FolderStart(source, uidvalidity)
        if self.gmail is None:
            use = self.folder.special_use if self.folder.special_use in SPECIAL_USES else None
            yield MailboxStart(self.folder.name, uidvalidity or None, use)
        first = resume.first_uid(source, uidvalidity)
        uids: list[int] = []
        done = first
        try:
            uids = await self._uids_from(first) if exists else []
            for start in range(0, len(uids), self.fetch_batch):
                group = uids[start : start + self.fetch_batch]
                done = group[0]
                sizes = await self._sizes(group)
                for chunk in _chunks(group, sizes, FETCH_BYTES):
                    for fetched in await self._fetch(chunk, sum(sizes[u] for u in chunk)):
                        for item in self._items(fetched):
                            yield item
        except CommandFailed as error:
            yield ImportProblem(
                source, f"{error}; its messages from UID {done} on are left for the next run"
            )
            return
        if uids:
            yield FolderDone(source, uids[-1])

    async def _examine(self) -> tuple[int, int]:
        """UIDVALIDITY (0 if the server gives none) and the message count (RFC 9051
        §6.3.3: EXAMINE is SELECT read-only, so \\Seen is never set by reading)."""
        result = await self.client.command("EXAMINE", encode_mailbox(self.folder.source))
        uidvalidity = exists = 0
        for item in result.untagged:
            code = getattr(item, "code", None)
            if isinstance(code, ResponseCode) and code.name == "UIDVALIDITY":
                uidvalidity = int(code.arguments.strip() or 0)
            if isinstance(item, Exists):
                exists = item.count
        return uidvalidity, exists

    async def _uids_from(self, first: int) -> list[int]:
        """The UIDs at or above `first`, ascending. `first:*` also names the highest
        message when `first` is above it (RFC 9051 §6.4.8), hence the filter."""
        result = await self.client.command("UID", "SEARCH", "UID", f"{first}:*".encode())
        found = {n for s in result.untagged if isinstance(s, Search) for n in s.numbers}
        return sorted(n for n in found if n >= first)

    async def _sizes(self, uids: Sequence[int]) -> dict[int, int]:
        """RFC822.SIZE of each of `uids` still there (an expunged one is simply missing)."""
        result = await self.client.command("UID", "FETCH", _uid_set(uids), b"(UID RFC822.SIZE)")
        wanted = set(uids)
        return {
            item.uid: item.size or 0
            for item in result.untagged
            if isinstance(item, Fetch) and item.uid in wanted
        }

    async def _fetch(self, uids: Sequence[int], octets: int) -> list[_Fetched]:
        """The messages `uids` (about `octets` in all), in UID order."""
        items = "UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[]"
        if self.gmail is not None:
            items += " X-GM-LABELS"
        timeout = max(self.client.timeout, octets / FETCH_MIN_RATE)
        result = await self.client.command(
            "UID", "FETCH", _uid_set(uids), f"({items})".encode(), timeout=timeout
        )
        merged: dict[int, _Fetched] = {}
        for item in result.untagged:
            if isinstance(item, Fetch):
                merged.setdefault(item.seq, _Fetched()).take(item)
        wanted = set(uids)
        return sorted((f for f in merged.values() if f.uid in wanted), key=lambda f: f.uid or 0)

    def _items(self, fetched: _Fetched) -> list[SourceMessage | ImportProblem]:
        """The message of one FETCH (and what was repaired in it), or why not."""
        where = f"{self.folder.source} UID {fetched.uid}"
        if fetched.body is None or fetched.uid is None:
            return [ImportProblem(where, "the server sent no message")]
        raw = fetched.body
        if raw.count(b"\n") != raw.count(b"\r\n"):
            raw = to_crlf(raw)  # a server that keeps bare LFs (IMAP says CRLF, RFC 9051 §2.3.1)
        out: list[SourceMessage | ImportProblem] = []
        internaldate = _internaldate(fetched.internaldate)
        if internaldate is None:
            out.append(ImportProblem(where, "no readable INTERNALDATE; the import time is used"))
        flags = _flags(fetched.flags)
        mailbox: str = self.folder.name
        labels: tuple[str, ...] = ()
        if self.gmail is not None:
            placement = self.gmail.place(fetched.labels)
            if placement is None:
                return out  # Spam or Trash, not asked for
            mailbox, labels = placement.mailbox, placement.labels
            flags |= placement.flags
        out.append(SourceMessage(raw, flags, internaldate, mailbox, fetched.uid, labels))
        return out


def _chunks(uids: Sequence[int], sizes: dict[int, int], limit: int) -> list[list[int]]:
    """`uids` (those with a size) in runs of at most `limit` octets; a message larger
    than `limit` is a run of its own."""
    chunks: list[list[int]] = []
    current: list[int] = []
    octets = 0
    for uid in uids:
        if uid not in sizes:
            continue
        if current and octets + sizes[uid] > limit:
            chunks.append(current)
            current, octets = [], 0
        current.append(uid)
        octets += sizes[uid]
    if current:
        chunks.append(current)
    return chunks


def _uid_set(uids: Sequence[int]) -> bytes:
    """Ascending `uids` as a sequence-set (RFC 9051 §9), runs written `a:b`."""
    parts: list[str] = []
    start = previous = uids[0]
    for uid in [*uids[1:], None]:
        if uid is not None and uid == previous + 1:
            previous = uid
            continue
        parts.append(str(start) if start == previous else f"{start}:{previous}")
        if uid is not None:
            start = previous = uid
    return ",".join(parts).encode("ascii")


def _flags(flags: Sequence[str]) -> frozenset[str]:
    """System flags in their standard spelling and keywords; \\Recent (a session's, RFC
    3501 §2.3.2, gone in RFC 9051) and other backslash flags, which no client could store,
    are dropped."""
    out: set[str] = set()
    for flag in flags:
        system = _SYSTEM.get(flag.lower())
        if system is not None:
            out.add(system)
        elif not flag.startswith("\\") and is_keyword(flag):
            out.add(flag)
    return frozenset(out)


def _internaldate(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_date_time(b'"' + text.encode("ascii", "replace") + b'"')
    except ParseError:
        return None
