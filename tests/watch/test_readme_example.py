"""The README's `tidings watch` TOML example is a valid configuration (load_config reads it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tidings.watch.config import load_config

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_watch_example_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    match = re.search(r"```toml\n(# watch\.toml\n.*?)```", README.read_text(), re.DOTALL)
    assert match, "README has no watch.toml example"
    path = tmp_path / "watch.toml"
    path.write_text(match.group(1))
    monkeypatch.setenv("TIDINGS_WEBHOOK_SECRET", "s3cret")
    config = load_config(path)
    (account,) = config.accounts
    assert account.mailboxes == ("INBOX", "\\Junk")
    assert account.endpoint.tls == "implicit" and account.endpoint.port == 993
    assert len(account.filters) == 2
    assert [sink.kind for sink in config.sinks] == ["webhook", "stdout"]
    assert config.sinks[0].options["secret"] == "s3cret"
