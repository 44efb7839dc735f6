"""`run_watch`: every account's runner, one dispatcher, the state file, clean signals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from tidings.watch.config import WatchConfig
from tidings.watch.dispatcher import Dispatcher
from tidings.watch.errors import ConfigError
from tidings.watch.events import Sink
from tidings.watch.runner import AccountRunner, FatalError
from tidings.watch.sinks.retry import SinkGaveUp
from tidings.watch.state import WatchState

log = logging.getLogger("tidings.watch")

SHUTDOWN_GRACE = 5.0
"""Seconds the runners get to end after SIGTERM/SIGINT before the watcher exits anyway."""


def error_line(message: str) -> None:
    """The one line a configuration problem prints on stderr."""
    print(f"tidings watch: error: {message}", file=sys.stderr, flush=True)


async def run_watch(config: WatchConfig, sinks: Sequence[Sink]) -> int:
    """Watch every account of `config` until SIGTERM/SIGINT (or one pass with `once`);
    the exit status: 0, 2 for a configuration problem on the first connection, or 1
    when a sink gave up on a state event (its `max_attempts` ran out)."""
    try:
        state = WatchState.open(config.state_path)
    except ConfigError as exc:
        error_line(str(exc))
        return 2
    dispatcher = Dispatcher(sinks, state, dry_run=config.dry_run)
    runners = [
        AccountRunner(
            account,
            dispatcher,
            state,
            once=config.once,
            since=config.since,
            backoff_base=config.backoff_base,
            backoff_max=config.backoff_max,
        )
        for account in config.accounts
    ]
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    tasks = [asyncio.create_task(r.run(), name=f"watch {r.account.key}") for r in runners]
    stopper = asyncio.create_task(stop.wait())
    status = 0
    try:
        pending = set(tasks)
        while pending:
            done, _ = await asyncio.wait(pending | {stopper}, return_when=asyncio.FIRST_COMPLETED)
            if stopper in done:
                log.info("stopping")
                break
            for task in done & pending:
                pending.discard(task)
                failure = task.exception()
                if isinstance(failure, FatalError):
                    error_line(str(failure))
                    status = 2
                    pending.clear()
                    break
                if isinstance(failure, SinkGaveUp):
                    error_line(str(failure))
                    status = 1
                    pending.clear()
                    break
                if failure is not None:
                    raise failure
    finally:
        for task in [*tasks, stopper]:
            task.cancel()
        for runner in runners:
            runner.close()  # dropping the connections first: nothing waits on a server
        _, stuck = await asyncio.wait([*tasks, stopper], timeout=SHUTDOWN_GRACE)
        for task in stuck:
            log.warning("%s did not stop within %.0f s", task.get_name(), SHUTDOWN_GRACE)
        for sig in installed:
            loop.remove_signal_handler(sig)
        await dispatcher.close()
        state.close()
    return status
