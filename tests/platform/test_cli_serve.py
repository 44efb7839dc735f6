"""`tidings serve` as a process: listeners, --demo, SIGTERM; the demo account helpers."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tidings.cli import DEMO_ADDRESS, demo_text, ensure_demo_account
from tidings.config import Config

HAS_STORE = importlib.util.find_spec("tidings.storage.sqlite") is not None
needs_store = pytest.mark.skipif(not HAS_STORE, reason="tidings.storage.sqlite not importable")

# Runs the CLI with a stand-in IMAP driver (greets and waits), so these tests check the CLI
# and app wiring whatever state the real driver is in.
BOOT = """
import sys, types
async def serve_connection(stream, context):
    await stream.write(b"* OK stand-in\\r\\n")
    await stream.read()
driver = types.ModuleType("tidings.imap.driver")
driver.serve_connection = serve_connection
sys.modules["tidings.imap.driver"] = driver
sys.argv[0] = "tidings"
from tidings.cli import main
main()
"""


def tidings_with_stand_in_driver(*args: str) -> list[str]:
    return [sys.executable, "-c", BOOT, *args]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def connect_when_listening(process: subprocess.Popen[str], port: int) -> socket.socket:
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, process.communicate()
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            assert time.monotonic() < deadline, "the server did not start listening"
            time.sleep(0.1)


@needs_store
def test_demo_account_is_created_once(tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path)
    password = asyncio.run(ensure_demo_account(config))
    password_file = tmp_path / "demo-password"
    assert password_file.read_text().strip() == password
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert asyncio.run(ensure_demo_account(config)) == password
    password_file.unlink()  # lost: a new password is set for the existing account
    assert asyncio.run(ensure_demo_account(config)) != password


def test_demo_text_mentions_how_to_connect(tmp_path: Path) -> None:
    facts, examples = demo_text(Config(data_dir=tmp_path), "PW")
    text = "\n".join(facts + examples)
    assert "password  PW" in text and "IMAPS     127.0.0.1:1993" in text
    assert f"curl --insecure imaps://127.0.0.1:1993/INBOX -u {DEMO_ADDRESS}:PW" in text
    assert "imaplib" in text
    assert "IMAPAccount" in text and "Pass PW" in text
    assert f"curl --insecure pop3s://127.0.0.1:1995/ -u {DEMO_ADDRESS}:PW" in text
    assert 'smtplib.LMTP("127.0.0.1", 2424)' in text and "LMTP      127.0.0.1:2424" in text


@needs_store
def test_serve_demo_listens_and_stops_on_sigterm(tmp_path: Path) -> None:
    imap_port, imaps_port = free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("TIDINGS_")}
    process = subprocess.Popen(
        tidings_with_stand_in_driver(
            "serve",
            "--data",
            str(tmp_path / "data"),
            "--imap",
            f"127.0.0.1:{imap_port}",
            "--imaps",
            f"127.0.0.1:{imaps_port}",
            "--pop3",
            "off",
            "--pop3s",
            "off",
            "--lmtp",
            "127.0.0.1:0",
            "--demo",
            "--workers",  # the stand-in driver lives in this process only
            "1",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        with connect_when_listening(process, imap_port) as client:
            assert client.recv(100) == b"* OK stand-in\r\n"
            process.send_signal(signal.SIGTERM)
            assert client.recv(100) == b""  # shutdown closed the live connection
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert f"imap listening on 127.0.0.1:{imap_port}" in stderr
    assert f"imaps listening on 127.0.0.1:{imaps_port}" in stderr
    assert "lmtp listening on 127.0.0.1:" in stderr
    assert "pop3 listening" not in stderr  # "off" turns a listener off
    password = (tmp_path / "data" / "demo-password").read_text().strip()
    assert f"password  {password}" in stdout
    assert (tmp_path / "data" / "tls" / "cert.pem").exists()


@needs_store
def test_serve_reports_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = subprocess.run(
            tidings_with_stand_in_driver(
                "serve",
                "--data",
                str(tmp_path),
                "--imap",
                f"127.0.0.1:{port}",
                "--imaps",
                "off",
                "--pop3",
                "off",
                "--pop3s",
                "off",
                "--lmtp",
                "off",
                "--workers",
                "1",
            ),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert f"error: cannot listen for imap on 127.0.0.1:{port}" in result.stderr
