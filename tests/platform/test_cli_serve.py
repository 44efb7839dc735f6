"""`tidings serve` as a process: listeners, --demo, SIGTERM; the demo account helpers."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tidings.cli import DEMO_ADDRESS, demo_text, ensure_demo_account
from tidings.config import Config

HAS_STORE = importlib.util.find_spec("tidings.storage.sqlite") is not None
HAS_DRIVER = HAS_STORE and importlib.util.find_spec("tidings.imap.driver") is not None
needs_store = pytest.mark.skipif(not HAS_STORE, reason="tidings.storage.sqlite not importable")
needs_server = pytest.mark.skipif(
    not HAS_DRIVER, reason="tidings.imap.driver or tidings.storage.sqlite not importable yet"
)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
    text = "\n".join(demo_text(Config(data_dir=tmp_path), "PW"))
    assert f"curl --insecure imaps://127.0.0.1:1993/INBOX -u {DEMO_ADDRESS}:PW" in text
    assert "imaplib" in text
    assert "IMAPAccount" in text and "Pass PW" in text


@needs_server
def test_serve_demo_listens_and_stops_on_sigterm(tmp_path: Path) -> None:
    imap_port, imaps_port = free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("TIDINGS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "tidings", "serve", "--data", str(tmp_path / "data"),
         "--imap", f"127.0.0.1:{imap_port}", "--imaps", f"127.0.0.1:{imaps_port}",
         "--pop3", "off", "--pop3s", "off", "--lmtp", "127.0.0.1:0", "--demo"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "data" / "demo-password").exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(1)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert f"imap listening on 127.0.0.1:{imap_port}" in stderr
    assert f"imaps listening on 127.0.0.1:{imaps_port}" in stderr
    assert "lmtp is not implemented yet" in stderr
    password = (tmp_path / "data" / "demo-password").read_text().strip()
    assert f"password  {password}" in stdout
    assert (tmp_path / "data" / "tls" / "cert.pem").exists()


@needs_server
def test_serve_reports_a_busy_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "tidings", "serve", "--data", str(tmp_path),
             "--imap", f"127.0.0.1:{port}", "--imaps", "off", "--pop3", "off",
             "--pop3s", "off", "--lmtp", "off"],
            capture_output=True, text=True, timeout=60, check=False,
        )
    assert result.returncode == 1
    assert f"error: cannot listen for imap on 127.0.0.1:{port}" in result.stderr
