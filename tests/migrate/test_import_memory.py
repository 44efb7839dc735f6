"""A 1 GiB mbox imports with flat memory: the peak RSS of `tidings import mbox` on 1 GiB is
within a fixed margin of its peak on 100 MiB (the files are streamed, batches bounded).
The rate is printed for the note; it is never asserted (machines are noisy)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import run_cli
from tests.support.corpus import corpus_files

from tidings.migrate.mbox import encode_mbox_message
from tidings.migrate.source import SourceMessage, to_crlf

GIB = 1024 * 1024 * 1024
MARGIN = 64 * 1024 * 1024
"""How much more the 1 GiB import may peak at than the 100 MiB one (measured: 39 to 53 MiB,
the load of the machine moving it; a file read whole would add over 900)."""

MEASURE = (
    "import resource, sys\n"
    "from tidings.cli import main\n"
    "sys.argv = ['tidings', *sys.argv[1:]]\n"
    "try:\n"
    "    main()\n"
    "finally:\n"
    "    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "    print(f'peak-rss-kib {peak}', file=sys.stderr)\n"
)


def write_mbox_of_size(path: Path, size: int) -> int:
    """Corpus messages, each with a Message-ID of its own (named after the file), until
    `size` bytes; how many."""
    originals = [to_crlf(p.read_bytes()) for p in corpus_files()]
    count = 0
    with open(path, "wb") as stream:
        while stream.tell() < size:
            raw = originals[count % len(originals)]
            end = raw.find(b"\r\n\r\n") + 2  # after the corpus's own Message-ID: the last counts
            field = b"Message-ID: <%s-%d@example.test>\r\n" % (path.stem.encode(), count)
            raw = raw[:end] + field + raw[end:] if end > 1 else field + b"\r\n" + raw
            stream.write(encode_mbox_message(SourceMessage(raw, frozenset(), None, "INBOX")))
            count += 1
    return count


def import_peak(data: Path, path: Path) -> tuple[int, str]:
    """Peak RSS (bytes) of one `tidings import mbox`, and its output."""
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, "import", "mbox", "bulk@example.test", str(path)],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "TIDINGS_DATA": str(data)},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    match = re.search(r"peak-rss-kib (\d+)", result.stderr)
    assert match, result.stderr[-2000:]
    return int(match.group(1)) * 1024, result.stdout


@pytest.mark.slow
def test_a_1gib_mbox_imports_with_flat_memory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add = run_cli(data, "user", "add", "bulk@example.test", "--password-stdin", stdin="pw pw pw\n")
    assert add.returncode == 0, add.stderr
    small, big = tmp_path / "small.mbox", tmp_path / "big.mbox"
    small_count = write_mbox_of_size(small, 100 * 1024 * 1024)
    small_peak, _ = import_peak(data, small)
    small.unlink()
    big_count = write_mbox_of_size(big, GIB)
    big_peak, output = import_peak(data, big)
    big.unlink()
    print(
        f"\n1 GiB mbox: {output.splitlines()[0]}; peak RSS {big_peak / 2**20:.0f} MiB"
        f" ({small_peak / 2**20:.0f} MiB for 100 MiB, {small_count} messages)"
    )
    assert f"imported {big_count} messages" in output, output
    assert big_peak < small_peak + MARGIN, (small_peak, big_peak)
