"""The watcher's configuration: a TOML file (`tidings watch --config FILE`) or a URL.

Every key below is optional unless marked; an unknown key or a wrong type is a ConfigError
naming the key, so a typo never silently does nothing. Relative paths are relative to the
configuration file; `~` is expanded.

    state = "~/.local/state/tidings/watch-state.json"  # default: $XDG_STATE_HOME/tidings/...
    backoff_base = 1          # reconnect delay: doubles from this ...
    backoff_max = 300         # ... up to this many seconds (with jitter)

    [defaults]                # any account key; each [[account]] overrides it
    poll_interval = 120

    [[account]]
    name = "work"             # default: the account key "user@host:port"
    host = "imap.example.com" # required
    port = 993                # default: 993 for tls = "implicit", 143 otherwise
    tls = "implicit"          # "implicit" (IMAPS), "starttls", or "none" (loopback only)
    ca_file = "corp-ca.pem"   # trust these CAs instead of the system store
    fingerprint = "sha256:AB:CD:..."  # pin the server certificate (SHA-256 of its DER)
    insecure = false          # true: do not verify the certificate (testing only)
    user = "me@example.com"   # required
    password_command = "pass show mail"  # or password_env = "VAR", or password_file = "path"
    auth = "auto"             # "auto" (a password: AUTHENTICATE PLAIN or LOGIN), "login",
                              # "plain", "xoauth2", "oauthbearer"
    token_command = "oauth2-token me"    # OAuth 2 access token for xoauth2 / oauthbearer;
                              # those need no password source
    mailboxes = ["INBOX", "\\Junk", "Lists/*"]  # names, LIST patterns (* %), special-use
    mode = "auto"             # "auto" (NOTIFY, else IDLE, else polling), "notify", "idle", "poll"
    poll_interval = 60        # seconds between polls (poll mode, and mailboxes IDLE can't cover)
    idle_restart = 1740       # re-issue IDLE after this many seconds (RFC 2177: < 29 minutes)
    noop_timeout = 30         # a server silent this long after a NOOP is considered dead
    connect_timeout = 30
    include = ["headers"]     # add "headers" and/or "body" to "new" events

    [[account.filter]]        # see tidings.watch.filters: any filter matching reports the event
    mailbox = "INBOX"
    from = "boss@example\\.com"
    subject = "(?i)urgent"
    has_attachment = true
    flags = ["\\Flagged", "!\\Seen"]

    [[sink]]                  # default: one stdout sink
    type = "stdout"           # "stdout", "exec", "webhook", "desktop"; all take events = [...]
    [[sink]]
    type = "exec"
    command = ["notify-me", "--json"]   # or a string, split like a shell would (shlex), no shell
    concurrency = 4
    timeout = 60
    max_attempts = 0          # 0: retry state events until accepted
    events = ["new"]
    [[sink]]
    type = "webhook"
    url = "https://hooks.example.com/mail"
    secret_env = "HOOK_SECRET"  # or secret = "...", or secret_file = "path"; signs the body
    timeout = 10
    max_attempts = 0

`SinkConfig.options` holds the sink constructor's keyword arguments (tidings.watch.sinks):
exec -> command (list), and, only when set, concurrency, timeout, max_attempts; webhook -> url,
secret (resolved from secret_env / secret_file at load time), and, when set, timeout,
max_attempts; every type -> kinds (frozenset, from `events`) when `events` is set.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tidings.imap.client import Endpoint
from tidings.watch.errors import ConfigError
from tidings.watch.filters import Filter, parse_filter
from tidings.watch.secrets import PasswordSource
from tidings.watch.state import default_state_path

__all__ = [
    "AccountConfig",
    "ConfigError",
    "SinkConfig",
    "WatchConfig",
    "build_account",
    "default_state_path",
    "load_config",
    "parse_command",
    "parse_webhook_url",
]

AUTH_METHODS = ("auto", "login", "plain", "xoauth2", "oauthbearer")
OAUTH_METHODS = ("xoauth2", "oauthbearer")
MODES = ("auto", "notify", "idle", "poll")
TLS_MODES = ("implicit", "starttls", "none")
INCLUDES = frozenset({"headers", "body"})
EVENT_KINDS = frozenset(
    {"new", "flags", "expunge", "mailbox", "error", "connected", "disconnected"}
)
SINK_TYPES = ("stdout", "exec", "webhook", "desktop")
# RFC 2177 §3: servers may log out a client idle for 30 minutes; re-IDLE at least every 29.
MAX_IDLE_RESTART = 1740.0
DEFAULT_PORTS = {"implicit": 993, "starttls": 143, "none": 143}

_ACCOUNT_KEYS = frozenset(
    {
        "name", "host", "port", "tls", "ca_file", "fingerprint", "insecure", "user",
        "password_command", "password_env", "password_file", "auth", "token_command",
        "mailboxes", "mode", "poll_interval", "idle_restart", "noop_timeout",
        "connect_timeout", "include", "filter",
    }
)  # fmt: skip
_PASSWORD_KEYS = ("password_command", "password_env", "password_file")
_TOP_KEYS = frozenset({"state", "backoff_base", "backoff_max", "defaults", "account", "sink"})
_SINK_KEYS = {
    "stdout": frozenset({"type", "events"}),
    "exec": frozenset({"type", "events", "command", "concurrency", "timeout", "max_attempts"}),
    "webhook": frozenset(
        {"type", "events", "url", "secret", "secret_env", "secret_file", "timeout", "max_attempts"}
    ),
    "desktop": frozenset({"type", "events"}),
}
_FINGERPRINT = re.compile(r"(?:sha256:)?((?:[0-9a-f]{2}:?){31}[0-9a-f]{2})", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """One account to watch: where, who, how to authenticate, which mailboxes, how."""

    name: str
    endpoint: Endpoint
    user: str
    auth: str
    password: PasswordSource | None
    token: PasswordSource | None
    mailboxes: tuple[str, ...]
    mode: str = "auto"
    poll_interval: float = 60.0
    idle_restart: float = MAX_IDLE_RESTART
    noop_timeout: float = 30.0
    connect_timeout: float = 30.0
    include: frozenset[str] = frozenset()
    filters: tuple[Filter, ...] = ()

    @property
    def key(self) -> str:
        """`user@host:port`: the account's key in the state file and in messages."""
        return f"{self.user}@{self.endpoint.host}:{self.endpoint.port}"


@dataclass(frozen=True, slots=True)
class SinkConfig:
    """One `[[sink]]`: its type and the constructor's keyword arguments (see module doc)."""

    kind: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WatchConfig:
    """Everything `run_watch` needs: accounts, sinks, the state file, run options."""

    accounts: tuple[AccountConfig, ...]
    sinks: tuple[SinkConfig, ...]
    state_path: Path
    once: bool = False
    dry_run: bool = False
    since: date | None = None
    backoff_base: float = 1.0
    backoff_max: float = 300.0


def load_config(path: Path) -> WatchConfig:
    """Read and validate a watcher configuration file."""
    path = Path(path).expanduser()
    try:
        with path.open("rb") as handle:
            table = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return _watch_config(table, path.parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _watch_config(table: Mapping[str, Any], base: Path) -> WatchConfig:
    _reject_unknown("", table, _TOP_KEYS)
    defaults = _table("defaults", table.get("defaults", {}))
    _reject_unknown("defaults.", defaults, _ACCOUNT_KEYS - {"name"})
    raw_accounts = table.get("account")
    if raw_accounts is None:
        raise ConfigError("no [[account]] configured")
    if not isinstance(raw_accounts, list) or not raw_accounts:
        raise ConfigError("account: must be one or more [[account]] tables")
    accounts = []
    for index, raw in enumerate(raw_accounts):
        where = f"account[{index}]"
        account = _table(where, raw)
        inherited = dict(defaults)
        if any(key in account for key in _PASSWORD_KEYS):
            # The account's own password source replaces the default one (not a conflict).
            inherited = {k: v for k, v in inherited.items() if k not in _PASSWORD_KEYS}
        merged = {**inherited, **account}
        if isinstance(merged.get("name"), str):
            where = f"account {merged['name']!r}"
        accounts.append(build_account(merged, where=where, base=base))
    keys = [a.key for a in accounts]
    for key in keys:
        if keys.count(key) > 1:
            raise ConfigError(f"account {key} is configured twice")
    raw_sinks = table.get("sink", [{"type": "stdout"}])
    if not isinstance(raw_sinks, list):
        raise ConfigError("sink: must be [[sink]] tables")
    sinks = tuple(
        _sink(_table(f"sink[{i}]", raw), f"sink[{i}]", base) for i, raw in enumerate(raw_sinks)
    )
    state = table.get("state")
    state_path = default_state_path() if state is None else _path("state", state, base)
    backoff_base = _positive("backoff_base", table.get("backoff_base", 1.0))
    backoff_max = _positive("backoff_max", table.get("backoff_max", 300.0))
    if backoff_max < backoff_base:
        raise ConfigError("backoff_max: must not be less than backoff_base")
    return WatchConfig(
        accounts=tuple(accounts),
        sinks=sinks,
        state_path=state_path,
        backoff_base=backoff_base,
        backoff_max=backoff_max,
    )


def build_account(raw: Mapping[str, Any], *, where: str, base: Path | None = None) -> AccountConfig:
    """Validate one account's keys (a TOML table, or what `account_from_url` assembled).

    `filter` may be a list of tables or already-built Filter objects.
    """
    _reject_unknown(f"{where}: ", raw, _ACCOUNT_KEYS)
    host = _string(f"{where}: host", raw.get("host"), required=True)
    user = _string(f"{where}: user", raw.get("user"), required=True)
    tls = _choice(f"{where}: tls", raw.get("tls", "implicit"), TLS_MODES)
    port = raw.get("port", DEFAULT_PORTS[tls])
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ConfigError(f"{where}: port: must be an integer from 1 to 65535")
    if tls == "none" and not is_loopback(host):
        raise ConfigError(
            f'{where}: tls: "none" is only allowed to a loopback host, not {host}'
            " (the password would cross the network in clear text)"
        )
    insecure = raw.get("insecure", False)
    if not isinstance(insecure, bool):
        raise ConfigError(f"{where}: insecure: must be true or false")
    ca_file = raw.get("ca_file")
    if ca_file is not None:
        ca_path = _path(f"{where}: ca_file", ca_file, base)
        if not ca_path.is_file():
            raise ConfigError(f"{where}: ca_file: {ca_path} does not exist")
        ca_file = str(ca_path)
    endpoint = Endpoint(
        host=host,
        port=port,
        tls=tls,
        ca_file=ca_file,
        fingerprint=_fingerprint(f"{where}: fingerprint", raw.get("fingerprint")),
        verify=not insecure,
    )
    auth = _choice(f"{where}: auth", raw.get("auth", "auto"), AUTH_METHODS)
    password = _password(where, raw, base)
    token_command = raw.get("token_command")
    token = None
    if token_command is not None:
        token = PasswordSource(command=_string(f"{where}: token_command", token_command))
    if auth in OAUTH_METHODS and token is None:
        raise ConfigError(f'{where}: auth = "{auth}" needs token_command')
    if password is None and auth not in OAUTH_METHODS:
        raise ConfigError(
            f"{where}: no password source: set password_command, password_env or password_file"
            + (' (or auth = "xoauth2" / "oauthbearer" for token_command)' if token else "")
        )
    mailboxes = _string_list(f"{where}: mailboxes", raw.get("mailboxes", ["INBOX"]))
    if not mailboxes:
        raise ConfigError(f"{where}: mailboxes: must name at least one mailbox")
    include = frozenset(_string_list(f"{where}: include", raw.get("include", [])))
    if include - INCLUDES:
        bad = ", ".join(sorted(include - INCLUDES))
        raise ConfigError(f"{where}: include: unknown item {bad} (known: body, headers)")
    idle_restart = _positive(f"{where}: idle_restart", raw.get("idle_restart", MAX_IDLE_RESTART))
    if idle_restart > MAX_IDLE_RESTART:
        raise ConfigError(
            f"{where}: idle_restart: at most {MAX_IDLE_RESTART:g} seconds"
            " (RFC 2177: servers may drop a client idle for 30 minutes)"
        )
    account = AccountConfig(
        name=_string(f"{where}: name", raw.get("name", f"{user}@{host}:{port}")),
        endpoint=endpoint,
        user=user,
        auth=auth,
        password=password,
        token=token,
        mailboxes=tuple(dict.fromkeys(mailboxes)),
        mode=_choice(f"{where}: mode", raw.get("mode", "auto"), MODES),
        poll_interval=_positive(f"{where}: poll_interval", raw.get("poll_interval", 60.0)),
        idle_restart=idle_restart,
        noop_timeout=_positive(f"{where}: noop_timeout", raw.get("noop_timeout", 30.0)),
        connect_timeout=_positive(f"{where}: connect_timeout", raw.get("connect_timeout", 30.0)),
        include=include,
        filters=_filters(where, raw.get("filter", [])),
    )
    return account


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine (localhost, 127.0.0.0/8, ::1)."""
    if host.lower() in ("localhost", "localhost.") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _one_of(where: str, raw: Mapping[str, Any], keys: Iterable[str]) -> tuple[str, str] | None:
    """The one key of `keys` that `raw` sets, with its string value (None: none of them)."""
    given = [k for k in keys if k in raw]
    if len(given) > 1:
        raise ConfigError(f"{where}: {given[1]}: set only one of {', '.join(given)}")
    if not given:
        return None
    return given[0], _string(f"{where}: {given[0]}", raw[given[0]])


def _password(where: str, raw: Mapping[str, Any], base: Path | None) -> PasswordSource | None:
    chosen = _one_of(where, raw, _PASSWORD_KEYS)
    if chosen is None:
        return None
    key, value = chosen
    if key == "password_command":
        return PasswordSource(command=value)
    if key == "password_env":
        return PasswordSource(env=value)
    return PasswordSource(file=str(_path(f"{where}: {key}", value, base)))


def _filters(where: str, value: Any) -> tuple[Filter, ...]:
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{where}: filter: must be [[account.filter]] tables")
    result = []
    for index, item in enumerate(value):
        if isinstance(item, Filter):
            result.append(item)
        else:
            name = f"{where}: filter[{index}]"
            result.append(parse_filter(_table(name, item), name))
    return tuple(result)


def _sink(raw: Mapping[str, Any], where: str, base: Path) -> SinkConfig:
    kind = _choice(f"{where}: type", raw.get("type"), SINK_TYPES)
    _reject_unknown(f"{where}: ", raw, _SINK_KEYS[kind])
    options: dict[str, Any] = {}
    if "events" in raw:
        events = frozenset(_string_list(f"{where}: events", raw["events"]))
        if events - EVENT_KINDS:
            bad = ", ".join(sorted(events - EVENT_KINDS))
            raise ConfigError(f"{where}: events: unknown event kind {bad}")
        options["kinds"] = events
    if kind == "exec":
        options["command"] = parse_command(f"{where}: command", raw.get("command"))
        if "concurrency" in raw:
            options["concurrency"] = _count(f"{where}: concurrency", raw["concurrency"], 1)
    if kind == "webhook":
        options["url"] = parse_webhook_url(f"{where}: url", raw.get("url"))
        options["secret"] = _webhook_secret(where, raw, base)
    if "timeout" in raw:
        options["timeout"] = _positive(f"{where}: timeout", raw["timeout"])
    if "max_attempts" in raw:
        options["max_attempts"] = _count(f"{where}: max_attempts", raw["max_attempts"], 0)
    return SinkConfig(kind=kind, options=options)


def parse_command(where: str, value: Any) -> list[str]:
    """An exec command: a list of strings, or one string split like a shell (no shell runs)."""
    if isinstance(value, str):
        try:
            words = shlex.split(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    elif isinstance(value, list) and all(isinstance(w, str) for w in value):
        words = list(value)
    else:
        raise ConfigError(f"{where}: must be a string or a list of strings")
    if not words or not words[0]:
        raise ConfigError(f"{where}: must name a program")
    return words


def parse_webhook_url(where: str, value: Any) -> str:
    """A webhook URL: http:// or https:// with a host (ConfigError naming `where` if not)."""
    url = _string(where, value, required=True)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise ConfigError(f"{where}: bad URL {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: bad URL {url!r}: must be http:// or https:// with a host")
    return url


def _webhook_secret(where: str, raw: Mapping[str, Any], base: Path) -> str | None:
    chosen = _one_of(where, raw, ("secret", "secret_env", "secret_file"))
    if chosen is None:
        return None
    key, value = chosen
    if key == "secret":
        return value
    if key == "secret_env":
        secret = os.environ.get(value)
        if not secret:
            raise ConfigError(f"{where}: secret_env: environment variable {value} is not set")
        return secret
    secret_path = _path(f"{where}: secret_file", value, base)
    try:
        lines = secret_path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: secret_file: cannot read {secret_path}: {exc}") from None
    if not lines or not lines[0]:
        raise ConfigError(f"{where}: secret_file: {secret_path} is empty")
    return lines[0]


def _fingerprint(where: str, value: Any) -> str | None:
    if value is None:
        return None
    text = _string(where, value)
    match = _FINGERPRINT.fullmatch(text.strip())
    if match is None:
        raise ConfigError(f"{where}: must be a SHA-256 fingerprint (64 hex digits, colons allowed)")
    return match.group(1).replace(":", "").lower()


def _reject_unknown(prefix: str, table: Mapping[str, Any], known: frozenset[str]) -> None:
    for key in table:
        if key not in known:
            raise ConfigError(f"{prefix}{key}: unknown key (known: {', '.join(sorted(known))})")


def _table(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be a table")
    return value


def _string(where: str, value: Any, *, required: bool = False) -> str:
    if value is None and required:
        raise ConfigError(f"{where}: required")
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: must be a non-empty string")
    return value


def _string_list(where: str, value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: must be a list of non-empty strings")
    return list(value)


def _choice(where: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{where}: must be one of {', '.join(choices)} (got {value!r})")
    return str(value)


def _positive(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{where}: must be a positive number of seconds (got {value!r})")
    return float(value)


def _count(where: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{where}: must be an integer >= {minimum} (got {value!r})")
    return value


def _path(where: str, value: Any, base: Path | None) -> Path:
    path = Path(_string(where, value)).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return path
