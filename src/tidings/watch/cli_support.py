"""The `tidings watch` command behind typer: options to a WatchConfig and sinks, then run."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import shlex
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from tidings.watch.config import SinkConfig, WatchConfig, load_config
from tidings.watch.engine import error_line, run_watch
from tidings.watch.errors import ConfigError
from tidings.watch.events import Sink
from tidings.watch.state import default_state_path
from tidings.watch.url import account_from_url


@dataclass(frozen=True, slots=True)
class WatchOptions:
    """The flags of `tidings watch`, as typer parsed them."""

    url: str | None = None
    config: Path | None = None
    password_command: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    token_command: str | None = None
    auth: str | None = None
    mailboxes: tuple[str, ...] = ()
    exec_command: str | None = None
    webhook: str | None = None
    webhook_secret_env: str | None = None
    no_stdout: bool = False
    desktop: bool = False
    state: Path | None = None
    insecure: bool = False
    ca_file: str | None = None
    fingerprint: str | None = None
    once: bool = False
    since: str | None = None
    dry_run: bool = False
    mode: str | None = None
    poll_interval: float | None = None
    idle_restart: float | None = None
    noop_timeout: float | None = None
    include: tuple[str, ...] = field(default_factory=tuple)
    verbose: bool = False


def build_config(options: WatchOptions) -> WatchConfig:
    """The WatchConfig of `options` (ConfigError for a bad combination)."""
    since: date | None = None
    if options.since is not None:
        try:
            since = date.fromisoformat(options.since)
        except ValueError:
            raise ConfigError(f"--since {options.since!r}: expected YYYY-MM-DD") from None
    if options.config is not None:
        config = load_config(options.config)
        if options.url is not None:
            raise ConfigError("give either a URL or --config, not both")
    elif options.url is not None:
        overrides: dict[str, Any] = {
            "password_command": options.password_command,
            "password_env": options.password_env,
            "password_file": options.password_file,
            "token_command": options.token_command,
            "auth": options.auth,
            "mailboxes": list(options.mailboxes) or None,
            "ca_file": options.ca_file,
            "fingerprint": options.fingerprint,
            "insecure": True if options.insecure else None,
            "mode": options.mode,
            "poll_interval": options.poll_interval,
            "idle_restart": options.idle_restart,
            "noop_timeout": options.noop_timeout,
            "include": sorted(options.include) if options.include else None,
        }
        account = account_from_url(options.url, **overrides)
        config = WatchConfig(
            accounts=(account,), sinks=(), state_path=options.state or default_state_path()
        )
    else:
        raise ConfigError("give an IMAP URL (imaps://user@host/INBOX) or --config FILE")
    changes: dict[str, Any] = {}
    if options.state is not None:
        changes["state_path"] = options.state
    if options.once:
        changes["once"] = True
    if options.dry_run:
        changes["dry_run"] = True
    if since is not None:
        changes["since"] = since
    return dataclasses.replace(config, **changes)


def build_sinks(config: WatchConfig, options: WatchOptions) -> list[Sink]:
    """Sinks from the config file plus the command line (stdout unless --no-stdout)."""
    from tidings.watch import sinks as sink_module  # noqa: PLC0415 - keeps `--help` fast

    classes: dict[str, Any] = {
        "stdout": sink_module.StdoutSink,
        "exec": sink_module.ExecSink,
        "webhook": sink_module.WebhookSink,
        "desktop": sink_module.DesktopSink,
    }
    configured: list[SinkConfig] = list(config.sinks)
    result: list[Sink] = []
    if not options.no_stdout and not any(s.kind == "stdout" for s in configured):
        result.append(sink_module.StdoutSink())
    for sink in configured:
        if sink.kind == "stdout" and options.no_stdout:
            continue
        result.append(classes[sink.kind](**sink.options))
    if options.exec_command:
        command = shlex.split(options.exec_command)
        if not command:
            raise ConfigError("--exec: empty command")
        result.append(sink_module.ExecSink(command))
    if options.webhook:
        secret = None
        if options.webhook_secret_env:
            secret = os.environ.get(options.webhook_secret_env)
            if not secret:
                raise ConfigError(f"--webhook-secret-env: ${options.webhook_secret_env} is not set")
        result.append(sink_module.WebhookSink(options.webhook, secret=secret))
    if options.desktop:
        result.append(sink_module.DesktopSink())
    return result


def watch_command(options: WatchOptions) -> int:
    """Run `tidings watch`; returns the exit status (errors: one line on stderr, status 2)."""
    logging.basicConfig(
        level=logging.DEBUG if options.verbose else logging.INFO,
        format="tidings watch: %(message)s",
        stream=sys.stderr,
    )
    try:
        config = build_config(options)
        sinks = build_sinks(config, options)
    except ConfigError as exc:
        error_line(str(exc))
        return 2
    try:
        return asyncio.run(run_watch(config, sinks))
    except KeyboardInterrupt:
        return 0
