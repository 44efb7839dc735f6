"""Fixtures for in-process IMAP tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.imap.harness import InProcessServer


@pytest.fixture
def imap_server(tmp_path: Path) -> Iterator[InProcessServer]:
    """A fresh in-process server with alice and bob."""
    server = InProcessServer(tmp_path).start()
    yield server
    server.stop()
