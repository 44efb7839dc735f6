"""The one place that builds concrete objects: storage, hub, authenticator, TLS, listeners.

Everything below this module is written against interfaces (`storage.api.Backend`,
`net.stream.Stream`, ...); here they meet their implementations, and `tidings serve` runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path

from tidings.auth.authenticator import Authenticator
from tidings.config import Config
from tidings.net.listener import (
    ConnectionRegistry,
    Handler,
    bound_addresses,
    format_address,
    start_listener,
    start_listener_on,
    start_unix_listener,
)
from tidings.net.stream import Stream
from tidings.net.tls import load_or_create_certificate
from tidings.notify.hub import NotificationHub
from tidings.notify.relay import NotifyRelay
from tidings.storage.api import Backend

logger = logging.getLogger("tidings")


class StartupError(Exception):
    """The server could not start (a port in use, an unreadable certificate, ...)."""


def configure_logging(level: str, *, worker: int | None = None) -> None:
    """Log to stderr, one line per event, at `level` ("debug", "info", ...); a worker
    process of `serve --workers N` says which one it is (`worker=2`)."""
    tag = "" if worker is None else f"worker={worker} "
    logging.basicConfig(
        stream=sys.stderr,
        level=level.upper(),
        format=f"%(asctime)s %(levelname)s {tag}%(name)s: %(message)s",
        force=True,
    )


async def open_backend(config: Config, hub: NotificationHub | None = None) -> Backend:
    """Open the configured store ([storage]: SQLite in the data dir, PostgreSQL, or memory),
    creating the data dir if needed (for `tidings user ...`). Raises MailError (TEMP) if
    the database cannot be reached or its schema needs `tidings db migrate`."""
    from tidings.delivery.trace import MAX_TRACE_FIELDS_OCTETS  # noqa: PLC0415
    from tidings.storage.sqlite import SqliteBackend  # noqa: PLC0415 - keeps CLI start fast

    # Owner-only: the directory holds password hashes, mail and the TLS private key.
    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Each protocol enforces max_message_size on what the client sent; the store's limit is
    # a backstop that leaves room for the Return-Path/Delivered-To a delivery prepends.
    max_message_size = config.limits.max_message_size + MAX_TRACE_FIELDS_OCTETS
    retention = config.vanished_retention_days * 86400
    storage = config.storage
    if storage.kind == "postgresql":
        from tidings.storage.postgres import PostgresBackend  # noqa: PLC0415

        assert storage.url is not None  # checked by load_config
        return await PostgresBackend.connect(
            storage.url,
            hub,
            max_message_size=max_message_size,
            change_retention=retention,
            pool_size=storage.pool_size,
            migrate=storage.migrate_on_start,
        )
    if storage.kind == "memory":
        return await SqliteBackend.open_memory(
            hub, max_message_size=max_message_size, change_retention=retention
        )
    backend: Backend = await SqliteBackend.open(
        config.database_path, hub, max_message_size=max_message_size, change_retention=retention
    )
    return backend


async def open_store_for_serving(config: Config, hub: NotificationHub | None = None) -> Backend:
    """`open_backend` for `tidings serve`: a store that cannot be opened (PostgreSQL
    unreachable, its schema not migrated) is a StartupError with the reason."""
    from tidings.core.errors import MailError  # noqa: PLC0415

    try:
        return await open_backend(config, hub)
    except MailError as error:
        raise StartupError(f"cannot open the store: {error.reason}") from error


async def run_server(
    config: Config,
    *,
    ready: Callable[[], None] | None = None,
    stop: asyncio.Event | None = None,
    bound: Mapping[str, list[socket.socket]] | None = None,
    handle_signals: bool = True,
) -> None:
    """Serve until SIGTERM/SIGINT (or until `stop` is set), then shut down cleanly.

    `ready` is called once every listener accepts connections. With `bound` (a worker of
    `serve --workers N`), the listeners accept on those already-listening sockets, keyed by
    listener name ("imap", ..., "lmtp_socket"), instead of binding the configured addresses.
    Without `handle_signals` the caller handles SIGTERM/SIGINT itself. Raises StartupError.
    """
    stop_event = stop if stop is not None else asyncio.Event()
    hub = NotificationHub(max_pending=config.limits.notify_queue_size)
    backend = await open_store_for_serving(config, hub)
    connections = ConnectionRegistry()
    servers: list[asyncio.Server] = []
    relay: NotifyRelay | None = None
    try:
        # PostgreSQL carries every process's notices itself (LISTEN/NOTIFY), `tidings
        # deliver`'s too; the loopback relay is for stores that cannot.
        if config.storage.kind != "postgresql":
            relay = await _start_relay(config, hub)
        # Signals are handled before the first listener accepts: a client can be greeted
        # while the later listeners are still starting, and a SIGTERM then must stop the
        # server cleanly rather than kill it (seen in CI).
        with signals_set(stop_event) if handle_signals else contextlib.nullcontext():
            servers = await _start_listeners(config, backend, hub, connections, bound)
            if ready is not None:
                ready()
            await stop_event.wait()
        logger.info("shutting down")
    finally:
        try:
            await _shutdown(servers, connections, backend)
        finally:
            if relay is not None:  # after the store: the last commits' notices still go out
                await relay.close()


async def _start_relay(config: Config, hub: NotificationHub) -> NotifyRelay:
    """Change notices to and from other processes on this store (`tidings deliver`, ...)."""
    try:
        return await NotifyRelay.start(hub, config.data_dir, listen=True)
    except OSError as error:
        raise StartupError(f"cannot start the change-notice relay: {error}") from error


async def _start_listeners(
    config: Config,
    backend: Backend,
    hub: NotificationHub,
    connections: ConnectionRegistry,
    bound: Mapping[str, list[socket.socket]] | None,
) -> list[asyncio.Server]:
    from tidings.delivery.deliverer import Deliverer  # noqa: PLC0415 - keeps CLI start fast
    from tidings.imap.driver import serve_connection as serve_imap  # noqa: PLC0415
    from tidings.imap.session.context import ImapServerContext  # noqa: PLC0415
    from tidings.lmtp.driver import serve_connection as serve_lmtp  # noqa: PLC0415
    from tidings.lmtp.session.context import LmtpServerContext  # noqa: PLC0415
    from tidings.pop3.driver import serve_connection as serve_pop3  # noqa: PLC0415
    from tidings.pop3.session.context import Pop3ServerContext  # noqa: PLC0415

    try:
        tls_context = load_or_create_certificate(
            config.data_dir, config.tls_cert_file, config.tls_key_file
        )
    except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
        raise StartupError(f"cannot load the TLS certificate: {error}") from error
    # One authenticator, so failed logins over IMAP and POP3 share one throttle per peer.
    authenticator = Authenticator(backend, config.limits)
    await authenticator.refresh_scram_offer()  # SCRAM is advertised once every account can
    imap_context = ImapServerContext(
        backend=backend,
        hub=hub,
        authenticator=authenticator,
        limits=config.limits,
        tls_context=tls_context,
    )
    pop3_context = Pop3ServerContext(
        backend=backend,
        authenticator=authenticator,
        limits=config.limits,
        tls_context=tls_context,
    )
    lmtp_context = LmtpServerContext(
        deliverer=Deliverer(backend, config.delivery),
        settings=config.delivery,
        limits=config.limits,
        hostname=config.delivery.hostname or socket.gethostname() or "localhost",
    )

    def imap_handler(stream: Stream) -> Awaitable[None]:
        return serve_imap(stream, imap_context)

    def pop3_handler(stream: Stream) -> Awaitable[None]:
        return serve_pop3(stream, pop3_context)

    def lmtp_handler(stream: Stream) -> Awaitable[None]:
        return serve_lmtp(stream, lmtp_context)

    plan: list[tuple[str, tuple[str, int] | None, Handler, bool]] = [
        ("imap", config.imap, imap_handler, False),
        ("imaps", config.imaps, imap_handler, True),
        ("pop3", config.pop3, pop3_handler, False),
        ("pop3s", config.pop3s, pop3_handler, True),
        ("lmtp", config.lmtp, lmtp_handler, False),
    ]
    servers: list[asyncio.Server] = []
    try:
        if bound is not None:  # a worker: accept on the supervisor's sockets
            plan.append(("lmtp_socket", None, lmtp_handler, False))
            for name, _, handler, implicit_tls in plan:
                listener_tls = tls_context if implicit_tls else None
                for sock in bound.get(name, []):
                    server = await start_listener_on(
                        sock, handler, ssl_context=listener_tls, connections=connections
                    )
                    servers.append(server)
            return servers
        for name, address, handler, implicit_tls in plan:
            if address is None:
                continue
            listener_tls = tls_context if implicit_tls else None
            servers.append(await _listen(name, address, handler, listener_tls, connections))
        if config.lmtp_socket is not None:
            servers.append(await _listen_unix(config.lmtp_socket, lmtp_handler, connections))
    except BaseException:
        for server in servers:
            server.close()
        raise
    return servers


async def _listen_unix(
    path: Path, handler: Handler, connections: ConnectionRegistry
) -> asyncio.Server:
    try:
        server = await start_unix_listener(path, handler, connections=connections)
    except OSError as error:
        raise StartupError(
            f"cannot listen for lmtp on {path}: {error.strerror or error}"
        ) from error
    logger.info("lmtp listening on unix:%s", path)
    return server


async def _listen(
    name: str,
    address: tuple[str, int],
    handler: Handler,
    ssl_context: ssl.SSLContext | None,
    connections: ConnectionRegistry,
) -> asyncio.Server:
    try:
        server = await start_listener(
            *address, handler, ssl_context=ssl_context, connections=connections
        )
    except OSError as error:
        raise StartupError(
            f"cannot listen for {name} on {format_address(*address)}: {error.strerror or error}"
        ) from error
    for where in bound_addresses(server):
        logger.info("%s listening on %s", name, where)
    return server


async def _shutdown(
    servers: list[asyncio.Server], connections: ConnectionRegistry, backend: Backend
) -> None:
    """Stop accepting, close live connections, then close the store (in that order, so no
    session writes to a closed backend)."""
    for server in servers:
        server.close()
    await connections.close_all()
    for server in servers:
        # Python 3.12+ waits here for connections, which close_all has already ended.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), timeout=5)
    await backend.close()


@contextlib.contextmanager
def signals_set(event: asyncio.Event) -> Iterator[None]:
    """Set `event` on SIGTERM/SIGINT while inside the block (the supervisor of `--workers`
    uses it too: its workers get SIGTERM from it, and on a Ctrl-C SIGINT themselves)."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, event.set)
            installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
