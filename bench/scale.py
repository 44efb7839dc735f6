"""Scenario `scale`, one against two (issues 7 and 5): does a second process help?

The mixed-session workload of bench/mixed.py (50 clients in the full and quick runs) and the
LMTP delivery of bench/delivery.py (10 sessions), each measured twice:

- SQLite: `tidings serve --workers 1` against `--workers 2` (one data dir; a supervisor binds
  the listeners, the worker processes accept on them). Tidings CPU is the whole process
  tree: the supervisor, every worker, and what reaped children used (common.cpu_seconds).
- PostgreSQL: one node against two nodes on the same database: `tidings serve --workers 1`
  processes with their own data dirs and ports and one TOML file each (`[storage] url`,
  `migrate_on_start = true`); the load generator splits its clients evenly over the nodes'
  ports (client n on node n % 2), no load balancer. Tidings CPU is summed over the nodes;
  database CPU separately, over the postmaster (its PID from the cluster's postmaster.pid)
  and its children: the backends serving the nodes, the checkpointer, WAL writer,
  autovacuum, plus the backends it reaped.

The order keeps the mailbox sizes comparable: the mixed runs leave them as they were, the
deliveries add to them, so it is mixed with one, mixed with two, delivery with two, then
delivery with one. Each figure has the 1-minute load average beside it (the load generator
shares the machine), and each mixed run prints the CPU of every live process of the
servers (which worker or node did the work, the busiest backends). Dovecot has no figure in
these rows: the community edition cannot serve one user from two servers, so there is
nothing to compare with.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import TidingsServer, free_port
from tests.support.postgres import PostgresServer, start_postgres

from bench.common import (
    PASSWORD,
    Report,
    Row,
    account,
    corpus_messages,
    cpu_seconds,
    process_tree,
)
from bench.delivery import run_delivery
from bench.mixed import run_mixed, warm_logins
from bench.servers import Server, fill
from tidings.auth.passwords import hash_password

NO_DOVECOT = "no Dovecot equivalent"
# Warm-up login rounds per port before a mixed run (each round: every account at once): with
# two workers each caches a login only once a connection of that account reached it, and
# the kernel picks the worker. With 3 rounds, Argon2 (verify_secret) was still 11% of a
# worker's py-spy samples during the measurement; with 8, 3%.
WARM_ROUNDS = 10


@dataclass(frozen=True)
class ScaleSize:
    """How big the scale scenario runs."""

    accounts: int
    messages_per_account: int
    clients: int
    sessions: int
    seconds: float


@dataclass
class Setup:
    """One configuration under load: the ports the clients use and the CPU probes."""

    label: str  # "--workers 1", "2 nodes", ...
    imap_ports: list[int]
    lmtp_ports: list[int]
    tidings_pids: list[int]
    database_pid: int | None = None

    def tidings_cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.tidings_pids)

    def database_cpu(self) -> float:
        return cpu_seconds(self.database_pid) if self.database_pid else 0.0

    def server(self) -> Server:
        return Server("Tidings", self.imap_ports[0], self.lmtp_ports[0], self.tidings_pids[0], None)


@dataclass
class Measured:
    """The figures of one setup."""

    ops: float = 0.0
    ops_cpu: float = 0.0  # Tidings CPU-ms per 1,000 operations
    ops_db_cpu: float | None = None
    ops_load: float = 0.0
    ops_errors: int = 0
    msgs: float = 0.0
    msgs_cpu: float = 0.0  # Tidings CPU-ms per 1,000 messages
    msgs_db_cpu: float | None = None
    msgs_load: float = 0.0
    per_process: dict[str, float] = field(default_factory=dict)


def _load() -> float:
    return os.getloadavg()[0]


def _measure_mixed(setup: Setup, size: ScaleSize, into: Measured) -> None:
    extra = {"database": setup.database_cpu} if setup.database_pid else None
    warm_logins(setup.imap_ports, min(size.accounts, size.clients), WARM_ROUNDS)
    before = _all_cpu(setup)
    result = run_mixed(
        setup.server(),
        size.clients,
        size.seconds,
        accounts=size.accounts,
        ports=setup.imap_ports,
        cpu=setup.tidings_cpu,
        extra_cpu=extra,
        warm_rounds=0,
    )
    into.ops = result["ops/s"]
    into.ops_cpu = result["cpu_ms_per_1000"]
    into.ops_db_cpu = result.get("database cpu_ms_per_1000")
    into.ops_errors = int(result["errors"])
    into.ops_load = _load()
    after = _all_cpu(setup)
    into.per_process = {k: v - before.get(k, 0.0) for k, v in after.items()}
    print(f"   {setup.label}: mixed {into.ops:,.0f} ops/s, load {into.ops_load:.2f}", flush=True)
    busy = sorted(into.per_process.items(), key=lambda item: -item[1])
    spread = ", ".join(f"{k} {v * 1000:,.0f}" for k, v in busy if v >= 0.01)
    print(f"   CPU-ms by live process during it: {spread}", flush=True)


def _measure_delivery(setup: Setup, size: ScaleSize, into: Measured) -> None:
    extra = {"database": setup.database_cpu} if setup.database_pid else None
    result = run_delivery(
        setup.server(),
        size.sessions,
        size.seconds,
        accounts=size.accounts,
        ports=setup.lmtp_ports,
        cpu=setup.tidings_cpu,
        extra_cpu=extra,
    )
    into.msgs = result["msg/s"]
    into.msgs_cpu = result["cpu_ms_per_msg"] * 1000
    db = result.get("database cpu_ms_per_msg")
    into.msgs_db_cpu = None if db is None else db * 1000
    into.msgs_load = _load()
    print(f"   {setup.label}: LMTP {into.msgs:,.0f} msg/s, load {into.msgs_load:.2f}", flush=True)


# ---------------------------------------------------------------------- servers
def _node(data_dir: Path, config: str | None = None) -> tuple[TidingsServer, tuple[str, ...]]:
    """A stopped `tidings serve` (IMAP and LMTP only) on `data_dir`, with the `--config`
    arguments of its TOML file when `config` is given."""
    data_dir.mkdir(parents=True, exist_ok=True)
    args: tuple[str, ...] = ()
    if config is not None:
        path = data_dir / "tidings.toml"
        path.write_text(config)
        args = ("--config", str(path))
    server = TidingsServer(
        data_dir=data_dir, imap_port=free_port(), imaps_port=0, lmtp_port=free_port()
    )
    return server, args


def _pid(server: TidingsServer) -> int:
    assert server.process is not None
    return server.process.pid


async def _add_accounts(open_backend: Callable[[], Any], addresses: Sequence[str]) -> None:
    backend = await open_backend()
    try:
        password_hash = hash_password(PASSWORD)
        for address in addresses:
            if await backend.password_hash(address) is None:
                await backend.add_account(address, password_hash)
    finally:
        await backend.close()


def _fill(port: int, size: ScaleSize) -> None:
    """The accounts the mixed clients use get the messages (delivery adds to all)."""
    messages = corpus_messages(size.messages_per_account)
    used = [account(i) for i in range(min(size.accounts, size.clients))]
    target = Server("Tidings", port, 0, 0, None)
    asyncio.run(fill(target, used, messages))


@contextlib.contextmanager
def _running(*servers: tuple[TidingsServer, tuple[str, ...]], workers: int = 1) -> Iterator[None]:
    started: list[TidingsServer] = []
    try:
        for server, args in servers:
            server.start("--workers", str(workers), *args)
            started.append(server)
        yield
    finally:
        for server in started:
            server.stop()


def _tree_cpu(root: int, label: str) -> dict[str, float]:
    """CPU seconds (own, not reaped children's) of each live process of the tree under
    `root`, by "label[pid]" for the root and "label child[pid]" for the others: evidence of
    where the time went (one worker busy and one idle, the supervisor, the backends)."""
    found = {}
    for pid in process_tree(root):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks = int(fields[11]) + int(fields[12])
            name = label if pid == root else f"{label} child"
            found[f"{name}[{pid}]"] = ticks / os.sysconf("SC_CLK_TCK")
    return found


def _all_cpu(setup: Setup) -> dict[str, float]:
    found = {}
    for index, pid in enumerate(setup.tidings_pids):
        found.update(_tree_cpu(pid, f"tidings {index + 1}"))
    if setup.database_pid:
        found.update(_tree_cpu(setup.database_pid, "postmaster"))
    return found


def measure_sqlite(base: Path, size: ScaleSize) -> dict[int, Measured]:
    """`--workers 1` and `--workers 2` on one SQLite data dir."""
    from tidings.storage.sqlite import SqliteBackend  # noqa: PLC0415

    node = _node(base / "sqlite")
    addresses = [account(i) for i in range(size.accounts)]
    asyncio.run(_add_accounts(lambda: SqliteBackend.open(base / "sqlite" / "mail.db"), addresses))
    server = node[0]
    results = {1: Measured(), 2: Measured()}

    def setup(workers: int) -> Setup:
        return Setup(
            f"SQLite --workers {workers}", [server.imap_port], [server.lmtp_port], [_pid(server)]
        )

    with _running(node, workers=1):
        _fill(server.imap_port, size)
        _measure_mixed(setup(1), size, results[1])
    with _running(node, workers=2):
        _measure_mixed(setup(2), size, results[2])
        _measure_delivery(setup(2), size, results[2])
    with _running(node, workers=1):
        _measure_delivery(setup(1), size, results[1])
    return results


def _postmaster_pid(postgres: PostgresServer) -> int:
    return int((postgres.data_dir / "postmaster.pid").read_text().split()[0])


def measure_postgres(base: Path, size: ScaleSize) -> dict[int, Measured]:
    """One node against two nodes on one PostgreSQL database."""
    from tidings.storage.postgres import PostgresBackend  # noqa: PLC0415

    # Its own temp dir, not under `base`: as root the `postgres` user must traverse it.
    postgres = start_postgres(Path(tempfile.mkdtemp(prefix="tidings-bench-pg-")))
    try:
        config = f'[storage]\nurl = "{postgres.dsn}"\nmigrate_on_start = true\n'
        addresses = [account(i) for i in range(size.accounts)]
        asyncio.run(
            _add_accounts(lambda: PostgresBackend.connect(postgres.dsn, migrate=True), addresses)
        )
        node_a = _node(base / "pg-node-a", config)
        node_b = _node(base / "pg-node-b", config)
        a, b = node_a[0], node_b[0]
        database = _postmaster_pid(postgres)
        results = {1: Measured(), 2: Measured()}
        with _running(node_a):
            one = Setup("PostgreSQL, 1 node", [a.imap_port], [a.lmtp_port], [_pid(a)], database)
            _fill(a.imap_port, size)
            _measure_mixed(one, size, results[1])
            with _running(node_b):
                two = Setup(
                    "PostgreSQL, 2 nodes",
                    [a.imap_port, b.imap_port],
                    [a.lmtp_port, b.lmtp_port],
                    [_pid(a), _pid(b)],
                    database,
                )
                _measure_mixed(two, size, results[2])
                _measure_delivery(two, size, results[2])
            _measure_delivery(one, size, results[1])
        return results
    finally:
        postgres.destroy()


# ---------------------------------------------------------------------- the table
def _ratio(two: float | None, one: float | None) -> float | None:
    if two is None or one is None or not one:
        return None
    return two / one


def _rows(report: Report, name: str, labels: tuple[str, str], one: Measured, two: Measured) -> None:
    """The rows of one comparison: each figure for one and two, and the ratio two/one."""

    def add(metric: str, values: tuple[float | None, float | None], unit: str, mixed: bool) -> None:
        loads = (one.ops_load, two.ops_load) if mixed else (one.msgs_load, two.msgs_load)
        better = "higher" if unit.endswith("/s") else "lower"
        for label, value, load in zip(labels, values, loads, strict=True):
            note = f"{NO_DOVECOT}; load {load:.2f}"
            report.add(Row(name, f"{metric}, {label}", value, None, unit, better, note=note))
        ratio = _ratio(values[1], values[0])
        report.add(Row(name, f"{metric}, two / one", ratio, None, "x", better, note=NO_DOVECOT))

    per_ops, per_msg = "CPU-ms / 1000 ops", "CPU-ms / 1000 msg"
    add("mixed throughput", (one.ops, two.ops), "ops/s", mixed=True)
    add("mixed Tidings CPU", (one.ops_cpu, two.ops_cpu), per_ops, mixed=True)
    if one.ops_db_cpu is not None:
        add("mixed database CPU", (one.ops_db_cpu, two.ops_db_cpu), per_ops, mixed=True)
    add("LMTP throughput", (one.msgs, two.msgs), "msg/s", mixed=False)
    add("LMTP Tidings CPU", (one.msgs_cpu, two.msgs_cpu), per_msg, mixed=False)
    if one.msgs_db_cpu is not None:
        add("LMTP database CPU", (one.msgs_db_cpu, two.msgs_db_cpu), per_msg, mixed=False)
    errors = one.ops_errors + two.ops_errors
    if errors:
        report.add(Row(name, "failed mixed sessions", errors, None, "sessions", better="lower"))


def run_scale(
    size: ScaleSize, report: Report, *, postgres: bool = True
) -> dict[str, dict[int, Measured]]:
    """Both comparisons (SQLite workers, PostgreSQL nodes), their rows added to `report`."""
    found: dict[str, dict[int, Measured]] = {}
    with tempfile.TemporaryDirectory(prefix="tidings-bench-scale-") as base:
        title = f"mixed {size.clients} clients, LMTP {size.sessions} sessions"
        print("-- scale: SQLite, --workers 1 vs 2", flush=True)
        found["sqlite"] = measure_sqlite(Path(base), size)
        _rows(
            report,
            f"scale: SQLite, {title}",
            ("--workers 1", "--workers 2"),
            *found["sqlite"].values(),
        )
        if postgres:
            print("-- scale: PostgreSQL, 1 node vs 2 nodes", flush=True)
            found["postgresql"] = measure_postgres(Path(base), size)
            _rows(
                report,
                f"scale: PostgreSQL, {title}",
                ("1 node", "2 nodes"),
                *found["postgresql"].values(),
            )
    return found
