"""Delivery -> `tidings watch` event latency, against Tidings and Dovecot in the same run.

    .venv/bin/python -m bench.watch_latency [--messages 30]

For each server and mechanism (NOTIFY, IDLE) it starts a watcher (a real `tidings watch`
process, JSON lines on stdout), delivers messages one at a time over LMTP and measures from
the LMTP 250 to the watcher's `new` line. Prints p50 / p99 / max in milliseconds.
Bounded: `--messages` deliveries per scenario, each waited for at most 10 s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.conftest import TEST_PASSWORD, TEST_USER, make_server
from tests.watch.support import WatcherProcess, deliver_lmtp, start_watch_dovecot, unique_subject

PASSWORD_ENV = "TIDINGS_BENCH_PASSWORD"


def measure(watcher: WatcherProcess, lmtp_port: int, count: int) -> list[float]:
    """Latencies in ms of `count` sequential deliveries."""
    latencies = []
    for _ in range(count):
        subject = unique_subject("bench")
        delivered = deliver_lmtp(lmtp_port, TEST_USER, subject)
        event = watcher.wait_for(lambda e, s=subject: e.get("subject") == s, timeout=10)[0]
        arrived = next(t for t, e in watcher.timed_events("new") if e is event)
        latencies.append((arrived - delivered) * 1000)
        time.sleep(0.05)
    return latencies


def run(name: str, args: list[str], lmtp_port: int, count: int, rows: list[Any]) -> None:
    watcher = WatcherProcess(args, env={PASSWORD_ENV: TEST_PASSWORD})
    try:
        watcher.wait_connected(timeout=30)
        values = sorted(measure(watcher, lmtp_port, count))
    finally:
        watcher.stop()
    p99 = values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]
    rows.append((name, statistics.median(values), p99, values[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=30)
    count = parser.parse_args().messages
    user = TEST_USER.replace("@", "%40")
    rows: list[Any] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        server = make_server(base / "tidings")
        server.start()
        try:
            cert = str(server.data_dir / "tls" / "cert.pem")
            url = f"imap://{user}@127.0.0.1:{server.imap_port}/INBOX"
            for mode in ("notify", "idle"):
                state = str(base / f"tidings-{mode}.json")
                args = [url, "--ca-file", cert, "--password-env", PASSWORD_ENV]
                run(f"Tidings {mode}", [*args, "--mode", mode, "--state", state],
                    server.lmtp_port, count, rows)  # fmt: skip
        finally:
            server.stop()
        dovecot = start_watch_dovecot(base / "dovecot")
        try:
            url = f"imap://{user}@127.0.0.1:{dovecot.imap_port}/INBOX"
            for mode in ("notify", "idle"):
                state = str(base / f"dovecot-{mode}.json")
                args = [url, "--insecure", "--password-env", PASSWORD_ENV]
                run(f"Dovecot {mode}", [*args, "--mode", mode, "--state", state],
                    dovecot.lmtp_port, count, rows)  # fmt: skip
        finally:
            dovecot.stop()
    print(f"{'server / mechanism':<20} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, p50, p99, worst in rows:
        print(f"{name:<20} {p50:8.1f} {p99:8.1f} {worst:8.1f}")


if __name__ == "__main__":
    main()
