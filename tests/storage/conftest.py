"""Fixtures of the storage contract suite: every test runs against every backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.storage.storage_support import BACKEND_FACTORIES, USER, Harness


@pytest.fixture(params=sorted(BACKEND_FACTORIES))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """A fresh, empty backend with the account USER (and nothing else)."""
    instance = Harness(BACKEND_FACTORIES[request.param], tmp_path, None)
    try:
        instance.run(instance.backend.add_account(USER, "hash-1"))
        yield instance
    finally:
        instance.close()
