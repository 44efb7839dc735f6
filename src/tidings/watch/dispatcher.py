"""The ordered event pipeline of `tidings watch`: events to sinks, then state to disk.

Each event goes to every sink whose kinds include it (all deliveries awaited concurrently);
the state advances only after every sink accepted the event, so a crash can repeat an event
but never lose one. Filtered-out `new` events advance the state without reaching a sink.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from typing import TextIO

from tidings.watch.events import STATE_EVENTS, Event, Sink
from tidings.watch.filters import Filter, event_passes
from tidings.watch.state import MailboxState, WatchState

log = logging.getLogger("tidings.watch")


class Dispatcher:
    """Serialises events of all runners; stores state in order after acceptance."""

    def __init__(
        self,
        sinks: Sequence[Sink],
        state: WatchState | None,
        *,
        dry_run: bool = False,
        stream: TextIO | None = None,
    ) -> None:
        self._sinks = list(sinks)
        self._state = state
        self._dry_run = dry_run
        self._stream = stream
        self._lock = asyncio.Lock()

    async def dispatch(
        self,
        account_key: str,
        mailbox: str,
        event: Event | None,
        new_state: MailboxState | None,
        filters: Sequence[Filter] = (),
    ) -> None:
        """Deliver `event` (may be None: only state) and then store `new_state`."""
        async with self._lock:
            if event is not None:
                if event.kind != "new" or not filters or event_passes(filters, event):
                    await self._deliver(event)
                else:
                    log.debug("filtered out: %s uid %s", event.mailbox, event.fields.get("uid"))
            if new_state is not None:
                self._store(account_key, mailbox, new_state)

    def store(self, account_key: str, mailbox: str, new_state: MailboxState) -> None:
        """Store a state that follows already accepted events."""
        self._store(account_key, mailbox, new_state)

    def _store(self, account_key: str, mailbox: str, new_state: MailboxState) -> None:
        if self._dry_run or self._state is None:
            return
        if self._state.get(account_key, mailbox) != new_state:
            self._state.set(account_key, mailbox, new_state)

    async def _deliver(self, event: Event) -> None:
        if self._dry_run:
            stream = self._stream or sys.stdout
            stream.write(json.dumps(event.to_json(), ensure_ascii=False) + "\n")
            stream.flush()
            return
        targets = [s for s in self._sinks if event.kind in s.kinds]
        results = await asyncio.gather(*(s.deliver(event) for s in targets), return_exceptions=True)
        for sink, result in zip(targets, results, strict=True):
            if isinstance(result, BaseException):
                if event.kind in STATE_EVENTS:
                    raise result
                log.warning("sink %s: %s", sink.name, result)

    async def close(self) -> None:
        """Close every sink."""
        for sink in self._sinks:
            try:
                await sink.close()
            except Exception as exc:
                log.debug("closing sink %s: %s", sink.name, exc)
