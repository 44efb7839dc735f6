"""The parent process of `tidings serve --workers N` (issue 7: one machine, every core).

It binds every configured listening socket itself, so a busy port fails once, at start, with
the usual message, and port 0 means one port that all workers share. It creates the TLS
certificate and migrates the store before any worker starts, so workers never race on a
first start. Then it runs N workers (`tidings.workers.worker`) that inherit the sockets:
the kernel queues each connection on the shared socket until some worker accepts it.

It reports ready once every worker accepts. SIGTERM/SIGINT are passed on to the workers
(as a `STOP` on each one's control socket, see worker.py), which shut down cleanly, and it
waits for them; one still running after STOP_TIMEOUT is killed. A worker that dies is restarted
(`restart.RestartPolicy`), so one crash never takes the machine's service down; a worker
that dies before it was ever ready at start-up is a start-up error, since no restart fixes
a bad configuration.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tidings.app import StartupError, open_store_for_serving, signals_set
from tidings.config import Config
from tidings.net.listener import (
    bind_listening_sockets,
    bind_unix_listening_socket,
    format_address,
)
from tidings.net.tls import load_or_create_certificate
from tidings.workers.restart import RestartPolicy
from tidings.workers.worker import READY, STOP, WorkerSpec, encode_spec

logger = logging.getLogger("tidings.workers")

# How long a worker may take from exec to accepting (imports, opening the store).
START_TIMEOUT = 60.0
# How long workers get to shut down after SIGTERM before they are killed: each one allows
# its sessions SHUTDOWN_GRACE (5 s) to finish, then waits up to 5 s for its servers.
STOP_TIMEOUT = 30.0
# How long a worker that failed to start gets to exit by itself (and report its own status).
EXIT_TIMEOUT = 5.0
LISTENER_NAMES = ("imap", "imaps", "pop3", "pop3s", "lmtp")


@dataclass(slots=True)
class _Slot:
    """One worker position: the current process, when it started, its restart policy."""

    index: int
    process: asyncio.subprocess.Process | None = None
    control: socket.socket | None = None
    started: float = 0.0
    policy: RestartPolicy = field(default_factory=RestartPolicy)


async def run_supervisor(
    config: Config,
    *,
    ready: Callable[[], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve with `config.worker_count` worker processes until SIGTERM/SIGINT (or `stop`).

    `ready` is called once every worker accepts connections. Raises StartupError."""
    if config.storage.kind == "memory":
        raise StartupError("the memory store lives in one process: it needs --workers 1")
    await prepare_store(config)
    bound = bind_listeners(config)
    try:
        supervisor = Supervisor(config, bound, config.worker_count)
        await supervisor.run(ready, stop if stop is not None else asyncio.Event())
    finally:
        close_listeners(bound, config.lmtp_socket)


async def prepare_store(config: Config) -> None:
    """Do once what every worker would otherwise race to do on a first start: make the
    self-signed certificate (if none is configured) and create or migrate the store."""
    try:
        load_or_create_certificate(config.data_dir, config.tls_cert_file, config.tls_key_file)
    except (OSError, ValueError) as error:
        raise StartupError(f"cannot load the TLS certificate: {error}") from error
    backend = await open_store_for_serving(config)
    await backend.close()


def bind_listeners(config: Config) -> dict[str, list[socket.socket]]:
    """Every configured listening socket, by listener name. Raises StartupError."""
    bound: dict[str, list[socket.socket]] = {}
    try:
        for name in LISTENER_NAMES:
            address: tuple[str, int] | None = getattr(config, name)
            if address is None:
                continue
            try:
                bound[name] = bind_listening_sockets(*address)
            except OSError as error:
                where = format_address(*address)
                reason = error.strerror or error
                raise StartupError(f"cannot listen for {name} on {where}: {reason}") from error
            for sock in bound[name]:
                logger.info("%s listening on %s", name, format_address(*sock.getsockname()[:2]))
        if config.lmtp_socket is not None:
            try:
                bound["lmtp_socket"] = [bind_unix_listening_socket(config.lmtp_socket)]
            except OSError as error:
                raise StartupError(
                    f"cannot listen for lmtp on {config.lmtp_socket}: {error.strerror or error}"
                ) from error
            logger.info("lmtp listening on unix:%s", config.lmtp_socket)
    except BaseException:
        close_listeners(bound, None)
        raise
    return bound


def close_listeners(bound: dict[str, list[socket.socket]], unix_path: Path | None) -> None:
    """Close the supervisor's listening sockets; remove the Unix socket file it made."""
    for sockets in bound.values():
        for sock in sockets:
            sock.close()
    if unix_path is not None and "lmtp_socket" in bound:
        with contextlib.suppress(OSError):
            unix_path.unlink()


class Supervisor:
    """Runs and restarts the worker processes."""

    def __init__(self, config: Config, bound: dict[str, list[socket.socket]], count: int) -> None:
        self._config = config
        self._fds = {name: [sock.fileno() for sock in socks] for name, socks in bound.items()}
        self._slots = [_Slot(index) for index in range(1, count + 1)]
        self._stopping = False

    async def run(self, ready: Callable[[], None] | None, stop: asyncio.Event) -> None:
        """Start every worker, call `ready`, keep them running until `stop` is set, then
        stop them. Raises StartupError if a worker fails to start the first time."""
        keepers: list[asyncio.Task[None]] = []
        with signals_set(stop):
            try:
                await self._start_all(stop)
                if stop.is_set():
                    return
                pids = ", ".join(str(slot.process.pid) for slot in self._slots if slot.process)
                logger.info("%d workers serving (pids %s)", len(self._slots), pids)
                if ready is not None:
                    ready()
                keepers = [asyncio.create_task(self._keep(slot)) for slot in self._slots]
                await stop.wait()
                logger.info("shutting down")
            finally:
                self._stopping = True
                for keeper in keepers:
                    keeper.cancel()
                await asyncio.gather(*keepers, return_exceptions=True)
                await self._stop_all()

    async def _start_all(self, stop: asyncio.Event) -> None:
        """Start every worker and wait until all accept (or until `stop`). Raises the first
        StartupError."""
        for slot in self._slots:  # spawned one by one, so each is recorded for _stop_all
            await self._spawn(slot)
        readiness = asyncio.gather(
            *(self._wait_ready(slot) for slot in self._slots), return_exceptions=True
        )
        stopped = asyncio.ensure_future(stop.wait())
        waiting: list[asyncio.Future[Any]] = [readiness, stopped]
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not readiness.done():  # a signal during start-up: stop what has started
                readiness.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await readiness
        if readiness.done() and not readiness.cancelled():
            for outcome in readiness.result():
                if isinstance(outcome, BaseException):
                    raise outcome

    async def _start(self, slot: _Slot) -> None:
        """Start the worker of `slot` and wait until it accepts. Raises StartupError."""
        await self._spawn(slot)
        await self._wait_ready(slot)

    async def _spawn(self, slot: _Slot) -> None:
        """Run a worker process for `slot` and send it its spec. Raises StartupError."""
        ours, theirs = socket.socketpair()
        slot.control = ours
        slot.process = None
        try:
            fds = [fd for fds in self._fds.values() for fd in fds]
            slot.started = time.monotonic()
            slot.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tidings.workers",
                str(theirs.fileno()),
                pass_fds=(theirs.fileno(), *fds),
                stdin=subprocess.DEVNULL,
            )
        except OSError as error:
            raise StartupError(f"cannot start worker {slot.index}: {error}") from error
        finally:
            theirs.close()
        ours.setblocking(False)
        spec = WorkerSpec(slot.index, self._config, self._fds)
        # A few KiB into an empty socket buffer; a worker that died already shows in
        # _wait_ready.
        with contextlib.suppress(OSError):
            await asyncio.get_running_loop().sock_sendall(ours, encode_spec(spec))

    async def _wait_ready(self, slot: _Slot) -> None:
        """Wait until the worker of `slot` says it accepts. Raises StartupError (after
        ending the worker) if it dies or times out first."""
        process, control = slot.process, slot.control
        assert process is not None and control is not None
        try:
            loop = asyncio.get_running_loop()
            answer = await asyncio.wait_for(loop.sock_recv(control, 1), START_TIMEOUT)
        except (OSError, TimeoutError):
            answer = b""
        if answer != READY:
            status = await _end(process)
            raise StartupError(
                f"worker {slot.index} (pid {process.pid}) failed to start"
                f" ({_describe(status)}); its log says why"
            )

    async def _keep(self, slot: _Slot) -> None:
        """Restart the worker of `slot` whenever it dies, until shutdown."""
        while True:
            status = await slot.process.wait() if slot.process is not None else None
            if self._stopping:
                return
            lived = time.monotonic() - slot.started
            delay = slot.policy.next_delay(lived)
            pid = slot.process.pid if slot.process is not None else "?"
            logger.warning(
                "worker %d (pid %s) %s after %.1fs; restarting it in %.1fs",
                slot.index,
                pid,
                _describe(status),
                lived,
                delay,
            )
            _close_control(slot)
            await asyncio.sleep(delay)
            try:
                await self._start(slot)
            except StartupError as error:
                logger.error("%s", error)
                continue
            pid = slot.process.pid if slot.process is not None else "?"
            logger.info("worker %d restarted (pid %s)", slot.index, pid)

    async def _stop_all(self) -> None:
        """Tell every worker to stop (SIGTERM if its control socket is gone), wait for them;
        SIGKILL those still running after STOP_TIMEOUT."""
        running = [slot.process for slot in self._slots if slot.process is not None]
        for slot in self._slots:
            if slot.process is not None and slot.process.returncode is None:
                _ask_to_stop(slot)
        waits = [asyncio.ensure_future(process.wait()) for process in running]
        if waits:
            _, late = await asyncio.wait(waits, timeout=STOP_TIMEOUT)
            for process in running:
                if process.returncode is None:
                    logger.warning("worker (pid %d) did not stop; killing it", process.pid)
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
            if late:
                await asyncio.wait(late)
        for slot in self._slots:
            _close_control(slot)
        for process in running:
            if process.returncode != 0:
                logger.warning("worker (pid %d) %s", process.pid, _describe(process.returncode))


async def _end(process: asyncio.subprocess.Process) -> int:
    """Wait for a failed worker to exit (it usually is exiting already; else it is
    terminated, then killed); its status."""
    with contextlib.suppress(TimeoutError):
        return await asyncio.wait_for(process.wait(), EXIT_TIMEOUT)
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        return await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
    except TimeoutError:
        process.kill()
        return await process.wait()


def _ask_to_stop(slot: _Slot) -> None:
    """Send STOP on the worker's control socket; SIGTERM if that fails."""
    try:
        if slot.control is None:
            raise OSError("no control socket")
        slot.control.send(STOP)  # one byte into an idle socket's buffer: never blocks
    except OSError:
        if slot.process is not None:
            with contextlib.suppress(ProcessLookupError):
                slot.process.terminate()


def _close_control(slot: _Slot) -> None:
    if slot.control is not None:
        slot.control.close()
        slot.control = None


def _describe(status: int | None) -> str:
    """`exited with status 1`, `was killed by SIGKILL`, ..."""
    if status is None:
        return "did not start"
    if status < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-status).name}"
    return f"exited with status {status}"
