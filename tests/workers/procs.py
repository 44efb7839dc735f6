"""Which process serves a connection, read from Linux's /proc (no help from the server).

A connection accepted by a worker is a socket in that worker's descriptor table and in no
other process's: `/proc/net/tcp` gives the inode of the server's end (local port = the
server's port, remote port = the client's), and `/proc/PID/fd` shows who holds it. The
listening socket, which every worker shares, has a different inode, so a connection still
waiting in the accept queue belongs to nobody yet.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

PROC = Path("/proc")


def children(pid: int) -> set[int]:
    """The live (non-zombie) child processes of `pid`."""
    found = set()
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may hold spaces and parentheses.
        state, ppid = stat.rpartition(")")[2].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _server_end_inode(server_port: int, client_port: int) -> int | None:
    for line in (PROC / "net" / "tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], int(fields[9])
        if int(local.split(":")[1], 16) == server_port and (
            int(remote.split(":")[1], 16) == client_port
        ):
            return inode or None
    return None


def _holders(inode: int, pids: set[int]) -> set[int]:
    target = f"socket:[{inode}]"
    holders = set()
    for pid in pids:
        fd_dir = PROC / str(pid) / "fd"
        try:
            names = os.listdir(fd_dir)
        except OSError:
            continue
        for name in names:
            try:
                if os.readlink(fd_dir / name) == target:
                    holders.add(pid)
                    break
            except OSError:
                continue
    return holders


def serving_pid(client: socket.socket, pids: set[int], timeout: float = 10.0) -> int:
    """The one process among `pids` that holds the server's end of `client`'s connection."""
    server_port = client.getpeername()[1]
    client_port = client.getsockname()[1]
    deadline = time.monotonic() + timeout
    while True:
        inode = _server_end_inode(server_port, client_port)
        holders = _holders(inode, pids) if inode else set()
        if len(holders) == 1:
            return holders.pop()
        assert len(holders) < 2, f"a connection held by several workers: {holders}"
        assert time.monotonic() < deadline, "no worker holds the connection"
        time.sleep(0.05)
