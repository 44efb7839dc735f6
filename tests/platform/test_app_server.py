"""`run_server` wiring: listeners, STARTTLS context, POP3/LMTP placeholders, clean shutdown.

The IMAP driver and the store are replaced by fakes here, so these tests check only what
app.py does; the full server is exercised by the interop tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import types
from pathlib import Path

import pytest

from tidings import app as app_module
from tidings.app import StartupError, run_server
from tidings.config import Config
from tidings.net.stream import Stream


class FakeBackend:
    closed = False

    async def close(self) -> None:
        self.closed = True

    async def password_hash(self, address: str) -> str | None:
        return None

    async def count_accounts_without_scram(self) -> int:
        return 0


@pytest.fixture
def fake_parts(monkeypatch: pytest.MonkeyPatch) -> tuple[FakeBackend, list[object]]:
    backend = FakeBackend()
    contexts: list[object] = []

    async def serve_connection(stream: Stream, context: object) -> None:
        contexts.append(context)
        await stream.write(f"* OK fake tls={stream.is_tls}\r\n".encode())
        await stream.read()  # until the client or the shutdown closes the connection

    async def open_backend(config: Config, hub: object = None) -> FakeBackend:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        return backend

    driver = types.ModuleType("tidings.imap.driver")
    driver.serve_connection = serve_connection  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, "tidings.imap.driver", driver)
    monkeypatch.setattr(app_module, "open_backend", open_backend)
    return backend, contexts


def config_for(tmp_path: Path, **listen: tuple[str, int] | None) -> Config:
    values: dict[str, object] = {
        "imap": ("127.0.0.1", 0),
        "imaps": ("127.0.0.1", 0),
        "pop3": None,
        "pop3s": None,
        "lmtp": None,
    }
    values.update(listen)
    return Config(data_dir=tmp_path / "data", **values)  # type: ignore[arg-type]


def test_serves_imap_and_imaps_then_shuts_down(
    tmp_path: Path,
    fake_parts: tuple[FakeBackend, list[object]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend, contexts = fake_parts

    async def scenario() -> tuple[bytes, bytes, bytes]:
        stop = asyncio.Event()
        ready = asyncio.Event()
        task = asyncio.create_task(run_server(config_for(tmp_path), ready=ready.set, stop=stop))
        await asyncio.wait_for(ready.wait(), 10)
        ports = [int(line.rsplit(":", 1)[1]) for line in caplog.messages if "listening" in line]
        plain_port, tls_port = ports
        reader, writer = await asyncio.open_connection("127.0.0.1", plain_port)
        plain = await reader.readline()
        client_tls = ssl.create_default_context(cafile=str(tmp_path / "data" / "tls" / "cert.pem"))
        tls_reader, tls_writer = await asyncio.open_connection(
            "127.0.0.1", tls_port, ssl=client_tls, server_hostname="localhost"
        )
        secure = await tls_reader.readline()
        stop.set()
        await asyncio.wait_for(task, 15)
        after = await asyncio.wait_for(reader.read(), 5)  # the server closed the connection
        for w in (writer, tls_writer):
            w.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await w.wait_closed()
        return plain, secure, after

    with caplog.at_level("INFO"):
        plain, secure, after = asyncio.run(scenario())
    assert plain == b"* OK fake tls=False\r\n"
    assert secure == b"* OK fake tls=True\r\n"
    assert after == b""
    assert backend.closed
    context = contexts[0]
    assert isinstance(context.tls_context, ssl.SSLContext)  # type: ignore[attr-defined]
    assert "imap listening on 127.0.0.1:" in caplog.text
    assert "imaps listening on 127.0.0.1:" in caplog.text


def test_pop3_pop3s_lmtp_and_the_lmtp_socket_listen(
    tmp_path: Path, fake_parts: tuple[FakeBackend, list[object]], caplog: pytest.LogCaptureFixture
) -> None:
    socket_path = tmp_path / "run" / "lmtp.sock"

    async def scenario() -> None:
        stop = asyncio.Event()
        config = config_for(
            tmp_path,
            imaps=None,
            pop3=("127.0.0.1", 0),
            pop3s=("127.0.0.1", 0),
            lmtp=("127.0.0.1", 0),
            lmtp_socket=socket_path,
        )

        def ready() -> None:
            assert socket_path.is_socket()
            stop.set()

        await run_server(config, ready=ready, stop=stop)

    with caplog.at_level("INFO"):
        asyncio.run(scenario())
    for name in ("pop3", "pop3s", "lmtp"):
        assert f"{name} listening on 127.0.0.1:" in caplog.text
    assert f"lmtp listening on unix:{socket_path}" in caplog.text


def test_port_in_use_is_a_startup_error(
    tmp_path: Path, fake_parts: tuple[FakeBackend, list[object]]
) -> None:
    backend, _ = fake_parts
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        config = config_for(tmp_path, imaps=("127.0.0.1", port))
        with pytest.raises(StartupError, match=f"cannot listen for imaps on 127.0.0.1:{port}"):
            asyncio.run(run_server(config))
    assert backend.closed
