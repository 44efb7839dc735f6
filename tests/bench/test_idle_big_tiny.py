"""Tiny runs of two benchmark scenarios, bench/idle_fanout.py and bench/big_mailbox.py,
against Tidings and against Dovecot: they must run and give sane figures (every watcher saw
every delivery, the counts are right, the searches find what they should). Speed is never
asserted here; `python -m bench.run` measures it.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.big_mailbox import prepare_big, rare_count, run_big
from bench.common import account
from bench.idle_fanout import Skipped, open_files_limit, run_idle, skip_reason, workers_to_hold
from bench.servers import Server, start_dovecot_bench, start_tidings
from tests.support.dovecot import skip_requested

ACCOUNTS = 3


@pytest.fixture(
    scope="module", params=["tidings", pytest.param("dovecot", marks=pytest.mark.dovecot)]
)
def bench_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A server with the bench accounts, in a directory of its own under /tmp (Dovecot's
    LMTP must traverse it: pytest's temp dirs are 0700)."""
    if request.param == "dovecot" and skip_requested():
        pytest.skip("TIDINGS_SKIP_DOVECOT=1: differential tests against Dovecot skipped")
    base = Path(tempfile.mkdtemp(prefix="tidings-bench-test-"))
    base.chmod(0o711)
    try:
        start = start_dovecot_bench if request.param == "dovecot" else start_tidings
        server = start(base, ACCOUNTS)
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_idle_fanout_every_watcher_sees_every_delivery(bench_server: Server) -> None:
    result = run_idle(bench_server, 20, accounts=ACCOUNTS, hot=5, deliveries=3, processes=2)
    assert result["connections"] == 20
    assert result["failures"] == 0
    assert result["hot watchers"] == 5
    assert result["deliveries"] == 3
    assert result["misses"] == 0
    assert result["p50 ms"] <= result["p99 ms"] <= result["max ms"] < 10_000
    assert result["setup conn/s"] > 0
    assert math.isfinite(result["rss_kib_per_conn"])
    assert math.isfinite(result["pss_kib_per_conn"])


def test_idle_fanout_refuses_what_would_not_fit(bench_server: Server) -> None:
    reason = skip_reason(bench_server, 100_000_000)
    assert reason is not None
    assert "100,000,000" in reason
    with pytest.raises(Skipped):
        run_idle(bench_server, 100_000_000, accounts=ACCOUNTS)


def test_more_connections_than_one_process_holds_take_a_worker_set(bench_server: Server) -> None:
    limit = open_files_limit(bench_server.pid)
    if bench_server.name != "Tidings" or limit is None:
        pytest.skip("Tidings with a file limit: one process would hold any number")
    assert workers_to_hold(bench_server, limit // 2) == 1
    workers = workers_to_hold(bench_server, limit * 3)
    assert workers >= 5  # each sized for 0.6 of its room (WORKER_SHARE)
    with_workers = skip_reason(bench_server, limit * 3, workers)
    assert with_workers is None or "RLIMIT_NOFILE" not in with_workers  # memory may not fit
    assert "RLIMIT_NOFILE" in str(skip_reason(bench_server, limit * 3))  # one process


def test_big_mailbox_answers_are_right(bench_server: Server) -> None:
    filled = prepare_big(bench_server, account(1), 200)
    assert filled["fill msg/s"] > 0
    result = run_big(bench_server, account(1))
    assert result["messages"] == 200
    assert result["fetch flags count"] == 200
    assert (result["fetch flags bytes"] or 0) > 200 * len("* 1 FETCH (FLAGS ())")
    assert result["search header hits"] == 1
    assert result["search body hits"] == rare_count(200) == 1
    assert result["sort count"] == 200  # both servers have SORT
    assert result["new mail misses"] == 0
    assert result["new mail seen ms"] is not None
    for key in ("select ms", "fetch flags s", "search header ms", "search body ms"):
        value = result[key]
        assert value is not None and value >= 0, key
