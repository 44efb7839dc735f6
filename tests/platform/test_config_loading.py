"""Configuration: defaults, TOML file, environment, CLI overrides, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidings.config import Config, ConfigError, load_config
from tidings.core.limits import Limits


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tidings.toml"
    path.write_text(text)
    return path


def test_defaults() -> None:
    config = load_config(None, {}, environ={})
    assert config == Config()
    assert config.data_dir == Path("tidings-data")
    assert config.imap == ("127.0.0.1", 1143)
    assert config.imaps == ("127.0.0.1", 1993)
    assert config.pop3 == ("127.0.0.1", 1110)
    assert config.pop3s == ("127.0.0.1", 1995)
    assert config.lmtp == ("127.0.0.1", 2424)
    assert config.limits == Limits()
    assert config.database_path == Path("tidings-data/mail.db")


def test_full_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
data_dir = "store"
log_level = "DEBUG"
[listen]
imap = "0.0.0.0:143"
imaps = "[::]:993"
pop3 = "off"
[tls]
cert_file = "/etc/tidings/cert.pem"
key_file = "key.pem"
[limits]
max_message_size = 1000
auth_failure_delay = 1
""",
    )
    config = load_config(path, {}, environ={})
    assert config.data_dir == tmp_path / "store"  # relative to the file
    assert config.log_level == "debug"
    assert config.imap == ("0.0.0.0", 143)
    assert config.imaps == ("::", 993)
    assert config.pop3 is None
    assert config.pop3s == ("127.0.0.1", 1995)
    assert config.tls_cert_file == Path("/etc/tidings/cert.pem")
    assert config.tls_key_file == tmp_path / "key.pem"
    assert config.limits.max_message_size == 1000
    assert config.limits.auth_failure_delay == 1.0
    assert config.limits.max_bad_commands == Limits().max_bad_commands


def test_precedence_cli_over_env_over_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'data_dir = "from-file"\n[listen]\nimap = "127.0.0.1:1"\n')
    env = {"TIDINGS_DATA": "/from/env", "TIDINGS_CONFIG": str(path)}
    assert load_config(None, {}, environ={}).data_dir == Path("tidings-data")
    assert load_config(path, {}, environ={}).data_dir == tmp_path / "from-file"
    assert load_config(None, {}, environ=env).data_dir == Path("/from/env")
    assert load_config(None, {}, environ=env).imap == ("127.0.0.1", 1)  # TIDINGS_CONFIG read
    overridden = load_config(None, {"data_dir": "/cli", "imap": "off", "lmtp": None}, environ=env)
    assert overridden.data_dir == Path("/cli")
    assert overridden.imap is None
    assert overridden.lmtp == ("127.0.0.1", 2424)  # None means "flag not given"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bogus = 1", "unknown configuration key bogus"),
        ("[limits]\nmax_line_lenght = 5", "unknown configuration key limits.max_line_lenght"),
        ("[listen]\nsmtp = 'off'", "unknown configuration key listen.smtp"),
        ("[tls]\ncert = 'x'", "unknown configuration key tls.cert"),
        ("[limits]\nmax_line_length = 1.5", "limits.max_line_length must be an integer"),
        ("[limits]\nmax_line_length = true", "limits.max_line_length must be an integer"),
        ("[limits]\nauth_failure_delay = 'x'", "limits.auth_failure_delay must be a number"),
        ("[limits]\nauth_max_delay = -1", "must not be negative"),
        ("[listen]\nimap = 'nonsense'", "listen.imap: bad listen address"),
        ("[listen]\nimap = 143", "listen.imap must be a string"),
        ("listen = 'x'", "listen must be a table"),
        ("log_level = 'loud'", "log_level must be one of"),
        ("data_dir = ", "invalid TOML"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text), {}, environ={})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.toml", {}, environ={})


def test_bad_override() -> None:
    with pytest.raises(ConfigError, match="--imaps: bad listen address"):
        load_config(None, {"imaps": "1993"}, environ={})
    with pytest.raises(ConfigError, match="unknown setting"):
        load_config(None, {"colour": "red"}, environ={})
