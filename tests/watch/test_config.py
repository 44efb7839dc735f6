"""`tidings watch` configuration: the TOML file, the URL form, and password sources."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest

from tidings.watch.config import ConfigError, WatchConfig, load_config
from tidings.watch.filters import parse_filter
from tidings.watch.secrets import PasswordSource
from tidings.watch.state import default_state_path
from tidings.watch.url import account_from_url

FINGERPRINT = ":".join(["AB"] * 32)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "watch.toml"
    path.write_text(textwrap.dedent(text))
    return path


def load(tmp_path: Path, text: str) -> WatchConfig:
    return load_config(write(tmp_path, text))


MINIMAL = """
    [[account]]
    host = "imap.example.com"
    user = "me@example.com"
    password_command = "echo pw"
"""


def test_a_full_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ca.pem").write_text("not checked here\n")
    (tmp_path / "hook.secret").write_text("from-file\nignored\n")
    monkeypatch.setenv("HOOK", "from-env")
    config = load(
        tmp_path,
        rf"""
        state = "state/watch.json"
        backoff_max = 120
        [defaults]
        poll_interval = 120
        user = "me@example.com"
        password_env = "MAIL_PASSWORD"

        [[account]]
        name = "work"
        host = "imap.example.com"
        tls = "starttls"
        ca_file = "ca.pem"
        fingerprint = "sha256:{FINGERPRINT}"
        mailboxes = ["INBOX", "\\Junk", "Lists/*"]
        mode = "idle"
        idle_restart = 600
        include = ["headers"]
        [[account.filter]]
        mailbox = "INBOX"
        from = "boss"
        flags = ["\\Flagged", "!\\Seen"]
        [[account.filter]]
        mailbox = "Junk"

        [[account]]
        host = "127.0.0.1"
        port = 1143
        tls = "none"
        user = "alice@example.test"
        password_command = "pass show mail"
        poll_interval = 5
        insecure = true

        [[account]]
        host = "imap.gmail.com"
        auth = "xoauth2"
        token_command = "oauth2 token"
        password_env = "UNUSED"

        [[sink]]
        type = "stdout"
        [[sink]]
        type = "exec"
        command = "notify-me --json 'two words'"
        concurrency = 2
        events = ["new", "flags"]
        [[sink]]
        type = "exec"
        command = ["prog", "arg"]
        [[sink]]
        type = "webhook"
        url = "https://hooks.example.com/mail"
        secret_env = "HOOK"
        max_attempts = 5
        timeout = 3
        [[sink]]
        type = "webhook"
        url = "http://127.0.0.1:9/x"
        secret_file = "hook.secret"
        [[sink]]
        type = "desktop"
        """,
    )
    work, local, gmail = config.accounts
    assert config.state_path == tmp_path / "state" / "watch.json"
    assert (config.backoff_base, config.backoff_max) == (1.0, 120.0)
    assert (config.once, config.dry_run, config.since) == (False, False, None)

    assert work.name == "work"
    assert work.key == "me@example.com@imap.example.com:143"
    assert work.endpoint.tls == "starttls" and work.endpoint.port == 143
    assert work.endpoint.ca_file == str(tmp_path / "ca.pem")
    assert work.endpoint.fingerprint == "ab" * 32
    assert work.endpoint.verify is True
    assert work.password == PasswordSource(env="MAIL_PASSWORD")
    assert work.token is None
    assert work.mailboxes == ("INBOX", "\\Junk", "Lists/*")
    assert (work.mode, work.poll_interval, work.idle_restart) == ("idle", 120.0, 600.0)
    assert work.include == frozenset({"headers"})
    assert len(work.filters) == 2

    assert local.name == "alice@example.test@127.0.0.1:1143"
    assert local.endpoint.tls == "none" and local.endpoint.verify is False
    assert local.password == PasswordSource(command="pass show mail")
    assert local.poll_interval == 5.0 and local.mailboxes == ("INBOX",)
    assert local.filters == ()

    assert gmail.endpoint.port == 993 and gmail.endpoint.tls == "implicit"
    assert gmail.auth == "xoauth2"
    assert gmail.token == PasswordSource(command="oauth2 token")

    kinds = [(s.kind, s.options) for s in config.sinks]
    assert kinds == [
        ("stdout", {}),
        (
            "exec",
            {
                "command": ["notify-me", "--json", "two words"],
                "concurrency": 2,
                "kinds": frozenset({"new", "flags"}),
            },
        ),
        ("exec", {"command": ["prog", "arg"]}),
        (
            "webhook",
            {
                "url": "https://hooks.example.com/mail",
                "secret": "from-env",
                "max_attempts": 5,
                "timeout": 3.0,
            },
        ),
        ("webhook", {"url": "http://127.0.0.1:9/x", "secret": "from-file"}),
        ("desktop", {}),
    ]


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    config = load(tmp_path, MINIMAL)
    (account,) = config.accounts
    assert config.state_path == default_state_path() == tmp_path / "xdg/tidings/watch-state.json"
    assert [(s.kind, s.options) for s in config.sinks] == [("stdout", {})]
    assert account.endpoint.port == 993 and account.endpoint.tls == "implicit"
    assert account.endpoint.fingerprint is None and account.endpoint.ca_file is None
    assert account.auth == "auto" and account.mode == "auto"
    assert (account.poll_interval, account.idle_restart) == (60.0, 1740.0)
    assert (account.noop_timeout, account.connect_timeout) == (30.0, 30.0)
    assert account.include == frozenset() and account.mailboxes == ("INBOX",)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('colour = "blue"', "colour: unknown key"),
        ("port = 99999", "port: must be an integer from 1 to 65535"),
        ('port = "993"', "port: must be an integer"),
        ('tls = "ssl"', "tls: must be one of implicit, starttls, none"),
        ('tls = "none"', 'tls: "none" is only allowed to a loopback host'),
        ("idle_restart = 1800", "idle_restart: at most 1740 seconds"),
        ("poll_interval = 0", "poll_interval: must be a positive number"),
        ("poll_interval = true", "poll_interval: must be a positive number"),
        ('mode = "push"', "mode: must be one of auto, notify, idle, poll"),
        ('auth = "cram-md5"', "auth: must be one of"),
        ('auth = "xoauth2"', 'auth = "xoauth2" needs token_command'),
        ('include = ["attachments"]', "include: unknown item attachments"),
        ("mailboxes = []", "mailboxes: must name at least one mailbox"),
        ('mailboxes = "INBOX"', "mailboxes: must be a list"),
        ('fingerprint = "abc"', "fingerprint: must be a SHA-256 fingerprint"),
        ('ca_file = "missing.pem"', "ca_file: .*missing.pem does not exist"),
        ('password_env = "X"', "password_env: set only one of password_command, password_env"),
        ("insecure = 1", "insecure: must be true or false"),
        ('[[account.filter]]\nsubject = "(bad"', r"filter\[0\].subject: bad regular expression"),
    ],
)
def test_bad_account_keys(tmp_path: Path, extra: str, message: str) -> None:
    path = write(tmp_path, MINIMAL + "\n" + extra + "\n")
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{path}: account[0]")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('state = "x"\n', "no \\[\\[account\\]\\] configured"),
        ('[[account]]\nhost = "h"\npassword_command = "x"\n', "account\\[0\\]: user: required"),
        ('[[account]]\nuser = "u"\npassword_command = "x"\n', "account\\[0\\]: host: required"),
        ('[[account]]\nhost = "h"\nuser = "u"\n', "no password source"),
        (
            '[[account]]\nhost = "h"\nuser = "u"\ntoken_command = "t"\n',
            'no password source: .* \\(or auth = "xoauth2"',
        ),
        (MINIMAL + "\nstatus = 1\n", "status: unknown key"),
        ("[defaults]\nname = 'x'\n" + MINIMAL, "defaults.name: unknown key"),
        (MINIMAL + '[[sink]]\ntype = "pager"\n', r"sink\[0\]: type: must be one of"),
        (MINIMAL + '[[sink]]\ntype = "exec"\n', r"sink\[0\]: command: must be a string"),
        (MINIMAL + '[[sink]]\ntype = "exec"\ncommand = ""\n', "command: must name a program"),
        (MINIMAL + "[[sink]]\ntype = 'exec'\ncommand = 'a \"b'\n", "command: No closing quotation"),
        (MINIMAL + '[[sink]]\ntype = "stdout"\nurl = "x"\n', r"sink\[0\]: url: unknown key"),
        (MINIMAL + '[[sink]]\ntype = "webhook"\nurl = "ftp://x/"\n', "url: bad URL"),
        (MINIMAL + '[[sink]]\ntype = "webhook"\nurl = "http://h:x/"\n', "url: bad URL"),
        (MINIMAL + '[[sink]]\ntype = "webhook"\n', "url: required"),
        (
            MINIMAL + '[[sink]]\ntype = "webhook"\nurl = "https://h/"\nsecret_env = "NOPE_X"\n',
            "secret_env: environment variable NOPE_X is not set",
        ),
        (MINIMAL + '[[sink]]\ntype = "stdout"\nevents = ["mail"]\n', "unknown event kind mail"),
        (
            MINIMAL + '[[sink]]\ntype = "exec"\ncommand = "x"\nconcurrency = 0\n',
            "concurrency: must be an integer >= 1",
        ),
        (MINIMAL + MINIMAL, "is configured twice"),
        ("this is = not toml", "not valid TOML"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load(tmp_path, text)
    assert "\n" not in str(info.value)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read .*nope\.toml"):
        load_config(tmp_path / "nope.toml")


def test_oauth_needs_no_password(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [[account]]
        host = "imap.example.com"
        user = "me@example.com"
        auth = "oauthbearer"
        token_command = "get-token"
        """,
    )
    (account,) = config.accounts
    assert account.password is None and account.token == PasswordSource(command="get-token")


# --- URLs -----------------------------------------------------------------------------------


def test_imaps_url() -> None:
    account = account_from_url(
        "imaps://me%40example.com@imap.example.com/INBOX", password_command="pass show mail"
    )
    assert account.user == "me@example.com"
    assert account.endpoint.host == "imap.example.com"
    assert (account.endpoint.port, account.endpoint.tls) == (993, "implicit")
    assert account.mailboxes == ("INBOX",)
    assert account.key == "me@example.com@imap.example.com:993"
    assert account.password == PasswordSource(command="pass show mail")


def test_imap_url_with_port_and_overrides() -> None:
    junk = parse_filter({"mailbox": "Junk"}, "--filter")
    account = account_from_url(
        "imap://alice%40example.test@127.0.0.1:1143/Lists%2Fpython",
        password_env="PW",
        mailboxes=["\\Junk", "Lists/python"],
        fingerprint=FINGERPRINT,
        insecure=True,
        mode="poll",
        poll_interval=2,
        idle_restart=100,
        noop_timeout=5,
        include=["headers", "body"],
        filters=[junk],
        auth="plain",
        ca_file=None,  # None means "not given"
        token_command=None,
    )
    assert (account.endpoint.port, account.endpoint.tls) == (1143, "starttls")
    assert account.mailboxes == ("Lists/python", "\\Junk")
    assert account.endpoint.fingerprint == "ab" * 32
    assert account.endpoint.verify is False
    assert (account.mode, account.poll_interval, account.idle_restart) == ("poll", 2.0, 100.0)
    assert account.noop_timeout == 5.0
    assert account.include == frozenset({"headers", "body"})
    assert account.filters == (junk,)
    assert account.auth == "plain"
    assert account.key == "alice@example.test@127.0.0.1:1143"


def test_url_without_mailbox_watches_inbox() -> None:
    for url in ("imaps://u@h", "imaps://u@h/"):
        assert account_from_url(url, password_file="/dev/null").mailboxes == ("INBOX",)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://u@h/", "the scheme must be imaps:// or imap://"),
        ("imaps://h/", "no user"),
        ("imaps://u@/", "no host"),
        ("imaps://u:secret@h/", "do not put the password in the URL"),
        ("imaps://u@h:99999/", "bad URL"),
        ("imaps://u@h:port/", "bad URL"),
        ("imaps://u@h/INBOX?x=1", "query strings"),
        ("imaps://u@h/INBOX;UIDVALIDITY=5", "message parameters"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        account_from_url(url, password_command="x")
    assert "\n" not in str(info.value)
    assert "secret" not in str(info.value)


def test_url_validation_names_the_key() -> None:
    with pytest.raises(ConfigError, match="idle_restart: at most 1740"):
        account_from_url("imaps://u@h/", password_command="x", idle_restart=3600)
    with pytest.raises(ConfigError, match="no password source"):
        account_from_url("imaps://u@h/")


# --- password sources (real subprocesses, real files) ---------------------------------------


def read(source: PasswordSource) -> str:
    return asyncio.run(source.read())


def test_password_command_runs_through_the_shell() -> None:
    assert read(PasswordSource(command="printf 'hunter2\\nsecond line\\n'")) == "hunter2"
    assert read(PasswordSource(command="echo one two | tr ' ' -")) == "one-two"


def test_a_failing_password_command_quotes_its_stderr() -> None:
    with pytest.raises(ConfigError, match=r"exit status 3\): gpg: decryption failed$"):
        read(PasswordSource(command="echo 'gpg: decryption failed' >&2; echo more >&2; exit 3"))
    with pytest.raises(ConfigError, match="printed nothing"):
        read(PasswordSource(command="true"))
    with pytest.raises(ConfigError, match="exit status 127"):
        read(PasswordSource(command="/nonexistent/pass-helper"))


def test_a_hanging_password_command_times_out() -> None:
    with pytest.raises(ConfigError, match=r"timed out after 0\.5 s"):
        read(PasswordSource(command="sleep 30", timeout=0.5))


def test_password_from_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDINGS_TEST_PW", "from env")
    assert read(PasswordSource(env="TIDINGS_TEST_PW")) == "from env"
    monkeypatch.delenv("TIDINGS_TEST_PW")
    with pytest.raises(ConfigError, match="TIDINGS_TEST_PW is not set"):
        read(PasswordSource(env="TIDINGS_TEST_PW"))
    secret = tmp_path / "pw"
    secret.write_text("from file\n")
    assert read(PasswordSource(file=str(secret))) == "from file"
    with pytest.raises(ConfigError, match=r"cannot read password file .*missing"):
        read(PasswordSource(file=str(tmp_path / "missing")))
    empty = tmp_path / "empty"
    empty.write_text("")
    with pytest.raises(ConfigError, match="is empty"):
        read(PasswordSource(file=str(empty)))


def test_a_password_source_has_exactly_one_origin() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        PasswordSource()
    with pytest.raises(ValueError, match="exactly one"):
        PasswordSource(command="x", env="Y")
