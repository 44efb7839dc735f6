"""When the supervisor restarts a worker that died (sans-IO: the caller measures time).

A worker that ran for a while and then died (a bug hit by one connection, the OOM killer) is
restarted at once, so the machine keeps all its cores. One that dies again soon after it
started is probably broken by something that a restart does not fix (a full disk, a bad
store): each such quick death doubles the wait before the next attempt, up to a cap, so a
crash loop costs a few restarts a minute, not a core spinning on start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

# The first restart's delay: long enough that a tight crash loop is visible in the log
# before it is throttled, short enough that a one-off crash costs under a second.
FIRST_DELAY = 0.5
# The longest wait between attempts: a crash loop restarts at most twice a minute.
MAX_DELAY = 30.0
# A worker that ran this long was healthy; its death starts the delays over.
STABLE_AFTER = 60.0


@dataclass(slots=True)
class RestartPolicy:
    """Delays before restarting one worker slot, from how long its processes lived."""

    first_delay: float = FIRST_DELAY
    max_delay: float = MAX_DELAY
    stable_after: float = STABLE_AFTER
    _quick_deaths: int = 0

    def next_delay(self, lived: float) -> float:
        """Record a death after `lived` seconds; return the seconds to wait before the
        restart."""
        if lived >= self.stable_after:
            self._quick_deaths = 0
        delay = min(self.first_delay * 2.0**self._quick_deaths, self.max_delay)
        self._quick_deaths = min(self._quick_deaths + 1, 64)  # 2**64 * 0.5 s is past any cap
        return delay
