"""Fixtures of the storage contract suite: every test runs against every backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.storage.storage_support import BACKEND_FACTORIES, USER, Harness


def _location(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if backend == "postgresql":  # a fresh database on the suite's own PostgreSQL
        return request.getfixturevalue("postgres_dsn")
    return tmp_path


def _harness(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    location = _location(backend, request, tmp_path)
    instance = Harness(BACKEND_FACTORIES[backend], location, None)
    try:
        instance.run(instance.backend.add_account(USER, "hash-1"))
        yield instance
    finally:
        instance.close()


@pytest.fixture(params=sorted(BACKEND_FACTORIES))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """A fresh, empty backend with the account USER (and nothing else)."""
    yield from _harness(request.param, request, tmp_path)


@pytest.fixture
def sqlite_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """The SQLite backend alone, for tests that open its file to age rows by hand; its
    `path` is the directory holding mail.sqlite."""
    yield from _harness("sqlite", request, tmp_path)
