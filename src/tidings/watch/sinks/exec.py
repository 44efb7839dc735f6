"""Run a program per event: no shell, the event in TIDINGS_* variables and as JSON on stdin.

Exit status 0 means accepted. The program runs in its own session (process group), so a
timeout kills it and whatever it started; its output goes to the watcher's log, not to
stdout (which may carry JSON lines).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Iterable, Sequence

from tidings.watch.events import STATE_EVENTS, Event
from tidings.watch.sinks.retry import RetryPolicy, SinkFailed, deliver_with_retry

log = logging.getLogger("tidings.watch")

OUTPUT_LOGGED = 2000
"""How many characters of a failed hook's output go to the log."""


class ExecSink:
    """An exec hook with a concurrency limit and a timeout per run."""

    name = "exec"

    def __init__(
        self,
        command: Sequence[str],
        *,
        concurrency: int = 4,
        timeout: float = 60.0,
        kinds: Iterable[str] | None = None,
        max_attempts: int = 0,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        if not command:
            raise ValueError("exec sink: empty command")
        self.command = list(command)
        self.timeout = timeout
        self.kinds = frozenset(kinds) if kinds is not None else STATE_EVENTS
        self.name = f"exec {os.path.basename(self.command[0])}"
        self._slots = asyncio.Semaphore(concurrency)
        self._policy = RetryPolicy(max_attempts, backoff_base, backoff_max)
        self._running: set[asyncio.subprocess.Process] = set()

    async def deliver(self, event: Event) -> None:
        """Run the hook until it exits 0 (state events retry with backoff)."""
        await deliver_with_retry(self.name, event, lambda: self._run_once(event), self._policy)

    async def _run_once(self, event: Event) -> None:
        async with self._slots:
            try:
                process = await asyncio.create_subprocess_exec(
                    *self.command,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                    env={**os.environ, **event.environment()},
                    start_new_session=True,
                )
            except OSError as exc:
                raise SinkFailed(f"cannot run {self.command[0]}: {exc.strerror or exc}") from None
            self._running.add(process)
            try:
                output, _ = await asyncio.wait_for(
                    process.communicate(event.to_bytes() + b"\n"), self.timeout
                )
            except TimeoutError:
                _kill_group(process)
                await process.wait()
                raise SinkFailed(f"timed out after {self.timeout:g}s (killed)") from None
            finally:
                self._running.discard(process)
        if process.returncode != 0:
            text = output.decode("utf-8", "replace").strip()[-OUTPUT_LOGGED:]
            if text:
                log.warning("%s output: %s", self.name, text)
            raise SinkFailed(f"exited with status {process.returncode}")
        if output.strip():
            log.debug("%s output: %s", self.name, output.decode("utf-8", "replace").strip())

    async def close(self) -> None:
        """Kill hooks still running (on shutdown)."""
        for process in list(self._running):
            _kill_group(process)
            with contextlib.suppress(Exception):
                await process.wait()


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
