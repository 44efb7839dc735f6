"""The two servers under test, started side by side on loopback with the same accounts.

- Tidings: `tidings serve` (a subprocess, as users run it) on a fresh data directory, the
  embedded SQLite store, its default durability.
- Dovecot 2.3 from Debian (tests/support/dovecot.py installs and configures it), with Maildir
  and Dovecot's default `mail_fsync = optimized` (the test config's `never` is put back), and
  process limits raised so that it can hold as many IDLE connections as it has memory for.

`fill()` gives every account the same messages over IMAP APPEND, the same path on both.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import TidingsServer, make_server
from tests.support.dovecot import start_dovecot

from bench.common import PASSWORD, account
from bench.imap import BenchImap
from tidings.auth.passwords import hash_password
from tidings.storage.sqlite import SqliteBackend

DOVECOT_BENCH_CONFIG = """
mail_fsync = optimized
default_process_limit = 60000
default_client_limit = 120000
default_vsz_limit = 0
service imap {
  process_limit = 60000
}
service imap-login {
  service_count = 0
  process_min_avail = 2
  client_limit = 60000
}
service lmtp {
  process_min_avail = 1
}
protocol imap {
  mail_max_userip_connections = 60000
}
"""


@dataclass
class Server:
    """One running server, as the scenarios see it."""

    name: str
    imap_port: int
    lmtp_port: int
    pid: int
    stop_it: object

    def stop(self) -> None:
        self.stop_it.stop()  # type: ignore[attr-defined]


async def _add_accounts(db: Path, addresses: Sequence[str]) -> None:
    backend = await SqliteBackend.open(db)
    try:
        password_hash = hash_password(PASSWORD)
        for address in addresses:
            if await backend.password_hash(address) is None:
                await backend.add_account(address, password_hash)
    finally:
        await backend.close()


def start_tidings(base: Path, accounts: int, *extra_args: str) -> Server:
    """`tidings serve` with `accounts` bench accounts."""
    data = base / "tidings"
    server: TidingsServer = make_server(data)
    asyncio.run(_add_accounts(data / "mail.db", [account(i) for i in range(accounts)]))
    server.start(*extra_args)
    assert server.process is not None
    return Server("Tidings", server.imap_port, server.lmtp_port, server.process.pid, server)


def start_dovecot_bench(base: Path, accounts: int) -> Server:
    """A private Dovecot with the same accounts."""
    users = [(account(i), PASSWORD) for i in range(accounts)]
    dovecot = start_dovecot(base / "dovecot", extra_config=DOVECOT_BENCH_CONFIG, extra_users=users)
    assert dovecot.process is not None
    return Server("Dovecot", dovecot.imap_port, dovecot.lmtp_port, dovecot.process.pid, dovecot)


@contextlib.contextmanager
def both(base: Path, accounts: int, *, tidings_args: Sequence[str] = ()) -> Iterator[list[Server]]:
    """Tidings and Dovecot, stopped on leaving."""
    started: list[Server] = []
    try:
        started.append(start_tidings(base, accounts, *tidings_args))
        started.append(start_dovecot_bench(base, accounts))
        yield started
    finally:
        for server in started:
            server.stop()


async def fill(
    server: Server,
    addresses: Sequence[str],
    messages: Sequence[bytes],
    *,
    mailbox: str = "INBOX",
    concurrency: int = 8,
) -> None:
    """APPEND `messages` to `mailbox` of each of `addresses` (several at once)."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for address in addresses:
        queue.put_nowait(address)

    async def worker() -> None:
        while not queue.empty():
            address = queue.get_nowait()
            client = await BenchImap.connect(server.imap_port)
            await client.login(address, PASSWORD)
            for message in messages:
                await client.append(mailbox, message)
            await client.logout()

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(addresses)))))
