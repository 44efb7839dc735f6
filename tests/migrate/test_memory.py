"""read_mbox streams: a 200 MB mbox is read with a flat, small memory peak."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from tidings.migrate.mbox import read_mbox
from tidings.migrate.source import SourceMessage

SIZE = 200 * 1024 * 1024
PEAK_LIMIT = 20 * 1024 * 1024


def _write_big_mbox(path: Path) -> int:
    """About SIZE bytes of ~10 KB messages, written a message at a time; how many."""
    body = b"".join(
        b"line %03d of the body, about seventy bytes, with >From quoted too....\n" % n
        for n in range(140)
    )
    body += b"\n>From a quoted line\n"
    count = written = 0
    with open(path, "wb") as file:
        while written < SIZE:
            entry = (
                b"From sender@example.test Thu Dec  3 05:46:14 2026\n"
                b"Subject: message %d\nStatus: RO\nX-Status: F\n\n" % count
            ) + body + b"\n"  # fmt: skip
            file.write(entry)
            written += len(entry)
            count += 1
    return count


@pytest.mark.slow
def test_reading_a_200_mb_mbox_keeps_memory_flat(tmp_path: Path) -> None:
    path = tmp_path / "big.mbox"
    expected = _write_big_mbox(path)
    assert path.stat().st_size >= SIZE
    started = time.monotonic()
    tracemalloc.start()
    try:
        count = 0
        for event in read_mbox(path):
            assert isinstance(event, SourceMessage)
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started
    print(
        f"read {count} messages, {SIZE >> 20} MiB, in {elapsed:.1f} s, peak {peak / 2**20:.1f} MiB"
    )
    assert count == expected
    assert peak < PEAK_LIMIT
    assert elapsed < 30
