"""Tidings against Dovecot, side by side in one run: `make bench` (or
`python -m bench.run [--quick] [--only mixed,delivery,idle,big,scale] [--out FILE]`).

Both servers start on loopback with the same accounts and messages (bench/servers.py),
each scenario runs against one and then the other, and the table printed at the end (and
written to `--out`, default bench/RESULTS.md) has both figures, the ratio
(Tidings/Dovecot, above 1 meaning Tidings is better) and pass/fail against the targets of
the performance issue. `scale` (bench/scale.py) compares Tidings with itself instead: one
worker against two on SQLite, one node against two on PostgreSQL, on servers it starts
itself (asked for alone, no Dovecot is started). `--quick` runs every scenario small (a
minute or two; the test suite runs a tinier version still). Every load loop is bounded in
count and in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.dovecot import DovecotServer

from bench.big_mailbox import prepare_big, run_big
from bench.common import Report, Row, account, corpus_messages, raise_fd_limit
from bench.delivery import run_delivery
from bench.idle_fanout import run_idle, workers_to_hold
from bench.mixed import run_mixed
from bench.scale import WARM_ROUNDS, ScaleSize, run_scale
from bench.servers import Server, both, fill


@dataclass(frozen=True)
class Plan:
    """How big each scenario runs."""

    accounts: int
    messages_per_account: int
    mixed_clients: tuple[int, ...]
    mixed_seconds: float
    delivery_sessions: tuple[int, ...]
    delivery_seconds: float
    idle_connections: tuple[int, ...]
    big_messages: int
    scale: ScaleSize  # accounts, messages each, mixed clients, LMTP sessions, seconds


FULL = Plan(
    100, 50, (1, 50, 500), 20.0, (1, 10), 15.0, (1_000, 10_000, 50_000), 100_000,
    ScaleSize(100, 50, 50, 10, 15.0),
)  # fmt: skip
QUICK = Plan(20, 100, (1, 50), 8.0, (1, 10), 5.0, (1_000,), 5_000, ScaleSize(50, 50, 50, 10, 5.0))
TINY = Plan(3, 20, (1, 4), 2.0, (1, 2), 1.5, (20,), 200, ScaleSize(4, 10, 4, 2, 1.0))


def _pair(results: dict[str, dict[str, Any]], key: str) -> tuple[Any, Any]:
    return results["Tidings"].get(key), results["Dovecot"].get(key)


def _judge(row: Row, check: Callable[[Row], bool | None]) -> Row:
    try:
        row.passed = check(row)
    except TypeError:  # a figure is missing
        row.passed = None
    return row


TARGET_CLIENTS = 50  # the target is judged at this many mixed clients


def run_mixed_scenario(servers: list[Server], plan: Plan, report: Report) -> None:
    dovecot_at: dict[int, dict[str, Any]] = {}
    for clients in plan.mixed_clients:
        results = {
            s.name: run_mixed(s, clients, plan.mixed_seconds, accounts=plan.accounts)
            for s in servers
        }
        dovecot_at[clients] = results["Dovecot"]
        name = f"mixed, {clients} clients"
        tidings, dovecot = _pair(results, "ops/s")
        row = Row(name, "operations", tidings, dovecot, "ops/s")
        if clients == TARGET_CLIENTS:
            row.target = ">= 1.0x Dovecot"
            _judge(row, lambda r: (r.ratio or 0) >= 1.0)
        report.add(row)
        tidings, dovecot = _pair(results, "cpu_ms_per_1000")
        row = Row(name, "server CPU", tidings, dovecot, "CPU-ms / 1000 ops", better="lower")
        if clients == TARGET_CLIENTS:
            row.target = "<= Dovecot"
            _judge(row, lambda r: r.tidings <= r.dovecot)  # type: ignore[operator]
        report.add(row)
        commands = sorted(k for k in results["Tidings"] if k.endswith(" ops/s") and k != "ops/s")
        for key in commands:
            tidings, dovecot = _pair(results, key)
            report.add(Row(name, key.removesuffix(" ops/s"), tidings, dovecot, "ops/s"))
        errors = _pair(results, "errors")
        if any(errors):
            report.add(Row(name, "failed sessions", *errors, "sessions", better="lower"))
    run_mixed_on_every_core(servers, plan, report, dovecot_at)


def _run_idle_on(server: Server, connections: int, plan: Plan) -> dict[str, Any]:
    """run_idle; Tidings with as many workers as hold `connections` within each one's file
    limit (idle_fanout.workers_to_hold), back to one worker after."""
    workers = workers_to_hold(server, connections) if server.name == "Tidings" else 1
    if workers == 1:
        return run_idle(server, connections, accounts=plan.accounts)
    _restart_tidings(server, "--workers", str(workers))
    try:
        result = run_idle(server, connections, accounts=plan.accounts, workers=workers)
    finally:
        _restart_tidings(server, "--workers", "1")
    return {**result, "workers": workers}


def run_mixed_on_every_core(
    servers: list[Server], plan: Plan, report: Report, dovecot_at: dict[int, dict[str, Any]]
) -> None:
    """The target level once more with Tidings as it runs by default, one worker per core
    (`serve --workers N`), beside Dovecot's figures of the same run (Dovecot uses every
    core with its processes); then Tidings is back to one worker for the other scenarios."""
    cores = os.cpu_count() or 1
    levels = plan.mixed_clients
    clients = TARGET_CLIENTS if TARGET_CLIENTS in levels else max(levels)
    tidings = next(s for s in servers if s.name == "Tidings")
    if cores < 2:
        return
    _restart_tidings(tidings, "--workers", str(cores))
    try:
        result = run_mixed(
            tidings, clients, plan.mixed_seconds, accounts=plan.accounts, warm_rounds=WARM_ROUNDS
        )
    finally:
        _restart_tidings(tidings, "--workers", "1")
    dovecot = dovecot_at[clients]
    name = f"mixed, {clients} clients, Tidings --workers {cores}"
    row = Row(name, "operations", result["ops/s"], dovecot["ops/s"], "ops/s")
    if clients == TARGET_CLIENTS:
        row.target = ">= 1.0x Dovecot"
        _judge(row, lambda r: (r.ratio or 0) >= 1.0)
    report.add(row)
    row = Row(
        name, "server CPU", result["cpu_ms_per_1000"], dovecot["cpu_ms_per_1000"],
        "CPU-ms / 1000 ops", better="lower",
    )  # fmt: skip
    if clients == TARGET_CLIENTS:
        row.target = "<= Dovecot"
        _judge(row, lambda r: r.tidings <= r.dovecot)  # type: ignore[operator]
    report.add(row)
    if result["errors"]:
        report.add(Row(name, "failed sessions", result["errors"], 0, "sessions", better="lower"))


def _restart_tidings(server: Server, *args: str) -> None:
    """Restart the bench's Tidings with `args` on the same data and ports."""
    process = server.stop_it
    process.stop()  # type: ignore[attr-defined]
    process.start(*args)  # type: ignore[attr-defined]
    server.pid = process.process.pid  # type: ignore[attr-defined]


def run_delivery_scenario(servers: list[Server], plan: Plan, report: Report) -> None:
    for sessions in plan.delivery_sessions:
        results = {
            s.name: run_delivery(s, sessions, plan.delivery_seconds, accounts=plan.accounts)
            for s in servers
        }
        name = f"LMTP delivery, {sessions} session{'s' if sessions > 1 else ''}"
        row = Row(name, "messages", *_pair(results, "msg/s"), "msg/s", target=">= 1.0x Dovecot")
        report.add(_judge(row, lambda r: (r.ratio or 0) >= 1.0))
        cpu = _pair(results, "cpu_ms_per_msg")
        report.add(Row(name, "server CPU", *cpu, "CPU-ms / msg", better="lower"))


def run_idle_scenario(servers: list[Server], plan: Plan, report: Report) -> None:
    for connections in plan.idle_connections:
        results: dict[str, dict[str, Any]] = {}
        workers = 1
        for server in servers:
            try:
                results[server.name] = _run_idle_on(server, connections, plan)
            except Exception as error:  # a scenario that cannot run is a note
                results[server.name] = {"skipped": f"{type(error).__name__}: {error}"}
            workers = int(results[server.name].get("workers", workers))
        name = f"IDLE, {connections:,} connections"
        if workers > 1:  # more than one process's file limit: a worker set (the issue's
            name += f", Tidings --workers {workers}"  # "one server process set")
        for server in servers:
            skipped = results[server.name].get("skipped")
            if skipped:
                row = Row(name, f"{server.name} not measured", None, None, "", note=str(skipped))
                report.add(row)
        p99 = Row(name, "delivery -> EXISTS p99", *_pair(results, "p99 ms"), "ms", better="lower")
        if connections == 10_000:
            p99.target = "<= 10 ms"
            _judge(p99, lambda r: r.tidings <= 10)  # type: ignore[operator]
        p50 = _pair(results, "p50 ms")
        report.add(Row(name, "delivery -> EXISTS p50", *p50, "ms", better="lower"))
        report.add(p99)
        most = _pair(results, "max ms")
        report.add(Row(name, "delivery -> EXISTS max", *most, "ms", better="lower"))
        pss = _pair(results, "pss_kib_per_conn")
        memory = Row(
            name,
            "server memory per connection (PSS)",
            *pss,
            "KiB",
            better="lower",
            target="<= 10 KiB",
        )
        report.add(_judge(memory, lambda r: r.tidings <= 10))  # type: ignore[operator]
        rss = _pair(results, "rss_kib_per_conn")
        report.add(Row(name, "server memory per connection (RSS)", *rss, "KiB", better="lower"))
        rate = _pair(results, "setup conn/s")
        setup = Row(name, "connections set up", *rate, "conn/s", target=">= 500/s")
        report.add(_judge(setup, lambda r: r.tidings >= 500))  # type: ignore[operator]
        held = Row(name, "connections held", *_pair(results, "connections"), "")
        if connections == 50_000:
            held.target = "50,000 held"
            _judge(held, lambda r: r.tidings >= 50_000)  # type: ignore[operator]
        report.add(held)


DIRECT_FILL_FROM = 20_000
"""From this many big-mailbox messages on, Dovecot's are written as Maildir files."""


def run_big_scenario(servers: list[Server], plan: Plan, report: Report) -> None:
    address = account(plan.accounts - 1)
    results: dict[str, dict[str, Any]] = {}

    # Both fills at once (they wait on the disk more than on the CPU): the full run's
    # 100,000 messages take minutes on each server. Dovecot's APPEND takes over ten minutes
    # for them, so from DIRECT_FILL_FROM on it gets them as Maildir files instead.
    def prepare(server: Server) -> dict[str, float | None]:
        maildir = None
        if isinstance(server.stop_it, DovecotServer) and plan.big_messages >= DIRECT_FILL_FROM:
            maildir = server.stop_it.base_dir / "mail" / address.lower() / "Maildir"
        return prepare_big(server, address, plan.big_messages, maildir=maildir)

    with ThreadPoolExecutor(len(servers)) as pool:
        fills = list(pool.map(prepare, servers))
    for server, fill_rate in zip(servers, fills, strict=True):
        results[server.name] = run_big(server, address)
        if isinstance(fill_rate, dict):
            results[server.name].update(fill_rate)
    name = f"big mailbox, {plan.big_messages:,} messages"
    full = plan.big_messages >= 100_000
    checks: list[tuple[str, str, str, float | None]] = [
        ("select ms", "SELECT", "ms", 50.0),
        ("select first ms", "first SELECT (Dovecot: reads new Maildir files in)", "ms", None),
        ("fetch flags s", "UID FETCH 1:* (FLAGS)", "s", 1.0),
        ("fetch flags bytes", "UID FETCH 1:* (FLAGS) size", "bytes", None),
        ("search header ms", "UID SEARCH on a header", "ms", None),
        ("search body ms", "UID SEARCH BODY (full text)", "ms", 200.0),
        ("sort date ms", "UID SORT (DATE)", "ms", None),
        ("new mail seen ms", "second client sees a new message", "ms", None),
        ("fill msg/s", "APPEND rate while filling", "msg/s", None),
    ]
    for key, metric, unit, limit in checks:
        better = "higher" if unit == "msg/s" else "lower"
        row = Row(name, metric, *_pair(results, key), unit, better=better)
        if limit is not None and full:
            row.target = f"<= {limit:g} {unit}"
            _judge(row, lambda r, limit=limit: r.tidings <= limit)  # type: ignore[misc]
        report.add(row)


def run_scale_scenario(servers: list[Server], plan: Plan, report: Report) -> None:
    """One against two (bench/scale.py), on servers of its own: `servers` is unused."""
    del servers
    run_scale(plan.scale, report)


SCENARIOS: dict[str, Callable[[list[Server], Plan, Report], None]] = {
    "mixed": run_mixed_scenario,
    "delivery": run_delivery_scenario,
    "idle": run_idle_scenario,
    "big": run_big_scenario,
    "scale": run_scale_scenario,
}
# Scenarios that start their own servers: with only these, Tidings and Dovecot of both()
# are not started.
OWN_SERVERS = {"scale"}


def machine_line() -> str:
    cpus = os.cpu_count()
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) // 1024 // 1024} GiB"
    except OSError:
        pass
    return (
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC: {cpus} cores{memory},"
        f" Python {platform.python_version()}, the load generator on the same box"
    )


def run(plan: Plan, only: list[str], out: Path | None) -> Report:
    raise_fd_limit()
    report = Report()
    with (
        tempfile.TemporaryDirectory(prefix="tidings-bench-") as base,
        contextlib.ExitStack() as stack,
    ):
        servers: list[Server] = []
        if any(name not in OWN_SERVERS for name in only):
            servers = stack.enter_context(both(Path(base), plan.accounts))
        messages = corpus_messages(plan.messages_per_account)
        addresses = [account(i) for i in range(plan.accounts - 1)]  # the last: big mailbox
        for server in servers:
            asyncio.run(fill(server, addresses, messages))
        for name in only:
            print(f"== {name}", flush=True)
            SCENARIOS[name](servers, plan, report)
    text = f"{machine_line()}\n\n{report.markdown()}\n"
    print("\n" + text)
    if out is not None:
        out.write_text(text)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="every scenario small")
    size.add_argument("--tiny", action="store_true", help="smallest (what the tests run)")
    parser.add_argument("--only", default=",".join(SCENARIOS), help=",".join(SCENARIOS))
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in only if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    plan = TINY if args.tiny else QUICK if args.quick else FULL
    run(plan, only, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
