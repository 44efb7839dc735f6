"""The PostgreSQL the tests start themselves (tests/support/postgres.py) is real and usable:
it answers, listens on loopback only, gives each test an empty database, and keeps committed
data across a restart."""

from __future__ import annotations

import asyncio
import importlib.util
from urllib.parse import urlsplit

import pytest
from tests.support.postgres import MAX_CONNECTIONS, PostgresServer


def _database(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/")


def test_server_answers_on_loopback_only(postgres_server: PostgresServer) -> None:
    assert postgres_server.psql("SELECT 1") == "1"
    assert postgres_server.dsn == (
        f"postgresql://postgres@127.0.0.1:{postgres_server.port}/tidings_test"
    )
    assert postgres_server.psql("SHOW listen_addresses") == "127.0.0.1"
    assert postgres_server.psql("SHOW server_encoding") == "UTF8"
    assert postgres_server.psql("SHOW max_connections") == str(MAX_CONNECTIONS)


def test_each_test_gets_a_fresh_empty_database(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    database = _database(postgres_dsn)
    assert database != postgres_server.database
    assert postgres_server.psql("SELECT current_database()", database) == database
    tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
    assert postgres_server.psql(tables, database) == "0"
    # new_database() is cheap and gives another empty one.
    other = _database(postgres_server.new_database("t_other_fresh"))
    try:
        assert postgres_server.psql(tables, other) == "0"
    finally:
        postgres_server.drop_database(other)


def test_data_survives_restart(postgres_server: PostgresServer, postgres_dsn: str) -> None:
    database = _database(postgres_dsn)
    postgres_server.psql(
        "CREATE TABLE kept (id integer PRIMARY KEY, note text NOT NULL);"
        "INSERT INTO kept VALUES (1, 'before restart'), (2, 'ünïcode');",
        database,
    )
    port = postgres_server.port
    postgres_server.restart()
    assert postgres_server.port == port
    assert postgres_server.psql("SELECT note FROM kept ORDER BY id", database) == (
        "before restart\nünïcode"
    )


def test_data_survives_kill(postgres_server: PostgresServer, postgres_dsn: str) -> None:
    database = _database(postgres_dsn)
    postgres_server.psql(
        "CREATE TABLE crashed (id integer); INSERT INTO crashed VALUES (7)", database
    )
    postgres_server.kill()
    assert not postgres_server.is_running()
    postgres_server.start()
    assert postgres_server.psql("SELECT id FROM crashed", database) == "7"


@pytest.mark.skipif(importlib.util.find_spec("asyncpg") is None, reason="asyncpg not installed")
def test_asyncpg_connects(postgres_dsn: str) -> None:
    import asyncpg  # noqa: PLC0415 - optional here

    async def scenario() -> tuple[int, list[str]]:
        connection = await asyncpg.connect(postgres_dsn)
        try:
            one = await connection.fetchval("SELECT 1")
            await connection.execute("CREATE TABLE t (name text)")
            await connection.executemany("INSERT INTO t VALUES ($1)", [("a",), ("b",)])
            rows = await connection.fetch("SELECT name FROM t ORDER BY name")
            return one, [row["name"] for row in rows]
        finally:
            await connection.close()

    assert asyncio.run(scenario()) == (1, ["a", "b"])
