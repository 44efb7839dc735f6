"""`tidings serve` on PostgreSQL (issue 7): a store it cannot use is a clear start-up
error; `tidings deliver` on another process reaches its IDLE sessions by LISTEN/NOTIFY."""

from __future__ import annotations

import imaplib
import subprocess
from pathlib import Path

import pytest
from tests.conftest import TidingsServer, free_port, run_cli, tidings_command


def _serve(tmp_path: Path, url: str, workers: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "node.toml"
    config.write_text(f'[storage]\nurl = "{url}"\n')
    return subprocess.run(
        tidings_command(
            "serve",
            "--data",
            str(tmp_path / "data"),
            "--config",
            str(config),
            "--workers",
            workers,
            "--imap",
            "127.0.0.1:0",
            "--imaps",
            "off",
            "--pop3",
            "off",
            "--pop3s",
            "off",
            "--lmtp",
            "off",
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_unreachable_database_is_a_clear_startup_error(tmp_path: Path, workers: str) -> None:
    result = _serve(tmp_path, "postgresql://postgres@127.0.0.1:1/nowhere", workers)
    assert result.returncode == 1
    assert "cannot open the store: cannot open the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unmigrated_database_names_db_migrate(tmp_path: Path, postgres_dsn: str) -> None:
    result = _serve(tmp_path, postgres_dsn, "1")
    assert result.returncode == 1
    assert "run `tidings db migrate`" in result.stderr


def test_tidings_deliver_wakes_idle_on_a_postgresql_node(tmp_path: Path, postgres_dsn: str) -> None:
    config = tmp_path / "node.toml"
    config.write_text(f'[storage]\nurl = "{postgres_dsn}"\nmigrate_on_start = true\n')
    data = tmp_path / "data"
    added = run_cli(
        data, "user", "add", "idle@example.test", "--password-stdin", "--config", str(config),
        stdin="pw\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    server = TidingsServer(data, imap_port=free_port(), imaps_port=0)
    server.start("--config", str(config))
    try:
        client = imaplib.IMAP4("127.0.0.1", server.imap_port)
        client.login("idle@example.test", "pw")
        client.select("INBOX")
        client.send(b"a1 IDLE\r\n")
        assert client.readline().startswith(b"+")
        delivered = run_cli(
            data, "deliver", "idle@example.test", "--config", str(config),
            stdin="Subject: pushed\r\n\r\nhello\r\n",
        )  # fmt: skip
        assert delivered.returncode == 0, delivered.stderr
        client.sock.settimeout(10)
        try:
            line = client.readline()
        except TimeoutError:
            pytest.fail("no EXISTS within 10 s of the delivery")
        assert line == b"* 1 EXISTS\r\n"
        client.send(b"DONE\r\n")
        while not (reply := client.readline()).startswith(b"a1 "):  # * 1 RECENT first
            assert reply.startswith(b"* ")
        assert reply.startswith(b"a1 OK")
        client.logout()
    finally:
        server.stop()
