"""Another IMAP server as an import source (what imapsync does), resumable.

`read_imap` LISTs the source's folders with their RFC 6154 special-use attributes, EXAMINEs
each one and fetches its messages in UID order, a bounded chunk at a time
(tidings.migrate.imap_folder), from the UIDs the resume record has not seen. It yields
records the caller acts on:

- `MailboxStart`: open this Tidings mailbox (`Importer.open_mailbox`) before its messages;
- `FolderStart` / `FolderDone`: the source folder the following messages come from, and
  that every UID of it up to `last_uid` was looked at (for the resume record);
- `SourceMessage` with the source UID, flags (system flags and keywords; \\Recent, which is
  per session, and non-standard backslash flags dropped) and INTERNALDATE;
- `ImportProblem` for a folder that cannot be opened or a message that cannot be read.

Names: the source's hierarchy delimiter becomes "/" and its personal namespace prefix
(RFC 2342 §5: "INBOX." on Courier and old Cyrus) is dropped, so `INBOX.Work.Reports`
arrives as `Work/Reports`. Virtual folders (\\All, \\Flagged: RFC 6154 §2) are skipped when
every folder is read, since their messages are in real folders too; name them to read them.

Gmail (capability X-GM-EXT-1, developers.google.com/gmail/imap/imap-extensions): every
message is in `[Gmail]/All Mail` and each label is a folder showing some of them, so only
All Mail is read, with X-GM-LABELS; each message is fetched once and filed under each of
its labels (tidings.migrate.imap_gmail). Spam and Trash are not in All Mail; they are read
as folders of their own only when asked (`spam_and_trash`). Naming folders turns this off.

`import_imap` joins a reader, an `Importer` and an `ImapResumeState`; a rerun after any
interruption copies only UIDs above the recorded ones (tidings.migrate.imap_resume).
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import replace
from functools import partial
from pathlib import Path

from tidings.imap.client import ConnectionLost, ImapClient, ImapError
from tidings.imap.proto.client_responses import ListItem, Other
from tidings.migrate.imap_folder import (
    FETCH_BATCH,
    SPECIAL_USES,
    FolderDone,
    FolderReader,
    FolderStart,
    ImapItem,
    MailboxStart,
    SourceFolder,
)
from tidings.migrate.imap_gmail import GmailLabels
from tidings.migrate.imap_resume import CommitTracker, ImapResumeState
from tidings.migrate.importer import Importer, ImportStopped, ImportSummary
from tidings.migrate.source import ImportProblem, SourceMessage
from tidings.watch.config import AccountConfig
from tidings.watch.errors import ConfigError
from tidings.watch.runner import log_in, wanted_by

__all__ = [
    "DROPPED",
    "FolderDone",
    "FolderStart",
    "ImapItem",
    "MailboxStart",
    "SourceFolder",
    "choose_folders",
    "connect_source",
    "import_imap",
    "list_folders",
    "read_imap",
    "tidings_name",
]

CHECKPOINT_BACKLOG = 1000
"""Source messages a folder's resume mark may lag behind before every buffered batch is
committed: a Gmail label with few messages would otherwise hold its batch, and so the mark
of All Mail, until the end, and a rerun would fetch everything after it again."""

DROPPED = "the source server dropped the connection; run the same command again to resume"
"""How an import whose source connection dropped ends (after committing what it read)."""

VIRTUAL_USES = frozenset({"\\all", "\\flagged"})
"""RFC 6154 §2: folders that show messages kept elsewhere (skipped unless named)."""

_ATTRIBUTES = {u.lower(): u for u in (*SPECIAL_USES, "\\All", "\\Flagged", "\\Important")}
_NAMESPACE_RE = re.compile(rb'NAMESPACE \(\("((?:[^"\\]|\\.)*)" ')


# ---------------------------------------------------------------------- folders
def tidings_name(source: str, delimiter: str | None, prefix: str = "") -> str:
    """The Tidings name of source folder `source`: `prefix` (the personal namespace)
    dropped, the hierarchy `delimiter` made "/". A "/" inside a source level stays, and so
    becomes a level of its own."""
    if source.upper() == "INBOX":
        return "INBOX"
    if prefix and source.startswith(prefix) and len(source) > len(prefix):
        source = source[len(prefix) :]
    if delimiter and delimiter != "/":
        source = "/".join(source.split(delimiter))
    return "INBOX" if source.upper() == "INBOX" else source


async def list_folders(client: ImapClient) -> list[SourceFolder]:
    """Every selectable folder, with its special use (LIST RETURN (SPECIAL-USE), RFC 6154
    §5.1, when offered; Gmail sends the attributes without being asked)."""
    if "SPECIAL-USE" in client.capabilities:
        result = await client.command("LIST", b'""', b'"*"', b"RETURN", b"(SPECIAL-USE)")
    else:
        result = await client.command("LIST", b'""', b'"*"')
    prefix = await _personal_prefix(client)
    folders = []
    for item in result.untagged:
        if not isinstance(item, ListItem):
            continue
        attributes = {a.lower() for a in item.attributes}
        if attributes & {"\\noselect", "\\nonexistent"}:
            continue
        use = next((_ATTRIBUTES[a] for a in sorted(attributes) if a in _ATTRIBUTES), None)
        name = tidings_name(item.mailbox, item.delimiter, prefix)
        folders.append(SourceFolder(item.mailbox, name, use, item.delimiter))
    return folders


async def _personal_prefix(client: ImapClient) -> str:
    """The first personal namespace's prefix (RFC 2342 §5), "" when there is none."""
    if "NAMESPACE" not in client.capabilities:
        return ""
    result = await client.command("NAMESPACE")
    for item in result.untagged:
        if isinstance(item, Other) and item.name == "NAMESPACE":
            match = _NAMESPACE_RE.match(item.raw)
            if match:
                return re.sub(rb"\\(.)", rb"\1", match.group(1)).decode("utf-8", "replace")
    return ""


def choose_folders(listed: Sequence[SourceFolder], wanted: Sequence[str] | None) -> list[str]:
    """The source names of the folders `wanted` names: names (the source's or the Tidings
    one), LIST patterns (`*`, `%`) and special uses (`\\Sent`); every real folder for None.
    ImportStopped for a name that matches nothing."""
    if wanted is None:
        return [f.source for f in listed if (f.special_use or "").lower() not in VIRTUAL_USES]
    chosen: list[str] = []
    for want in wanted:
        if want.startswith("\\"):
            matches = [f.source for f in listed if (f.special_use or "").lower() == want.lower()]
        else:
            matches = [
                f.source
                for f in listed
                if wanted_by([want], f.source, f.delimiter) or wanted_by([want], f.name, "/")
            ]
        if not matches:
            raise ImportStopped(f"the source has no folder {want!r}; nothing was imported")
        chosen.extend(name for name in matches if name not in chosen)
    return chosen


# ---------------------------------------------------------------------- reading
async def read_imap(
    client: ImapClient,
    *,
    folders: Sequence[str] | None,
    resume: ImapResumeState,
    fetch_batch: int = FETCH_BATCH,
    spam_and_trash: bool = False,
) -> AsyncGenerator[ImapItem, None]:
    """The folders `folders` names (None: all; see `choose_folders`) of the logged-in
    `client`, from the UIDs `resume` has not recorded yet; see the module docstring.
    Gmail's labels are followed when every folder is read. ConnectionLost when the
    connection drops (what was yielded before stays good)."""
    listed = await list_folders(client)
    all_mail = _all_mail(client, listed) if folders is None else None
    gmail: GmailLabels | None = None
    if all_mail is not None:
        gmail = GmailLabels(listed, spam_and_trash=spam_and_trash)
        for name, use in gmail.targets:
            yield MailboxStart(name, None, use)
        reads = [all_mail]
        if spam_and_trash:
            reads += [f for f in listed if f.special_use in ("\\Junk", "\\Trash")]
    else:
        by_source = {f.source: f for f in listed}
        reads = [by_source[source] for source in choose_folders(listed, folders)]
    for folder in reads:
        reader = FolderReader(client, folder, max(1, fetch_batch))
        if folder is all_mail:
            reader.gmail = gmail
        async for item in reader.read(resume):
            yield item


def _all_mail(client: ImapClient, listed: Sequence[SourceFolder]) -> SourceFolder | None:
    """Gmail's All Mail, when the source is Gmail (or something that speaks like it)."""
    if "X-GM-EXT-1" not in client.capabilities:
        return None
    return next((f for f in listed if f.special_use == "\\All"), None)


# ---------------------------------------------------------------------- importing
async def connect_source(account: AccountConfig) -> ImapClient:
    """Connect to and log in at `account` (its password or OAuth token read from where the
    account says, as `tidings watch` does); ImportStopped saying why it could not."""
    try:
        client = await ImapClient.connect(account.endpoint, timeout=account.connect_timeout)
    except ImapError as error:
        raise ImportStopped(f"{account.key}: {error}; nothing was imported") from None
    try:
        await log_in(client, account)
    except (ImapError, ConfigError) as error:
        client.close()
        raise ImportStopped(f"{account.key}: {error}; nothing was imported") from None
    return client


async def import_imap(
    importer: Importer,
    source: ImapClient | AccountConfig,
    *,
    state_path: Path | None,
    folders: Sequence[str] | None = None,
    spam_and_trash: bool = False,
    fetch_batch: int = FETCH_BATCH,
    source_key: str | None = None,
) -> ImportSummary:
    """Every folder of `source` (or those `folders` names) into `importer`'s account,
    resuming from the record at `state_path` (None: no record) and keeping it current
    after every committed batch; the summary.

    `source` is a logged-in client (the caller closes it) or an account to connect to
    (logged out at the end). The record is kept under `source_key`, by default the
    account's `user@host:port` (a client's `host:port`). ImportStopped when the import
    cannot go on, the source connection dropping included: what was fetched before is
    committed first, and the same call again resumes."""
    run = partial(
        _import_from,
        importer,
        state_path=state_path,
        folders=folders,
        spam_and_trash=spam_and_trash,
        fetch_batch=fetch_batch,
    )
    if isinstance(source, ImapClient):
        endpoint = source.endpoint
        key = source_key or f"{endpoint.host}:{endpoint.port}"
        return await run(source, key)
    client = await connect_source(source)
    try:
        summary = await run(client, source_key or source.key)
    except BaseException:
        client.close()  # stopped or interrupted: no goodbye that could hold the exit up
        raise
    await client.logout()
    return summary


async def _import_from(
    importer: Importer,
    client: ImapClient,
    key: str,
    *,
    state_path: Path | None,
    folders: Sequence[str] | None,
    spam_and_trash: bool,
    fetch_batch: int,
) -> ImportSummary:
    resume = ImapResumeState.open(state_path, key, read_only=importer.dry_run)
    previous = importer.committed
    tracker = None if importer.dry_run else CommitTracker(resume)
    if tracker is not None:
        importer.committed = _chain(previous, tracker.committed)
    try:
        items = read_imap(
            client,
            folders=folders,
            resume=resume,
            fetch_batch=fetch_batch,
            spam_and_trash=spam_and_trash,
        )
        await _import_items(importer, tracker, items)
        return await importer.finish()
    finally:
        importer.committed = previous
        resume.close()


async def _import_items(
    importer: Importer,
    tracker: CommitTracker | None,
    items: AsyncGenerator[ImapItem, None],
) -> None:
    """Hand what the reader yields to the Importer; a source failure becomes
    ImportStopped once what was read is committed."""
    folder = ""
    try:
        async with aclosing(items):
            async for item in items:
                if isinstance(item, MailboxStart):
                    await importer.open_mailbox(
                        item.name, uidvalidity=item.uidvalidity, special_use=item.special_use
                    )
                elif isinstance(item, FolderStart):
                    folder = item.source
                elif isinstance(item, FolderDone):
                    await importer.finish()  # a checkpoint: the folder's mark reaches its end
                    if tracker is not None:
                        tracker.done_up_to(item.source, item.last_uid)
                elif isinstance(item, ImportProblem):
                    importer.problem(item)
                else:
                    await _add_once_per_mailbox(importer, tracker, folder, item)
                    if tracker is not None and tracker.backlog > CHECKPOINT_BACKLOG:
                        await importer.finish()
    except ConnectionLost as error:
        await importer.finish()
        raise ImportStopped(f"{DROPPED} ({error})") from error
    except ImapError as error:
        await importer.finish()
        raise ImportStopped(f"the source server failed: {error}") from error


async def _add_once_per_mailbox(
    importer: Importer, tracker: CommitTracker | None, folder: str, message: SourceMessage
) -> None:
    """`message` into its mailbox and each of its labels' (one copy per distinct target:
    two labels may name one mailbox), each copy deduplicated on its own, so that a rerun
    adds a copy an interruption cost even when the first one is already there."""
    targets = [await importer.open_mailbox(message.mailbox)]
    for label in message.labels:
        target = await importer.open_mailbox(label)
        if target not in targets:
            targets.append(target)
    pending = None
    if tracker is not None and message.uid is not None:
        pending = tracker.expect(folder, message.uid, message.raw)
    queued = 0
    for index, target in enumerate(targets):
        if index == 0:
            copy = replace(message, mailbox=target, labels=())
        else:
            copy = SourceMessage(message.raw, message.flags, message.internaldate, target)
        queued += await importer.add(copy)
    if pending is not None and tracker is not None:
        tracker.queued(pending, queued)


def _chain(
    first: Callable[[str, Sequence[SourceMessage]], None] | None,
    second: Callable[[str, Sequence[SourceMessage]], None],
) -> Callable[[str, Sequence[SourceMessage]], None]:
    """One `committed` callback calling the caller's (if any), then ours."""

    def both(mailbox: str, batch: Sequence[SourceMessage]) -> None:
        if first is not None:
            first(mailbox, batch)
        second(mailbox, batch)

    return both
