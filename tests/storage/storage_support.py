"""Helpers for the storage contract suite: an event-loop harness over one backend, the
backend factories and sample messages."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tidings.notify.hub import NotificationHub
from tidings.storage.api import Backend, MailStore
from tidings.storage.postgres import PostgresBackend
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


# A factory opens the backend kept at a location: a directory (SQLite), a DSN (PostgreSQL).
BackendFactory = Callable[[Any, NotificationHub, int | None], Awaitable[Backend]]


async def open_sqlite(path: Path, hub: NotificationHub, max_message_size: int | None) -> Backend:
    """A SQLite backend in `path`."""
    return await SqliteBackend.open(path / "mail.sqlite", hub, max_message_size=max_message_size)


async def open_memory(_path: Path, hub: NotificationHub, max_message_size: int | None) -> Backend:
    """A fresh in-memory backend (what a reopen finds is a new, empty one)."""
    return await SqliteBackend.open_memory(hub, max_message_size=max_message_size)


async def open_postgresql(dsn: str, hub: NotificationHub, max_message_size: int | None) -> Backend:
    """A PostgreSQL backend on the database `dsn` (migrated on first open)."""
    return await PostgresBackend.connect(dsn, hub, max_message_size=max_message_size, migrate=True)


# name -> factory: every backend passes the same suite. Tests that look inside the SQLite
# file itself ask for `sqlite_harness` instead (tests/storage/conftest.py).
BACKEND_FACTORIES: dict[str, BackendFactory] = {
    "memory": open_memory,
    "sqlite": open_sqlite,
    "postgresql": open_postgresql,
}


class Harness:
    """One backend on one event loop, with a hub that records every notice."""

    def __init__(self, factory: BackendFactory, path: Any, max_message_size: int | None):
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
        if self.factory is open_memory:
            pytest.skip("the memory backend keeps nothing once closed: there is no reopening")
        self.run(self.backend.close())
        self.backend = self.run(self.factory(self.path, self.hub, max_message_size))

    def close(self) -> None:
        """Close the backend and the loop."""
        try:
            self.run(self.backend.close())
        finally:
            self.loop.close()
