"""Fixtures for differential tests: a private Dovecot on loopback, the reference server.

Dovecot is installed with apt-get when missing (tests/support/dovecot.py); a failed install
fails the tests. They are skipped only when TIDINGS_SKIP_DOVECOT=1 is set.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# pyproject puts the checkout on sys.path (pythonpath = ["."]), so helpers import as
# `tests.support...`; make that hold when pytest is run with other options too.
_REPO_DIR = str(Path(__file__).resolve().parents[2])
if _REPO_DIR not in sys.path:
    sys.path.insert(0, _REPO_DIR)

from tests.differential.raw_imap import SUMMARY_KEY  # noqa: E402
from tests.support.dovecot import (  # noqa: E402
    DovecotServer,
    skip_requested,
    start_dovecot,
)


def _start(tmp_path_factory: pytest.TempPathFactory, name: str) -> DovecotServer:
    if skip_requested():
        pytest.skip("TIDINGS_SKIP_DOVECOT=1: differential tests against Dovecot skipped")
    return start_dovecot(tmp_path_factory.mktemp(name))


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    """One private Dovecot for the session (users alice@ and bob@example.test, as Tidings).
    Tests must use mailbox names of their own."""
    server = _start(tmp_path_factory, "dovecot")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def target_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """The server under test, one per module: Tidings (`shared_server`), or a second Dovecot
    when TIDINGS_DIFF_TARGET=dovecot (which checks the differential harness itself)."""
    if os.environ.get("TIDINGS_DIFF_TARGET", "tidings") == "dovecot":
        server = _start(tmp_path_factory, "dovecot-target")
        yield server
        server.stop()
    else:
        yield request.getfixturevalue("shared_server")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the differential summary ("N of 208 messages identical ...") after the run."""
    lines = terminalreporter.config.stash.get(SUMMARY_KEY, None)
    if lines:
        terminalreporter.section("differential summary")
        for line in lines:
            terminalreporter.write_line(line)
