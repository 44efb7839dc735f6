"""The watcher's memory between runs: per account and mailbox, the UIDVALIDITY, the highest
UID already reported and (with CONDSTORE, RFC 7162 §3.1) the HIGHESTMODSEQ seen.

The file is JSON, small, and rewritten whole on every change:

    {"version": 1,
     "accounts": {"alice@example.test@imap.example.test:993":
                    {"INBOX": {"uidvalidity": 5, "last_uid": 1042, "highestmodseq": 7781}}}}

Writes are atomic (a temporary file in the same directory, fsync, os.replace, fsync of the
directory), so a crash leaves either the old or the new file, never a torn one. One watcher
per state file: an exclusive `flock` on the sibling `<name>.lock` is held while the state is
open; a second watcher gets a ConfigError instead of two processes overwriting each other.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tidings.watch.errors import ConfigError

STATE_VERSION = 1


def default_state_path() -> Path:
    """`$XDG_STATE_HOME/tidings/watch-state.json`, else `~/.local/state/tidings/...`."""
    base = os.environ.get("XDG_STATE_HOME", "")
    # XDG Base Directory spec: a relative value is invalid and must be ignored.
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "state"
    return root / "tidings" / "watch-state.json"


@dataclass(frozen=True, slots=True)
class MailboxState:
    """What was last reported for one mailbox (RFC 9051 §2.3.1.1: UIDs are only comparable
    under one UIDVALIDITY)."""

    uidvalidity: int
    last_uid: int
    highestmodseq: int | None = None

    def to_json(self) -> dict[str, int | None]:
        """The JSON object stored for this mailbox."""
        return {
            "uidvalidity": self.uidvalidity,
            "last_uid": self.last_uid,
            "highestmodseq": self.highestmodseq,
        }


class WatchState:
    """The open, locked state file. Use `WatchState.open(path)`; `close()` releases the lock."""

    def __init__(self, path: Path, lock_fd: int, data: dict[str, dict[str, MailboxState]]):
        self.path = path
        self._lock_fd: int | None = lock_fd
        self._accounts = data

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        holder: str = "another tidings watch (use --state FILE for a second watcher)",
    ) -> WatchState:
        """Lock and load the state at `path` (a missing file is an empty state); a
        ConfigError saying it is in use by `holder` when another process holds it."""
        path = Path(path).expanduser()
        _make_private_dirs(path.parent)
        lock_path = path.with_name(path.name + ".lock")
        try:
            lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise ConfigError(f"cannot open state lock file {lock_path}: {exc.strerror}") from None
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            raise ConfigError(f"state file {path} is in use by {holder}") from None
        try:
            data = _load(path)
        except BaseException:
            os.close(lock_fd)
            raise
        return cls(path, lock_fd, data)

    def get(self, account_key: str, mailbox: str) -> MailboxState | None:
        """The stored state of one mailbox, or None if it was never seen."""
        return self._accounts.get(account_key, {}).get(mailbox)

    def mailboxes(self, account_key: str) -> dict[str, MailboxState]:
        """Every stored mailbox of an account (a copy)."""
        return dict(self._accounts.get(account_key, {}))

    def set(self, account_key: str, mailbox: str, state: MailboxState) -> None:
        """Record one mailbox's state and write the file atomically before returning."""
        if self._accounts.get(account_key, {}).get(mailbox) == state:
            return
        self._accounts.setdefault(account_key, {})[mailbox] = state
        self._write()

    def remove(self, account_key: str, mailbox: str) -> None:
        """Forget a mailbox (deleted on the server), writing the file if it changed."""
        boxes = self._accounts.get(account_key)
        if boxes is None or mailbox not in boxes:
            return
        del boxes[mailbox]
        if not boxes:
            del self._accounts[account_key]
        self._write()

    def close(self) -> None:
        """Release the lock; the state on disk is already current."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> WatchState:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _write(self) -> None:
        if self._lock_fd is None:
            raise RuntimeError("WatchState is closed")
        document = {
            "version": STATE_VERSION,
            "accounts": {
                key: {name: box.to_json() for name, box in sorted(boxes.items())}
                for key, boxes in sorted(self._accounts.items())
            },
        }
        body = (json.dumps(document, indent=2) + "\n").encode()
        _atomic_write(self.path, body)


def _atomic_write(path: Path, body: bytes) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(body)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    # The rename is durable only once the directory entry is on disk (POSIX rename(2)).
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _make_private_dirs(directory: Path) -> None:
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        if directory.parent == directory:
            break
        directory = directory.parent
    for new in reversed(missing):
        try:
            new.mkdir(mode=0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise ConfigError(f"cannot create state directory {new}: {exc.strerror}") from None


def _load(path: Path) -> dict[str, dict[str, MailboxState]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read state file {path}: {exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"state file {path} is corrupt ({exc.msg} at line {exc.lineno});"
            " move it away to start afresh"
        ) from None
    try:
        return _parse(document)
    except ValueError as exc:
        raise ConfigError(f"state file {path} is not a tidings watch state: {exc}") from None


def _parse(document: Any) -> dict[str, dict[str, MailboxState]]:
    if not isinstance(document, dict) or document.get("version") != STATE_VERSION:
        raise ValueError(f"expected an object with version {STATE_VERSION}")
    accounts = document.get("accounts", {})
    if not isinstance(accounts, dict):
        raise ValueError("accounts is not an object")
    result: dict[str, dict[str, MailboxState]] = {}
    for key, boxes in accounts.items():
        if not isinstance(boxes, dict):
            raise ValueError(f"account {key!r} is not an object")
        result[key] = {name: _mailbox(key, name, entry) for name, entry in boxes.items()}
    return result


def _mailbox(key: str, name: str, entry: Any) -> MailboxState:
    where = f"account {key!r} mailbox {name!r}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where} is not an object")
    values = {}
    for field in ("uidvalidity", "last_uid", "highestmodseq"):
        value = entry.get(field)
        if value is None and field == "highestmodseq":
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{where}: {field} is not a non-negative integer")
        values[field] = value
    return MailboxState(
        uidvalidity=values["uidvalidity"],
        last_uid=values["last_uid"],
        highestmodseq=values.get("highestmodseq"),
    )
