"""The work behind `tidings import mbox|maildir` and `tidings export`: readers and writers
of this package joined to one account's store. The command line (tidings.cli) only parses
options and prints; everything here takes a `MailStore` and returns counts."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tidings.core.errors import MailError, MailErrorKind
from tidings.migrate.importer import Importer, ImportSummary, import_all
from tidings.migrate.maildir import list_folders, read_maildir, write_maildir
from tidings.migrate.mbox import encode_mbox_message, read_mbox
from tidings.migrate.source import ImportProblem, SourceMessage
from tidings.storage.api import MailboxInfo, MailStore

EXPORT_BATCH = 1000
"""Messages read from the store per step of an export (bounds its memory)."""


# ---------------------------------------------------------------------- import
def mbox_size(files: Sequence[Path]) -> int:
    """The total size of the mbox `files` that exist (what a quota check can expect)."""
    return sum(path.stat().st_size for path in files if path.is_file())


def maildir_size(root: Path) -> int:
    """The total size of the message files under the Maildir++ tree `root`."""
    total = 0
    for directory, _, names in os.walk(root):
        if Path(directory).name in ("cur", "new"):
            for name in names:
                try:
                    total += (Path(directory) / name).stat().st_size
                except OSError:
                    continue
    return total


def _mbox_items(
    files: Sequence[Path],
    *,
    mailbox: str,
    gmail_labels: bool,
    mozilla_status: bool,
    strip_flag_headers: bool,
) -> Iterator[SourceMessage | ImportProblem]:
    for path in files:
        try:
            yield from read_mbox(
                path,
                mailbox=mailbox,
                map_mozilla_status=mozilla_status,
                gmail_labels=gmail_labels,
                strip_status_headers=strip_flag_headers,
            )
        except OSError as error:
            yield ImportProblem(str(path), f"cannot read: {error.strerror or error}")


async def import_mbox(
    importer: Importer,
    files: Sequence[Path],
    *,
    mailbox: str = "INBOX",
    gmail_labels: bool = False,
    mozilla_status: bool = True,
    strip_flag_headers: bool = True,
) -> ImportSummary:
    """Every message of the mbox `files` into `mailbox` (or, with `gmail_labels`, into
    the mailboxes Google Takeout's X-Gmail-Labels name). With `strip_flag_headers` the
    Status, X-Status and X-Keywords fields become flags and leave the message (as Dovecot's
    mbox storage does); Thunderbird's X-Mozilla-Status is read as flags when
    `mozilla_status`, and stays in the message."""
    await importer.check_room(mbox_size(files))
    items = _mbox_items(
        files,
        mailbox=mailbox,
        gmail_labels=gmail_labels,
        mozilla_status=mozilla_status,
        strip_flag_headers=strip_flag_headers,
    )
    return await import_all(importer, items)


async def import_maildir(importer: Importer, root: Path) -> ImportSummary:
    """Every folder of the Maildir++ tree `root`; Dovecot's UIDVALIDITY and UIDs are kept
    for mailboxes that have never held a message."""
    await importer.check_room(maildir_size(root))
    for folder in list_folders(root):
        await importer.open_mailbox(folder.name, uidvalidity=folder.uidvalidity)
    return await import_all(importer, read_maildir(root))


# ---------------------------------------------------------------------- export
@dataclass
class ExportSummary:
    """What an export wrote."""

    messages: int = 0
    octets: int = 0
    files: list[Path] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)


def mbox_file_for(directory: Path, mailbox: str) -> Path:
    """Where mailbox `mailbox` goes in an mbox export: one file per mailbox, the hierarchy
    as directories (`Work/Reports` -> DIR/Work/Reports.mbox)."""
    levels = mailbox.split("/")
    if any(level in ("", ".", "..") for level in levels):
        raise ValueError(f"mailbox name {mailbox!r} cannot be a file name")
    return directory.joinpath(*levels[:-1], levels[-1] + ".mbox")


async def chosen_mailboxes(store: MailStore, names: Sequence[str]) -> list[MailboxInfo]:
    """The mailboxes to export: those named (NOTFOUND for one that is missing), else all."""
    every = await store.list_mailboxes()
    if not names:
        return every
    return [await store.get_mailbox(name) for name in names]


async def _stored_batches(
    store: MailStore, info: MailboxInfo
) -> AsyncIterator[list[SourceMessage]]:
    """The messages of `info` in UID order, EXPORT_BATCH at a time, with their flags."""
    metas = (await store.open_mailbox(info.name, False)).messages
    for start in range(0, len(metas), EXPORT_BATCH):
        batch = []
        for meta in metas[start : start + EXPORT_BATCH]:
            try:
                raw = await store.read_message(info.id, meta.uid)
            except MailError as error:
                if error.kind is MailErrorKind.EXPUNGED:
                    continue  # expunged while the export ran
                raise
            flags = frozenset(f for f in meta.flags if f != "\\Recent")
            batch.append(SourceMessage(raw, flags, meta.internaldate, info.name, meta.uid))
        yield batch


async def export_mbox(
    store: MailStore, directory: Path, mailboxes: Sequence[str] = ()
) -> ExportSummary:
    """Each mailbox to an mboxrd file with its flags in Status, X-Status and X-Keywords
    (what Dovecot, mutt and `tidings import mbox` read back)."""
    summary = ExportSummary()
    for info in await chosen_mailboxes(store, mailboxes):
        try:
            path = mbox_file_for(directory, info.name)
        except ValueError as error:
            summary.problems.append(ImportProblem(info.name, str(error)))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".part")
        with open(temporary, "wb") as stream:  # noqa: ASYNC230 - a CLI process of its own
            async for batch in _stored_batches(store, info):
                for message in batch:
                    stream.write(encode_mbox_message(message))
                    summary.messages += 1
                    summary.octets += len(message.raw)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
        summary.files.append(path)
    return summary


async def export_maildir(
    store: MailStore, directory: Path, mailboxes: Sequence[str] = ()
) -> ExportSummary:
    """Each mailbox to a Maildir++ folder under `directory`, flags in the `:2,` info and
    dovecot-keywords, UIDs and UIDVALIDITY in dovecot-uidlist (so Dovecot, or a later
    `tidings import maildir`, keeps them)."""
    summary = ExportSummary()
    for info in await chosen_mailboxes(store, mailboxes):
        written = False
        async for messages in _stored_batches(store, info):
            written = True
            if not _write_folder(summary, directory, info, messages):
                break
        if not written:
            _write_folder(summary, directory, info, [])  # an empty mailbox is a folder too
        summary.files.append(directory)
    return summary


def _write_folder(
    summary: ExportSummary, directory: Path, info: MailboxInfo, messages: list[SourceMessage]
) -> bool:
    try:
        problems = write_maildir(directory, info.name, messages, uidvalidity=info.uidvalidity)
    except ValueError as error:
        summary.problems.append(ImportProblem(info.name, str(error)))
        return False
    summary.problems.extend(problems)
    summary.messages += len(messages)
    summary.octets += sum(len(m.raw) for m in messages)
    return True
