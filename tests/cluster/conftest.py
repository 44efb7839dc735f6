"""Fixtures for the cluster tests: two nodes on a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cluster.cluster_support import Node, make_node
from tests.conftest import TEST_PASSWORD, TEST_USER

_reports = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report, so a fixture's teardown knows whether the test failed."""
    del call
    report = yield
    item.stash.setdefault(_reports, {})[report.when] = report
    return report


@pytest.fixture
def nodes(
    tmp_path: Path, postgres_dsn: str, request: pytest.FixtureRequest
) -> Iterator[tuple[Node, Node]]:
    """Nodes A and B, both running on one fresh database, with alice's account (created
    through A, seen by B through the database). Both are stopped afterwards, killed if they
    do not stop; their logs are printed when the test failed."""
    node_a = make_node(tmp_path, "node-a", postgres_dsn)
    node_b = make_node(tmp_path, "node-b", postgres_dsn)
    node_a.cli("user", "add", TEST_USER, "--password-stdin", stdin=TEST_PASSWORD + "\n")
    try:
        node_a.start()
        node_b.start()
        yield node_a, node_b
    finally:
        for node in (node_a, node_b):
            try:
                node.stop()
            except Exception:  # the other node must still be stopped
                node.kill()
        reports = request.node.stash.get(_reports, {})
        if any(report.failed for report in reports.values()):
            for node in (node_a, node_b):
                print(f"--- {node.name} log (tail) ---\n{node.server.log_text()[-6000:]}")
