"""`tidings user quota`, `user junk-routing` and the quota columns of `user list`."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import TEST_USER, run_cli

from tidings.cli import parse_count, parse_size

GIB = 1024**3


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    for user in (TEST_USER, "bob@example.test"):
        added = run_cli(tmp_path, "user", "add", user, "--password-stdin", stdin="pw\n")
        assert added.returncode == 0, added.stderr
    return tmp_path


def listing(data_dir: Path) -> list[str]:
    result = run_cli(data_dir, "user", "list")
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_quota_and_junk_routing_show_in_user_list(data_dir: Path) -> None:
    assert listing(data_dir) == [
        "alice@example.test storage=0/unlimited messages=0/unlimited junk-routing=default",
        "bob@example.test storage=0/unlimited messages=0/unlimited junk-routing=default",
    ]
    quota = run_cli(
        data_dir, "user", "quota", "Alice@Example.test", "--storage", "1G", "--messages", "100000"
    )
    assert (quota.returncode, quota.stdout, quota.stderr) == (0, "", "")
    delivered = run_cli(data_dir, "deliver", TEST_USER, stdin="Subject: x\n\nbody\n")
    assert delivered.returncode == 0, delivered.stderr
    assert run_cli(data_dir, "user", "junk-routing", TEST_USER, "off").returncode == 0
    assert run_cli(data_dir, "user", "junk-routing", "bob@example.test", "on").returncode == 0
    assert listing(data_dir) == [
        f"alice@example.test storage=20/{GIB} messages=1/100000 junk-routing=off",
        "bob@example.test storage=0/unlimited messages=0/unlimited junk-routing=on",
    ]


def test_a_limit_not_given_stays_and_unlimited_clears(data_dir: Path) -> None:
    assert (
        run_cli(
            data_dir, "user", "quota", TEST_USER, "--storage", "1.5G", "--messages", "10"
        ).returncode
        == 0
    )
    assert run_cli(data_dir, "user", "quota", TEST_USER, "--messages", "none").returncode == 0
    assert listing(data_dir)[0].startswith(
        f"alice@example.test storage=0/{GIB * 3 // 2} messages=0/unlimited "
    )
    assert run_cli(data_dir, "user", "quota", TEST_USER, "--storage", "unlimited").returncode == 0
    assert run_cli(data_dir, "user", "junk-routing", TEST_USER, "default").returncode == 0
    assert listing(data_dir)[0] == (
        "alice@example.test storage=0/unlimited messages=0/unlimited junk-routing=default"
    )


@pytest.mark.parametrize(
    "args",
    [
        (),  # neither limit
        ("--storage", "lots"),
        ("--storage", "0"),
        ("--storage", "-5M"),
        ("--storage", "1.5X"),
        ("--messages", "0"),
        ("--messages", "1.5"),
    ],
)
def test_bad_quota_values_are_usage_errors(tmp_path: Path, args: tuple[str, ...]) -> None:
    # Refused before the store is opened: no account needed.
    result = run_cli(tmp_path, "user", "quota", TEST_USER, *args)
    assert result.returncode == 2
    assert "Invalid value" in result.stderr


def test_unknown_accounts_and_choices(data_dir: Path) -> None:
    missing = run_cli(data_dir, "user", "quota", "carol@example.test", "--storage", "1M")
    assert (missing.returncode, missing.stderr.strip()) == (1, "error: no such user")
    missing = run_cli(data_dir, "user", "junk-routing", "carol@example.test", "on")
    assert (missing.returncode, missing.stderr.strip()) == (1, "error: no such user")
    assert run_cli(data_dir, "user", "junk-routing", TEST_USER, "maybe").returncode == 2


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1024", 1024),
        ("100B", 100),
        ("500k", 500 * 1024),
        ("500M", 500 * 1024**2),
        ("1G", GIB),
        ("1.5G", GIB * 3 // 2),
        ("2 GiB", 2 * GIB),
        ("1T", 1024**4),
        (".5k", 512),
        ("unlimited", None),
        ("NONE", None),
    ],
)
def test_sizes_use_binary_units_like_dovecots_quota_rule(text: str, size: int | None) -> None:
    assert parse_size(text) == size


def test_counts() -> None:
    assert parse_count("100000") == 100000
    assert parse_count("unlimited") is None
    for bad in ("0", "-1", "1e3", ""):
        with pytest.raises(ValueError, match="positive"):
            parse_count(bad)
