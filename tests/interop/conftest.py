"""Interop fixtures: one IMAP target per server (Tidings and Dovecot) behind one interface.

Every interop test takes the `imap` (shared server, unique mailbox names) or `fresh_imap`
(a new server for the test, for tests that touch INBOX) fixture and runs twice: against
Tidings, and against Dovecot. A test that fails on Dovecot is a wrong test, unless it is
marked as an intended deviation with `helpers.deviation()`.
"""

from __future__ import annotations

import contextlib
import imaplib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .helpers import (
    SECOND_PASSWORD,
    SECOND_USER,
    ImapTarget,
    safe_logout,
    unique_name,
)

SUPPORT_DOVECOT = Path(__file__).resolve().parent.parent / "support" / "dovecot.py"


def _load_dovecot_support() -> Any:
    if "interop_dovecot_support" in sys.modules:
        return sys.modules["interop_dovecot_support"]
    if not SUPPORT_DOVECOT.exists():
        pytest.skip("tests/support/dovecot.py is not there yet")
    spec = importlib.util.spec_from_file_location("interop_dovecot_support", SUPPORT_DOVECOT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _dovecot_target(server: Any) -> ImapTarget:
    return ImapTarget(
        name="dovecot",
        host=server.host,
        port=server.imap_port,
        ssl_port=server.imaps_port,
        user=server.user,
        password=server.password,
        user2=getattr(server, "second_user", SECOND_USER),
        password2=getattr(server, "second_password", SECOND_PASSWORD),
    )


def _tidings_target(server: Any) -> ImapTarget:
    return ImapTarget(
        name="tidings",
        host=server.host,
        port=server.imap_port,
        ssl_port=server.imaps_port,
        user=server.user,
        password=server.password,
        user2=SECOND_USER,
        password2=SECOND_PASSWORD,
    )


def _start_dovecot(base_dir: Path) -> Any:
    module = _load_dovecot_support()
    if module.skip_requested():
        pytest.skip(f"{module.SKIP_ENV}=1 asks to skip Dovecot")
    # Any other failure to install or start it errors loudly: the reference must be there.
    return module.start_dovecot(base_dir)


@pytest.fixture(scope="session")
def shared_dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Dovecot for the whole session (tests use unique mailbox names)."""
    server = _start_dovecot(tmp_path_factory.mktemp("dovecot-shared"))
    yield server
    server.stop()


def _params() -> list[Any]:
    return [
        pytest.param("tidings", id="tidings"),
        pytest.param("dovecot", id="dovecot", marks=pytest.mark.dovecot),
    ]


@pytest.fixture(params=_params())
def imap(request: pytest.FixtureRequest) -> Iterator[ImapTarget]:
    """The shared server of the parametrised kind; use unique mailbox names."""
    if request.param == "tidings":
        target = _tidings_target(request.getfixturevalue("shared_server"))
    else:
        target = _dovecot_target(request.getfixturevalue("shared_dovecot"))
    yield target
    target.close_all()


@pytest.fixture(params=_params())
def fresh_imap(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ImapTarget]:
    """A new server of the parametrised kind for this test alone (INBOX starts empty)."""
    if request.param == "tidings":
        target = _tidings_target(request.getfixturevalue("server"))
        yield target
        target.close_all()
        return
    server = _start_dovecot(tmp_path / "dovecot")
    target = _dovecot_target(server)
    yield target
    target.close_all()
    server.stop()


@pytest.fixture
def client(imap: ImapTarget) -> Iterator[imaplib.IMAP4]:
    """A logged-in imaplib connection to the shared server."""
    conn = imap.login()
    yield conn
    safe_logout(conn)


@pytest.fixture
def mailbox(imap: ImapTarget) -> Iterator[str]:
    """A freshly created mailbox with a unique name, deleted afterwards."""
    name = unique_name()
    conn = imap.login()
    typ, data = conn.create(name)
    assert typ == "OK", data
    safe_logout(conn)
    yield name
    cleanup = imap.login()
    with contextlib.suppress(imaplib.IMAP4.error, OSError):
        cleanup.delete(name)
    safe_logout(cleanup)
