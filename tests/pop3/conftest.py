"""Fixtures for POP3 tests: an in-process server with fast limits, and messages put in by
IMAP APPEND (the way mail reaches INBOX besides LMTP)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.pop3.harness import Pop3Harness


@pytest.fixture
def pop3_server(tmp_path: Path) -> Iterator[Pop3Harness]:
    """A fresh in-process server (POP3, POP3S, IMAP) with alice and bob, no login delay."""
    server = Pop3Harness(tmp_path).start()
    yield server
    server.stop()
