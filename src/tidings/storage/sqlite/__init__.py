"""The embedded storage backend: SQLite in WAL mode (DESIGN.md "Storage")."""

from tidings.storage.sqlite.backend import SqliteBackend
from tidings.storage.sqlite.store import SqliteMailStore

__all__ = ["SqliteBackend", "SqliteMailStore"]
