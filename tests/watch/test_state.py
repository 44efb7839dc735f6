"""The watcher's state file: locking, atomic replacement, reload, corruption."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tidings.watch.errors import ConfigError
from tidings.watch.state import MailboxState, WatchState, default_state_path

KEY = "alice@example.test@127.0.0.1:1143"


def test_set_then_reload_gives_the_same_state(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with WatchState.open(path) as state:
        assert state.get(KEY, "INBOX") is None
        state.set(KEY, "INBOX", MailboxState(uidvalidity=5, last_uid=42, highestmodseq=900))
        state.set(KEY, "Junk", MailboxState(uidvalidity=6, last_uid=3))
    document = json.loads(path.read_text())
    assert document == {
        "version": 1,
        "accounts": {
            KEY: {
                "INBOX": {"uidvalidity": 5, "last_uid": 42, "highestmodseq": 900},
                "Junk": {"uidvalidity": 6, "last_uid": 3, "highestmodseq": None},
            }
        },
    }
    with WatchState.open(path) as again:
        assert again.get(KEY, "INBOX") == MailboxState(5, 42, 900)
        assert again.get(KEY, "Junk") == MailboxState(6, 3, None)
        assert again.get("other@x:993", "INBOX") is None
        again.remove(KEY, "Junk")
        assert set(again.mailboxes(KEY)) == {"INBOX"}
    with WatchState.open(path) as third:
        assert third.get(KEY, "Junk") is None


def test_a_second_watcher_on_the_same_state_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    first = WatchState.open(path)
    try:
        with pytest.raises(ConfigError, match="is in use by another tidings watch"):
            WatchState.open(path)
        # Another process too (flock is per open file description, across processes).
        script = (
            "import sys\n"
            "from pathlib import Path\n"
            "from tidings.watch.state import WatchState\n"
            "from tidings.watch.errors import ConfigError\n"
            "try:\n"
            "    WatchState.open(Path(sys.argv[1]))\n"
            "except ConfigError as exc:\n"
            "    print(exc)\n"
            "    sys.exit(2)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", script, str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        assert "in use by another tidings watch" in result.stdout
    finally:
        first.close()
    # Released: a new watcher may open it.
    WatchState.open(path).close()


def test_writes_are_atomic_and_leave_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with WatchState.open(path) as state:
        for uid in range(1, 6):
            state.set(KEY, "INBOX", MailboxState(uidvalidity=1, last_uid=uid))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.lock"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_crash_before_the_rename_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    state = WatchState.open(path)
    state.set(KEY, "INBOX", MailboxState(uidvalidity=1, last_uid=10))
    before = path.read_bytes()

    def crash(src: object, dst: object) -> None:
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        state.set(KEY, "INBOX", MailboxState(uidvalidity=1, last_uid=11))
    monkeypatch.undo()
    state.close()
    assert path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    with WatchState.open(path) as reloaded:
        assert reloaded.get(KEY, "INBOX") == MailboxState(1, 10, None)


def test_parent_directories_are_created_private(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "state.json"
    with WatchState.open(path) as state:
        state.set(KEY, "INBOX", MailboxState(uidvalidity=1, last_uid=1))
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o700
    assert path.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is corrupt"),
        ('{"version": 2, "accounts": {}}', "not a tidings watch state"),
        ('{"version": 1, "accounts": []}', "not a tidings watch state"),
        (
            '{"version": 1, "accounts": {"k": {"INBOX": {"uidvalidity": "5", "last_uid": 1}}}}',
            "uidvalidity",
        ),
    ],
)
def test_a_bad_state_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as info:
        WatchState.open(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)
    # The failed open released its lock.
    path.write_text('{"version": 1, "accounts": {}}')
    WatchState.open(path).close()


def test_default_state_path_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_state_path() == tmp_path / "tidings" / "watch-state.json"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_state_path() == tmp_path / ".local" / "state" / "tidings" / "watch-state.json"
