"""An account from a URL: `tidings watch imaps://me%40example.com@imap.example.com/INBOX`.

The URL follows RFC 5092 (IMAP URL scheme) as far as a watcher needs it:
    imaps://USER@HOST[:PORT][/MAILBOX]   TLS from the first byte (RFC 8314 §3.2), port 993
    imap://USER@HOST[:PORT][/MAILBOX]    STARTTLS (RFC 9051 §6.2.1), port 143
USER and MAILBOX are percent-decoded (`%40` is `@`, `%2F` is `/`); no MAILBOX means INBOX.
A password in the URL is refused: it would show in `ps` and in shell history. Everything else
(password source, extra mailboxes, TLS trust, timing) comes as keyword overrides, usually the
command-line flags; an override of None means "not given".
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from tidings.watch.config import AccountConfig, build_account
from tidings.watch.errors import ConfigError

_SCHEMES = {"imaps": "implicit", "imap": "starttls"}
OVERRIDES = frozenset(
    {
        "password_command", "password_env", "password_file", "token_command", "auth",
        "mailboxes", "ca_file", "fingerprint", "insecure", "mode", "poll_interval",
        "idle_restart", "noop_timeout", "include", "filters", "connect_timeout", "name",
    }
)  # fmt: skip


def account_from_url(url: str, **cli_overrides: Any) -> AccountConfig:
    """Build and validate an AccountConfig from an IMAP URL plus keyword overrides.

    `mailboxes` adds to the URL's mailbox; `filters` is a sequence of Filter.
    """
    for key in cli_overrides:
        if key not in OVERRIDES:
            raise TypeError(f"account_from_url() got an unexpected override {key!r}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"bad URL {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ConfigError(f"bad URL {url!r}: the scheme must be imaps:// or imap://")
    if not parts.hostname:
        raise ConfigError(f"bad URL {url!r}: no host")
    if parts.password is not None:
        raise ConfigError(
            "bad URL: do not put the password in the URL; use --password-command,"
            " --password-env or --password-file"
        )
    if not parts.username:
        raise ConfigError(f"bad URL {url!r}: no user (imaps://USER@HOST/; write @ in USER as %40)")
    if parts.query or parts.fragment:
        raise ConfigError(f"bad URL {url!r}: query strings and fragments are not supported")
    # RFC 5092 §6: ";UIDVALIDITY=", ";UID=" etc. select messages, not a mailbox to watch.
    mailbox = unquote(parts.path.lstrip("/")).rstrip("/")
    if ";" in parts.path:
        raise ConfigError(f"bad URL {url!r}: message parameters (;UID=...) are not supported")
    raw: dict[str, Any] = {
        "host": parts.hostname,
        "user": unquote(parts.username),
        "tls": _SCHEMES[scheme],
    }
    if port is not None:
        raw["port"] = port
    extra = cli_overrides.pop("mailboxes", None) or ()
    raw["mailboxes"] = [mailbox or "INBOX", *extra]
    filters = cli_overrides.pop("filters", None)
    if filters:
        raw["filter"] = list(filters)
    for key, value in cli_overrides.items():
        if value is not None:
            raw[key] = value
    if isinstance(raw.get("include"), set | frozenset):
        raw["include"] = sorted(raw["include"])
    # The URL names the account in messages; it cannot carry a password (refused above).
    return build_account(raw, where=url)
