"""The benchmark's `scale` scenario (bench/scale.py), tiny, against real servers: SQLite
with `--workers 1` and `--workers 2`, then one and two nodes on a private PostgreSQL
(tests/support/postgres.py, installed on first use). Every row must be there with a
positive figure, and no mixed session may fail; speed is never asserted here (the machine
is shared and noisy); `python -m bench.run --only scale` measures it."""

from __future__ import annotations

from bench.common import Report
from bench.run import TINY, run_scale_scenario

METRICS = (
    "mixed throughput",
    "mixed Tidings CPU",
    "LMTP throughput",
    "LMTP Tidings CPU",
)
DATABASE_METRICS = ("mixed database CPU", "LMTP database CPU")


def test_scale_runs_one_and_two_on_sqlite_and_postgresql() -> None:
    report = Report()
    run_scale_scenario([], TINY, report)
    rows = {(row.scenario.split(",")[0], row.metric): row for row in report.rows}
    expected = [
        ("scale: SQLite", f"{metric}, {label}")
        for metric in METRICS
        for label in ("--workers 1", "--workers 2", "two / one")
    ] + [
        ("scale: PostgreSQL", f"{metric}, {label}")
        for metric in METRICS + DATABASE_METRICS
        for label in ("1 node", "2 nodes", "two / one")
    ]
    missing = [key for key in expected if key not in rows]
    assert not missing, (missing, report.markdown())
    for key in expected:
        row = rows[key]
        assert row.tidings is not None and row.tidings > 0, (key, report.markdown())
        assert row.dovecot is None and "no Dovecot equivalent" in row.note, row
    assert not any(row.metric == "failed mixed sessions" for row in report.rows), report.markdown()
    table = report.markdown()
    assert (
        "| scale: SQLite, mixed 4 clients, LMTP 2 sessions | mixed throughput, --workers 2 |"
        in table
    )
