"""Helpers for the storage contract suite: an event-loop harness over one backend, the
backend factories and sample messages."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from tidings.notify.hub import NotificationHub
from tidings.storage.api import Backend, MailStore
from tidings.storage.sqlite import SqliteBackend

T = TypeVar("T")

USER = "alice@example.test"
OTHER_USER = "bob@example.test"


def message(subject: str = "hello", body: str = "Hi there.") -> bytes:
    """A small RFC 5322 message with `subject`."""
    return (
        f"From: Carol <carol@example.test>\r\nTo: {USER}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@example.test>\r\n"
        "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n"
        f"{body}\r\n"
    ).encode()


BackendFactory = Callable[[Path, NotificationHub, int | None], Awaitable[Backend]]


async def open_sqlite(path: Path, hub: NotificationHub, max_message_size: int | None) -> Backend:
    """A SQLite backend in `path`."""
    return await SqliteBackend.open(path / "mail.sqlite", hub, max_message_size=max_message_size)


# name -> factory; a PostgreSQL factory joins here and must pass the same suite.
BACKEND_FACTORIES: dict[str, BackendFactory] = {"sqlite": open_sqlite}


class Harness:
    """One backend on one event loop, with a hub that records every notice."""

    def __init__(self, factory: BackendFactory, path: Path, max_message_size: int | None):
        self.loop = asyncio.new_event_loop()
        self.factory = factory
        self.path = path
        self.max_message_size = max_message_size
        self.hub = NotificationHub()
        self.backend: Backend = self.run(factory(path, self.hub, max_message_size))

    def run(self, awaitable: Awaitable[T]) -> T:
        """Run `awaitable` to completion on the harness's loop."""
        return self.loop.run_until_complete(awaitable)

    def store(self, address: str = USER) -> MailStore:
        """A new MailStore for `address` (as a new session would get)."""
        return self.run(self.backend.mail_store(address))

    def reopen(self, max_message_size: int | None = None) -> None:
        """Close the backend and open it again on the same data."""
        self.run(self.backend.close())
        self.backend = self.run(self.factory(self.path, self.hub, max_message_size))

    def close(self) -> None:
        """Close the backend and the loop."""
        try:
            self.run(self.backend.close())
        finally:
            self.loop.close()
