"""IDLE clients of a running server see what `tidings deliver` (another process) commits."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from imapclient import IMAPClient
from tests.conftest import TidingsServer, tidings_command

# The bound: a delivery by another process shows up in IDLE within one second.
MAX_LATENCY = 1.0
MESSAGE = b"From: carol@example.test\nSubject: cross-process\n\nHello.\n"


def deliver_while_idling(server: TidingsServer) -> tuple[float, float]:
    """Deliver to the IDLE-ing INBOX with `tidings deliver`; return (seconds from the
    command's start, seconds from its exit) until the client saw EXISTS; fail if it never did."""
    client = IMAPClient(server.host, server.imap_port, ssl=False, timeout=10)
    try:
        client.login(server.user, server.password)
        exists = client.select_folder("INBOX")[b"EXISTS"]
        client.idle()
        started = time.monotonic()
        process = subprocess.Popen(
            tidings_command("deliver", server.user, "--data", str(server.data_dir)),
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdin is not None and process.stderr is not None
        process.stdin.write(MESSAGE)
        process.stdin.close()
        seen = ended = None
        deadline = started + 60
        while (seen is None or ended is None) and time.monotonic() < deadline:
            if ended is None and process.poll() is not None:
                ended = time.monotonic()
            if ended is not None and time.monotonic() > ended + MAX_LATENCY:
                break
            for response in client.idle_check(timeout=0.01):
                if response[1:] == (b"EXISTS",) and response[0] == exists + 1:
                    seen = time.monotonic()
        stderr = process.stderr.read()
        process.stderr.close()
        assert process.wait(timeout=60) == 0, stderr
        assert ended is not None
        client.idle_done()
        assert seen is not None, f"no EXISTS within {MAX_LATENCY}s of `tidings deliver` ending"
        return seen - started, seen - ended
    finally:
        client.logout()


def test_idle_sees_a_cli_delivery_at_once(server: TidingsServer) -> None:
    from_start, from_exit = deliver_while_idling(server)
    # Reported with `pytest -s`: the notice usually beats the CLI's own exit (negative).
    print(
        f"\ncross-process IDLE: {from_start * 1000:.0f} ms after `tidings deliver` started, "
        f"{from_exit * 1000:+.0f} ms relative to its exit"
    )
    assert from_exit < MAX_LATENCY


def test_a_stale_registration_of_a_dead_process_does_no_harm(server: TidingsServer) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    registry = Path(server.data_dir) / "run" / "notify"
    stale = registry / f"{dead.pid}-deadbeef"
    stale.write_text('{"port": 9, "token": "stale"}')
    deliver_while_idling(server)
    assert not stale.exists()
    assert len(os.listdir(registry)) == 1  # the server's own entry
    server.stop()
    assert os.listdir(registry) == []  # removed on a clean exit
