"""The benchmark's mixed-session and delivery scenarios, tiny, against both servers: they
must keep working (every command of the mix answered, deliveries acknowledged, the table
printed with both servers' figures). Speed is never asserted here (bench/README: machines
are noisy); `make bench` measures it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bench.common import Report, account, corpus_messages
from bench.delivery import run_delivery
from bench.mixed import run_mixed
from bench.run import TINY, run_delivery_scenario, run_mixed_scenario
from bench.servers import both, fill

pytestmark = pytest.mark.dovecot

MIX = {"LOGIN", "SELECT", "FETCH", "STORE", "SEARCH", "APPEND", "EXPUNGE", "LOGOUT"}


def test_mixed_and_delivery_run_against_both_servers(tmp_path: Path) -> None:
    with both(tmp_path, 3) as servers:
        for server in servers:
            asyncio.run(fill(server, [account(i) for i in range(3)], corpus_messages(10)))
        for server in servers:
            mixed = run_mixed(server, 2, 1.5, accounts=3, processes=1)
            assert mixed["errors"] == 0, (server.name, mixed)
            assert {f"{name} ops/s" for name in MIX} <= set(mixed), (server.name, mixed)
            assert mixed["ops/s"] > 0 and mixed["cpu_ms_per_1000"] > 0
            delivered = run_delivery(server, 2, 1.0, accounts=3)
            assert delivered["delivered"] > 0, (server.name, delivered)
        report = Report()
        run_mixed_scenario(servers, TINY, report)
        run_delivery_scenario(servers, TINY, report)
    table = report.markdown()
    assert "| mixed, 4 clients | operations |" in table
    if (os.cpu_count() or 1) > 1:  # the default: a worker per core, beside Dovecot
        assert f"| mixed, 4 clients, Tidings --workers {os.cpu_count()} | operations |" in table
    assert "| LMTP delivery, 2 sessions | messages |" in table
    for row in report.rows:
        if row.metric in ("operations", "messages"):
            assert row.tidings and row.dovecot, row
            assert row.ratio is not None
