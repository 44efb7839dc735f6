"""RFC 4978 COMPRESS=DEFLATE over real sockets, with clients that deflate and inflate (zlib).

The server side is the in-process harness (tests/imap/harness.py). Clients
(tests/support/imap_compress.py): `LineClient` whose socket is swapped for `DeflateSocket`
after the tagged OK (as `starttls()` swaps in an SSL socket), and stdlib imaplib taught
COMPRESS in a few lines (`CompressingIMAP4`), since imaplib has no COMPRESS of its own. The
codec itself (tidings.net.deflate) is also tested over an in-memory stream: bounded reads
against a decompression bomb, and its memory.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest
from tests.imap.harness import PASSWORD, USER, InProcessServer, LineClient
from tests.support.imap_compress import CompressingIMAP4, DeflateSocket, start_compression

from tidings.net.deflate import DeflateStream
from tidings.net.stream import StreamClosed

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


# ---------------------------------------------------------------------------- helpers
def read_literal_line(client: LineClient) -> tuple[str, bytes]:
    """A `* n FETCH (... {size}` line, its literal and the rest of the response."""
    head = client.read_line()
    assert head.endswith("}"), head
    size = int(head[head.rindex("{") + 1 : -1])
    body = client.read_exact(size)
    rest = client.read_line()
    return head, body + rest.encode()


def append(client: LineClient, tag: str, message: bytes, *, synchronizing: bool) -> str:
    """APPEND to INBOX with a synchronizing (wait for `+`) or a LITERAL+ literal."""
    if synchronizing:
        client.send_line(f"{tag} APPEND INBOX {{{len(message)}}}")
        assert client.read_line().startswith("+ ")
        client.send(message + b"\r\n")
    else:
        client.send(f"{tag} APPEND INBOX {{{len(message)}+}}\r\n".encode() + message + b"\r\n")
    return client.read_until_tagged(tag)[-1]


def text_message(index: int, size: int) -> bytes:
    """A plain-text message of about `size` bytes, as compressible as real mail text."""
    header = f"From: a@example.test\r\nSubject: message {index}\r\n\r\n".encode()
    line = b"The quick brown fox jumps over the lazy dog, again and again. 0123456789\r\n"
    return header + line * (size // len(line))


# ---------------------------------------------------------------------------- command
def test_capability_is_advertised_once_authenticated(imap_server: InProcessServer) -> None:
    """Dovecot advertises COMPRESS=DEFLATE after login only; before, COMPRESS is refused."""
    client = LineClient(imap_server.port)
    assert "COMPRESS=DEFLATE" not in client.greeting
    reply = client.command("z1", "COMPRESS DEFLATE")
    assert reply[-1].startswith("z1 BAD"), reply
    assert client.command("n1", "NOOP")[-1].startswith("n1 OK")  # still plain text
    client.login()
    capability = client.command("c1", "CAPABILITY")[0].split()
    assert "COMPRESS=DEFLATE" in capability


def test_rfc_example_starttls_login_compress(imap_server: InProcessServer) -> None:
    """The sequence of RFC 4978 §3's example: STARTTLS, LOGIN, COMPRESS, then commands and
    responses compressed inside TLS (compressed first, then encrypted)."""
    client = LineClient(imap_server.port)
    client.starttls()
    client.login()
    wire = start_compression(client, "c")
    assert isinstance(wire.sock, ssl.SSLSocket)
    assert append(client, "d", text_message(1, 20_000), synchronizing=False).startswith("d OK")
    assert client.command("e", "SELECT INBOX")[-1].startswith("e OK")
    _, body = read_literal_line_after(client, "f FETCH 1 BODY[]")
    assert body.startswith(text_message(1, 20_000))
    assert client.read_line().startswith("f OK")
    assert wire.wire_in < wire.plain_in / 5  # that text compresses well; TLS did not hide it


def read_literal_line_after(client: LineClient, command: str) -> tuple[str, bytes]:
    """Send `command` (with a tag) and read its one literal-bearing response."""
    client.send_line(command)
    return read_literal_line(client)


def test_unknown_mechanism_is_bad_and_stays_uncompressed(imap_server: InProcessServer) -> None:
    """RFC 4978 §3: BAD for an unknown argument, and compression does not start."""
    client = LineClient(imap_server.port)
    client.login()
    assert client.command("z1", "COMPRESS LZ4")[-1].startswith("z1 BAD")
    assert client.command("z2", "COMPRESS")[-1].startswith("z2 BAD")
    assert client.command("z3", "COMPRESS DEFLATE DEFLATE")[-1].startswith("z3 BAD")
    assert client.command("n1", "NOOP")[-1] == "n1 OK Noop completed."


def test_compress_twice_is_compressionactive(imap_server: InProcessServer) -> None:
    """RFC 5530 COMPRESSIONACTIVE (Dovecot's answer), and the stream goes on unharmed."""
    client = LineClient(imap_server.port)
    client.login()
    start_compression(client, "z1", flush_mode=zlib.Z_SYNC_FLUSH)
    reply = client.command("z2", "compress deflate")
    assert reply[-1].startswith("z2 NO [COMPRESSIONACTIVE]"), reply
    capability = client.command("c1", "CAPABILITY")
    assert "COMPRESS=DEFLATE" in capability[0].split()  # Dovecot still lists it too
    assert client.command("n1", "NOOP")[-1].startswith("n1 OK")


def test_ok_is_plain_and_everything_after_is_deflate(imap_server: InProcessServer) -> None:
    """RFC 4978 §3: the server compresses from the byte after the OK's CRLF."""
    client = LineClient(imap_server.port)
    client.login()
    client.send_line("z1 COMPRESS DEFLATE")
    assert client.read_line() == "z1 OK DEFLATE active."
    assert client.buffer == b""
    deflater, inflater = zlib.compressobj(6, zlib.DEFLATED, -15), zlib.decompressobj(-15)
    client.sock.sendall(deflater.compress(b"n1 NOOP\r\n") + deflater.flush(zlib.Z_SYNC_FLUSH))
    raw = b""
    plain = b""
    while not plain.endswith(b"\r\n"):
        chunk = client.sock.recv(65536)
        assert chunk
        raw += chunk
        plain += inflater.decompress(chunk)
    assert plain == b"n1 OK Noop completed.\r\n"
    assert b"NOOP" not in raw
    assert raw.endswith(b"\x00\x00\xff\xff")  # each batch ends with a sync flush


# ---------------------------------------------------------------------------- traffic
def test_select_fetch_large_bodies_and_append(imap_server: InProcessServer) -> None:
    """APPEND (synchronizing and LITERAL+) and FETCH of large bodies, all compressed; the
    corpus messages come back byte for byte."""
    client = LineClient(imap_server.port, timeout=60)
    client.login()
    wire = start_compression(client)
    big = text_message(1, 3 * 1024 * 1024)
    assert append(client, "a1", big, synchronizing=True).startswith("a1 OK")
    assert append(client, "a2", big[:200_000], synchronizing=False).startswith("a2 OK")
    corpus = [path.read_bytes() for path in sorted(CORPUS.glob("*.eml"))[:20]]
    for number, message in enumerate(corpus):
        reply = append(client, f"m{number}", message, synchronizing=number % 2 == 0)
        assert reply.startswith(f"m{number} OK"), reply
    assert client.command("s1", "SELECT INBOX")[-1].startswith("s1 OK")
    before_wire, before_plain = wire.wire_in, wire.plain_in
    head, body = read_literal_line_after(client, "f1 FETCH 1 BODY.PEEK[]")
    assert body[: len(big)] == big and head.endswith(f"{{{len(big)}}}")
    assert client.read_line().startswith("f1 OK")
    fetched_wire = wire.wire_in - before_wire
    assert fetched_wire < (wire.plain_in - before_plain) / 20  # repetitive text: tiny
    client.send_line(f"f2 FETCH 3:{2 + len(corpus)} BODY.PEEK[]")
    for message in corpus:
        _, body = read_literal_line(client)
        assert body[: len(message)] == message
    assert client.read_line().startswith("f2 OK")


def test_partial_flush_client(imap_server: InProcessServer) -> None:
    """Some clients flush with Z_PARTIAL_FLUSH (mox met Thunderbird/K-9 doing so): the
    server must still see each command as soon as it is sent."""
    client = LineClient(imap_server.port)
    client.login()
    start_compression(client, flush_mode=zlib.Z_PARTIAL_FLUSH)
    for number in range(5):
        assert client.command(f"n{number}", "NOOP")[-1].startswith(f"n{number} OK")
    assert client.command("s1", "SELECT INBOX")[-1].startswith("s1 OK")


def test_pipelined_after_compress_is_inflated(imap_server: InProcessServer) -> None:
    """RFC 4978 §3 has the client wait for COMPRESS's result, but one that pipelines anyway
    sends compressed commands in the same segment: the server inflates them (as Dovecot
    does), neither dropping them as after STARTTLS nor reading them as plain text."""
    client = LineClient(imap_server.port)
    client.login()
    deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
    pipelined = deflater.compress(b"p1 NOOP\r\np2 SELECT INBOX\r\np3 STATUS INBOX (MESSAGES)\r\n")
    client.sock.sendall(b"z1 COMPRESS DEFLATE\r\n" + pipelined + deflater.flush(zlib.Z_SYNC_FLUSH))
    assert client.read_line() == "z1 OK DEFLATE active."
    wire = DeflateSocket(client.sock)
    wire.deflater = deflater  # the client's compressed stream goes on
    client.buffer = wire.inflater.decompress(client.buffer)
    client.sock = wire  # type: ignore[assignment]
    assert client.read_until_tagged("p1")[-1].startswith("p1 OK")
    assert client.read_until_tagged("p2")[-1].startswith("p2 OK")
    assert client.read_until_tagged("p3")[-1].startswith("p3 OK")
    assert client.command("p4", "NOOP")[-1].startswith("p4 OK")


def next_update(client: LineClient) -> str:
    """The next untagged update other than RECENT (rev1 sessions get one with EXISTS)."""
    line = client.read_line()
    while line.endswith(" RECENT"):
        line = client.read_line()
    return line


def test_idle_push_arrives_compressed_and_promptly(imap_server: InProcessServer) -> None:
    """`+ idling` and every push update are flushed through the compressor at once."""
    idler = LineClient(imap_server.port)
    idler.login()
    start_compression(idler)
    assert idler.command("s1", "SELECT INBOX")[-1].startswith("s1 OK")
    idler.sock.sock.settimeout(5)  # type: ignore[attr-defined]
    idler.send_line("i1 IDLE")
    assert idler.read_line().startswith("+ ")
    other = LineClient(imap_server.port)
    other.login()
    latencies = []
    for number in range(1, 4):
        started = time.monotonic()
        assert append(other, f"a{number}", text_message(number, 500), synchronizing=False)
        assert next_update(idler) == f"* {number} EXISTS"
        latencies.append(time.monotonic() - started)
    assert other.command("s2", "SELECT INBOX")[-1].startswith("s2 OK")
    started = time.monotonic()
    assert other.command("f1", r"STORE 2 +FLAGS (\Flagged)")[-1].startswith("f1 OK")
    assert next_update(idler).startswith("* 2 FETCH (FLAGS (")
    latencies.append(time.monotonic() - started)
    idler.send_line("DONE")
    assert idler.read_until_tagged("i1")[-1].startswith("i1 OK")
    assert max(latencies) < 2.0, latencies  # a stuck compressor would wait for a 29 min tick


def test_notify_events_between_commands_arrive_compressed(imap_server: InProcessServer) -> None:
    """RFC 5465 NOTIFY sends events between commands, outside IDLE: they too are flushed
    through the compressor as they are written."""
    watcher = LineClient(imap_server.port)
    watcher.login()
    start_compression(watcher)
    assert watcher.command("s1", "SELECT INBOX")[-1].startswith("s1 OK")
    reply = watcher.command("n1", "NOTIFY SET (selected (MessageNew (UID) MessageExpunge))")
    assert reply[-1].startswith("n1 OK"), reply
    watcher.sock.sock.settimeout(5)  # type: ignore[attr-defined]
    other = LineClient(imap_server.port)
    other.login()
    started = time.monotonic()
    assert append(other, "a1", text_message(1, 500), synchronizing=False).startswith("a1 OK")
    assert next_update(watcher) == "* 1 EXISTS"
    assert next_update(watcher).startswith("* 1 FETCH (UID ")
    assert time.monotonic() - started < 2.0
    assert watcher.command("n2", "NOOP")[-1].startswith("n2 OK")


def test_imaplib_with_compress(imap_server: InProcessServer) -> None:
    """A real client library (stdlib imaplib, taught COMPRESS) logs in, compresses, appends,
    selects, fetches and logs out."""
    client = CompressingIMAP4("127.0.0.1", imap_server.port, timeout=30)
    client.login(USER, PASSWORD)
    assert client.compress_deflate().startswith("OK")
    message = text_message(7, 100_000)
    assert client.append("INBOX", r"(\Seen)", None, message)[0] == "OK"
    assert client.select("INBOX")[0] == "OK"
    typ, data = client.fetch("1", "(FLAGS BODY.PEEK[])")
    assert typ == "OK"
    assert isinstance(data[0], tuple) and data[0][1] == message
    assert b"\\Seen" in data[0][0]
    assert client.compress_deflate().startswith("NO")
    assert client.logout()[0] == "BYE"


# ---------------------------------------------------------------------------- abuse
def _assert_closed(client: LineClient) -> None:
    """The server closes the connection (EOF or reset), within the client's timeout."""
    try:
        while True:
            if not client.sock.sock.recv(65536):  # type: ignore[attr-defined]
                return
    except ConnectionResetError:
        return


@pytest.mark.parametrize(
    "garbage",
    [b"n1 NOOP\r\n", bytes(range(256)) * 4, b"\xff" * 64],
    ids=["a client that forgot to compress", "every byte value", "invalid block type"],
)
def test_garbage_compressed_input_closes_cleanly(
    imap_server: InProcessServer, garbage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """Invalid DEFLATE data ends that connection, with nothing logged as an error; the
    server goes on serving others."""
    caplog.set_level(logging.INFO)
    client = LineClient(imap_server.port)
    client.login()
    start_compression(client)
    client.sock.sock.sendall(garbage)  # type: ignore[attr-defined]
    _assert_closed(client)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    another = LineClient(imap_server.port)
    another.login()
    start_compression(another)
    assert another.command("n1", "NOOP")[-1].startswith("n1 OK")


def test_end_of_deflate_stream_ends_the_connection(imap_server: InProcessServer) -> None:
    """A client that finishes its DEFLATE stream (Z_FINISH) can send nothing more."""
    client = LineClient(imap_server.port)
    client.login()
    wire = start_compression(client)
    wire.sock.sendall(wire.deflater.compress(b"n1 NOOP\r\n") + wire.deflater.flush(zlib.Z_FINISH))
    assert client.read_line().startswith("n1 OK")
    _assert_closed(client)


def _bomb(deflater: zlib._Compress, size: int, byte: bytes = b"A") -> bytes:
    """`size` bytes of `byte`, compressed (about 1000:1), without building them whole."""
    chunk = byte * (1 << 20)
    return b"".join(deflater.compress(chunk) for _ in range(size >> 20))


def test_decompression_bomb_meets_the_line_limit(imap_server: InProcessServer) -> None:
    """256 MiB of line in 250 KiB of DEFLATE: the server reads it in bounded pieces, answers
    BAD (line too long) and goes on; memory stays far below the inflated size."""
    client = LineClient(imap_server.port, timeout=120)
    client.login()
    wire = start_compression(client)
    bomb = _bomb(wire.deflater, 256 << 20)
    bomb += wire.deflate(b"\r\nb1 NOOP\r\n")
    assert len(bomb) < 300_000
    tracemalloc.start()
    try:
        wire.sock.sendall(bomb)
        assert client.read_line() == "* BAD Command line too long."
        assert client.read_line().startswith("b1 OK")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, peak  # the server and this client together


def test_decompression_bomb_meets_the_literal_limit(imap_server: InProcessServer) -> None:
    """A LITERAL+ larger than max_message_size, sent as a bomb: NO [TOOBIG], its bytes are
    skipped in bounded pieces, and the connection goes on."""
    client = LineClient(imap_server.port, timeout=120)
    client.login()
    wire = start_compression(client)
    size = 64 << 20
    assert size > imap_server.with_limits().max_message_size
    head = wire.deflater.compress(f"a1 APPEND INBOX {{{size}+}}\r\n".encode())
    bomb = head + _bomb(wire.deflater, size, b"x") + wire.deflate(b"\r\nb1 NOOP\r\n")
    tracemalloc.start()
    try:
        wire.sock.sendall(bomb)
        assert client.read_line().startswith("a1 NO [TOOBIG]")
        assert client.read_line().startswith("b1 OK")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, peak


# ---------------------------------------------------------------------------- the codec
class MemoryStream:
    """The `net.stream.Stream` interface over bytes in memory (one piece per read)."""

    peer_host = "127.0.0.1"
    is_loopback = True
    is_tls = False

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = list(pieces)
        self.output = bytearray()

    async def read(self, max_bytes: int = 65536) -> bytes:
        return self.pieces.pop(0)[:max_bytes] if self.pieces else b""

    async def write(self, data: bytes) -> None:
        self.output += data

    async def start_tls(self, context: ssl.SSLContext) -> None:
        raise AssertionError("not used")

    async def close(self) -> None:
        return None


def test_codec_bounds_every_read_of_a_bomb() -> None:
    """Each read returns at most max_bytes, however far one input piece inflates."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = _bomb(deflater, 64 << 20) + deflater.flush(zlib.Z_SYNC_FLUSH)
    stream = DeflateStream(MemoryStream([bomb]))

    async def drain() -> tuple[int, int]:
        total, largest = 0, 0
        while data := await stream.read(4096):
            total += len(data)
            largest = max(largest, len(data))
        return total, largest

    assert asyncio.run(drain()) == (64 << 20, 4096)


def test_codec_round_trip_with_already_read_input() -> None:
    """Input taken before the switch is inflated first; writes come out sync-flushed; the
    peer's stream split at any byte gives the same text."""
    deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
    compressed = deflater.compress(b"a1 NOOP\r\n" * 50) + deflater.flush(zlib.Z_SYNC_FLUSH)
    pieces = [compressed[i : i + 1] for i in range(10, len(compressed))]
    inner = MemoryStream(pieces)
    stream = DeflateStream(inner, already_read=compressed[:10])

    async def exchange() -> bytes:
        received = b""
        while data := await stream.read():
            received += data
        await stream.write(b"* OK one\r\n")
        await stream.write(b"* OK two\r\n" * 10_000)
        return received

    assert asyncio.run(exchange()) == b"a1 NOOP\r\n" * 50
    inflater = zlib.decompressobj(-15)
    assert inflater.decompress(bytes(inner.output)) == b"* OK one\r\n" + b"* OK two\r\n" * 10_000
    assert bytes(inner.output).endswith(b"\x00\x00\xff\xff")


class StallingStream(MemoryStream):
    """A MemoryStream whose reads, once its pieces are used up, wait forever (a peer that
    sent everything and now waits for the answer)."""

    async def read(self, max_bytes: int = 65536) -> bytes:
        if not self.pieces:
            await asyncio.Event().wait()
        return await super().read(max_bytes)


def _cut_with_output_held_in_zlib(compressed: bytes, size: int) -> int:
    """A prefix length of `compressed` after which inflating at most `size` bytes fills
    `size` exactly, consumes all input, and still leaves output inside zlib (the middle
    of a back-reference): what stalls imaplib2, see tests/clients/test_offlineimap_compress."""
    for cut in range(1, len(compressed)):
        inflater = zlib.decompressobj(-15)
        out = inflater.decompress(compressed[:cut], size)
        if len(out) == size and not inflater.unconsumed_tail and inflater.decompress(b"", size):
            return cut
    raise AssertionError("no such prefix in this stream")


def test_codec_returns_output_zlib_still_holds() -> None:
    """A read that filled max_bytes asks zlib again before waiting for more input, so the
    rest of a command the peer has sent whole is never stuck inside the inflater."""
    text = b"Line of a message that offlineimap fetches compressed.\r\n" * 3000
    deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
    compressed = deflater.compress(text) + deflater.flush(zlib.Z_SYNC_FLUSH)
    cut = _cut_with_output_held_in_zlib(compressed, 4096)
    stream = DeflateStream(StallingStream([compressed[:cut]]))
    expected = zlib.decompressobj(-15).decompress(compressed[:cut])
    assert len(expected) > 4096

    async def read_all_sent() -> bytes:
        received = b""
        while len(received) < len(expected):
            received += await asyncio.wait_for(stream.read(4096), timeout=2)
        return received

    assert asyncio.run(read_all_sent()) == expected


def test_codec_invalid_input_is_stream_closed() -> None:
    """zlib's error becomes the stream's own StreamClosed, which the drivers expect."""
    stream = DeflateStream(MemoryStream([b"\xff\xff\xff"]))
    with pytest.raises(StreamClosed):
        asyncio.run(stream.read())


def test_codec_memory_per_connection() -> None:
    """The zlib state of one compressed connection, as the README and net/deflate.py say:
    about 300 KiB (262 KiB compressor, about 40 KiB decompressor)."""
    deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
    sample = deflater.compress(text_message(1, 200_000)) + deflater.flush(zlib.Z_SYNC_FLUSH)
    tracemalloc.start()
    try:
        stream = DeflateStream(MemoryStream([sample]))

        async def use() -> None:
            while await stream.read():
                pass
            await stream.write(text_message(2, 200_000))

        asyncio.run(use())
        gc_free = stream  # keep the stream (and its zlib state) alive while measuring
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert gc_free is stream
    assert 250 * 1024 < current < 400 * 1024, current
