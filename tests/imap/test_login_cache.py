"""The login cache over a real IMAP socket: repeated LOGINs succeed with one Argon2 run, and
a password changed meanwhile is refused at once (Limits.auth_cache_ttl)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.imap.harness import PASSWORD, USER, InProcessServer, LineClient, server_with_limits

from tidings.auth import authenticator as authenticator_module
from tidings.auth.passwords import hash_password


@pytest.fixture
def argon2_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the server's password checks (it runs in this process, in a thread)."""
    runs: list[str] = []
    real_verify = authenticator_module.verify_password

    def spy(password_hash: str, password: str) -> bool:
        runs.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(authenticator_module, "verify_password", spy)
    return runs


@pytest.fixture
def server(tmp_path: Path) -> Iterator[InProcessServer]:
    with server_with_limits(tmp_path, auth_cache_ttl=60.0) as running:
        yield running


def login_logout(port: int, password: str) -> str:
    client = LineClient(port)
    try:
        reply = client.command("L1", f'LOGIN {USER} "{password}"')[-1]
        client.command("L2", "LOGOUT")
        return reply
    finally:
        client.close()


def test_repeated_logins_run_argon2_once(server: InProcessServer, argon2_runs: list[str]) -> None:
    for _ in range(5):
        assert login_logout(server.port, PASSWORD).startswith("L1 OK")
    assert len(argon2_runs) == 1


def test_a_changed_password_is_refused_at_once(
    server: InProcessServer, argon2_runs: list[str]
) -> None:
    assert login_logout(server.port, PASSWORD).startswith("L1 OK")
    assert login_logout(server.port, PASSWORD).startswith("L1 OK")
    assert server.context is not None
    server.run_in_server(server.context.backend.set_password_hash(USER, hash_password("new")))
    assert login_logout(server.port, PASSWORD).startswith("L1 NO")
    assert login_logout(server.port, "new").startswith("L1 OK")
    assert len(argon2_runs) == 3


def test_ttl_zero_checks_every_login(tmp_path: Path, argon2_runs: list[str]) -> None:
    with server_with_limits(tmp_path, auth_cache_ttl=0.0) as running:
        for _ in range(3):
            assert login_logout(running.port, PASSWORD).startswith("L1 OK")
    assert len(argon2_runs) == 3
