"""The PostgreSQL storage backend: several Tidings nodes on one database (issue 7)."""

from tidings.storage.postgres.backend import PostgresBackend

__all__ = ["PostgresBackend"]
