"""Where a password or an OAuth token comes from: a shell command, an environment variable or
a file. Never from the configuration file itself, so the file can be shared or committed.

The command runs through `/bin/sh -c` like goimapnotify's `passwordCmd`, so
`password_command = "pass show mail | head -1"` works as typed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from tidings.watch.errors import ConfigError

# A password manager may ask for a passphrase (pinentry) on the first call; 30 s is enough for
# a person to type one and short enough that a hung command does not stall start-up forever.
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class PasswordSource:
    """Exactly one of `command`, `env` or `file` is set; `read()` returns the secret."""

    command: str | None = None
    env: str | None = None
    file: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        given = [x for x in (self.command, self.env, self.file) if x is not None]
        if len(given) != 1:
            raise ValueError("PasswordSource needs exactly one of command, env, file")

    def describe(self) -> str:
        """Where the secret comes from, for messages (never the secret itself)."""
        if self.command is not None:
            return f"command {self.command!r}"
        if self.env is not None:
            return f"environment variable {self.env}"
        return f"file {self.file}"

    async def read(self) -> str:
        """The secret: the first line of the command's output, the variable, or the file."""
        if self.command is not None:
            return await _run(self.command, limit=self.timeout)
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise ConfigError(f"environment variable {self.env} is not set")
            secret = _first_line(value)
            if not secret:
                raise ConfigError(f"environment variable {self.env} is empty")
            return secret
        assert self.file is not None
        try:
            # A small local file: reading it inline is cheaper than a thread hop.
            text = Path(self.file).expanduser().read_text(encoding="utf-8")  # noqa: ASYNC240
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(f"cannot read password file {self.file}: {reason}") from None
        secret = _first_line(text)
        if not secret:
            raise ConfigError(f"password file {self.file} is empty")
        return secret


def _first_line(text: str) -> str:
    lines = text.splitlines()
    return lines[0] if lines else ""


async def _run(command: str, *, limit: float) -> str:
    try:
        process = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # Its own process group, so a timeout kills the whole pipeline, not just the shell.
            start_new_session=True,
        )
    except OSError as exc:
        raise ConfigError(f"password command {command!r} could not start: {exc}") from None
    try:
        out, err = await asyncio.wait_for(process.communicate(), limit)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        raise ConfigError(f"password command {command!r} timed out after {limit:g} s") from None
    detail = _first_line(err.decode("utf-8", "replace")).strip()
    if process.returncode != 0:
        why = f": {detail}" if detail else ""
        raise ConfigError(
            f"password command {command!r} failed (exit status {process.returncode}){why}"
        )
    secret = _first_line(out.decode("utf-8", "replace"))
    if not secret:
        why = f" ({detail})" if detail else ""
        raise ConfigError(f"password command {command!r} printed nothing{why}")
    return secret
