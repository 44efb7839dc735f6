"""Hypothesis over (state, input) pairs: any sequence of LMTP input, however wrong, gets
well-formed replies in order and ends cleanly; never an internal error, a hang or a crash.

The driver, reader and session run for real, in-process, over a real SQLite store and
Deliverer; only the socket is replaced by an in-memory stream (the transport's twin, as
httpcore's tests do), so that thousands of sessions run in seconds.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tidings.core.limits import Limits
from tidings.delivery.deliverer import Deliverer
from tidings.delivery.settings import DeliverySettings
from tidings.lmtp.driver import serve_connection
from tidings.lmtp.session.context import LmtpServerContext
from tidings.notify.hub import NotificationHub
from tidings.storage.sqlite import SqliteBackend

T = TypeVar("T")
ALICE = "alice@example.test"
BOB = "bob@example.test"
_REPLY_LINE = re.compile(rb"([2-5][0-9][0-9])([ -])[^\r\n]*\r\n")


class MemoryStream:
    """The `net.stream.Stream` interface over bytes in memory: `pieces` are what the client
    sends (one per read), `output` collects what the server writes."""

    peer_host = "127.0.0.1"
    is_loopback = True
    is_tls = False

    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = list(pieces)
        self.output = bytearray()

    async def read(self, max_bytes: int = 65536) -> bytes:
        if not self._pieces:
            return b""
        piece = self._pieces.pop(0)
        if len(piece) > max_bytes:
            self._pieces.insert(0, piece[max_bytes:])
            piece = piece[:max_bytes]
        return piece

    async def write(self, data: bytes) -> None:
        self.output += data

    async def start_tls(self, context: object) -> None:
        raise AssertionError("LMTP has no STARTTLS")

    async def close(self) -> None:
        return None


class Store:
    """One event loop, one SQLite store with two accounts, one LMTP server context."""

    def __init__(self, directory: Path) -> None:
        self.runner = asyncio.Runner()
        self.backend = self.run(SqliteBackend.open(directory / "mail.db", NotificationHub()))
        for account in (ALICE, BOB):
            self.run(self.backend.add_account(account, "unused-hash"))
        limits = Limits(
            lmtp_max_line_length=64,
            lmtp_max_recipients=3,
            max_message_size=300,
            max_bad_commands=10,
            lmtp_timeout=5,
        )
        settings_ = DeliverySettings()
        self.context = LmtpServerContext(
            deliverer=Deliverer(self.backend, settings_),
            settings=settings_,
            limits=limits,
            hostname="mx.test",
        )

    def run(self, awaitable: Awaitable[T]) -> T:
        async def wrapped() -> T:
            return await awaitable

        return self.runner.run(wrapped())

    def serve(self, pieces: list[bytes]) -> bytes:
        stream = MemoryStream(pieces)
        self.run(asyncio.wait_for(serve_connection(stream, self.context), timeout=20))
        return bytes(stream.output)

    def close(self) -> None:
        self.run(self.backend.close())
        self.runner.close()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    instance = Store(tmp_path_factory.mktemp("lmtp-state"))
    yield instance
    instance.close()


_addresses = st.sampled_from(
    [ALICE, BOB, "nobody@example.test", "alice+tag@EXAMPLE.test", "", "bad address", "x"]
)
_message = st.binary(max_size=400).map(lambda b: b.replace(b"\r\n.\r\n", b"\r\n..\r\n"))
_lines = st.one_of(
    st.sampled_from(
        [b"LHLO fuzz.example", b"RSET", b"NOOP", b"DATA", b"VRFY x", b"HELO x", b"", b"."]
    ),
    _addresses.map(lambda a: b"MAIL FROM:<%s>" % a.encode()),
    _addresses.map(lambda a: b"RCPT TO:<%s>" % a.encode()),
    st.tuples(st.integers(0, 500), st.booleans()).map(
        lambda sl: b"MAIL FROM:<a@b> SIZE=%d%s" % (sl[0], b" BODY=8BITMIME" if sl[1] else b"")
    ),
    st.binary(max_size=80).map(lambda b: b.replace(b"\n", b"")),
)
# A whole transaction now and then, so that deliveries (and their per-recipient replies)
# are as much part of the mix as the errors.
_transactions = st.tuples(
    st.lists(_addresses, min_size=1, max_size=4), _message, st.booleans()
).map(
    lambda t: (
        b"MAIL FROM:<s@remote.test>\r\n"
        + b"".join(b"RCPT TO:<%s>\r\n" % a.encode() for a in t[0])
        + (b"BDAT %d LAST\r\n%s" % (len(t[1]), t[1]) if t[2] else b"DATA\r\n" + t[1] + b"\r\n.\r\n")
    )
)
_segments = st.one_of(
    _transactions,
    _lines.map(lambda line: line + b"\r\n"),
    _message.map(lambda m: m + b"\r\n.\r\n"),  # the data, if DATA was accepted
    st.tuples(_message, st.booleans()).map(
        lambda mb: b"BDAT %d%s\r\n%s" % (len(mb[0]), b" LAST" if mb[1] else b"", mb[0])
    ),
)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    pieces, position = [], 0
    for cut in cuts:
        if position >= len(data):
            break
        pieces.append(data[position : position + cut])
        position += cut
    if position < len(data):
        pieces.append(data[position:])
    return pieces


@settings(
    deadline=None, max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    segments=st.lists(_segments, max_size=25),
    cuts=st.lists(st.integers(1, 97), min_size=1, max_size=30),
)
def test_any_input_gets_well_formed_replies_and_ends_cleanly(
    store: Store, segments: list[bytes], cuts: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tidings")
    caplog.clear()
    output = store.serve(_split(b"".join(segments), cuts))
    position = 0
    codes = []
    while position < len(output):
        match = _REPLY_LINE.match(output, position)
        assert match is not None, output[position : position + 200]
        if match.group(2) == b" ":
            codes.append(int(match.group(1)))
        position = match.end()
    event(f"deliveries: {min(output.count(b' Saved'), 3)}")  # --hypothesis-show-statistics
    assert codes[0] == 220
    assert all(code != 451 for code in codes), output  # 451 here means an internal error
    assert 421 not in codes[:-1]  # a 421 is always the last word
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
