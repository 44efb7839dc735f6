"""A Deliverer over a real SqliteBackend in a temporary directory, driven from sync tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

from tidings.delivery.deliverer import Deliverer, DeliveryResult
from tidings.delivery.settings import DeliverySettings
from tidings.notify.hub import NotificationHub
from tidings.storage.api import MailStore
from tidings.storage.sqlite import SqliteBackend

T = TypeVar("T")

ALICE = "alice@example.test"
BOB = "bob@example.test"
MESSAGE = (
    b"From: Carol <carol@example.test>\r\nTo: alice@example.test\r\nSubject: hello\r\n"
    b"Message-ID: <hello@example.test>\r\n\r\nHi there.\r\n"
)


class DeliveryHarness:
    """One event loop, one store with ALICE and BOB, one Deliverer."""

    def __init__(
        self,
        directory: Path,
        settings: DeliverySettings | None = None,
        max_message_size: int | None = None,
    ) -> None:
        self._runner = asyncio.Runner()
        self.hub = NotificationHub()
        self.backend = self.run(
            SqliteBackend.open(directory / "mail.db", self.hub, max_message_size=max_message_size)
        )
        for account in (ALICE, BOB):
            self.run(self.backend.add_account(account, "hash"))
        self.deliverer = Deliverer(self.backend, settings or DeliverySettings())

    def run(self, awaitable: Awaitable[T]) -> T:
        """Run `awaitable` on the harness's loop."""
        return self._runner.run(_as_coroutine(awaitable))

    def store(self, account: str = ALICE) -> MailStore:
        """The account's MailStore."""
        return self.run(self.backend.mail_store(account))

    def deliver(
        self, address: str, message: bytes = MESSAGE, *, sender: str = "s@remote.test", **kw: object
    ) -> DeliveryResult:
        """Resolve `address` and deliver `message` to it."""
        recipient = self.run(self.deliverer.resolve(address))
        return self.run(self.deliverer.deliver(recipient, message, sender=sender, **kw))  # type: ignore[arg-type]

    def stored(self, result: DeliveryResult, account: str = ALICE) -> bytes:
        """The stored bytes of a delivered message."""
        store = self.store(account)
        mailbox = self.run(store.get_mailbox(result.mailbox))
        assert mailbox.uidvalidity == result.uidvalidity
        return self.run(store.read_message(mailbox.id, result.uid))

    def close(self) -> None:
        """Close the store and the loop."""
        self.run(self.backend.close())
        self._runner.close()


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable
