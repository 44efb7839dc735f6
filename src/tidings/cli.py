"""The command line: `tidings serve`, `deliver`, `user ...`, `import ...`, `export`, `watch`.

Exit status 0 on success; 1 with a one-line message on stderr for an expected failure ("user
exists", "no such user", a bad config key); 2 for a usage error (click's convention).
`tidings deliver` is run by an MTA and speaks sysexits(3) instead (`tidings.delivery.
exit_status`): 67 unknown user, 75 try again later, 64 for a usage error, and so on.
`--data` and `--config` work before the subcommand (`tidings --data D user list`) and after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import inspect
import os
import re
import secrets
import sys
import typing
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from typer.core import TyperCommand

from tidings.config import Config, ConfigError, load_config
from tidings.core.acl import DEFAULT_MEMBER_RIGHTS
from tidings.net.listener import format_address

if TYPE_CHECKING:
    from tidings.delivery.command import DeliverRequest, Outcome
    from tidings.storage.api import Backend

T = TypeVar("T")

DEMO_ADDRESS = "demo@example.test"
DEMO_PASSWORD_FILE = "demo-password"
STORE_OPTIONS = "tidings.store_options"  # ctx.meta key of --data/--config after the command

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Tidings: a mail access server (IMAP4rev2/IMAP4rev1 with IDLE push).",
)
user_app = typer.Typer(
    no_args_is_help=True, help="Manage accounts (addresses, passwords, quotas, junk routing)."
)
app.add_typer(user_app, name="user")
import_app = typer.Typer(
    no_args_is_help=True,
    help="Bring mail in: mbox files, Maildirs, or any IMAP server (see README, Moving in).",
)
app.add_typer(import_app, name="import")
mailbox_app = typer.Typer(no_args_is_help=True, help="Share mailboxes with other accounts.")
app.add_typer(mailbox_app, name="mailbox")
shared_app = typer.Typer(
    no_args_is_help=True, help="Team mailboxes (Shared/NAME) that several accounts work from."
)
app.add_typer(shared_app, name="shared")

DATA_HELP = "Data directory (env TIDINGS_DATA; default ./tidings-data)."
CONFIG_HELP = "TOML config file (env TIDINGS_CONFIG)."
DataOption = Annotated[
    Path | None, typer.Option("--data", metavar="DIR", help=DATA_HELP, show_default=False)
]
ConfigOption = Annotated[Path | None, typer.Option("--config", metavar="FILE", help=CONFIG_HELP)]
AddressArgument = Annotated[str, typer.Argument(help="The account's email address.")]
PasswordStdinOption = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
]


def _listen_option(name: str, default: str) -> Any:
    return typer.Option(
        f"--{name}", metavar="HOST:PORT|off", help=f"{name.upper()} listener (default {default})."
    )


@dataclass(frozen=True, slots=True)
class GlobalOptions:
    """--data and --config, as given before the subcommand (or after it)."""

    data: Path | None
    config: Path | None


def store_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give `command` the --data and --config options (after the command name), declared
    here once instead of in every signature. The values go to `ctx.meta`, where
    `_load_config` finds them; `command` itself never sees them (its first parameter must
    be `ctx`)."""
    hints = typing.get_type_hints(command, include_extras=True)
    signature = inspect.signature(command)
    extra = {"data": DataOption, "config": ConfigOption}
    parameters = [
        parameter.replace(annotation=hints[name])
        for name, parameter in signature.parameters.items()
    ] + [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=hint)
        for name, hint in extra.items()
    ]

    @functools.wraps(command)
    def with_store_options(**kwargs: Any) -> None:
        options = GlobalOptions(kwargs.pop("data"), kwargs.pop("config"))
        kwargs["ctx"].meta[STORE_OPTIONS] = options
        command(**kwargs)

    # typer reads the parameters from the signature and the type hints.
    with_store_options.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=parameters, return_annotation=None
    )
    with_store_options.__annotations__ = {**hints, **extra}
    return with_store_options


def _usage_error_class() -> type[Exception]:
    """click's UsageError, from whichever click typer runs on (recent typer vendors its own
    copy, so `import click` may name a different class)."""
    for cls in typer.BadParameter.__mro__:
        if cls.__name__ == "UsageError" and issubclass(cls, Exception):
            return cls
    return typer.BadParameter  # pragma: no cover - BadParameter always derives from it


UsageError = _usage_error_class()


class DeliverCommand(TyperCommand):
    """`tidings deliver`: a usage error exits with EX_USAGE (64), as dovecot-lda's does,
    since the MTA that runs it understands sysexits(3) codes, not click's 2."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Parse as usual; a usage error gets exit code 64."""
        from tidings.delivery.exit_status import EX_USAGE  # noqa: PLC0415

        try:
            return super().parse_args(ctx, args)
        except UsageError as error:
            error.exit_code = EX_USAGE  # type: ignore[attr-defined]
            raise


def fail(message: str) -> NoReturn:
    """Print `message` on stderr and exit with status 1."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def _load_config(ctx: typer.Context, **overrides: Any) -> Config:
    """The Config from --data/--config after the command, else before it. Raises
    ConfigError."""
    root = ctx.find_root().obj
    outer = root if isinstance(root, GlobalOptions) else GlobalOptions(None, None)
    inner = ctx.meta.get(STORE_OPTIONS, GlobalOptions(None, None))
    return load_config(
        inner.config or outer.config, {"data_dir": inner.data or outer.data, **overrides}
    )


def _resolve_config(ctx: typer.Context, **overrides: Any) -> Config:
    """The Config, or exit 1 with the reason it is invalid."""
    try:
        return _load_config(ctx, **overrides)
    except ConfigError as error:
        fail(str(error))


@app.callback()
def root(ctx: typer.Context, data: DataOption = None, config: ConfigOption = None) -> None:
    """Tidings: a mail access server."""
    ctx.obj = GlobalOptions(data=data, config=config)


@app.command()
@store_options
def serve(  # noqa: PLR0917 - typer maps each parameter to a flag; there is one per listener
    ctx: typer.Context,
    imap: Annotated[str | None, _listen_option("imap", "127.0.0.1:1143")] = None,
    imaps: Annotated[str | None, _listen_option("imaps", "127.0.0.1:1993")] = None,
    pop3: Annotated[str | None, _listen_option("pop3", "127.0.0.1:1110")] = None,
    pop3s: Annotated[str | None, _listen_option("pop3s", "127.0.0.1:1995")] = None,
    lmtp: Annotated[str | None, _listen_option("lmtp", "127.0.0.1:2424")] = None,
    log_level: Annotated[
        str | None, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help=f"Create {DEMO_ADDRESS} and print how to connect.")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            metavar="N",
            min=1,
            help="Processes sharing the listeners (env TIDINGS_WORKERS; default: one per core).",
        ),
    ] = None,
) -> None:
    """Run every listener until SIGTERM or Ctrl-C."""
    from tidings.app import StartupError, configure_logging, run_server  # noqa: PLC0415
    from tidings.workers.supervisor import run_supervisor  # noqa: PLC0415

    listen = {"imap": imap, "imaps": imaps, "pop3": pop3, "pop3s": pop3s, "lmtp": lmtp}
    settings = _resolve_config(ctx, log_level=log_level, workers=workers, **listen)
    if settings.log_level not in ("debug", "info", "warning", "error"):
        fail(f"bad --log-level {settings.log_level!r}")
    configure_logging(settings.log_level)

    async def main() -> None:
        password = await ensure_demo_account(settings) if demo else None
        ready = (lambda: print_demo_box(settings, password)) if password else None
        if settings.worker_count > 1:  # issue 7: a supervisor and N worker processes
            await run_supervisor(settings, ready=ready)
        else:
            await run_server(settings, ready=ready)

    try:
        asyncio.run(main())
    except (StartupError, OSError) as error:
        fail(str(error))
    except ImportError as error:
        fail(f"a server component is missing: {error}")


@app.command(cls=DeliverCommand)
@store_options
def deliver(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(help="The recipient (alice+tag@... works).")],
    mailbox: Annotated[
        str | None,
        typer.Option("--mailbox", metavar="NAME", help="File here if it exists (else INBOX)."),
    ] = None,
    sender: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="SENDER",
            help="Envelope sender ('' for <>). Given, Return-Path and Delivered-To are "
            "prepended as over LMTP; leave it out when the MTA adds them (Postfix does).",
        ),
    ] = None,
) -> None:
    """Deliver the message on stdin (for an MTA's mailbox command); sysexits exit codes."""
    from tidings.delivery.command import DeliverRequest  # noqa: PLC0415

    outcome = _run_delivery(ctx, DeliverRequest(address, mailbox, sender))
    if outcome.reason:
        typer.echo(outcome.reason, err=True)
    raise typer.Exit(code=outcome.code)


def _run_delivery(ctx: typer.Context, request: DeliverRequest) -> Outcome:
    """The Outcome of `tidings deliver`: every failure becomes an exit code, none a
    traceback (an unexpected error is temporary, so the MTA keeps the message queued)."""
    # Imported here, as elsewhere in this module, so that `tidings --help` starts fast.
    from tidings.core.errors import MailError  # noqa: PLC0415
    from tidings.delivery.command import Outcome, deliver_message, read_message  # noqa: PLC0415
    from tidings.delivery.deliverer import Deliverer  # noqa: PLC0415
    from tidings.delivery.exit_status import (  # noqa: PLC0415
        EX_CANTCREAT,
        EX_TEMPFAIL,
        exit_status,
    )

    try:
        settings = _load_config(ctx)
    except ConfigError as error:
        return Outcome(EX_TEMPFAIL, f"Configuration error: {error}")
    message = read_message(
        sys.stdin.buffer if sys.stdin else None, settings.limits.max_message_size
    )
    if isinstance(message, Outcome):
        return message

    async def run() -> Outcome:
        async with _open_store(settings, notify=True) as backend:
            return await deliver_message(Deliverer(backend, settings.delivery), request, message)

    try:
        return asyncio.run(run())
    except MailError as error:  # opening or closing the store
        code, reason = exit_status(error, quota_full_tempfail=settings.delivery.quota_full_tempfail)
        return Outcome(code, reason)
    except OSError as error:
        return Outcome(EX_CANTCREAT, f"Cannot open the store in {settings.data_dir}: {error}")
    except Exception as error:  # a bug must defer the mail (75), not bounce it
        return Outcome(EX_TEMPFAIL, f"Internal error: {type(error).__name__}: {error}")


@user_app.command("add")
@store_options
def user_add(
    ctx: typer.Context, address: AddressArgument, password_stdin: PasswordStdinOption = False
) -> None:
    """Create an account with its default mailboxes."""
    settings = _resolve_config(ctx)
    account = validate_address(address)
    password_hash, scram = _hash(read_password(password_stdin), settings)
    _with_backend(
        settings, lambda backend: backend.add_account(account, password_hash, scram_sha256=scram)
    )


@user_app.command("passwd")
@store_options
def user_passwd(
    ctx: typer.Context, address: AddressArgument, password_stdin: PasswordStdinOption = False
) -> None:
    """Set a new password."""
    settings = _resolve_config(ctx)
    account = validate_address(address)
    password_hash, scram = _hash(read_password(password_stdin), settings)
    _with_backend(
        settings,
        lambda backend: backend.set_password_hash(account, password_hash, scram_sha256=scram),
    )


@user_app.command("remove")
@store_options
def user_remove(ctx: typer.Context, address: AddressArgument) -> None:
    """Delete an account and all its mail."""
    settings = _resolve_config(ctx)
    account = validate_address(address)
    # notify: the account's IMAP sessions in a running server learn of it at once.
    _with_backend(settings, lambda backend: backend.remove_account(account), notify=True)


@user_app.command("list")
@store_options
def user_list(ctx: typer.Context) -> None:
    """Print every account, one per line, with its quota usage, limits and junk routing:

    alice@example.test storage=1024/1073741824 messages=3/unlimited junk-routing=default

    (storage in bytes, used/limit; `cut -d' ' -f1` gives the addresses)."""
    settings = _resolve_config(ctx)
    for line in _with_backend(settings, _account_lines):
        typer.echo(line)


async def _account_lines(backend: Backend) -> list[str]:
    lines = []
    for account in await backend.list_accounts():
        store = await backend.mail_store(account)
        quota, options = await store.quota(), await store.settings()
        routing = {None: "default", True: "on", False: "off"}[options.junk_routing]
        lines.append(
            f"{account} storage={quota.storage_used}/{_limit(quota.storage_limit)}"
            f" messages={quota.messages_used}/{_limit(quota.message_limit)}"
            f" junk-routing={routing}"
        )
    return lines


def _limit(value: int | None) -> str:
    return "unlimited" if value is None else str(value)


@user_app.command("quota")
@store_options
def user_quota(
    ctx: typer.Context,
    address: AddressArgument,
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage",
            metavar="SIZE",
            help="Storage limit: bytes or 500K, 100M, 1.5G, 1T (units of 1024), or unlimited.",
        ),
    ] = None,
    messages: Annotated[
        str | None,
        typer.Option("--messages", metavar="N", help="Message count limit, or unlimited."),
    ] = None,
) -> None:
    """Set the account's quota; a limit not given stays as it is."""
    if storage is None and messages is None:
        raise typer.BadParameter("give --storage, --messages or both")
    storage_limit = _parse_option("--storage", storage, parse_size)
    message_limit = _parse_option("--messages", messages, parse_count)
    settings = _resolve_config(ctx)
    account = validate_address(address)

    async def apply(backend: Backend) -> None:
        current = await (await backend.mail_store(account)).quota()
        await backend.set_quota(
            account,
            current.storage_limit if storage is None else storage_limit,
            current.message_limit if messages is None else message_limit,
        )

    _with_backend(settings, apply)


class JunkRouting(enum.Enum):
    """`tidings user junk-routing` choices."""

    ON = "on"
    OFF = "off"
    DEFAULT = "default"


@user_app.command("junk-routing")
@store_options
def user_junk_routing(
    ctx: typer.Context,
    address: AddressArgument,
    choice: Annotated[
        JunkRouting,
        typer.Argument(help="on, off, or default (the server's [delivery] junk_routing)."),
    ],
) -> None:
    """Turn routing of spam-marked mail to the Junk mailbox on or off for one account."""
    from tidings.storage.api import AccountSettings  # noqa: PLC0415

    settings = _resolve_config(ctx)
    account = validate_address(address)
    value = {JunkRouting.ON: True, JunkRouting.OFF: False, JunkRouting.DEFAULT: None}[choice]
    _with_backend(settings, lambda backend: backend.set_settings(account, AccountSettings(value)))


# RFC-less but conventional: Dovecot's quota_rule sizes (`storage=1.5G`), binary units.
_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]?)(?:i?b)?", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_UNLIMITED = ("unlimited", "none")


def parse_size(text: str) -> int | None:
    """Bytes from `500M`, `1.5G`, `1024`, `10KiB` (units of 1024, like Dovecot's
    quota_rule); None for `unlimited`/`none`. ValueError unless it is at least one byte."""
    if text.strip().lower() in _UNLIMITED:
        return None
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a size like 500M, 1.5G or unlimited")
    try:
        size = int(Decimal(match.group(1)) * _UNITS[match.group(2).lower()])
    except InvalidOperation as error:  # pragma: no cover - the pattern admits only numbers
        raise ValueError(f"{text!r} is not a size") from error
    if size < 1:
        raise ValueError("a limit must be at least 1 byte; use 'unlimited' for none")
    return size


def parse_count(text: str) -> int | None:
    """A positive message count; None for `unlimited`/`none`. ValueError otherwise."""
    if text.strip().lower() in _UNLIMITED:
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"{text!r} is not a positive number or unlimited")
    return int(text)


def _parse_option(name: str, text: str | None, parse: Callable[[str], int | None]) -> int | None:
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint=name) from error


def validate_address(address: str) -> str:
    """The canonical (lower-case) form of `address`; exits with an error if it is not
    `local@domain` with exactly one "@" and no whitespace or control characters."""
    local, at, domain = address.partition("@")
    if (
        not at
        or not local
        or not domain
        or "@" in domain
        or any(char.isspace() or ord(char) < 0x20 or char == "\x7f" for char in address)
    ):
        fail(f"not an email address: {address!r}")
    return address.lower()


def read_password(from_stdin: bool) -> str:
    """The new password: the first line of stdin, or typed twice without echo."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        fail("empty password")
    return password


def _hash(password: str, settings: Config) -> tuple[str, str]:
    """The Argon2id hash and the SCRAM-SHA-256 secrets of `password` (never the password)."""
    from tidings.auth.authenticator import password_records  # noqa: PLC0415 - argon2 loads slowly

    return password_records(password, settings.limits.scram_iterations)


@contextlib.asynccontextmanager
async def _open_store(settings: Config, *, notify: bool) -> AsyncIterator[Backend]:
    """The store, and with `notify` a relay that tells a running server (and any other
    process serving this store) about the changes made here, so its IDLE clients see them."""
    from tidings.app import open_backend  # noqa: PLC0415
    from tidings.notify.hub import NotificationHub  # noqa: PLC0415
    from tidings.notify.relay import NotifyRelay  # noqa: PLC0415

    hub = NotificationHub() if notify else None
    backend = await open_backend(settings, hub)
    try:
        relay = await NotifyRelay.start(hub, settings.data_dir, listen=False) if hub else None
    except BaseException:
        await backend.close()
        raise
    try:
        yield backend
    finally:
        await backend.close()  # first: the last commits publish their notices
        if relay is not None:
            await relay.close()


def _with_backend(
    settings: Config, action: Callable[[Any], Awaitable[T]], *, notify: bool = False
) -> T:
    """Open the store, run `action` on it, close it; map storage errors to exit 1."""
    from tidings.core.errors import MailError, MailErrorKind  # noqa: PLC0415

    async def run() -> T:
        async with _open_store(settings, notify=notify) as backend:
            return await action(backend)

    messages = {MailErrorKind.EXISTS: "user exists", MailErrorKind.NOTFOUND: "no such user"}
    try:
        return asyncio.run(run())
    except MailError as error:
        fail(messages.get(error.kind, error.reason))
    except OSError as error:
        fail(f"cannot open the data directory {settings.data_dir}: {error}")


async def ensure_demo_account(settings: Config) -> str:
    """Create the demo account if needed; return its password (kept in DATA/demo-password)."""
    from tidings.app import open_backend  # noqa: PLC0415

    password_file = settings.data_dir / DEMO_PASSWORD_FILE
    backend = await open_backend(settings)
    try:
        exists = await backend.password_hash(DEMO_ADDRESS) is not None
        if exists and password_file.exists():
            return password_file.read_text().strip()
        password = secrets.token_urlsafe(12)
        password_hash, scram = await asyncio.to_thread(_hash, password, settings)
        if exists:  # the password file was lost: the demo account gets a new password
            await backend.set_password_hash(DEMO_ADDRESS, password_hash, scram_sha256=scram)
        else:
            await backend.add_account(DEMO_ADDRESS, password_hash, scram_sha256=scram)
    finally:
        await backend.close()
    descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(password + "\n")
    return password


def demo_text(settings: Config, password: str) -> tuple[list[str], list[str]]:
    """The `--demo` message: (facts for the box, example commands to copy)."""
    imap = f"{format_address(*settings.imap)} (STARTTLS)" if settings.imap else "off"
    host, port = settings.imaps or ("127.0.0.1", 1993)
    cert = (settings.data_dir / "tls" / "cert.pem").resolve()
    user = DEMO_ADDRESS
    facts = [
        "Tidings is running in demo mode. Stop it with Ctrl-C.",
        "",
        f"IMAP      {imap}",
        f"IMAPS     {format_address(host, port)}" if settings.imaps else "IMAPS     off",
        f"POP3S     {format_address(*settings.pop3s)}" if settings.pop3s else "POP3S     off",
        f"LMTP      {format_address(*settings.lmtp)}" if settings.lmtp else "LMTP      off",
        f"user      {user}",
        f"password  {password}",
        f"data      {settings.data_dir.resolve()}",
    ]
    # Flush left, so that a multi-line command pastes into a shell (and Python) as it is.
    examples = [
        "Try it (the certificate is self-signed, hence --insecure / no verification):",
        "",
        f"curl --insecure imaps://{format_address(host, port)}/INBOX -u {user}:{password}",
        "",
        *_pop3_and_lmtp_examples(settings, user, password),
        "python3 -c 'import imaplib, ssl",
        f'c = imaplib.IMAP4_SSL("{host}", {port}, ssl_context=ssl._create_unverified_context())',
        f'print(c.login("{user}", "{password}")); print(c.list())\'',
        "",
        "# mbsync, in ~/.mbsyncrc (isync 1.5 and later spell SSLType as TLSType):",
        "IMAPAccount tidings",
        f"Host {host}",
        f"Port {port}",
        f"User {user}",
        f"Pass {password}",
        "SSLType IMAPS",
        f"CertificateFile {cert}",
    ]
    return facts, examples


def _pop3_and_lmtp_examples(settings: Config, user: str, password: str) -> list[str]:
    lines = []
    if settings.lmtp:
        host, port = settings.lmtp
        lines += [
            "python3 -c 'import smtplib",
            f'c = smtplib.LMTP("{host}", {port})',  # sendmail says LHLO itself
            f'print(c.sendmail("me@example.test", "{user}",'
            ' b"Subject: hi\\r\\n\\r\\nHello\\r\\n"))\'',
            "",
        ]
    if settings.pop3s:
        lines += [
            f"curl --insecure pop3s://{format_address(*settings.pop3s)}/ -u {user}:{password}",
            "",
        ]
    return lines


def print_demo_box(settings: Config, password: str) -> None:
    """Print the demo message on stdout: the facts in an ASCII box (any terminal shows it),
    the commands below it without borders, so they can be copied as they are."""
    facts, examples = demo_text(settings, password)
    width = max(len(line) for line in facts)
    border = "+" + "-" * (width + 2) + "+"
    lines = [border, *(f"| {line.ljust(width)} |" for line in facts), border, "", *examples, ""]
    print("\n".join(lines), flush=True)


# ---------------------------------------------------------------------- sharing (RFC 4314)
RightsOption = Annotated[
    str,
    typer.Option(
        "--rights",
        metavar="RIGHTS",
        help="RFC 4314 rights: l lookup, r read, s seen, w write, i insert, p post, "
        "k create below, x delete, t delete messages, e expunge, a admin.",
    ),
]


@mailbox_app.command("share")
@store_options
def mailbox_share(
    ctx: typer.Context,
    spec: Annotated[str, typer.Argument(metavar="ADDRESS/MAILBOX", help="e.g. bob@x.org/Work")],
    with_: Annotated[
        str, typer.Option("--with", metavar="ADDRESS", help="Who gets the rights (or anyone).")
    ],
    rights: RightsOption = DEFAULT_MEMBER_RIGHTS,
) -> None:
    """Give an account rights on a mailbox and the mailboxes below it (--rights "" takes
    them away). The mailbox appears to them under Other Users/ADDRESS/."""
    from tidings.core.acl import RightsError  # noqa: PLC0415
    from tidings.storage.sharing import share_mailbox, split_spec  # noqa: PLC0415

    settings = _resolve_config(ctx)
    owner, mailbox = split_spec(spec)
    validate_address(owner)
    try:
        names = _with_backend(
            settings,
            lambda backend: share_mailbox(backend, owner, mailbox, with_, rights),
            notify=True,
        )
    except RightsError as error:
        fail(str(error))
    for name in names:
        typer.echo(f"{owner}/{name}: {with_.lower()} {rights or '(none)'}")


@shared_app.command("create")
@store_options
def shared_create(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(help="support@example.org (mail to it is delivered there) or a name."),
    ],
    member: Annotated[
        list[str] | None, typer.Option("--member", metavar="ADDRESS", help="Repeat.")
    ] = None,
    rights: RightsOption = DEFAULT_MEMBER_RIGHTS,
) -> None:
    """Create the team mailbox Shared/NAME, its members with --rights on it."""
    from tidings.core.acl import RightsError  # noqa: PLC0415
    from tidings.storage.sharing import create_team  # noqa: PLC0415

    settings = _resolve_config(ctx)
    members = [validate_address(address) for address in member or ()]
    try:
        view, address = _with_backend(
            settings, lambda backend: create_team(backend, name, members, rights), notify=True
        )
    except RightsError as error:
        fail(str(error))
    typer.echo(f"{view} (delivery address {address}) for {', '.join(members) or 'nobody yet'}")


@shared_app.command("list")
@store_options
def shared_list(ctx: typer.Context) -> None:
    """Every team mailbox with its address and its members' rights."""
    from tidings.storage.sharing import team_lines  # noqa: PLC0415

    for line in _with_backend(_resolve_config(ctx), team_lines):
        typer.echo(line)


# ---------------------------------------------------------------------- import / export
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Read and count everything; store nothing.")
]
BatchOption = Annotated[
    int, typer.Option("--batch", metavar="N", help="Messages per transaction.", min=1)
]


@import_app.command("mbox")
@store_options
def import_mbox_command(  # noqa: PLR0917 - typer maps each parameter to a flag
    ctx: typer.Context,
    address: AddressArgument,
    files: Annotated[list[Path], typer.Argument(help="mbox files (mboxo or mboxrd).")],
    mailbox: Annotated[str, typer.Option("--mailbox", metavar="NAME")] = "INBOX",
    gmail_labels: Annotated[
        bool,
        typer.Option("--gmail-labels", help="File by Google Takeout's X-Gmail-Labels."),
    ] = False,
    keep_flag_headers: Annotated[
        bool,
        typer.Option(
            "--keep-flag-headers",
            help="Keep Status, X-Status and X-Keywords in the messages (they are read "
            "as flags either way).",
        ),
    ] = False,
    no_mozilla_status: Annotated[
        bool, typer.Option("--no-mozilla-status", help="Ignore X-Mozilla-Status flags.")
    ] = False,
    dry_run: DryRunOption = False,
    batch: BatchOption = 500,
) -> None:
    """Import mbox files (Thunderbird, mutt, Google Takeout, Dovecot) into one account."""
    from tidings.migrate.commands import import_mbox, mbox_size  # noqa: PLC0415

    settings = _resolve_config(ctx)
    account = validate_address(address)
    missing = [str(path) for path in files if not path.exists()]
    if missing:
        fail(f"no such file: {', '.join(missing)}")
    _run_import(
        settings,
        account,
        lambda importer: import_mbox(
            importer,
            files,
            mailbox=mailbox,
            gmail_labels=gmail_labels,
            mozilla_status=not no_mozilla_status,
            strip_flag_headers=not keep_flag_headers,
        ),
        total=mbox_size(files),
        dry_run=dry_run,
        batch=batch,
    )


@import_app.command("maildir")
@store_options
def import_maildir_command(
    ctx: typer.Context,
    address: AddressArgument,
    directory: Annotated[Path, typer.Argument(help="A Maildir (or Maildir++ tree) root.")],
    dry_run: DryRunOption = False,
    batch: BatchOption = 500,
) -> None:
    """Import a Maildir++ tree (Dovecot, mbsync, Courier): every folder, flags from the
    file names, Dovecot's UIDs and UIDVALIDITY kept."""
    from tidings.migrate.commands import import_maildir, maildir_size  # noqa: PLC0415

    settings = _resolve_config(ctx)
    account = validate_address(address)
    if not directory.is_dir():
        fail(f"not a directory: {directory}")
    _run_import(
        settings,
        account,
        lambda importer: import_maildir(importer, directory),
        total=maildir_size(directory),
        dry_run=dry_run,
        batch=batch,
    )


@import_app.command("imap")
@store_options
def import_imap_command(  # noqa: PLR0917 - typer maps each parameter to a flag
    ctx: typer.Context,
    address: AddressArgument,
    url: Annotated[
        str,
        typer.Argument(
            help="imaps://USER@HOST[:PORT] (imap:// for STARTTLS); a /FOLDER "
            "path imports that folder only."
        ),
    ],
    password_command: Annotated[str | None, typer.Option("--password-command")] = None,
    password_env: Annotated[str | None, typer.Option("--password-env")] = None,
    password_file: Annotated[str | None, typer.Option("--password-file")] = None,
    token_command: Annotated[
        str | None, typer.Option("--token-command", help="Prints an OAuth2 access token.")
    ] = None,
    auth: Annotated[
        str | None, typer.Option("--auth", help="auto, login, plain, xoauth2 or oauthbearer.")
    ] = None,
    folder: Annotated[
        list[str] | None,
        typer.Option(
            "--folder",
            metavar="NAME",
            help="Only this folder, LIST pattern or special use such as \\Sent (repeat).",
        ),
    ] = None,
    spam_and_trash: Annotated[
        bool, typer.Option("--spam-and-trash", help="Gmail: import Spam and Trash too.")
    ] = False,
    state: Annotated[
        Path | None,
        typer.Option(
            "--state",
            help="The resume record (default: under the "
            "data directory, one per account and source).",
        ),
    ] = None,
    insecure: Annotated[bool, typer.Option("--insecure")] = False,
    ca_file: Annotated[str | None, typer.Option("--ca-file")] = None,
    fingerprint: Annotated[str | None, typer.Option("--fingerprint")] = None,
    dry_run: DryRunOption = False,
    batch: BatchOption = 500,
) -> None:
    """Import every folder (or those named) of another IMAP server with flags, keywords,
    dates and special uses; run it again to copy only what is new (or to resume)."""
    from urllib.parse import unquote, urlsplit  # noqa: PLC0415

    from tidings.migrate.imap_resume import default_resume_path  # noqa: PLC0415
    from tidings.migrate.imap_source import import_imap  # noqa: PLC0415
    from tidings.watch.errors import ConfigError  # noqa: PLC0415
    from tidings.watch.url import account_from_url  # noqa: PLC0415

    settings = _resolve_config(ctx)
    account = validate_address(address)
    try:
        source = account_from_url(
            url,
            password_command=password_command, password_env=password_env,
            password_file=password_file, token_command=token_command, auth=auth,
            insecure=insecure or None, ca_file=ca_file, fingerprint=fingerprint,
        )  # fmt: skip
    except ConfigError as error:
        fail(str(error))
    in_url = unquote(urlsplit(url).path.strip("/"))  # the URL's mailbox, as in RFC 5092
    folders = [*([in_url] if in_url else []), *(folder or ())] or None
    state_path = state or default_resume_path(settings.data_dir, account, source.key)
    state_path.parent.mkdir(parents=True, exist_ok=True)
    _run_import(
        settings,
        account,
        lambda importer: import_imap(
            importer,
            source,
            state_path=state_path,
            folders=folders,
            spam_and_trash=spam_and_trash,
        ),
        total=None,
        dry_run=dry_run,
        batch=batch,
    )


def _run_import(
    settings: Config,
    address: str,
    work: Callable[[Any], Awaitable[Any]],
    *,
    total: int | None,
    dry_run: bool,
    batch: int,
) -> None:
    """Open the account (a running server's IDLE clients hear of every batch), run `work`
    with an Importer behind a progress bar, print the summary; exit 1 if it stopped."""
    import time  # noqa: PLC0415

    from tidings.core.errors import MailError, MailErrorKind  # noqa: PLC0415
    from tidings.migrate.importer import Importer, ImportStopped  # noqa: PLC0415
    from tidings.migrate.progress import ImportBar, summary_lines  # noqa: PLC0415

    async def run() -> list[str]:
        async with _open_store(settings, notify=not dry_run) as backend:
            store = await backend.mail_store(address)
            started = time.monotonic()
            with ImportBar(total) as bar:
                importer = Importer(store, dry_run=dry_run, batch_messages=batch, progress=bar)
                try:
                    summary = await work(importer)
                except ImportStopped as stop:
                    lines = summary_lines(
                        importer.summary, time.monotonic() - started, dry_run=dry_run
                    )
                    raise _Stopped(str(stop), lines) from None
            return summary_lines(summary, time.monotonic() - started, dry_run=dry_run)

    try:
        lines = asyncio.run(run())
    except _Stopped as stopped:
        for line in stopped.lines:
            typer.echo(line)
        fail(stopped.reason)
    except MailError as error:
        fail("no such user" if error.kind is MailErrorKind.NOTFOUND else error.reason)
    except OSError as error:
        fail(f"cannot open the data directory {settings.data_dir}: {error}")
    for line in lines:
        typer.echo(line)


class _Stopped(Exception):
    def __init__(self, reason: str, lines: list[str]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.lines = lines


class ExportFormat(enum.StrEnum):
    """What `tidings export --format` writes."""

    MBOX = "mbox"
    MAILDIR = "maildir"


@app.command("export")
@store_options
def export_command(
    ctx: typer.Context,
    address: AddressArgument,
    directory: Annotated[Path, typer.Argument(help="Where to write (created if missing).")],
    output_format: Annotated[
        ExportFormat, typer.Option("--format", help="mbox: a file per mailbox; maildir: Maildir++.")
    ] = ExportFormat.MBOX,
    mailbox: Annotated[
        list[str] | None, typer.Option("--mailbox", metavar="NAME", help="Only these (repeat).")
    ] = None,
) -> None:
    """Export an account's mail with its flags (and, to Maildir, its UIDs)."""
    from tidings.migrate.commands import export_maildir, export_mbox  # noqa: PLC0415

    settings = _resolve_config(ctx)
    account = validate_address(address)
    chosen = tuple(mailbox or ())
    writer = export_mbox if output_format is ExportFormat.MBOX else export_maildir

    async def run(backend: Backend) -> Any:
        from tidings.core.errors import MailError, MailErrorKind  # noqa: PLC0415

        store = await backend.mail_store(account)
        try:
            return await writer(store, directory, chosen)
        except MailError as error:
            if error.kind is MailErrorKind.NOTFOUND:
                fail(f"no such mailbox: {', '.join(chosen)}")
            raise
        except OSError as error:
            fail(f"cannot write to {directory}: {error}")

    summary = _with_backend(settings, run)
    typer.echo(f"exported {summary.messages} messages ({summary.octets} bytes) to {directory}")
    for problem in summary.problems:
        typer.echo(f"  {problem.where}: {problem.reason}")


@app.command()
def watch(  # noqa: PLR0917 - typer maps each parameter to a flag
    url: Annotated[str | None, typer.Argument(help="imaps://USER@HOST[:PORT]/MAILBOX")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="A watch TOML file.")] = None,
    password_command: Annotated[str | None, typer.Option("--password-command")] = None,
    password_env: Annotated[str | None, typer.Option("--password-env")] = None,
    password_file: Annotated[str | None, typer.Option("--password-file")] = None,
    token_command: Annotated[str | None, typer.Option("--token-command")] = None,
    auth: Annotated[str | None, typer.Option("--auth")] = None,
    mailbox: Annotated[list[str] | None, typer.Option("--mailbox")] = None,
    exec_command: Annotated[str | None, typer.Option("--exec")] = None,
    webhook: Annotated[str | None, typer.Option("--webhook")] = None,
    webhook_secret_env: Annotated[str | None, typer.Option("--webhook-secret-env")] = None,
    no_stdout: Annotated[bool, typer.Option("--no-stdout")] = False,
    desktop: Annotated[bool, typer.Option("--desktop")] = False,
    state: Annotated[Path | None, typer.Option("--state")] = None,
    insecure: Annotated[bool, typer.Option("--insecure")] = False,
    ca_file: Annotated[str | None, typer.Option("--ca-file")] = None,
    fingerprint: Annotated[str | None, typer.Option("--fingerprint")] = None,
    once: Annotated[bool, typer.Option("--once")] = False,
    since: Annotated[str | None, typer.Option("--since", metavar="YYYY-MM-DD")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
    mode: Annotated[str | None, typer.Option("--mode", help="auto, notify, idle or poll.")] = None,
    poll_interval: Annotated[float | None, typer.Option("--poll-interval")] = None,
    idle_restart: Annotated[float | None, typer.Option("--idle-restart")] = None,
    noop_timeout: Annotated[float | None, typer.Option("--noop-timeout")] = None,
    include: Annotated[list[str] | None, typer.Option("--include")] = None,
    verbose: Annotated[bool, typer.Option("--verbose")] = False,
) -> None:
    """Watch mailboxes and report new mail, flag changes and expunges as JSON events."""
    from tidings.watch.cli_support import WatchOptions, watch_command  # noqa: PLC0415

    options = WatchOptions(
        url=url, config=config, password_command=password_command,
        password_env=password_env, password_file=password_file, token_command=token_command,
        auth=auth, mailboxes=tuple(mailbox or ()), exec_command=exec_command,
        webhook=webhook, webhook_secret_env=webhook_secret_env, no_stdout=no_stdout,
        desktop=desktop, state=state, insecure=insecure, ca_file=ca_file,
        fingerprint=fingerprint, once=once, since=since, dry_run=dry_run, mode=mode,
        poll_interval=poll_interval, idle_restart=idle_restart, noop_timeout=noop_timeout,
        include=tuple(include or ()), verbose=verbose,
    )  # fmt: skip
    raise typer.Exit(code=watch_command(options))


db_app = typer.Typer(
    no_args_is_help=True, help="The database: schema migrations, moving to PostgreSQL."
)
app.add_typer(db_app, name="db")


@db_app.command("migrate")
@store_options
def db_migrate(ctx: typer.Context) -> None:
    """Create or upgrade the configured database's schema ([storage]; PostgreSQL nodes do
    not migrate on start unless `migrate_on_start = true`)."""
    from tidings.core.errors import MailError  # noqa: PLC0415
    from tidings.storage.db_admin import migrate_storage  # noqa: PLC0415

    settings = _resolve_config(ctx)
    try:
        storage = settings.storage
        before, after = asyncio.run(
            migrate_storage(storage.kind, storage.url, settings.database_path)
        )
    except MailError as error:
        fail(error.reason)
    if before == after:
        typer.echo(f"schema is up to date (version {after})")
    else:
        typer.echo(f"schema migrated from version {before} to {after}")


@db_app.command("index")
@store_options
def db_index(ctx: typer.Context) -> None:
    """Fill in the full-text index and SORT values of mail stored before they existed
    (upgrades from before schema version 5), the newest mail first; safe while serving,
    and to stop and run again."""
    from tidings.app import open_backend  # noqa: PLC0415
    from tidings.core.errors import MailError  # noqa: PLC0415

    async def index_all() -> int:
        backend = await open_backend(_resolve_config(ctx))
        total = 0
        try:
            while True:
                done, left = await backend.index_old_mail()
                total += done
                if not done or not left:
                    return total
                if total % 1024 < done:
                    typer.echo(f"indexed {total} messages, {left} to go")
        finally:
            await backend.close()

    try:
        total = asyncio.run(index_all())
    except MailError as error:
        fail(error.reason)
    if total:
        typer.echo(f"indexed {total} messages stored before the full-text index")
    else:
        typer.echo("every message is indexed already")


@db_app.command("copy")
def db_copy(
    source: Annotated[
        str, typer.Option("--from", metavar="sqlite:PATH", help="The SQLite store (file or DIR).")
    ],
    target: Annotated[
        str, typer.Option("--to", metavar="postgresql://...", help="An empty PostgreSQL database.")
    ],
) -> None:
    """Copy a SQLite installation into PostgreSQL with the same UIDVALIDITY, UIDs, MODSEQs,
    flags and dates, so clients resync without downloading again."""
    from tidings.core.errors import MailError  # noqa: PLC0415
    from tidings.storage.db_admin import parse_sqlite_source  # noqa: PLC0415
    from tidings.storage.postgres.copy import copy_sqlite_to_postgres  # noqa: PLC0415

    try:
        path = parse_sqlite_source(source)
    except ValueError as error:
        fail(str(error))
    if not target.startswith(("postgresql://", "postgres://")):
        fail("--to must be a postgresql:// URL")
    try:
        counts = asyncio.run(copy_sqlite_to_postgres(path, target))
    except MailError as error:
        fail(error.reason)
    typer.echo(", ".join(f"{table} {rows}" for table, rows in counts.items()))
    typer.echo(f"copied {path} into PostgreSQL; point [storage] url at it and start the nodes")


def main() -> None:
    """Entry point of `tidings` and `python -m tidings`."""
    app()
