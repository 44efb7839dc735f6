"""Install a Debian package a test needs (as the test setup does on a fresh CI machine)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

_LOCK = Path("/tmp/tidings-tests-apt.lock")
_apt_state = {"updated": False}


def ensure_command(command: str, package: str) -> str:
    """Path of `command`, installing Debian `package` first if it is missing.

    Raises RuntimeError when it cannot be installed: a test that needs a client must fail
    loudly rather than skip (set TIDINGS_SKIP_APT=1 to skip such tests on purpose).
    """
    _ensure(command, package, lambda: shutil.which(command) is not None)
    found = shutil.which(command)
    if not found:
        raise RuntimeError(f"{package} installed but {command} is not on PATH")
    return found


def ensure_file(path: Path, package: str) -> Path:
    """`path` (a plugin or data file a client loads), installing `package` if it is missing;
    fails or skips as `ensure_command` does."""
    _ensure(str(path), package, path.exists)
    if not path.exists():
        raise RuntimeError(f"{package} installed but {path} is not there")
    return path


def _ensure(what: str, package: str, present: Callable[[], bool]) -> None:
    if present():
        return
    if os.environ.get("TIDINGS_SKIP_APT") == "1":
        import pytest  # noqa: PLC0415 - only needed on this path

        pytest.skip(f"{what} not installed and TIDINGS_SKIP_APT=1")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with _LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one apt-get at a time, across test processes
        if not present():
            if not _apt_state["updated"]:
                subprocess.run(
                    ["apt-get", "update"], env=env, check=False, capture_output=True, timeout=600
                )
                _apt_state["updated"] = True
            result = subprocess.run(
                ["apt-get", "install", "-y", "--no-install-recommends", package],
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            if result.returncode != 0:
                raise RuntimeError(f"apt-get install {package} failed: {result.stderr[-2000:]}")
