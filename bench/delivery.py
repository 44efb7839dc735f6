"""Scenario 3, delivery: LMTP messages per second over one and over ten concurrent sessions.

Each session says LHLO once and then delivers corpus messages one after another (MAIL FROM,
RCPT TO, DATA) to the bench accounts in turn, each acknowledged with 250 before the next,
until the time is up. Also reports the server's CPU milliseconds per message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence

from bench.common import account, corpus_messages, cpu_seconds
from bench.servers import Server


class LmtpError(Exception):
    """A reply other than the expected one."""


async def _reply(reader: asyncio.StreamReader) -> bytes:
    """A whole (possibly multi-line) reply; its last line."""
    while True:
        line = await reader.readline()
        if not line:
            raise LmtpError("connection closed")
        if line[3:4] != b"-":
            return line


def _dot_stuffed(message: bytes) -> bytes:
    body = message.replace(b"\r\n.", b"\r\n..")
    if body.startswith(b"."):
        body = b"." + body
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"


async def _session(
    port: int, deadline: float, offset: int, accounts: int, messages: Sequence[bytes]
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await _reply(reader)
    writer.write(b"LHLO bench.example.test\r\n")
    await _reply(reader)
    delivered = 0
    while time.monotonic() < deadline:
        rcpt = account((offset + delivered) % accounts)
        message = _dot_stuffed(messages[(offset + delivered) % len(messages)])
        writer.write(b"MAIL FROM:<bench@example.test>\r\nRCPT TO:<%s>\r\nDATA\r\n" % rcpt.encode())
        for expected in (b"250", b"250", b"354"):
            line = await _reply(reader)
            if not line.startswith(expected):
                raise LmtpError(line.decode(errors="replace"))
        writer.write(message)
        line = await _reply(reader)
        if not line.startswith(b"250"):
            raise LmtpError(line.decode(errors="replace"))
        delivered += 1
    writer.write(b"QUIT\r\n")
    writer.close()
    return delivered


async def _deliver(ports: Sequence[int], sessions: int, seconds: float, accounts: int) -> int:
    messages = corpus_messages(40)
    deadline = time.monotonic() + seconds
    counts = await asyncio.gather(
        *(
            _session(ports[n % len(ports)], deadline, n * 7, accounts, messages)
            for n in range(sessions)
        )
    )
    return sum(counts)


def run_delivery(
    server: Server,
    sessions: int,
    seconds: float,
    *,
    accounts: int,
    ports: Sequence[int] = (),
    cpu: Callable[[], float] | None = None,
    extra_cpu: Mapping[str, Callable[[], float]] | None = None,
) -> dict[str, float]:
    """{"msg/s", "cpu_ms_per_msg", "delivered"} over `sessions` concurrent LMTP sessions.

    `ports` (default: the server's LMTP port) spreads the sessions, session n on
    ports[n % len(ports)]; `cpu` (default: the server's process tree) gives the CPU seconds
    used so far; each of `extra_cpu` is reported as "NAME cpu_ms_per_msg"."""
    ports = list(ports) or [server.lmtp_port]
    probes = {"cpu_ms_per_msg": cpu or (lambda: cpu_seconds(server.pid))}
    probes.update({f"{name} cpu_ms_per_msg": p for name, p in (extra_cpu or {}).items()})
    cpu_before = {key: read() for key, read in probes.items()}
    started = time.monotonic()
    delivered = asyncio.run(_deliver(ports, sessions, seconds, accounts))
    elapsed = time.monotonic() - started
    result: dict[str, float] = {"msg/s": delivered / elapsed, "delivered": delivered}
    for key, read in probes.items():
        used = read() - cpu_before[key]
        result[key] = used * 1000 / delivered if delivered else float("nan")
    return result
