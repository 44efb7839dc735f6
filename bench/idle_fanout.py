"""Scenario: IDLE fan-out. Many connections idle, a few watch one account that gets mail.

`connections` clients log in, SELECT INBOX and IDLE: `hot` of them on account(0), the rest
spread over the other accounts. They come from several loopback source addresses
(127.0.0.2, 127.0.0.3, ...: each gives about 28,000 ephemeral ports) and several
load-generator processes (fork), each opening its share with a bounded number in flight.
Then `deliveries` LMTP deliveries to account(0), one at a time: for each, the time from the
LMTP 250 to each hot watcher's `* n EXISTS` (watchers stamp time.monotonic() on receipt:
every process on the box shares CLOCK_MONOTONIC, and send the stamps back on a Queue).

Reported: "setup conn/s" (connections fully in IDLE per second, from the start signal to the
last one in IDLE; "setup cpu_ms_per_conn": the server's CPU for it), "p50 ms" / "p99 ms" /
"max ms" of delivery -> EXISTS over every hot watcher and delivery (an EXISTS read before
the 250 counts as 0 ms, and in "early"), "misses" (a watcher that saw no EXISTS within 10 s
of the 250), "rss_kib_per_conn" / "pss_kib_per_conn" (server memory with every connection
idle, minus before, per connection), "connections" (established) and "failures" (that were
not). Before the timed setup every account logs in once ("warm-up s"), see run_idle.

For Dovecot, fs.inotify.max_user_instances is raised for the run when it is too low (see
inotify_instances): without it most of Dovecot's IDLE watchers poll every 30 s.
Dovecot runs a process per IMAP connection: `skip_reason()` checks memory and the pid limit
first, and `run_idle` raises `Skipped` (with the reason) when the run would not fit.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing
import os
import queue
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from bench.common import (
    PASSWORD,
    account,
    cpu_seconds,
    memory_kib,
    percentile,
    raise_fd_limit,
)
from bench.delivery import LmtpError, _dot_stuffed, _reply
from bench.imap import BenchImap, ImapError
from bench.servers import Server

# A watcher that sees no EXISTS this long after the LMTP 250 is a miss.
EXISTS_TIMEOUT = 10.0
# One step of a connection's setup (connect, LOGIN, SELECT, IDLE) and one LMTP reply.
STEP_TIMEOUT = 60.0
# Connections per loopback source address (each has about 28k ephemeral ports).
PER_SOURCE = 20_000
# Memory needed per connection, server and load generator together, in KiB: Dovecot has an
# imap process of about 0.5 MiB per connection (1 MiB assumed, to be safe); Tidings holds a
# session object and buffers. The load generator costs about 20 KiB per connection.
KIB_PER_CONNECTION = {"Dovecot": 1024 + 64, "Tidings": 256 + 64}
# Processes Dovecot needs beyond one per connection, and room left for everything else.
SPARE_PIDS = 2000
INOTIFY_INSTANCES = Path("/proc/sys/fs/inotify/max_user_instances")
# File descriptors a server process needs beyond one per connection (store, listeners, logs).
SPARE_FDS = 200
# A worker of `serve --workers N` is sized to hold this share of its file limit (see
# workers_to_hold): connections do not spread evenly.
WORKER_SHARE = 0.6
# Warm-up login rounds per worker of a worker set (see run_idle): with 5 workers, 20 rounds
# leave a worker without some account's login about 1% of the time ((4/5)**20).
WORKER_WARM_ROUNDS = 4

_EXISTS = re.compile(rb"^\* (\d+) EXISTS")


class Skipped(Exception):
    """The run would not fit on this machine (the message says why)."""


@dataclass(frozen=True)
class Plan:
    """One connection to open."""

    index: int
    address: str
    source: str
    hot: bool


def mem_available_kib() -> int:
    """MemAvailable from /proc/meminfo."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def open_files_limit(pid: int) -> int | None:
    """The soft RLIMIT_NOFILE of process `pid` (from /proc/PID/limits), None if unlimited."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft = line.split()[3]
            return None if soft == "unlimited" else int(soft)
    return None


@contextlib.contextmanager
def inotify_instances(server: Server, connections: int) -> Iterator[None]:
    """For Dovecot, raise fs.inotify.max_user_instances (for the run, put back after) to what
    `connections` imap processes need: each takes one inotify instance for IDLE, and past
    the limit (128 by default, per user: every bench imap process runs as the one mail
    user) Dovecot logs "Inotify instance limit ... exceeded, disabling" and falls back to
    polling every mailbox_idle_check_interval (30 s), so most watchers would miss mail.
    Dovecot's own warning asks for the raise; a real deployment of this size would have it."""
    needed = connections + SPARE_PIDS
    current = int(INOTIFY_INSTANCES.read_text()) if INOTIFY_INSTANCES.exists() else needed
    if server.name != "Dovecot" or current >= needed:
        yield
        return
    try:
        INOTIFY_INSTANCES.write_text(f"{needed}\n")
    except OSError as error:
        print(f"Dovecot: cannot raise {INOTIFY_INSTANCES} ({error}): IDLE may poll",
              file=sys.stderr)  # fmt: skip
        yield
        return
    try:
        yield
    finally:
        INOTIFY_INSTANCES.write_text(f"{current}\n")


def workers_to_hold(server: Server, connections: int) -> int:
    """How many Tidings worker processes (`serve --workers N`) hold `connections` within
    each one's RLIMIT_NOFILE: 1 when one process can. The kernel gives a connection to
    whichever worker accepts first, so each is sized for 1/WORKER_SHARE of the limit's
    room, not an exact share."""
    limit = open_files_limit(server.pid)
    if limit is None or connections + SPARE_FDS <= limit:
        return 1
    return math.ceil(connections / (WORKER_SHARE * (limit - SPARE_FDS)))


def skip_reason(server: Server, connections: int, workers: int = 1) -> str | None:
    """Why `connections` idle connections to `server` (Tidings: over `workers` worker
    processes) would not fit here, or None."""
    if server.name == "Tidings":
        limit = open_files_limit(server.pid)
        each = math.ceil(connections / (WORKER_SHARE * workers)) if workers > 1 else connections
        if limit is not None and each + SPARE_FDS > limit:
            return (
                f"{connections:,} connections need as many file descriptors in the one Tidings"
                f" process; its RLIMIT_NOFILE is {limit:,} (raising the hard limit needs"
                " CAP_SYS_RESOURCE)"
            )
    need = KIB_PER_CONNECTION.get(server.name, 1024) * connections
    available = mem_available_kib()
    if need > 0.9 * available:
        return (
            f"{connections:,} connections to {server.name} need about {need / 1048576:.1f} GiB,"
            f" {available / 1048576:.1f} GiB available"
        )
    if server.name == "Dovecot":
        pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
        running = sum(1 for entry in os.scandir("/proc") if entry.name.isdigit())
        if connections + running + SPARE_PIDS > pid_max:
            return (
                f"{connections:,} connections to Dovecot need as many imap processes;"
                f" kernel.pid_max is {pid_max:,} with {running:,} processes running"
            )
    return None


def plans(connections: int, accounts: int, hot: int) -> list[Plan]:
    """`hot` connections on account(0), the rest over accounts 1.. (account 0 when alone),
    spread round-robin over ceil(connections / PER_SOURCE) source addresses."""
    sources = [f"127.0.0.{2 + n}" for n in range(max(1, math.ceil(connections / PER_SOURCE)))]
    others = max(1, accounts - 1)
    result = []
    for index in range(connections):
        is_hot = index < hot
        address = account(0) if is_hot or accounts == 1 else account(1 + (index - hot) % others)
        result.append(Plan(index, address, sources[index % len(sources)], is_hot))
    return result


# ---------------------------------------------------------------------- load generator
async def _open(plan: Plan, port: int) -> tuple[BenchImap, int]:
    """Connect, log in, SELECT INBOX, IDLE; (client, EXISTS at SELECT)."""
    client = await asyncio.wait_for(BenchImap.connect(port, source=plan.source), STEP_TIMEOUT)
    try:
        await asyncio.wait_for(client.login(plan.address, PASSWORD), STEP_TIMEOUT)
        untagged, _ = await asyncio.wait_for(client.command("SELECT INBOX"), STEP_TIMEOUT)
        await asyncio.wait_for(client.idle(), STEP_TIMEOUT)
    except BaseException:
        client.writer.transport.abort()
        raise
    exists = 0
    for line in untagged:
        if match := _EXISTS.match(line):
            exists = int(match.group(1))
    return client, exists


async def _watch(plan: Plan, client: BenchImap, base: int, stamps: Any) -> None:
    """Stamp every new EXISTS: (connection index, delivery number, monotonic time)."""
    seen = base
    while True:
        line = await client.reader.readline()
        now = time.monotonic()
        if not line:
            return
        if match := _EXISTS.match(line):
            count = int(match.group(1))
            for number in range(seen + 1, count + 1):
                stamps.put((plan.index, number - base, now))
            seen = max(seen, count)


async def _close(client: BenchImap) -> None:
    """End IDLE and log out; wait for the server to close (it closes first: no TIME_WAIT
    holding our ephemeral ports)."""
    client.writer.write(b"DONE\r\nZ LOGOUT\r\n")
    while await client.reader.read(65536):
        pass


async def _wait_event(event: Event, seconds: float) -> bool:
    return await asyncio.to_thread(event.wait, seconds)


@dataclass(frozen=True)
class Job:
    """What one load-generator process does, and how it talks to the parent."""

    group: Sequence[Plan]  # its connections
    port: int
    window: int  # connections set up at once
    hold: float  # the longest it keeps them open waiting for `stop`
    start: Event
    stop: Event
    out: Any  # multiprocessing Queue: ("forked", pid), ("ready", ...), ("done", pid)
    stamps: Any  # multiprocessing Queue: (connection index, delivery number, time)


async def _generator(job: Job) -> None:
    group, port, out = job.group, job.port, job.out
    out.put(("forked", os.getpid()))
    if not await _wait_event(job.start, 120):
        out.put(("ready", 0, 0, len(group), 0.0, "no start signal"))
        return
    limit = asyncio.Semaphore(job.window)
    failures: list[str] = []
    last_idle = 0.0

    async def open_one(plan: Plan) -> tuple[Plan, BenchImap, int] | None:
        nonlocal last_idle
        async with limit:
            try:
                client, exists = await _open(plan, port)
            except (ImapError, OSError, asyncio.IncompleteReadError, TimeoutError) as error:
                failures.append(f"{type(error).__name__}: {error}")
                return None
        last_idle = max(last_idle, time.monotonic())
        return plan, client, exists

    opened = [o for o in await asyncio.gather(*(open_one(p) for p in group)) if o is not None]
    hot = sum(1 for plan, _, _ in opened if plan.hot)
    out.put(("ready", len(opened), hot, len(failures), last_idle, failures[0] if failures else ""))
    watchers = [
        asyncio.create_task(_watch(plan, client, exists, job.stamps))
        for plan, client, exists in opened
        if plan.hot
    ]
    await _wait_event(job.stop, job.hold)
    for task in watchers:
        task.cancel()
    await asyncio.gather(*watchers, return_exceptions=True)
    closing = [asyncio.create_task(_close(client)) for _, client, _ in opened]
    if closing:
        await asyncio.wait(closing, timeout=30)
    for task in closing:
        task.cancel()
    for _, client, _ in opened:
        client.writer.transport.abort()
    await asyncio.gather(*closing, return_exceptions=True)
    out.put(("done", os.getpid()))


def _generator_main(job: Job) -> None:
    raise_fd_limit()
    asyncio.run(_generator(job))


# ---------------------------------------------------------------------- deliveries
def _message(number: int) -> bytes:
    return (
        b"From: Bench <bench@example.test>\r\n"
        b"To: %s\r\n"
        b"Subject: idle fan-out %d\r\n"
        b"Message-ID: <idle-fanout-%d-%d@example.test>\r\n"
        b"\r\n"
        b"Delivery %d of the IDLE fan-out scenario.\r\n"
    ) % (account(0).encode(), number, os.getpid(), number, number)


async def _deliver(
    lmtp_port: int, deliveries: int, watchers: int, stamps: Any
) -> tuple[list[float], int, int]:
    """Deliver one at a time; (latencies in ms, misses, EXISTS read before the 250)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", lmtp_port)
    latencies: list[float] = []
    misses = before = 0
    try:
        await asyncio.wait_for(_reply(reader), STEP_TIMEOUT)
        writer.write(b"LHLO bench.example.test\r\n")
        await asyncio.wait_for(_reply(reader), STEP_TIMEOUT)
        early: dict[int, dict[int, float]] = {}  # stamps that came before their 250
        for number in range(1, deliveries + 1):
            rcpt = account(0).encode()
            writer.write(b"MAIL FROM:<bench@example.test>\r\nRCPT TO:<%s>\r\nDATA\r\n" % rcpt)
            for expected in (b"250", b"250", b"354"):
                line = await asyncio.wait_for(_reply(reader), STEP_TIMEOUT)
                if not line.startswith(expected):
                    raise LmtpError(line.decode(errors="replace"))
            writer.write(_dot_stuffed(_message(number)))
            line = await asyncio.wait_for(_reply(reader), STEP_TIMEOUT)
            delivered = time.monotonic()
            if not line.startswith(b"250"):
                raise LmtpError(line.decode(errors="replace"))
            got = early.pop(number, {})
            deadline = delivered + EXISTS_TIMEOUT
            while len(got) < watchers and (left := deadline - time.monotonic()) > 0:
                try:
                    index, seen, stamp = await asyncio.to_thread(stamps.get, True, left)
                except queue.Empty:
                    break
                if seen == number:
                    got[index] = stamp
                elif seen > number:
                    early.setdefault(seen, {})[index] = stamp
            in_time = [stamp for stamp in got.values() if stamp - delivered <= EXISTS_TIMEOUT]
            before += sum(stamp < delivered for stamp in in_time)
            latencies += [max(0.0, stamp - delivered) * 1000 for stamp in in_time]
            misses += watchers - len(in_time)
            await asyncio.sleep(0.05)
        writer.write(b"QUIT\r\n")
    finally:
        writer.close()
    return latencies, misses, before


# ---------------------------------------------------------------------- the scenario
async def _warm(port: int, addresses: Sequence[str], concurrency: int = 4) -> None:
    """Log in once to each of `addresses` (a few at a time), so that the timed setup does not
    include the first, uncached password check of every account (Tidings: Argon2, about
    half a second of CPU each; Dovecot's PLAIN passwd-file is cheap either way)."""
    todo = list(addresses)

    async def worker() -> None:
        while todo:
            address = todo.pop()
            client = await asyncio.wait_for(BenchImap.connect(port), STEP_TIMEOUT)
            try:
                await asyncio.wait_for(client.login(address, PASSWORD), STEP_TIMEOUT)
                await asyncio.wait_for(client.logout(), STEP_TIMEOUT)
            finally:
                client.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def _drain(out: Any, workers: int, deadline: float) -> None:
    """Wait (until `deadline`) for every worker's "done": each has logged out its clients."""
    done = 0
    while done < workers and (left := deadline - time.monotonic()) > 0:
        try:
            message = out.get(timeout=left)
        except queue.Empty:
            return
        done += message[0] == "done"


@dataclass
class _Setup:
    """What the load-generator processes reported once every connection was tried."""

    established: int = 0
    watchers: int = 0  # hot connections established
    failures: int = 0
    last_idle: float = 0.0
    first_error: str = ""


def _wait_ready(out: Any, workers: int, deadline: float) -> _Setup:
    setup = _Setup()
    for _ in range(workers):
        left = max(1.0, deadline - time.monotonic())
        kind, opened, hot_opened, failed, last, error = out.get(timeout=left)
        assert kind == "ready", kind
        setup.established += opened
        setup.watchers += hot_opened
        setup.failures += failed
        setup.last_idle = max(setup.last_idle, last)
        setup.first_error = setup.first_error or error
    return setup


def run_idle(
    server: Server, connections: int, *, accounts: int, hot: int = 50, deliveries: int = 20,
    processes: int = 4, window: int = 64, setup_timeout: float | None = None, warm: bool = True,
    workers: int = 1,
) -> dict[str, float]:  # fmt: skip
    """Open `connections` IDLE connections (`hot` on account(0)), deliver `deliveries`
    messages to account(0) one at a time; the figures in the module docstring.

    `window` connections per process are set up at once. With `warm`, every account logs in
    once before the timed setup ("warm-up s"), so "setup conn/s" measures connections, not
    each account's first password check. Raises Skipped when the run would
    not fit (skip_reason), RuntimeError when no connection could be set up. `workers`: how
    many worker processes the Tidings `server` runs (for skip_reason)."""
    reason = skip_reason(server, connections, workers)
    if reason:
        raise Skipped(reason)
    raise_fd_limit()
    every = plans(connections, accounts, min(hot, connections))
    warmed = time.monotonic()
    # A worker caches a login only once a connection of that account reached it, and the
    # kernel picks the worker: a worker set is warmed in rounds (WORKER_WARM_ROUNDS each).
    for _ in range(WORKER_WARM_ROUNDS * workers if warm and workers > 1 else int(warm)):
        asyncio.run(_warm(server.imap_port, sorted({plan.address for plan in every})))
    warmed = time.monotonic() - warmed
    processes = max(1, min(processes, connections))
    if setup_timeout is None:
        setup_timeout = 120 + connections * 0.02
    with inotify_instances(server, connections):
        result = _measure(
            server, every, processes=processes, window=window, setup_timeout=setup_timeout,
            deliveries=deliveries,
        )  # fmt: skip
    result["warm-up s"] = warmed
    return result


def _measure(
    server: Server, every: Sequence[Plan], *, processes: int, window: int,
    setup_timeout: float, deliveries: int,
) -> dict[str, float]:  # fmt: skip
    context = multiprocessing.get_context("fork")
    out: Any = context.Queue()
    stamps: Any = context.Queue()
    start, stop = context.Event(), context.Event()
    hold = setup_timeout + deliveries * (EXISTS_TIMEOUT + STEP_TIMEOUT) + 120
    jobs = [
        Job(every[n::processes], server.imap_port, window, hold, start, stop, out, stamps)
        for n in range(processes)
    ]
    workers = [context.Process(target=_generator_main, args=(job,), daemon=True) for job in jobs]
    rss_before, pss_before = memory_kib(server.pid)
    try:
        for worker in workers:
            worker.start()
        for _ in workers:
            assert out.get(timeout=60)[0] == "forked"
        cpu_before = cpu_seconds(server.pid)
        started = time.monotonic()
        start.set()
        setup = _wait_ready(out, len(workers), started + setup_timeout + STEP_TIMEOUT * 4)
        setup_cpu = cpu_seconds(server.pid) - cpu_before
        if setup.failures:
            print(f"{server.name}: {setup.failures} connections failed ({setup.first_error})",
                  file=sys.stderr)  # fmt: skip
        if not setup.established:
            raise RuntimeError(f"{server.name}: no connection reached IDLE ({setup.first_error})")
        time.sleep(1.0)  # let the server settle before reading its memory
        rss_after, pss_after = memory_kib(server.pid)
        latencies, misses, early = asyncio.run(
            _deliver(server.lmtp_port, deliveries, setup.watchers, stamps)
        )
    finally:
        stop.set()
        _drain(out, sum(1 for w in workers if w.pid is not None), time.monotonic() + 45)
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.kill()
                worker.join(5)
    seconds = setup.last_idle - started
    result = {
        "setup conn/s": setup.established / seconds if seconds > 0 else float("nan"),
        "setup s": seconds,
        "setup cpu_ms_per_conn": setup_cpu * 1000 / setup.established,
        "rss_kib_per_conn": (rss_after - rss_before) / setup.established,
        "pss_kib_per_conn": (pss_after - pss_before) / setup.established,
        "connections": float(setup.established),
        "failures": float(setup.failures),
        "hot watchers": float(setup.watchers),
        "deliveries": float(deliveries),
        "misses": float(misses),
        "early": float(early),
    }
    if latencies:
        result["p50 ms"] = percentile(latencies, 0.50)
        result["p99 ms"] = percentile(latencies, 0.99)
        result["max ms"] = max(latencies)
    return result
