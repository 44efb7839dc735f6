"""`tidings serve` on a PostgreSQL store it cannot use says why and exits 1 (issue 7)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.conftest import tidings_command


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
