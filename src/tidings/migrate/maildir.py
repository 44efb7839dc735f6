"""Maildir and Maildir++ folders, read and written.

Maildir (https://cr.yp.to/proto/maildir.html): a folder is a directory with `tmp/`, `new/`
and `cur/`, one message per file. A file is written to `tmp/` and renamed into place, so a
reader never sees half a message. Files in `new/` have not been seen by any mail reader and
carry no flags; a file in `cur/` is named `<unique>:2,<flags>`, the flags one letter each in
ASCII order: P passed, R replied, S seen, T trashed, D draft, F flagged. Names starting with
a dot are not messages.

Maildir++ (Courier, and Dovecot's default layout) keeps subfolders inside the root Maildir
(itself INBOX) as `.<name>` directories, with "." as the hierarchy separator
(`.Lists.python` is Lists/python) and each level in modified UTF-7 (RFC 3501 §5.1.3). A
level that is not valid modified UTF-7 (Dovecot's UTF-8 option) is taken as it is spelled.

Dovecot's additions (`uidlist`): `dovecot-uidlist` keeps UIDs and UIDVALIDITY, and
`dovecot-keywords` gives the letters a-z in the flags their keywords. Dovecot sets a
file's mtime to the message's received date, which is read as the internal date and set
when writing. Size hints in the name (`,S=` file size, `,W=` size with CRLF) are written
for Dovecot's benefit and never trusted when reading. Messages are stored with LF line
endings, as Dovecot does by default, and read back with CRLF (`source`).

IMAP's mapping: R is \\Answered, S \\Seen, T \\Deleted, D \\Draft, F \\Flagged; P (the message
was forwarded or bounced) is the `$Forwarded` keyword (RFC 5550 §2.3.2), as isync/mbsync
maps it. Other letters are experimental flags of other programs and are ignored.
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
import time
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from tidings.imap.proto.mutf7 import decode_mutf7, encode_mutf7
from tidings.migrate.source import (
    ANSWERED,
    DELETED,
    DRAFT,
    FLAGGED,
    SEEN,
    ImportProblem,
    SourceMessage,
    is_keyword,
    to_crlf,
    to_lf,
)
from tidings.migrate.uidlist import (
    Uidlist,
    basename_of,
    format_keywords,
    format_uidlist,
    parse_keywords,
    parse_uidlist,
)

FORWARDED = "$Forwarded"
_INFO_FLAGS = {"P": FORWARDED, "R": ANSWERED, "S": SEEN, "T": DELETED, "D": DRAFT, "F": FLAGGED}
_FLAG_LETTERS = {flag: letter for letter, flag in _INFO_FLAGS.items()}
_KEYWORD_LETTERS = 26  # a-z
_UIDLIST = "dovecot-uidlist"
_KEYWORDS = "dovecot-keywords"
_unique_counter = itertools.count()
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class MaildirFolder:
    """One folder of a Maildir++ tree: its mailbox name, directory and Dovecot UID state."""

    name: str
    path: Path
    uidvalidity: int | None = None
    uidnext: int | None = None


def list_folders(root: Path) -> list[MaildirFolder]:
    """The folders under the Maildir++ `root`: INBOX (root itself) first, then by name."""
    return [item for item in _scan_folders(root) if isinstance(item, MaildirFolder)]


def folder_path(root: Path, name: str) -> Path:
    """The directory of mailbox `name` under the Maildir++ `root`; ValueError if it has none.

    Maildir++ cannot spell a "." inside a level (it is the separator) or an empty level.
    """
    if name.upper() == "INBOX":
        return root
    levels = name.split("/")
    if any(not level or "." in level for level in levels):
        raise ValueError(f"mailbox name {name!r} has no Maildir++ directory name")
    return root / ("." + ".".join(encode_mutf7(level) for level in levels))


def _scan_folders(root: Path) -> Iterator[MaildirFolder | ImportProblem]:
    if _is_maildir(root):
        yield _folder("INBOX", root)
    try:
        entries = os.listdir(root)
    except OSError as error:
        yield ImportProblem(str(root), _reason(error))
        return
    found: list[MaildirFolder] = []
    for entry in entries:
        path = root / entry
        if not entry.startswith(".") or entry in (".", "..") or not _is_maildir(path):
            continue
        levels = entry[1:].split(".")
        if any(not level for level in levels) or _has_surrogates(entry):
            yield ImportProblem(str(path), "folder name is not a Maildir++ mailbox name")
            continue
        try:
            name = "/".join(decode_mutf7(level) for level in levels)
        except ValueError:
            name = "/".join(levels)
            yield ImportProblem(str(path), f"folder name is not modified UTF-7; read as {name!r}")
        found.append(_folder(name, path))
    yield from sorted(found, key=lambda folder: folder.name)


def _is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() or (path / "new").is_dir()


def _has_surrogates(name: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in name)  # os.fsdecode's stand-ins


def _folder(name: str, path: Path) -> MaildirFolder:
    try:
        uidlist = parse_uidlist((path / _UIDLIST).read_bytes())
    except (OSError, ValueError):
        return MaildirFolder(name, path)
    return MaildirFolder(name, path, uidlist.uidvalidity, uidlist.next_uid)


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


def parse_info(filename: str, keywords: dict[int, str]) -> tuple[frozenset[str], list[str]]:
    """The IMAP flags of a `cur/` file name, and the letters that name no known keyword."""
    _, _, info = filename.partition(":")
    if not info.startswith("2,"):
        return frozenset(), []
    flags: set[str] = set()
    unknown: list[str] = []
    for letter in info[2:]:
        if letter in _INFO_FLAGS:
            flags.add(_INFO_FLAGS[letter])
        elif "a" <= letter <= "z":
            keyword = keywords.get(ord(letter) - ord("a"))
            if keyword is not None and is_keyword(keyword):
                flags.add(keyword)
            else:
                unknown.append(letter)
    return frozenset(flags), unknown


def read_maildir(root: Path) -> Iterator[SourceMessage | ImportProblem]:
    """Every message of the Maildir++ tree at `root`, folder by folder (see `list_folders`).

    Within a folder, messages the dovecot-uidlist lists come first in UID order, with their
    UIDs; the others follow by file name. A file that cannot be read is an ImportProblem.
    """
    if not _is_maildir(root) and not list_folders(root):
        yield ImportProblem(str(root), "not a Maildir: no cur/ or new/ and no .folders")
        return
    for item in _scan_folders(root):
        if isinstance(item, ImportProblem):
            yield item
        else:
            yield from _read_folder(item)


def _read_folder(folder: MaildirFolder) -> Iterator[SourceMessage | ImportProblem]:
    uidlist = yield from _load_uidlist(folder.path)
    uids = uidlist.uid_by_basename() if uidlist is not None else {}
    keywords = yield from _load_keywords(folder.path)
    files: list[tuple[str, str]] = []
    for sub in ("cur", "new"):
        try:
            names = os.listdir(folder.path / sub)
        except FileNotFoundError:
            continue
        except OSError as error:
            yield ImportProblem(str(folder.path / sub), _reason(error))
            continue
        files.extend((sub, name) for name in names if not name.startswith("."))

    def order(file: tuple[str, str]) -> tuple[int, int, str]:
        uid = uids.get(basename_of(file[1]))
        return (0, uid, file[1]) if uid is not None else (1, 0, file[1])

    given: set[int] = set()
    for sub, name in sorted(files, key=order):
        path = folder.path / sub / name
        try:
            data, mtime = _read_message_file(path)
        except OSError as error:
            yield ImportProblem(str(path), _reason(error))
            continue
        flags, unknown = parse_info(name, keywords) if sub == "cur" else (frozenset(), [])
        for letter in unknown:
            yield ImportProblem(str(path), f"flag letter {letter!r} names no keyword; dropped")
        uid = uids.get(basename_of(name))
        if uid in given:
            uid = None  # a second file with a listed base name: the first one keeps the UID
        if uid is not None:
            given.add(uid)
        date = datetime.fromtimestamp(int(mtime), UTC)
        yield SourceMessage(to_crlf(data), flags, date, folder.name, uid)


def _read_message_file(path: Path) -> tuple[bytes, float]:
    """The bytes and mtime of a regular file; OSError for anything else.

    O_NONBLOCK so that a FIFO dropped into cur/ cannot hang the import; it has no effect on
    regular files.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        with open(descriptor, "rb", closefd=False) as file:
            return file.read(), status.st_mtime
    finally:
        os.close(descriptor)


def _load_uidlist(path: Path) -> Generator[ImportProblem, None, Uidlist | None]:
    file = path / _UIDLIST
    try:
        uidlist = parse_uidlist(file.read_bytes())
    except FileNotFoundError:
        return None
    except OSError as error:
        yield ImportProblem(str(file), f"{_reason(error)}; UIDs not kept")
        return None
    except ValueError as error:
        yield ImportProblem(str(file), f"{error}; UIDs not kept")
        return None
    for number in uidlist.bad_lines:
        yield ImportProblem(f"{file}:{number}", "unreadable line skipped")
    return uidlist


def _load_keywords(path: Path) -> Generator[ImportProblem, None, dict[int, str]]:
    file = path / _KEYWORDS
    try:
        return parse_keywords(file.read_bytes())
    except FileNotFoundError:
        return {}
    except OSError as error:
        yield ImportProblem(str(file), f"{_reason(error)}; keywords not kept")
        return {}


def write_maildir(
    root: Path, folder: str, messages: Iterable[SourceMessage], *, uidvalidity: int | None = None
) -> list[ImportProblem]:
    """Write `messages` into mailbox `folder` of the Maildir++ tree at `root`; the problems.

    Creates the folder (and root) as needed. Each message goes to tmp/ and is renamed into
    cur/ as `<time>.<counter>_<pid>.tidings,S=<size>,W=<size with CRLF>:2,<letters>` with
    LF line endings and its internal date as mtime. Keywords get letters through the
    folder's dovecot-keywords (26 at most: more are dropped, with a problem). When messages
    carry UIDs, a dovecot-uidlist lists them, so that Dovecot keeps them: with the folder's
    existing UIDVALIDITY if it has a uidlist, else `uidvalidity`, else the current time. A
    UID already used, or below an existing uidlist's next UID, is dropped with a problem.
    ValueError if `folder` has no Maildir++ directory name (`folder_path`); OSError if the
    disk refuses a write, since a half-written export is worth stopping for.
    """
    path = folder_path(root, folder)
    for directory in {root, path}:
        for sub in ("cur", "new", "tmp"):
            (directory / sub).mkdir(parents=True, exist_ok=True)
    if path != root:
        (path / "maildirfolder").touch()  # Maildir++ marks subfolders so
    writer = _FolderWriter(path)
    for message in messages:
        writer.write(message)
    writer.finish(uidvalidity)
    return writer.problems


class _FolderWriter:
    """The state of one write_maildir call: keyword letters, UIDs given, problems."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[ImportProblem] = []
        self.existing = _drain(_load_uidlist(path), self.problems)
        known = _drain(_load_keywords(path), self.problems)
        self.letters = {name: index for index, name in known.items()}
        self.keywords_changed = False
        self.entries: list[tuple[int, str]] = []
        self.uids: set[int] = {uid for uid, _ in self.existing.entries} if self.existing else set()

    def write(self, message: SourceMessage) -> None:
        data = to_lf(message.raw)
        base = (
            f"{int(time.time())}.{next(_unique_counter)}_{os.getpid()}.tidings"
            f",S={len(data)},W={len(to_crlf(data))}"
        )
        temporary = self.path / "tmp" / base
        with open(temporary, "xb") as file:
            file.write(data)
        if message.internaldate is not None:
            moment = message.internaldate
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            os.utime(temporary, (moment.timestamp(), moment.timestamp()))
        os.rename(temporary, self.path / "cur" / f"{base}:2,{self._info(message, base)}")
        if message.uid is not None:
            self._list_uid(message.uid, base)

    def _info(self, message: SourceMessage, base: str) -> str:
        letters = []
        for flag in message.flags:
            if flag in _FLAG_LETTERS:
                letters.append(_FLAG_LETTERS[flag])
            elif is_keyword(flag):
                letter = self._keyword_letter(flag)
                if letter is None:
                    self._problem(base, f"no letter left for keyword {flag!r}; dropped")
                else:
                    letters.append(letter)
            elif flag != "\\Recent":
                self._problem(base, f"flag {flag!r} has no Maildir letter; dropped")
        return "".join(sorted(letters))

    def _keyword_letter(self, keyword: str) -> str | None:
        if keyword not in self.letters:
            free = sorted(set(range(_KEYWORD_LETTERS)) - set(self.letters.values()))
            if not free:
                return None
            self.letters[keyword] = free[0]
            self.keywords_changed = True
        return chr(ord("a") + self.letters[keyword])

    def _list_uid(self, uid: int, base: str) -> None:
        below = self.existing is not None and uid < self.existing.next_uid
        if uid in self.uids or below or uid <= 0:
            self._problem(base, f"UID {uid} is already used; Dovecot will give a new one")
            return
        self.uids.add(uid)
        self.entries.append((uid, base))

    def _problem(self, base: str, reason: str) -> None:
        self.problems.append(ImportProblem(str(self.path / "cur" / base), reason))

    def finish(self, uidvalidity: int | None) -> None:
        """Write dovecot-keywords and dovecot-uidlist if this call changed them."""
        if self.keywords_changed:
            keywords = {index: name for name, index in self.letters.items()}
            _replace(self.path / _KEYWORDS, format_keywords(keywords))
        if not self.entries:
            return
        entries = list(self.existing.entries) if self.existing else []
        entries.extend(self.entries)
        if self.existing is not None:
            validity = self.existing.uidvalidity
            next_uid = max(self.existing.next_uid, max(self.uids) + 1)
        else:
            validity = uidvalidity if uidvalidity is not None else int(time.time())
            next_uid = max(self.uids) + 1
        _replace(self.path / _UIDLIST, format_uidlist(validity, next_uid, entries))


def _drain(loader: Generator[ImportProblem, None, _T], problems: list[ImportProblem]) -> _T:
    """Run a loader to its result, adding the problems it reports to `problems`."""
    while True:
        try:
            problems.append(next(loader))
        except StopIteration as done:
            result: _T = done.value
            return result


def _replace(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all: Dovecot may read it at any moment."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
