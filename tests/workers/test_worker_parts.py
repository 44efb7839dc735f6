"""The supervisor's parts without processes: the restart policy, the worker spec, binding."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tidings.app import StartupError
from tidings.config import Config
from tidings.workers.restart import RestartPolicy
from tidings.workers.supervisor import bind_listeners, close_listeners
from tidings.workers.worker import WorkerSpec, encode_spec, receive_spec


def test_quick_deaths_double_the_delay_up_to_the_cap() -> None:
    policy = RestartPolicy(first_delay=0.5, max_delay=4.0, stable_after=60.0)
    assert [policy.next_delay(lived=1.0) for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_a_worker_that_ran_a_while_is_restarted_at_once_again() -> None:
    policy = RestartPolicy(first_delay=0.5, max_delay=30.0, stable_after=60.0)
    for _ in range(5):
        policy.next_delay(lived=0.1)
    assert policy.next_delay(lived=3600.0) == 0.5
    assert policy.next_delay(lived=0.1) == 1.0


def test_a_crash_loop_never_overflows() -> None:
    policy = RestartPolicy()
    for _ in range(10_000):
        assert policy.next_delay(lived=0.0) <= policy.max_delay


def test_the_spec_crosses_a_socket_pair(tmp_path: Path) -> None:
    spec = WorkerSpec(2, Config(data_dir=tmp_path, workers=3), {"imap": [5, 6], "lmtp": [7]})
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.sendall(encode_spec(spec))
        assert receive_spec(theirs) == spec


def test_a_supervisor_that_sends_nothing_is_an_eof() -> None:
    ours, theirs = socket.socketpair()
    with theirs:
        ours.close()
        with pytest.raises(EOFError):
            receive_spec(theirs)


def test_bind_listeners_binds_each_configured_listener(tmp_path: Path) -> None:
    unix = tmp_path / "run" / "lmtp"
    config = Config(
        imap=("127.0.0.1", 0), imaps=None, pop3=None, pop3s=None, lmtp=("127.0.0.1", 0),
        lmtp_socket=unix,
    )  # fmt: skip
    bound = bind_listeners(config)
    try:
        assert sorted(bound) == ["imap", "lmtp", "lmtp_socket"]
        imap_port = bound["imap"][0].getsockname()[1]
        assert imap_port != 0 and bound["imap"][0].get_inheritable()
        with socket.create_connection(("127.0.0.1", imap_port), timeout=5):
            pass  # queued in the backlog until a worker accepts
        assert unix.is_socket()
    finally:
        close_listeners(bound, config.lmtp_socket)
    assert not unix.exists()


def test_bind_listeners_names_a_busy_port_and_closes_the_rest() -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        config = Config(imap=("127.0.0.1", 0), imaps=("127.0.0.1", port), pop3=None, pop3s=None)
        with pytest.raises(StartupError, match=f"cannot listen for imaps on 127.0.0.1:{port}"):
            bind_listeners(config)
