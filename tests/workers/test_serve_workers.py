"""`tidings serve --workers 2` as a real process tree (issue 7: every core of one machine).

Each test proves which worker serves a connection from /proc (tests/workers/procs.py), so a
test about two workers cannot pass with one doing all the work.
"""

from __future__ import annotations

import contextlib
import os
import signal
import smtplib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient
from tests.conftest import TEST_USER, TidingsServer, make_server, run_cli, tidings_command
from tests.workers.procs import alive, children, serving_pid

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")

WORKERS = 2
TIMEOUT = 10.0
# Fresh connections opened before the kernel has handed one to each worker; the chance
# that a fair accept race gives all of them to one worker is far below one in a million.
MAX_TRIES = 60
MESSAGE = b"From: carol@example.test\r\nSubject: across workers\r\n\r\nHello.\r\n"


@pytest.fixture
def workers_server(tmp_path: Path) -> Iterator[TidingsServer]:
    """A `tidings serve --workers 2` whose workers all accept."""
    server = make_server(tmp_path / "data")
    server.start("--workers", str(WORKERS))
    wait_for_log(server, f"{WORKERS} workers serving")
    yield server
    server.stop()


def wait_for_log(server: TidingsServer, text: str, count: int = 1) -> str:
    """Wait until the server's log holds `text` `count` times; the log."""
    deadline = time.monotonic() + 30
    while (log := server.log_text()).count(text) < count:
        assert server.process is not None and server.process.poll() is None, log
        assert time.monotonic() < deadline, f"never logged {text!r}:\n{log}"
        time.sleep(0.05)
    return log


def worker_pids(server: TidingsServer) -> set[int]:
    """The supervisor's worker processes (waits until there are WORKERS of them)."""
    assert server.process is not None
    deadline = time.monotonic() + 30
    while len(pids := children(server.process.pid)) != WORKERS:
        assert time.monotonic() < deadline, f"workers: {pids}\n{server.log_text()}"
        time.sleep(0.05)
    return pids


def imap_on_each_worker(server: TidingsServer) -> dict[int, IMAPClient]:
    """One IMAP connection served by each worker, by worker pid."""
    pids = worker_pids(server)
    found: dict[int, IMAPClient] = {}
    for _ in range(MAX_TRIES):
        client = IMAPClient(server.host, server.imap_port, ssl=False, timeout=TIMEOUT)
        pid = serving_pid(client.socket(), pids)
        if pid in found:
            client.shutdown()
        else:
            found[pid] = client
        if len(found) == len(pids):
            return found
    for client in found.values():
        client.shutdown()
    pytest.fail(f"{MAX_TRIES} connections, all served by worker(s) {sorted(found)}")


def lmtp_not_on(server: TidingsServer, worker: int) -> smtplib.LMTP:
    """An LMTP connection served by a worker other than `worker`."""
    pids = worker_pids(server)
    for _ in range(MAX_TRIES):
        client = smtplib.LMTP(server.host, server.lmtp_port, timeout=TIMEOUT)
        assert client.sock is not None
        if serving_pid(client.sock, pids) != worker:
            return client
        client.close()
    pytest.fail(f"{MAX_TRIES} LMTP connections, all served by worker {worker}")


def idle_until_exists(client: IMAPClient, count: int) -> None:
    """Wait in IDLE for `* count EXISTS`; fail after TIMEOUT."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        for response in client.idle_check(timeout=0.2):
            if response[1:] == (b"EXISTS",) and response[0] == count:
                client.idle_done()
                return
    pytest.fail(f"IDLE saw no * {count} EXISTS within {TIMEOUT}s")


def start_idle(client: IMAPClient, server: TidingsServer) -> int:
    """Log in, select INBOX and enter IDLE; the number of messages before."""
    client.login(server.user, server.password)
    exists = int(client.select_folder("INBOX")[b"EXISTS"])
    client.idle()
    return exists


def test_idle_on_one_worker_sees_an_append_on_the_other(workers_server: TidingsServer) -> None:
    (idler_pid, idler), (appender_pid, appender) = imap_on_each_worker(workers_server).items()
    assert idler_pid != appender_pid
    exists = start_idle(idler, workers_server)
    appender.login(workers_server.user, workers_server.password)
    appender.append("INBOX", MESSAGE)
    idle_until_exists(idler, exists + 1)
    idler.logout()
    appender.logout()


def test_lmtp_on_one_worker_wakes_idle_on_the_other(workers_server: TidingsServer) -> None:
    clients = imap_on_each_worker(workers_server)
    idler_pid, idler = next(iter(clients.items()))
    for other in list(clients.values())[1:]:
        other.shutdown()
    exists = start_idle(idler, workers_server)
    lmtp = lmtp_not_on(workers_server, idler_pid)
    try:
        assert lmtp.sendmail("carol@example.test", [TEST_USER], MESSAGE) == {}
    finally:
        lmtp.quit()
    idle_until_exists(idler, exists + 1)
    idler.logout()


def test_sigterm_stops_every_worker_and_exits_0(workers_server: TidingsServer) -> None:
    process = workers_server.process
    assert process is not None
    pids = worker_pids(workers_server)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=40) == 0, workers_server.log_text()
    workers_server.process = None
    assert not [pid for pid in pids if alive(pid)]  # the supervisor waited for them
    log = workers_server.log_text()
    assert log.count("tidings: shutting down") == WORKERS  # each worker shut down cleanly
    assert "worker=1 " in log and "worker=2 " in log
    assert os.listdir(workers_server.data_dir / "run" / "notify") == []  # relays unregistered


def test_workers_do_not_outlive_a_killed_supervisor(workers_server: TidingsServer) -> None:
    process = workers_server.process
    assert process is not None
    pids = worker_pids(workers_server)
    process.kill()
    process.wait(timeout=20)
    workers_server.process = None
    deadline = time.monotonic() + 30
    while live := [pid for pid in pids if alive(pid)]:
        assert time.monotonic() < deadline, f"workers {live} outlived their supervisor"
        time.sleep(0.05)
    assert "the supervisor is gone; shutting down" in workers_server.log_text()


def test_a_killed_worker_is_restarted_and_the_service_goes_on(
    workers_server: TidingsServer,
) -> None:
    process = workers_server.process
    assert process is not None
    victim, survivor = sorted(worker_pids(workers_server))
    os.kill(victim, signal.SIGKILL)
    log = wait_for_log(workers_server, "restarted (pid")
    assert f"(pid {victim}) was killed by SIGKILL" in log
    pids = worker_pids(workers_server)
    assert survivor in pids and victim not in pids
    replacement = (pids - {survivor}).pop()
    clients = imap_on_each_worker(workers_server)
    assert set(clients) == {survivor, replacement}
    for client in clients.values():  # both serve: the replacement is a full worker
        client.login(workers_server.user, workers_server.password)
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
        client.logout()
    workers_server.stop()
    assert "Traceback" not in workers_server.log_text()


def test_a_busy_port_fails_once_at_start(tmp_path: Path) -> None:
    server = make_server(tmp_path / "data")
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = server.imap_port = blocker.getsockname()[1]
        with pytest.raises(RuntimeError, match="exited at start-up") as failure:
            server.start("--workers", str(WORKERS))
    message = f"error: cannot listen for imap on 127.0.0.1:{port}"
    assert str(failure.value).count(message) == 1
    assert "workers serving" not in server.log_text()


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_worker_count_is_a_usage_error(tmp_path: Path, value: str) -> None:
    result = run_cli(tmp_path, "serve", "--workers", value)
    assert result.returncode == 2, result.stderr
    assert "Invalid value for '--workers'" in result.stderr


def test_a_bad_tidings_workers_is_an_error(tmp_path: Path) -> None:
    result = subprocess.run(
        tidings_command("serve"),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TIDINGS_DATA": str(tmp_path), "TIDINGS_WORKERS": "0"},
        check=False,
    )
    assert result.returncode == 1
    assert "error: TIDINGS_WORKERS must be a whole number of processes" in result.stderr


def test_the_memory_store_refuses_several_workers(tmp_path: Path) -> None:
    config = tmp_path / "tidings.toml"
    config.write_text('[storage]\nbackend = "memory"\n')
    result = run_cli(tmp_path, "serve", "--config", str(config), "--workers", "2")
    assert result.returncode == 1
    assert "error: the memory store lives in one process: it needs --workers 1" in result.stderr


def test_ctrl_c_to_the_process_group_stops_everything_cleanly(tmp_path: Path) -> None:
    """A terminal's Ctrl-C signals the supervisor and every worker at once, and an impatient
    user (or `timeout`, or systemd) may signal again: a worker already shutting down must
    finish its clean shutdown, not die of the next signal."""
    server = make_server(tmp_path / "data")
    log = open(server.data_dir / "server.log", "ab")  # noqa: SIM115 - owned by the process
    process = subprocess.Popen(
        tidings_command(
            "serve", "--data", str(server.data_dir), "--workers", str(WORKERS),
            "--imap", f"127.0.0.1:{server.imap_port}", "--imaps", "off", "--pop3", "off",
            "--pop3s", "off", "--lmtp", "off",
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a shell job has
    )  # fmt: skip
    log.close()
    server.process = process
    try:
        wait_for_log(server, f"{WORKERS} workers serving")
        pids = worker_pids(server)
        os.killpg(process.pid, signal.SIGINT)
        deadline = time.monotonic() + 40
        while (live := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
            for pid in live:  # more signals while they shut down
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            time.sleep(0.005)
        assert process.wait(timeout=40) == 0, server.log_text()
    finally:
        server.stop(kill=True)
    assert not [pid for pid in pids if alive(pid)]
    log = server.log_text()
    assert log.count("tidings: shutting down") == WORKERS
    assert "was killed by" not in log  # every worker exited 0
    assert os.listdir(server.data_dir / "run" / "notify") == []
