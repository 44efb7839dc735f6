"""The worker count (issue 7): `workers` in the TOML file, TIDINGS_WORKERS, --workers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tidings.config import Config, ConfigError, load_config


def test_default_is_one_worker_per_core() -> None:
    config = load_config(None, {}, environ={})
    assert config.workers is None
    assert config.worker_count == (os.cpu_count() or 1)


def test_file_then_environment_then_flag(tmp_path: Path) -> None:
    path = tmp_path / "tidings.toml"
    path.write_text("workers = 3\n")
    assert load_config(path, {}, environ={}).worker_count == 3
    assert load_config(path, {}, environ={"TIDINGS_WORKERS": "5"}).worker_count == 5
    flag = load_config(path, {"workers": 2}, environ={"TIDINGS_WORKERS": "5"})
    assert flag.worker_count == 2


@pytest.mark.parametrize("text", ["0", "-1", '"two"', "1.5", "true", '"3"'])
def test_file_rejects_a_bad_count(tmp_path: Path, text: str) -> None:
    path = tmp_path / "tidings.toml"
    path.write_text(f"workers = {text}\n")
    with pytest.raises(ConfigError, match="workers must be a whole number"):
        load_config(path, {}, environ={})


@pytest.mark.parametrize("text", ["0", "-1", "two", "1.5"])
def test_environment_rejects_a_bad_count(text: str) -> None:
    with pytest.raises(ConfigError, match="TIDINGS_WORKERS must be a whole number"):
        load_config(None, {}, environ={"TIDINGS_WORKERS": text})


def test_unknown_keys_are_still_errors(tmp_path: Path) -> None:
    path = tmp_path / "tidings.toml"
    path.write_text("wrokers = 2\n")
    with pytest.raises(ConfigError, match="unknown configuration key wrokers"):
        load_config(path, {}, environ={})


def test_config_default_field() -> None:
    assert Config(workers=4).worker_count == 4


def test_the_memory_store_defaults_to_one_process(tmp_path: Path) -> None:
    path = tmp_path / "tidings.toml"
    path.write_text('[storage]\nbackend = "memory"\n')
    assert load_config(path, {}, environ={}).worker_count == 1
    assert load_config(path, {"workers": 3}, environ={}).worker_count == 3  # refused at start
