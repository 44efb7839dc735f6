"""`tidings user add|passwd|remove|list` run as real processes against the SQLite store.

Quotas and junk routing (`user quota`, `user junk-routing`, their `user list` columns) are in
test_cli_quota.py."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tidings.auth.passwords import verify_password

try:
    import tidings.storage.sqlite  # noqa: F401
except ImportError:  # pragma: no cover - only while the store is being written
    pytest.skip("tidings.storage.sqlite is not importable yet", allow_module_level=True)


def cli(
    *args: str, data: Path | None = None, stdin: str | None = None, env_data: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TIDINGS_")}
    if env_data is not None:
        env["TIDINGS_DATA"] = str(env_data)
    return subprocess.run(
        [sys.executable, "-m", "tidings", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_user_lifecycle(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # --data after the subcommand
    added = cli(
        "user",
        "add",
        "Alice@Example.TEST",
        "--password-stdin",
        "--data",
        str(data),
        stdin="first password\n",
    )
    assert added.returncode == 0, added.stderr
    assert (data / "mail.db").exists()
    # --data before the subcommand
    listed = cli("--data", str(data), "user", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        "alice@example.test storage=0/unlimited messages=0/unlimited junk-routing=default"
    ]
    # TIDINGS_DATA
    again = cli("user", "add", "alice@example.test", "--password-stdin", env_data=data, stdin="x\n")
    assert again.returncode == 1
    assert again.stderr.strip() == "error: user exists"
    changed = cli(
        "user", "passwd", "alice@example.test", "--password-stdin", env_data=data, stdin="second\n"
    )
    assert changed.returncode == 0, changed.stderr
    missing = cli(
        "user", "passwd", "bob@example.test", "--password-stdin", env_data=data, stdin="second\n"
    )
    assert (missing.returncode, missing.stderr.strip()) == (1, "error: no such user")
    removed = cli("user", "remove", "alice@example.test", env_data=data)
    assert removed.returncode == 0, removed.stderr
    assert cli("user", "list", env_data=data).stdout == ""
    gone = cli("user", "remove", "alice@example.test", env_data=data)
    assert (gone.returncode, gone.stderr.strip()) == (1, "error: no such user")


def test_stored_password_verifies(tmp_path: Path) -> None:
    from tidings.storage.sqlite import SqliteBackend  # noqa: PLC0415 - may be missing

    result = cli(
        "user",
        "add",
        "carol@example.test",
        "--password-stdin",
        env_data=tmp_path,
        stdin="pass with spaces \r\n",
    )
    assert result.returncode == 0, result.stderr

    async def stored_hash() -> str | None:
        backend = await SqliteBackend.open(tmp_path / "mail.db", None)
        try:
            return await backend.password_hash("carol@example.test")
        finally:
            await backend.close()

    stored = asyncio.run(stored_hash())
    assert stored is not None and verify_password(stored, "pass with spaces ")


@pytest.mark.parametrize("address", ["nobody", "a@b@c", "a b@c", "@example.test", "a@", ""])
def test_bad_addresses_are_rejected(tmp_path: Path, address: str) -> None:
    result = cli("user", "add", address, "--password-stdin", env_data=tmp_path, stdin="pw\n")
    assert result.returncode == 1
    assert "not an email address" in result.stderr


def test_empty_password_is_rejected(tmp_path: Path) -> None:
    result = cli("user", "add", "a@example.test", "--password-stdin", env_data=tmp_path, stdin="\n")
    assert (result.returncode, result.stderr.strip()) == (1, "error: empty password")


def test_bad_config_is_a_one_line_error(tmp_path: Path) -> None:
    config = tmp_path / "t.toml"
    config.write_text("[limits]\nnope = 1\n")
    result = cli("--config", str(config), "user", "list", env_data=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "unknown configuration key limits.nope" in result.stderr
