"""Listeners over plain TCP and implicit TLS, with an echo handler; listen addresses."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from tidings.net.listener import (
    ConnectionRegistry,
    bound_addresses,
    format_address,
    parse_listen_address,
    start_listener,
)
from tidings.net.stream import Stream
from tidings.net.tls import load_or_create_certificate


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:1143", ("127.0.0.1", 1143)),
        ("0.0.0.0:993", ("0.0.0.0", 993)),
        ("localhost:0", ("localhost", 0)),
        ("[::1]:1993", ("::1", 1993)),
        ("[::]:143", ("::", 143)),
        ("off", None),
        ("OFF", None),
        (" off ", None),
    ],
)
def test_parse_listen_address(text: str, expected: tuple[str, int] | None) -> None:
    assert parse_listen_address(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1143",
        ":1143",
        "host:",
        "host:port",
        "host:70000",
        "::1:143",
        "[::1]143",
        "[nothost]:143",
        "host:-1",
        "on",
    ],
)
def test_parse_listen_address_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_listen_address(text)


def test_format_address() -> None:
    assert format_address("::1", 143) == "[::1]:143"
    assert format_address("127.0.0.1", 143) == "127.0.0.1:143"


async def echo(stream: Stream) -> None:
    await stream.write(
        f"hello {stream.peer_host} loopback={stream.is_loopback} tls={stream.is_tls}\r\n".encode()
    )
    while data := await stream.read():
        await stream.write(data)


async def exchange(port: int, ssl_context: ssl.SSLContext | None = None) -> tuple[bytes, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ssl_context)
    greeting = await reader.readline()
    writer.write(b"ping\r\n")
    await writer.drain()
    reply = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return greeting, reply


def test_plain_echo() -> None:
    async def scenario() -> tuple[bytes, bytes]:
        server = await start_listener("127.0.0.1", 0, echo)
        port = server.sockets[0].getsockname()[1]
        assert bound_addresses(server) == [f"127.0.0.1:{port}"]
        try:
            return await exchange(port)
        finally:
            server.close()
            await server.wait_closed()

    greeting, reply = asyncio.run(scenario())
    assert greeting == b"hello 127.0.0.1 loopback=True tls=False\r\n"
    assert reply == b"ping\r\n"


def test_implicit_tls_echo(tmp_path: Path) -> None:
    server_context = load_or_create_certificate(tmp_path, None, None)
    client_context = ssl.create_default_context(cafile=str(tmp_path / "tls" / "cert.pem"))

    async def scenario() -> tuple[bytes, bytes]:
        server = await start_listener("127.0.0.1", 0, echo, ssl_context=server_context)
        port = server.sockets[0].getsockname()[1]
        try:
            return await exchange(port, client_context)
        finally:
            server.close()
            await server.wait_closed()

    greeting, reply = asyncio.run(scenario())
    assert greeting.endswith(b"tls=True\r\n")
    assert reply == b"ping\r\n"


def test_handler_errors_are_logged_and_connection_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(stream: Stream) -> None:
        await stream.write(b"about to fail\r\n")
        raise RuntimeError("boom")

    async def scenario() -> tuple[bytes, bytes]:
        server = await start_listener("127.0.0.1", 0, broken)
        port = server.sockets[0].getsockname()[1]
        try:
            results = []
            for _ in range(2):  # the server survives the first failure
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                results.append(await reader.read())  # read to EOF: the stream was closed
                writer.close()
                await writer.wait_closed()
            return results[0], results[1]
        finally:
            server.close()
            await server.wait_closed()

    first, second = asyncio.run(scenario())
    assert first == second == b"about to fail\r\n"
    assert "connection from 127.0.0.1 failed" in caplog.text
    assert "boom" in caplog.text


def test_close_all_ends_live_connections() -> None:
    async def scenario() -> bytes:
        registry = ConnectionRegistry()
        server = await start_listener("127.0.0.1", 0, echo, connections=registry)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await reader.readline()
        assert len(registry) == 1
        server.close()
        await registry.close_all(grace=2)
        rest = await asyncio.wait_for(reader.read(), timeout=5)
        assert len(registry) == 0
        writer.close()
        await writer.wait_closed()
        await server.wait_closed()
        return rest

    assert asyncio.run(scenario()) == b""


def test_close_all_cancels_handlers_that_ignore_eof() -> None:
    async def scenario() -> bool:
        was_cancelled = False

        started = asyncio.Event()

        async def stubborn(stream: Stream) -> None:
            nonlocal was_cancelled
            started.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                was_cancelled = True
                raise

        registry = ConnectionRegistry()
        server = await start_listener("127.0.0.1", 0, stubborn, connections=registry)
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.wait_for(started.wait(), 5)
        server.close()
        await registry.close_all(grace=0.1)
        writer.close()
        await writer.wait_closed()
        await server.wait_closed()
        return was_cancelled

    assert asyncio.run(scenario())
