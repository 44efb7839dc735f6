"""Differential test: COMPRESS=DEFLATE (RFC 4978), Tidings against Dovecot 2.3 (imap_zlib).

The private Dovecot gets its `imap_zlib` plugin. The same client script (the zlib client
of tests/support/imap_compress.py) runs against both servers, and what it observes must be
the same, except the differences DEVIATIONS.md lists under "COMPRESS" (C1, C2), which are
asserted explicitly so that a note that goes stale fails. Running the script against
Dovecot also checks the test client itself against a reference implementation.
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from tests.conftest import SECOND_PASSWORD, SECOND_USER, TidingsServer, make_server
from tests.differential.raw_imap import ProtocolError, RawImap
from tests.imap.harness import LineClient
from tests.support.dovecot import DOVECOT_BINARY, DovecotServer, skip_requested, start_dovecot
from tests.support.imap_compress import DeflateSocket, start_compression

pytestmark = pytest.mark.dovecot

ZLIB_CONFIG = """
# Added by tests/differential/test_rfc4978_compress_vs_dovecot.py: COMPRESS=DEFLATE.
protocol imap {
  mail_plugins = $mail_plugins imap_zlib
}
"""
_TAGGED = re.compile(r"^\S+ (OK|NO|BAD)( \[[A-Z-]+)?")
MESSAGE = (
    b"From: a@example.test\r\nSubject: compressed\r\n\r\n"
    + b"Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n" * 4000
)


@pytest.fixture(scope="module")
def zlib_dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    """A private Dovecot with COMPRESS=DEFLATE (`dovecot reload` after the config change)."""
    if skip_requested():
        pytest.skip("TIDINGS_SKIP_DOVECOT=1: differential tests against Dovecot skipped")
    server = start_dovecot(tmp_path_factory.mktemp("dovecot-zlib"))
    try:
        server.config_path.write_text(server.config_path.read_text() + ZLIB_CONFIG)
        subprocess.run(
            [str(DOVECOT_BINARY), "-c", str(server.config_path), "reload"],
            capture_output=True,
            timeout=30,
            check=True,
        )
        deadline = time.monotonic() + 30
        while True:
            # While the master restarts its children, a connection may be dropped: retry.
            with (
                contextlib.suppress(OSError, ProtocolError),
                RawImap(server.host, server.imap_port) as client,
            ):
                client.login(server.user, server.password)
                if b" COMPRESS=DEFLATE" in client.command(b"CAPABILITY").untagged[0]:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"Dovecot did not load imap_zlib:\n{server.log_text()}")
            time.sleep(0.1)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def zlib_tidings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TidingsServer]:
    """A `tidings serve` with the same two accounts."""
    server = make_server(tmp_path_factory.mktemp("tidings-compress-diff"))
    server.start()
    yield server
    server.stop()


def outcome(line: str) -> str:
    """`OK`, `NO [CODE` or `BAD` of a tagged line: texts differ between servers."""
    match = _TAGGED.match(line)
    assert match is not None, line
    return match.group(1) + (match.group(2) or "")


def read_literal(client: LineClient) -> bytes:
    """The literal of the next `* n FETCH (... {size}` response, and the rest of it."""
    head = client.read_line()
    assert head.endswith("}"), head
    body = client.read_exact(int(head[head.rindex("{") + 1 : -1]))
    client.read_line()
    return body


def next_update(client: LineClient) -> str:
    """The next untagged line other than RECENT."""
    line = client.read_line()
    while line.endswith(" RECENT"):
        line = client.read_line()
    return line


def closed(client: LineClient) -> bool:
    """Whether the server closes the connection (rather than answering) within 10 s."""
    assert isinstance(client.sock, DeflateSocket)
    raw = client.sock.sock
    raw.settimeout(10)
    try:
        while raw.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def observe(port: int, user: str, password: str, mailbox: str) -> dict[str, object]:
    """Run the COMPRESS script on one server; what it saw, by step."""
    seen: dict[str, object] = {}
    client = LineClient(port, timeout=30)
    other = LineClient(port, timeout=30)
    try:
        seen["before login"] = outcome(client.command("a", "COMPRESS DEFLATE")[-1])
        client.login(user, password)
        seen["advertised"] = "COMPRESS=DEFLATE" in client.command("b", "CAPABILITY")[0].split()
        wire = start_compression(client, "c")
        seen["ok was last plain line"] = wire.wire_in == 0
        # Only the status: OBJECTID servers add [MAILBOXID ...] (RFC 8474 §4.1).
        seen["create"] = outcome(client.command("d", f"CREATE {mailbox}")[-1]).split()[0]
        client.send_line(f"e APPEND {mailbox} {{{len(MESSAGE)}}}")
        seen["continuation"] = client.read_line().startswith("+")
        client.send(MESSAGE + b"\r\n")
        seen["append"] = outcome(client.read_until_tagged("e")[-1])
        seen["select"] = outcome(client.command("f", f"SELECT {mailbox}")[-1])
        client.send_line("g FETCH 1 BODY.PEEK[]")
        seen["body"] = read_literal(client) == MESSAGE
        seen["fetch"] = outcome(client.read_until_tagged("g")[-1])
        seen["compressed well"] = wire.wire_in < wire.plain_in / 10
        seen["twice"] = outcome(client.command("h", "COMPRESS DEFLATE")[-1])
        client.send_line("i IDLE")
        seen["idling"] = client.read_line().startswith("+")
        other.login(user, password)
        other.send(f"j APPEND {mailbox} {{5+}}\r\nhi\r\n\r\n".encode())
        seen["other append"] = outcome(other.read_until_tagged("j")[-1])
        seen["push"] = next_update(client)
        client.send_line("DONE")
        seen["done"] = outcome(client.read_until_tagged("i")[-1])
    finally:
        client.close()
        other.close()

    return seen


def observe_edges(port: int, user: str, password: str) -> dict[str, object]:
    """An unknown mechanism, commands pipelined after COMPRESS, then invalid DEFLATE."""
    seen: dict[str, object] = {}
    client = LineClient(port, timeout=30)
    try:
        client.login(user, password)
        seen["unknown mechanism"] = outcome(client.command("k", "COMPRESS LZ4")[-1])
        seen["still plain"] = outcome(client.command("l", "NOOP")[-1])
        # COMPRESS and two compressed commands in one segment (RFC 4978 §3 has clients wait).
        wire = DeflateSocket(client.sock)
        client.sock.sendall(b"m COMPRESS DEFLATE\r\n" + wire.deflate(b"n NOOP\r\no NOOP\r\n"))
        seen["pipelined compress"] = outcome(client.read_line())
        client.buffer = wire.inflater.decompress(client.buffer)
        client.sock = wire  # type: ignore[assignment]
        wire.sock.settimeout(3)
        try:
            seen["pipelined n"] = outcome(client.read_until_tagged("n")[-1])
            seen["pipelined answered at once"] = True
        except TimeoutError:
            seen["pipelined answered at once"] = False
            wire.sock.settimeout(30)
            wire.sendall(b"q NOOP\r\n")  # more input wakes the server up
            seen["pipelined n"] = outcome(client.read_until_tagged("n")[-1])
        seen["pipelined o"] = outcome(client.read_until_tagged("o")[-1])
        wire.sock.sendall(b"p NOOP\r\n")  # not compressed: invalid DEFLATE
        seen["garbage closes"] = closed(client)
    finally:
        client.close()
    with socket.create_connection(("127.0.0.1", port), timeout=10):
        seen["still serving"] = True
    return seen


def observe_both(port: int) -> dict[str, object]:
    """Both scripts against one server, as bob (alice's mailboxes stay untouched)."""
    return {
        **observe(port, SECOND_USER, SECOND_PASSWORD, "Compressed"),
        **observe_edges(port, SECOND_USER, SECOND_PASSWORD),
    }


def test_compress_matches_dovecot(zlib_dovecot: DovecotServer, zlib_tidings: TidingsServer) -> None:
    """Every step sees the same outcome on both servers, but for DEVIATIONS.md C1 and C2."""
    ours = observe_both(zlib_tidings.imap_port)
    theirs = observe_both(zlib_dovecot.imap_port)
    # C1: an unknown mechanism is BAD here (RFC 4978 §3), NO in Dovecot.
    assert (ours.pop("unknown mechanism"), theirs.pop("unknown mechanism")) == ("BAD", "NO")
    # C2: Dovecot answers commands pipelined after COMPRESS only once more input arrives.
    key = "pipelined answered at once"
    assert (ours.pop(key), theirs.pop(key)) == (True, False)
    assert ours == theirs
    assert ours["twice"] == "NO [COMPRESSIONACTIVE"
    assert ours["push"] == "* 2 EXISTS"
    assert ours["body"] is True and ours["garbage closes"] is True
