"""pytest fixtures for a real PostgreSQL (tests/support/postgres.py), registered for the
whole suite by `pytest_plugins` in tests/conftest.py.

`postgres_server` starts one private cluster per test session (installing PostgreSQL on the
first run on a fresh machine) and deletes it at the end, also when tests failed;
`postgres_dsn` gives each test a fresh, empty database in it, dropped afterwards.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.postgres import PostgresServer, start_postgres

_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster on 127.0.0.1 for the session, with the database
    `tidings_test` (`.dsn`). Tests that restart or kill it must leave it running.

    The cluster lives in its own temp dir, not under pytest's basetemp: when root, the
    `postgres` user must traverse its parents, and any other pytest session starting on the
    machine resets /tmp/pytest-of-USER to 0700 (and prunes old numbered dirs)."""
    server = start_postgres(Path(tempfile.mkdtemp(prefix="tidings-postgres-")))
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """The DSN of a fresh, empty database for this test alone (dropped after it)."""
    stem = re.sub(r"[^a-z0-9_]+", "_", request.node.name.lower()).strip("_")[:40]
    name = f"t{next(_database_numbers)}_{stem}"
    dsn = postgres_server.new_database(name)
    yield dsn
    if not postgres_server.is_running():
        postgres_server.start()  # a test that stopped the shared server must not break others
    with contextlib.suppress(RuntimeError):
        postgres_server.drop_database(name)
