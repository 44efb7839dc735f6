"""Shared fixtures: a real `tidings serve` process on loopback with a test account."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = ["tests.support.postgres_fixtures"]  # postgres_server, postgres_dsn

TEST_USER = "alice@example.test"
TEST_PASSWORD = "correct horse battery staple"
SECOND_USER = "bob@example.test"
SECOND_PASSWORD = "bob's password"


# Ports already handed out by free_port in this process: the kernel may offer a port again
# as soon as the probe closes, and a server given the same port twice fails to start.
_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, never the same twice."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def tidings_command(*args: str) -> list[str]:
    """The argv to run the tidings CLI with this interpreter."""
    return [sys.executable, "-m", "tidings", *args]


def run_cli(
    data_dir: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `tidings --data DATA ARGS...` to completion and return the result."""
    return subprocess.run(
        tidings_command(*args),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TIDINGS_DATA": str(data_dir)},
        check=False,
    )


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    """Block until 127.0.0.1:port accepts connections."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


@dataclass
class TidingsServer:
    """A running `tidings serve` with its ports, data dir and the test accounts."""

    data_dir: Path
    imap_port: int
    imaps_port: int
    pop3_port: int = 0
    pop3s_port: int = 0
    lmtp_port: int = 0
    process: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"
    user: str = TEST_USER
    password: str = TEST_PASSWORD

    def start(self, *extra_args: str) -> None:
        """Start (or restart) the server process and wait until it listens.

        Every listener gets a port (0 = off); `extra_args` go to `tidings serve`. One
        worker process unless `extra_args` say `--workers N`: per-process state (login
        throttles, the auth cache) is what many tests check."""
        ports = {
            "imap": self.imap_port,
            "imaps": self.imaps_port,
            "pop3": self.pop3_port,
            "pop3s": self.pop3s_port,
            "lmtp": self.lmtp_port,
        }
        listen_args = [] if "--workers" in extra_args else ["--workers", "1"]
        for name, port in ports.items():
            listen_args += [f"--{name}", f"127.0.0.1:{port}" if port else "off"]
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(
            tidings_command("serve", "--data", str(self.data_dir), *listen_args, *extra_args),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        for port in ports.values():
            if port:
                self._wait_until_listening(port)

    def _wait_until_listening(self, port: int, timeout: float = 20.0) -> None:
        """Like wait_for_port, but fail at once, with the log, if the server exited."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                self.process = None
                raise RuntimeError(f"tidings serve exited at start-up:\n{self.log_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop(kill=True)
        raise TimeoutError(f"nothing listens on port {port}\n{self.log_text()}")

    def stop(self, kill: bool = False) -> None:
        """Stop the process: SIGTERM and wait, or SIGKILL when `kill`."""
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)
        self.process = None

    def log_text(self) -> str:
        """What the server printed so far."""
        path = self.data_dir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


def make_server(data_dir: Path) -> TidingsServer:
    """A stopped server on fresh ports with the two test accounts created."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for user, password in ((TEST_USER, TEST_PASSWORD), (SECOND_USER, SECOND_PASSWORD)):
        result = run_cli(data_dir, "user", "add", user, "--password-stdin", stdin=password + "\n")
        assert result.returncode == 0, result.stderr
    return TidingsServer(
        data_dir=data_dir,
        imap_port=free_port(),
        imaps_port=free_port(),
        pop3_port=free_port(),
        pop3s_port=free_port(),
        lmtp_port=free_port(),
    )


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TidingsServer]:
    """One server for the whole test session (tests must not depend on mailbox state they
    did not create themselves: use unique mailbox names)."""
    server = make_server(tmp_path_factory.mktemp("tidings-shared"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TidingsServer]:
    """A fresh server for one test, with an empty data dir."""
    instance = make_server(tmp_path / "data")
    instance.start()
    yield instance
    instance.stop()
