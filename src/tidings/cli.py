"""The command line: `tidings serve` and `tidings user add|passwd|remove|list`.

Exit status 0 on success; 1 with a one-line message on stderr for an expected failure ("user
exists", "no such user", a bad config key); 2 for a usage error (click's convention).
`--data` and `--config` work before the subcommand (`tidings --data D user list`) and after it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from tidings.config import Config, ConfigError, load_config
from tidings.net.listener import format_address

T = TypeVar("T")

DEMO_ADDRESS = "demo@example.test"
DEMO_PASSWORD_FILE = "demo-password"

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Tidings: a mail access server (IMAP4rev2/IMAP4rev1 with IDLE push).",
)
user_app = typer.Typer(no_args_is_help=True, help="Manage accounts (addresses and passwords).")
app.add_typer(user_app, name="user")

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        metavar="DIR",
        help="Data directory (env TIDINGS_DATA; default ./tidings-data).",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", metavar="FILE", help="TOML config file (env TIDINGS_CONFIG)."),
]
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
    """Options given before the subcommand."""

    data: Path | None
    config: Path | None


def fail(message: str) -> NoReturn:
    """Print `message` on stderr and exit with status 1."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def _resolve_config(
    ctx: typer.Context, data: Path | None, config: Path | None, **overrides: Any
) -> Config:
    """The Config from subcommand options, falling back to the global ones."""
    root = ctx.find_root().obj
    globals_ = root if isinstance(root, GlobalOptions) else GlobalOptions(None, None)
    try:
        return load_config(
            config or globals_.config, {"data_dir": data or globals_.data, **overrides}
        )
    except ConfigError as error:
        fail(str(error))


@app.callback()
def root(ctx: typer.Context, data: DataOption = None, config: ConfigOption = None) -> None:
    """Tidings: a mail access server."""
    ctx.obj = GlobalOptions(data=data, config=config)


@app.command()
def serve(  # noqa: PLR0917 - typer maps each parameter to a flag; there is one per listener
    ctx: typer.Context,
    data: DataOption = None,
    config: ConfigOption = None,
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
) -> None:
    """Run every listener until SIGTERM or Ctrl-C."""
    from tidings.app import StartupError, configure_logging, run_server  # noqa: PLC0415

    listen = {"imap": imap, "imaps": imaps, "pop3": pop3, "pop3s": pop3s, "lmtp": lmtp}
    settings = _resolve_config(ctx, data, config, log_level=log_level, **listen)
    if settings.log_level not in ("debug", "info", "warning", "error"):
        fail(f"bad --log-level {settings.log_level!r}")
    configure_logging(settings.log_level)

    async def main() -> None:
        password = await ensure_demo_account(settings) if demo else None
        ready = (lambda: print_demo_box(settings, password)) if password else None
        await run_server(settings, ready=ready)

    try:
        asyncio.run(main())
    except (StartupError, OSError) as error:
        fail(str(error))
    except ImportError as error:
        fail(f"a server component is missing: {error}")


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(help="The account's email address.")],
    password_stdin: PasswordStdinOption = False,
    data: DataOption = None,
    config: ConfigOption = None,
) -> None:
    """Create an account with its default mailboxes."""
    settings = _resolve_config(ctx, data, config)
    account = validate_address(address)
    password_hash = _hash(read_password(password_stdin))
    _with_backend(settings, lambda backend: backend.add_account(account, password_hash))


@user_app.command("passwd")
def user_passwd(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(help="The account's email address.")],
    password_stdin: PasswordStdinOption = False,
    data: DataOption = None,
    config: ConfigOption = None,
) -> None:
    """Set a new password."""
    settings = _resolve_config(ctx, data, config)
    account = validate_address(address)
    password_hash = _hash(read_password(password_stdin))
    _with_backend(settings, lambda backend: backend.set_password_hash(account, password_hash))


@user_app.command("remove")
def user_remove(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(help="The account's email address.")],
    data: DataOption = None,
    config: ConfigOption = None,
) -> None:
    """Delete an account and all its mail."""
    settings = _resolve_config(ctx, data, config)
    account = validate_address(address)
    _with_backend(settings, lambda backend: backend.remove_account(account))


@user_app.command("list")
def user_list(ctx: typer.Context, data: DataOption = None, config: ConfigOption = None) -> None:
    """Print every account, one per line."""
    settings = _resolve_config(ctx, data, config)
    for account in _with_backend(settings, lambda backend: backend.list_accounts()):
        typer.echo(account)


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


def _hash(password: str) -> str:
    from tidings.auth.passwords import hash_password  # noqa: PLC0415 - argon2 loads slowly

    return hash_password(password)


def _with_backend(settings: Config, action: Callable[[Any], Awaitable[T]]) -> T:
    """Open the store, run `action` on it, close it; map storage errors to exit 1."""
    from tidings.core.errors import MailError, MailErrorKind  # noqa: PLC0415

    async def run() -> T:
        from tidings.app import open_backend  # noqa: PLC0415

        backend = await open_backend(settings)
        try:
            return await action(backend)
        finally:
            await backend.close()

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
        password_hash = await asyncio.to_thread(_hash, password)
        if exists:  # the password file was lost: the demo account gets a new password
            await backend.set_password_hash(DEMO_ADDRESS, password_hash)
        else:
            await backend.add_account(DEMO_ADDRESS, password_hash)
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


def print_demo_box(settings: Config, password: str) -> None:
    """Print the demo message on stdout: the facts in an ASCII box (any terminal shows it),
    the commands below it without borders, so they can be copied as they are."""
    facts, examples = demo_text(settings, password)
    width = max(len(line) for line in facts)
    border = "+" + "-" * (width + 2) + "+"
    lines = [border, *(f"| {line.ljust(width)} |" for line in facts), border, "", *examples, ""]
    print("\n".join(lines), flush=True)


def main() -> None:
    """Entry point of `tidings` and `python -m tidings`."""
    app()
