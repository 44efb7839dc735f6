"""The server's configuration: defaults, a TOML file, environment variables, CLI flags.

Precedence, highest first: command-line flags, environment (`TIDINGS_DATA`), the TOML file
(`--config` or `TIDINGS_CONFIG`), built-in defaults. Every key is documented in README.md
("Configuration"); an unknown key is an error, so a typo never silently does nothing.

    data_dir = "/var/lib/tidings"     # relative paths are relative to the config file
    log_level = "info"
    workers = 4                       # serving processes (default: one per core)
    [listen]
    imap = "127.0.0.1:1143"           # or "off"; also imaps, pop3, pop3s, lmtp
    lmtp_socket = "/run/tidings/lmtp" # LMTP on a Unix socket too (off unless set)
    [tls]
    cert_file = "/etc/tidings/fullchain.pem"
    key_file = "/etc/tidings/privkey.pem"
    [limits]
    max_message_size = 52428800       # any field of tidings.core.limits.Limits
    [imap]
    vanished_retention_days = 30      # change log / expunged UIDs kept for QRESYNC
    [storage]
    backend = "sqlite"                # or "postgresql" (several nodes), "memory" (tests)
    url = "postgresql://tidings@db.example/tidings"   # postgresql; or TIDINGS_DATABASE_URL
    pool_size = 10                    # postgresql connections per process
    migrate_on_start = false          # else `tidings db migrate` creates/upgrades the schema
    [delivery]
    junk_routing = true               # any field of tidings.delivery.settings.DeliverySettings
    junk_rules = ["X-Spam-Flag: YES"]
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tidings.core.limits import Limits
from tidings.delivery.settings import DeliverySettings, JunkRule
from tidings.net.listener import parse_listen_address

Address = tuple[str, int]

DEFAULT_DATA_DIR = Path("tidings-data")
# The interface contract (DESIGN.md): every listener on loopback by default.
DEFAULT_LISTEN: dict[str, str] = {
    "imap": "127.0.0.1:1143",
    "imaps": "127.0.0.1:1993",
    "pop3": "127.0.0.1:1110",
    "pop3s": "127.0.0.1:1995",
    "lmtp": "127.0.0.1:2424",
}
LISTENERS = tuple(DEFAULT_LISTEN)
LOG_LEVELS = ("debug", "info", "warning", "error")

_TOP_LEVEL_KEYS = {"data_dir", "log_level", "listen", "tls", "limits", "delivery", "imap"}
_TOP_LEVEL_KEYS |= {"workers"}  # `serve --workers N` (tidings.workers), also TIDINGS_WORKERS
_TOP_LEVEL_KEYS |= {"storage"}  # [storage]: the backend (issue 7), also TIDINGS_DATABASE_URL
# [imap]: how long expunged UIDs (the change log) are kept for QRESYNC (RFC 7162 §3.2.5.2).
_IMAP_KEYS = {"vanished_retention_days"}
_LISTEN_PATH_KEYS = {"lmtp_socket"}
_TLS_KEYS = {"cert_file", "key_file"}


class ConfigError(Exception):
    """The configuration is invalid; the message says which key and why."""


STORAGE_BACKENDS = ("sqlite", "postgresql", "memory")


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """[storage]: where mail is kept (issue 7)."""

    backend: str | None = None  # one of STORAGE_BACKENDS; None: postgresql if `url`, else sqlite
    url: str | None = None  # the PostgreSQL DSN (postgresql://user:password@host/db)
    pool_size: int = 10  # PostgreSQL connections per serving process
    migrate_on_start: bool = False  # create/upgrade the PostgreSQL schema when opening it

    @property
    def kind(self) -> str:
        """The backend in use."""
        return self.backend or ("postgresql" if self.url else "sqlite")


@dataclass(frozen=True, slots=True)
class Config:
    """Everything `tidings serve` and the user commands need to know. None = listener off."""

    data_dir: Path = DEFAULT_DATA_DIR
    imap: Address | None = ("127.0.0.1", 1143)
    imaps: Address | None = ("127.0.0.1", 1993)
    pop3: Address | None = ("127.0.0.1", 1110)
    pop3s: Address | None = ("127.0.0.1", 1995)
    lmtp: Address | None = ("127.0.0.1", 2424)
    lmtp_socket: Path | None = None  # a Unix socket for LMTP, besides (or instead of) TCP
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    limits: Limits = field(default_factory=Limits)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    log_level: str = "info"
    vanished_retention_days: float = 30.0  # [imap]; see storage/sqlite/changelog.py
    workers: int | None = None  # serving processes (issue 7); None: one per core
    storage: StorageSettings = field(default_factory=StorageSettings)

    @property
    def worker_count(self) -> int:
        """How many processes `tidings serve` runs: `workers`, else one per core (one for
        the memory store, which lives in a single process)."""
        if self.workers is not None:
            return self.workers
        return 1 if self.storage.kind == "memory" else os.cpu_count() or 1

    @property
    def database_path(self) -> Path:
        """The SQLite store inside the data dir."""
        return self.data_dir / "mail.db"


def load_config(
    path: Path | None,
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Build the Config from `path` (or $TIDINGS_CONFIG), the environment and `overrides`.

    `overrides` maps Config field names to values from the command line; None means "not
    given". Listener overrides may be "HOST:PORT"/"off" strings. Raises ConfigError.
    """
    env = os.environ if environ is None else environ
    if path is None and env.get("TIDINGS_CONFIG"):
        path = Path(env["TIDINGS_CONFIG"])
    values: dict[str, Any] = {}
    if path is not None:
        values.update(_read_file(path))
    if env.get("TIDINGS_DATA"):
        values["data_dir"] = Path(env["TIDINGS_DATA"])
    if env.get("TIDINGS_DATABASE_URL"):
        storage = values.get("storage", StorageSettings())
        values["storage"] = dataclasses.replace(storage, url=env["TIDINGS_DATABASE_URL"])
    _check_storage(values.get("storage", StorageSettings()))
    if env.get("TIDINGS_WORKERS"):
        text = env["TIDINGS_WORKERS"].strip()
        values["workers"] = _workers("TIDINGS_WORKERS", int(text) if text.isdigit() else text)
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in {f.name for f in dataclasses.fields(Config)}:
            raise ConfigError(f"unknown setting {key!r}")
        if key in LISTENERS and isinstance(value, str):
            values[key] = _parse_listen(f"--{key}", value)
        elif key == "lmtp_socket":
            values[key] = None if str(value) in ("", "off") else Path(value)
        elif key == "workers":
            values[key] = _workers("--workers", value)
        else:
            values[key] = Path(value) if key == "data_dir" else value
    return Config(**values)


def _read_file(path: Path) -> dict[str, Any]:
    """The Config fields a TOML file sets, with paths resolved against its directory."""
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from error
    _reject_unknown("", document, _TOP_LEVEL_KEYS)
    base = path.parent
    values: dict[str, Any] = {}
    if "data_dir" in document:
        values["data_dir"] = base / _string("data_dir", document["data_dir"])
    if "log_level" in document:
        values["log_level"] = _log_level(document["log_level"])
    if "workers" in document:
        values["workers"] = _workers("workers", document["workers"])
    listen = _table("listen", document.get("listen", {}))
    _reject_unknown("listen.", listen, set(LISTENERS) | _LISTEN_PATH_KEYS)
    for name, text in listen.items():
        if name == "lmtp_socket":
            path_text = _string("listen.lmtp_socket", text)
            values[name] = None if path_text in ("", "off") else base / path_text
        else:
            values[name] = _parse_listen(f"listen.{name}", _string(f"listen.{name}", text))
    tls = _table("tls", document.get("tls", {}))
    _reject_unknown("tls.", tls, _TLS_KEYS)
    for key in sorted(_TLS_KEYS & tls.keys()):
        values[f"tls_{key}"] = base / _string(f"tls.{key}", tls[key])
    if "limits" in document:
        values["limits"] = limits_from_table(_table("limits", document["limits"]))
    if "imap" in document:
        imap = _table("imap", document["imap"])
        _reject_unknown("imap.", imap, _IMAP_KEYS)
        if "vanished_retention_days" in imap:
            days = _number("imap.vanished_retention_days", imap["vanished_retention_days"], False)
            if days < 0:
                raise ConfigError("imap.vanished_retention_days must not be negative")
            values["vanished_retention_days"] = days
    if "delivery" in document:
        values["delivery"] = delivery_from_table(_table("delivery", document["delivery"]))
    if "storage" in document:
        values["storage"] = storage_from_table(_table("storage", document["storage"]))
    return values


def storage_from_table(table: Mapping[str, Any]) -> StorageSettings:
    """StorageSettings from a [storage] table; unknown keys and bad values are errors."""
    known = {f.name for f in dataclasses.fields(StorageSettings)}
    _reject_unknown("storage.", table, known)
    changes: dict[str, Any] = {}
    if "backend" in table:
        backend = _string("storage.backend", table["backend"])
        if backend not in STORAGE_BACKENDS:
            raise ConfigError(
                f"storage.backend must be one of {', '.join(STORAGE_BACKENDS)}, not {backend!r}"
            )
        changes["backend"] = backend
    if "url" in table:
        changes["url"] = _string("storage.url", table["url"])
    if "pool_size" in table:
        size = _number("storage.pool_size", table["pool_size"], True)
        if size < 1:
            raise ConfigError("storage.pool_size must be at least 1")
        changes["pool_size"] = size
    if "migrate_on_start" in table:
        value = table["migrate_on_start"]
        if not isinstance(value, bool):
            raise ConfigError(f"storage.migrate_on_start must be true or false, not {value!r}")
        changes["migrate_on_start"] = value
    return StorageSettings(**changes)


def _check_storage(storage: StorageSettings) -> None:
    if storage.kind == "postgresql" and not storage.url:
        raise ConfigError(
            'storage.backend = "postgresql" needs storage.url or TIDINGS_DATABASE_URL'
        )
    if storage.url and not storage.url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("storage.url must be a postgresql:// URL")


def delivery_from_table(table: Mapping[str, Any]) -> DeliverySettings:
    """DeliverySettings with the fields of `table` replaced; unknown keys are errors."""
    known = {f.name for f in dataclasses.fields(DeliverySettings)}
    _reject_unknown("delivery.", table, known)
    changes: dict[str, Any] = {}
    for key, value in table.items():
        name = f"delivery.{key}"
        if key == "junk_rules":
            if not isinstance(value, list):
                raise ConfigError(f"{name} must be a list of 'Header: value' strings")
            try:
                changes[key] = tuple(JunkRule.parse(_string(name, item)) for item in value)
            except ValueError as error:
                raise ConfigError(f"{name}: {error}") from error
        elif key in ("recipient_delimiter", "hostname"):
            changes[key] = _string(name, value)
        else:
            if not isinstance(value, bool):
                raise ConfigError(f"{name} must be true or false, not {value!r}")
            changes[key] = value
    return dataclasses.replace(DeliverySettings(), **changes)


def limits_from_table(table: Mapping[str, Any]) -> Limits:
    """Limits with the fields of `table` replaced; unknown keys and bad values are errors."""
    known = {f.name: f for f in dataclasses.fields(Limits)}
    _reject_unknown("limits.", table, set(known))
    changes: dict[str, Any] = {}
    for key, value in table.items():
        wants_int = known[key].type in ("int", int)
        number = _number(f"limits.{key}", value, wants_int)
        if number < 0:
            raise ConfigError(f"limits.{key} must not be negative")
        changes[key] = number
    return dataclasses.replace(Limits(), **changes)


def _number(name: str, value: Any, wants_int: bool) -> int | float:
    # bool is an int subclass, but `max_line_length = true` is surely a mistake.
    if isinstance(value, int) and not isinstance(value, bool):
        return value if wants_int else float(value)
    if isinstance(value, float) and not wants_int:
        return value
    kind = "an integer" if wants_int else "a number"
    raise ConfigError(f"{name} must be {kind}, not {value!r}")


def _reject_unknown(prefix: str, table: Mapping[str, Any], known: set[str]) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(
            f"unknown configuration key {prefix}{unknown[0]}"
            f" (known: {', '.join(prefix + k for k in sorted(known))})"
        )


def _table(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a table ([{name}])")
    return value


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, not {value!r}")
    return value


def _log_level(value: Any) -> str:
    level = _string("log_level", value).lower()
    if level not in LOG_LEVELS:
        raise ConfigError(f"log_level must be one of {', '.join(LOG_LEVELS)}, not {value!r}")
    return level


def _workers(name: str, value: Any) -> int:
    """A worker count: an integer of at least 1."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ConfigError(f"{name} must be a whole number of processes, at least 1, not {value!r}")


def _parse_listen(name: str, text: str) -> Address | None:
    try:
        return parse_listen_address(text)
    except ValueError as error:
        raise ConfigError(f"{name}: {error}") from error
