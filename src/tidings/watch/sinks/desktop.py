"""Desktop notifications through `notify-send` (freedesktop.org): best effort, never retried."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Iterable

from tidings.watch.events import Event

log = logging.getLogger("tidings.watch")

NOTIFY_TIMEOUT = 5.0
"""Seconds `notify-send` may take before it is given up (no session bus, say)."""


class DesktopSink:
    """Shows `new` events as notifications; a missing notify-send is logged once."""

    name = "desktop"

    def __init__(self, kinds: Iterable[str] | None = None, program: str = "notify-send") -> None:
        self.kinds = frozenset(kinds) if kinds is not None else frozenset({"new"})
        self._program = shutil.which(program)
        if self._program is None:
            log.warning("desktop notifications: %s not found; none will be shown", program)

    async def deliver(self, event: Event) -> None:
        """Show the notification; failures are logged, never raised."""
        if self._program is None:
            return
        title, text = summary(event)
        try:
            process = await asyncio.create_subprocess_exec(
                self._program, "--app-name=tidings", title, text,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            await asyncio.wait_for(process.wait(), NOTIFY_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            log.debug("desktop notification failed: %s", exc)

    async def close(self) -> None:
        """Nothing to release."""


def summary(event: Event) -> tuple[str, str]:
    """The title and text of a notification for `event`."""
    fields = event.fields
    if event.kind == "new":
        sender = fields.get("from") or fields.get("from_address") or "unknown sender"
        return f"New mail in {event.mailbox}", f"{sender}: {fields.get('subject') or ''}"
    return f"tidings watch: {event.kind}", f"{event.account} {event.mailbox or ''}".strip()
