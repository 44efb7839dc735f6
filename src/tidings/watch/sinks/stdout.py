"""JSON lines on stdout: one event per line, flushed at once."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TextIO

from tidings.watch.events import ALL_EVENTS, Event


class StdoutSink:
    """Writes each event as one JSON line and flushes (a pipe reader sees it at once)."""

    name = "stdout"

    def __init__(self, stream: TextIO | None = None, kinds: Iterable[str] | None = None) -> None:
        self._stream = stream
        self.kinds = frozenset(kinds) if kinds is not None else ALL_EVENTS

    async def deliver(self, event: Event) -> None:
        """Write the line; a closed stdout raises (retrying would not help)."""
        stream = self._stream or sys.stdout
        stream.write(event.to_bytes().decode("utf-8") + "\n")
        stream.flush()

    async def close(self) -> None:
        """Nothing to release: the stream belongs to the caller."""
