"""What `tidings import` shows while it runs: a rich progress bar (messages, bytes, rate,
time left) on stderr, and the summary it prints at the end."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from tidings.migrate.importer import ImportSummary

MAX_PROBLEM_LINES = 20
"""Problems listed one per line in the summary; the rest are counted."""


class ImportBar:
    """An `ImportProgress` drawn with rich; `total_octets` (None: unknown) sizes the bar."""

    def __init__(self, total_octets: int | None, *, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[messages]} messages"),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._task: TaskID = self._progress.add_task("import", total=total_octets, messages=0)
        self._messages = 0
        self.started = time.monotonic()

    def __enter__(self) -> ImportBar:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        task = self._progress.tasks[0]
        if exc_type is None and task.total is not None:
            self._progress.update(self._task, completed=task.total)
        self._progress.stop()

    def advance(self, messages: int, octets: int) -> None:
        """Count `messages` more (of `octets`)."""
        self._messages += messages
        self._progress.update(self._task, advance=octets, messages=self._messages)

    def mailbox(self, name: str) -> None:
        """Show which mailbox messages go to now."""
        self._progress.update(self._task, description=name)


def summary_lines(summary: ImportSummary, seconds: float, *, dry_run: bool) -> list[str]:
    """The summary an import prints: counts, rate, and the problems with their reasons."""
    verb = "would import" if dry_run else "imported"
    rate = summary.imported / seconds if seconds > 0 else 0.0
    boxes = ", ".join(summary.mailboxes) or "no mailbox"
    lines = [
        f"{verb} {summary.imported} messages ({summary.octets} bytes) into {boxes}"
        f" in {seconds:.1f} s ({rate:.0f} messages/s)",
        f"skipped {summary.duplicates} duplicates (same Message-ID, size and Date)",
        f"{summary.failed} problems",
    ]
    for problem in summary.problems[:MAX_PROBLEM_LINES]:
        lines.append(f"  {problem.where}: {problem.reason}")
    if summary.failed > MAX_PROBLEM_LINES:
        lines.append(f"  ... and {summary.failed - MAX_PROBLEM_LINES} more")
    return lines
