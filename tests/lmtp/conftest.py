"""Fixtures of the LMTP tests: real `tidings serve` processes, default or configured."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import TidingsServer, make_server
from tests.lmtp.lmtp_support import Reconfigure, write_config


@pytest.fixture(scope="module")
def lmtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TidingsServer]:
    """One server with the default configuration for a test module. Tests find their
    messages by unique subjects and never depend on what else is in a mailbox."""
    server = make_server(tmp_path_factory.mktemp("lmtp") / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def reconfigure(server: TidingsServer, tmp_path: Path) -> Reconfigure:
    """Restart the test's own `server` with a config file made of the given tables:
    `reconfigure(limits={"lmtp_timeout": 0.5}, delivery={...})`."""

    def apply(**tables: dict[str, Any]) -> TidingsServer:
        config = write_config(tmp_path, **tables)
        server.stop()
        server.start("--config", str(config))
        return server

    return apply
