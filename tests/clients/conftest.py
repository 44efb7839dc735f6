"""The server a sync-client test runs against: Tidings, and Dovecot to check the test itself.

`sync_endpoint` is parametrised: `tidings` (a fresh `tidings serve`) and `dovecot` (a fresh
private Dovecot from tests/support/dovecot.py, skipped with TIDINGS_SKIP_DOVECOT=1). A test
that passes against Dovecot but fails against Tidings points at a Tidings bug, not at the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

# The comparisons live in sync_state.py: let pytest show what differs when one fails.
pytest.register_assert_rewrite("tests.clients.sync_state")

from tests.clients.sync_state import Endpoint  # noqa: E402
from tests.conftest import make_server  # noqa: E402
from tests.support.dovecot import skip_requested, start_dovecot  # noqa: E402


@pytest.fixture(params=["tidings", pytest.param("dovecot", marks=pytest.mark.dovecot)])
def sync_endpoint(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Endpoint]:
    """A fresh, empty account on Tidings or on Dovecot, reached over IMAPS as `localhost`
    (the name both self-signed certificates carry)."""
    if request.param == "tidings":
        server = make_server(tmp_path / "tidings-data")
        server.start()
        try:
            yield Endpoint(
                name="tidings",
                tls_host="localhost",
                imap_port=server.imap_port,
                imaps_port=server.imaps_port,
                user=server.user,
                password=server.password,
                cert_file=server.data_dir / "tls" / "cert.pem",
            )
        finally:
            server.stop()
        return
    if skip_requested():
        pytest.skip("TIDINGS_SKIP_DOVECOT=1")
    dovecot = start_dovecot(tmp_path / "dovecot")
    try:
        yield Endpoint(
            name="dovecot",
            tls_host="localhost",
            imap_port=dovecot.imap_port,
            imaps_port=dovecot.imaps_port,
            user=dovecot.user,
            password=dovecot.password,
            cert_file=dovecot.base_dir / "cert.pem",
        )
    finally:
        dovecot.stop()
