"""What every benchmark scenario shares: the accounts, the messages, process statistics
from /proc, and the result table.

Both servers get the same accounts (`bench-NNN@example.test`, one password) and the same
messages (../shared/corpus, CRLF). CPU is read from /proc/PID/stat (utime + stime of the
server's processes, plus what reaped children used: Dovecot runs a process per connection
and reaps it at logout), memory from /proc/PID/smaps_rollup (RSS and PSS, summed over the
server's processes), so a server that is faster but hungrier shows it.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.corpus import corpus_files

from tidings.migrate.source import to_crlf

PASSWORD = "bench password 1"
DOMAIN = "example.test"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def account(index: int) -> str:
    """The address of bench account `index`."""
    return f"bench-{index:03d}@{DOMAIN}"


def corpus_messages(limit: int | None = None) -> list[bytes]:
    """The corpus messages with CRLF line endings (the first `limit`)."""
    files = corpus_files()
    return [to_crlf(path.read_bytes()) for path in files[:limit]]


def raise_fd_limit(wanted: int = 1_048_576) -> int:
    """Raise RLIMIT_NOFILE (for us and the servers we start) as far as allowed; the new
    soft limit. Raising the hard limit needs CAP_SYS_RESOURCE, which a container may lack."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limits in ((wanted, wanted), (min(wanted, hard), hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, limits)
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------------- /proc
def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(part) for part in text.split()]


def process_tree(root: int) -> list[int]:
    """`root` and every descendant alive now."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(_children(pid))
    return found


def cpu_seconds(root: int) -> float:
    """CPU seconds the tree under `root` used so far: live processes' own time, plus the
    time of the children each has reaped (cutime, cstime)."""
    total = 0
    for pid in process_tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
        total += utime + stime + cutime + cstime
    return total / CLOCK_TICKS


def memory_kib(root: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB, summed over the tree under `root`."""
    rss = pss = 0
    for pid in process_tree(root):
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            name, _, rest = line.partition(":")
            if name == "Rss":
                rss += int(rest.split()[0])
            elif name == "Pss":
                pss += int(rest.split()[0])
    return rss, pss


# ---------------------------------------------------------------------- results
@dataclass
class Row:
    """One measured figure for both servers, with the target it is judged by."""

    scenario: str
    metric: str
    tidings: float | None
    dovecot: float | None
    unit: str
    better: str = "higher"  # "higher" or "lower" is better
    target: str = ""  # what the issue asks, in words ("ratio >= 1.0", "<= 50 ms")
    passed: bool | None = None  # None: no target for this row
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """Tidings relative to Dovecot, > 1 meaning Tidings is better."""
        if self.tidings is None or self.dovecot is None or not self.tidings or not self.dovecot:
            return None
        if self.better == "higher":
            return self.tidings / self.dovecot
        return self.dovecot / self.tidings


@dataclass
class Report:
    """Every row of a run, printed as a Markdown table."""

    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        print(format_rows([row], header=False), flush=True)
        return row

    def markdown(self) -> str:
        return format_rows(self.rows)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1 or value == 0:
        return f"{value:.2f}"
    return f"{value:.3f}"


def format_rows(rows: Iterable[Row], *, header: bool = True) -> str:
    lines = []
    if header:
        lines += [
            "| scenario | metric | Tidings | Dovecot | unit | Tidings/Dovecot | target | result |",
            "|---|---|---:|---:|---|---:|---|---|",
        ]
    for row in rows:
        ratio = row.ratio
        verdict = {True: "pass", False: "FAIL", None: ""}[row.passed]
        if row.note:
            verdict = f"{verdict} ({row.note})" if verdict else row.note
        lines.append(
            f"| {row.scenario} | {row.metric} | {_number(row.tidings)} | {_number(row.dovecot)}"
            f" | {row.unit} | {'-' if ratio is None else f'{ratio:.2f}x'} | {row.target} |"
            f" {verdict} |"
        )
    return "\n".join(lines)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The `fraction` percentile (nearest rank) of `values` (not empty)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]
