"""Shared helpers for the migration tests: read an mbox from bytes, split what readers yield."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tidings.migrate.mbox import read_mbox
from tidings.migrate.source import ImportProblem, SourceMessage


def split(
    events: Iterable[SourceMessage | ImportProblem],
) -> tuple[list[SourceMessage], list[ImportProblem]]:
    """The messages and the problems among `events`, each in order."""
    messages: list[SourceMessage] = []
    problems: list[ImportProblem] = []
    for event in events:
        if isinstance(event, SourceMessage):
            messages.append(event)
        else:
            problems.append(event)
    return messages, problems


def read_bytes(
    tmp_path: Path,
    data: bytes,
    *,
    map_mozilla_status: bool = True,
    gmail_labels: bool = False,
    strip_status_headers: bool = False,
) -> tuple[list[SourceMessage], list[ImportProblem]]:
    """Read `data` as an mbox file with these read_mbox options."""
    path = tmp_path / "test.mbox"
    path.write_bytes(data)
    events = read_mbox(
        path,
        map_mozilla_status=map_mozilla_status,
        gmail_labels=gmail_labels,
        strip_status_headers=strip_status_headers,
    )
    return split(events)
