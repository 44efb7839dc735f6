"""Which processes on this machine listen for change notices of one store.

Every process that serves a store registers its relay in a directory beside the store,
`DATA/run/notify`: one small file per relay, named `<pid>-<instance>` and holding
`{"port": N, "token": "..."}` (the UDP port on 127.0.0.1 it listens on, and the secret a
datagram must carry to be believed). Files are written atomically (a temporary name, then
rename) and removed on a clean exit. A process that dies without removing its file leaves a
stale entry: readers skip entries whose pid no longer runs, and delete them.

The directory and files are owner-only (0700/0600), like the rest of the data dir: the token
keeps other local users from injecting notices.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("tidings.notify")

# A cached listing is trusted only while the directory's mtime is older than this: file
# systems stamp mtimes from a coarse clock (one kernel tick, up to 10 ms), so two changes
# within one tick leave the same mtime ("racy git"). Re-reading a few files is cheap.
RACY_MTIME_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Peer:
    """Another relay: its registry entry name, UDP port and token."""

    name: str
    port: int
    token: str


def registry_dir(data_dir: Path) -> Path:
    """The registry directory of the store kept in `data_dir`."""
    return data_dir / "run" / "notify"


def _pid_of(name: str) -> int | None:
    pid_text, dash, instance = name.partition("-")
    if not dash or not instance or not pid_text.isdigit():
        return None
    return int(pid_text)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True


def _read_entry(path: Path) -> Peer | None:
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict):
        return None
    port, token = document.get("port"), document.get("token")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        return None
    if not isinstance(token, str) or not token:
        return None
    return Peer(path.name, port, token)


class PeerRegistry:
    """One process's view of the registry directory: its own entry and everyone else's."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.name = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._registered = False
        self._cache: list[Peer] = []
        self._cache_mtime_ns: int | None = None

    def register(self, port: int, token: str) -> None:
        """Announce that this relay listens on 127.0.0.1:`port`. Raises OSError."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.directory / f".{self.name}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump({"port": port, "token": token}, file)
        os.replace(temporary, self.directory / self.name)
        self._registered = True

    def unregister(self) -> None:
        """Remove this relay's entry (no error if it is already gone)."""
        if self._registered:
            with contextlib.suppress(OSError):
                (self.directory / self.name).unlink()
            self._registered = False

    def peers(self) -> list[Peer]:
        """Every other registered relay whose process still runs; stale entries are removed."""
        try:
            mtime_ns = os.stat(self.directory).st_mtime_ns
        except OSError:
            return []
        fresh = time.time_ns() - mtime_ns > RACY_MTIME_NS
        if not (fresh and mtime_ns == self._cache_mtime_ns):
            self._cache = self._read_all()
            self._cache_mtime_ns = mtime_ns
        live = [peer for peer in self._cache if self._alive(peer)]
        self._cache = live
        return live

    def _read_all(self) -> list[Peer]:
        try:
            names = sorted(os.listdir(self.directory))
        except OSError:
            return []
        peers = []
        for name in names:
            if name == self.name or _pid_of(name) is None:
                continue
            peer = _read_entry(self.directory / name)
            if peer is not None:
                peers.append(peer)
        return peers

    def _alive(self, peer: Peer) -> bool:
        pid = _pid_of(peer.name)
        if pid is not None and _running(pid):
            return True
        logger.info("removing the stale notify registration %s", peer.name)
        with contextlib.suppress(OSError):
            (self.directory / peer.name).unlink()
        return False
