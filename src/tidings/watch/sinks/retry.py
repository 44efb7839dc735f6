"""Retrying a delivery: exponential backoff with jitter, for ever or up to a budget.

State events (new, flags, expunge, mailbox) are retried until the sink accepts them, because
the state file must not move past an event no one received; news about the watcher (error,
connected, disconnected) gets one attempt.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tidings.watch.events import STATE_EVENTS, Event

log = logging.getLogger("tidings.watch")


class SinkFailed(Exception):
    """One delivery attempt failed (the reason is the message)."""


class SinkGaveUp(Exception):
    """A state event was not accepted within `max_attempts`: the watcher stops."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`max_attempts` 0 means for ever; delays double from `base` up to `cap`, with jitter."""

    max_attempts: int = 0
    base: float = 1.0
    cap: float = 60.0

    def delay(self, attempt: int) -> float:
        """The pause after failed attempt number `attempt` (1-based): full-range jitter in
        the upper half, so many watchers do not retry in step."""
        ceiling = min(self.cap, self.base * 2.0 ** (attempt - 1))
        return float(ceiling * random.uniform(0.5, 1.0))


async def deliver_with_retry(
    sink_name: str, event: Event, attempt_once: Callable[[], Awaitable[None]], policy: RetryPolicy
) -> None:
    """Run `attempt_once` until it returns; SinkFailed is retried for state events."""
    if event.kind not in STATE_EVENTS:
        await attempt_once()
        return
    attempt = 0
    while True:
        attempt += 1
        try:
            await attempt_once()
            return
        except SinkFailed as exc:
            if policy.max_attempts and attempt >= policy.max_attempts:
                raise SinkGaveUp(
                    f"{sink_name}: {event.kind} event {event.id[:12]} not accepted after "
                    f"{attempt} attempts: {exc}"
                ) from None
            pause = policy.delay(attempt)
            log.warning("%s: %s (attempt %d); retrying in %.1fs", sink_name, exc, attempt, pause)
            await asyncio.sleep(pause)
