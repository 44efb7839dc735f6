"""BINARY (RFC 3516) on the APPEND side: a literal8 `~{n}` carries any octets, NUL
included (§4.4); the message is stored exactly as sent, FETCH BINARY[] returns the octets
(as a literal8 when they hold NUL, §4.3) and BODY[] shows NUL as 0x80 (a literal may not
carry NUL), as Dovecot does. Over real sockets."""

from __future__ import annotations

import base64

from tests.imap.harness import InProcessServer, LineClient

PAYLOAD = b"\x00\x01\x02binary\xff\x00\r\n\x00end"
BINARY_MESSAGE = (
    b"From: a@example.test\r\n"
    b"Subject: binary\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n'
    b"\r\n"
    b"--b\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"see attachment\r\n"
    b"--b\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: binary\r\n"
    b"\r\n" + PAYLOAD + b"\r\n"
    b"--b--\r\n"
)


def _selected(server: InProcessServer) -> LineClient:
    client = LineClient(server.port)
    client.login()
    return client


def _append8(client: LineClient, tag: str, data: bytes, extra: str = "") -> str:
    client.send_line(f"{tag} APPEND INBOX{extra} ~{{{len(data)}}}")
    assert client.read_line().startswith("+ ")
    client.send(data + b"\r\n")
    return client.read_until_tagged(tag)[-1]


def test_literal8_message_with_nul_is_stored_exactly(imap_server: InProcessServer) -> None:
    client = _selected(imap_server)
    assert _append8(client, "a1", BINARY_MESSAGE).startswith("a1 OK [APPENDUID ")
    assert client.command("a2", "EXAMINE INBOX")[-1].startswith("a2 OK")
    reply = client.command("a3", "FETCH 1 (RFC822.SIZE BINARY.SIZE[2])")
    assert (
        reply[0] == f"* 1 FETCH (RFC822.SIZE {len(BINARY_MESSAGE)} BINARY.SIZE[2] {len(PAYLOAD)})"
    )
    client.send_line("a4 FETCH 1 BINARY.PEEK[2]")
    assert client.read_line() == f"* 1 FETCH (BINARY[2] ~{{{len(PAYLOAD)}}}"
    assert client.read_exact(len(PAYLOAD)) == PAYLOAD
    assert client.read_line() == ")"
    assert client.read_line().startswith("a4 OK")


def test_body_shows_nul_as_0x80(imap_server: InProcessServer) -> None:
    """BODY[] is a plain literal, which cannot hold NUL (RFC 9051 §9 CHAR8)."""
    client = _selected(imap_server)
    assert _append8(client, "a1", BINARY_MESSAGE).startswith("a1 OK")
    client.command("a2", "EXAMINE INBOX")
    client.send_line("a3 FETCH 1 BODY.PEEK[]")
    assert client.read_line() == f"* 1 FETCH (BODY[] {{{len(BINARY_MESSAGE)}}}"
    assert client.read_exact(len(BINARY_MESSAGE)) == BINARY_MESSAGE.replace(b"\x00", b"\x80")
    assert client.read_line() == ")"
    assert client.read_line().startswith("a3 OK")
    # BINARY[] of the whole message gives the stored octets back.
    client.send_line("a4 FETCH 1 BINARY.PEEK[]")
    assert client.read_line() == f"* 1 FETCH (BINARY[] ~{{{len(BINARY_MESSAGE)}}}"
    assert client.read_exact(len(BINARY_MESSAGE)) == BINARY_MESSAGE
    assert client.read_line() == ")"


def test_non_synchronizing_literal8_and_flags(imap_server: InProcessServer) -> None:
    client = _selected(imap_server)
    data = b"Subject: x\r\n\r\n\x00\r\n"
    client.send(b'a1 APPEND INBOX (\\Seen) "01-Feb-2024 12:00:00 +0000" ~{%d+}\r\n' % len(data))
    client.send(data + b"\r\n")
    assert client.read_until_tagged("a1")[-1].startswith("a1 OK [APPENDUID ")
    client.command("a2", "EXAMINE INBOX")
    assert client.command("a3", "FETCH 1 (FLAGS INTERNALDATE BINARY.SIZE[1])")[0] == (
        "* 1 FETCH (FLAGS (\\Seen $HasNoAttachment) "
        'INTERNALDATE " 1-Feb-2024 12:00:00 +0000" BINARY.SIZE[1] 3)'
    )


def test_nul_in_a_plain_literal_is_bad(imap_server: InProcessServer) -> None:
    """RFC 3516 §4.1 / RFC 9051 §9: only literal8 may carry NUL; nothing is stored."""
    client = _selected(imap_server)
    client.send(b"a1 APPEND INBOX {3+}\r\na\x00b\r\n")
    assert client.read_until_tagged("a1") == ["a1 BAD NUL in literal"]
    assert client.command("a2", "STATUS INBOX (MESSAGES)")[0] == "* STATUS INBOX (MESSAGES 0)"


def test_literal8_without_nul_and_fetch_binary_of_base64(imap_server: InProcessServer) -> None:
    """FETCH BINARY decodes the transfer encoding of what was appended (§4.2)."""
    client = _selected(imap_server)
    raw = b"\x00\x10\x80\xff" * 4
    message = (
        b"Content-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(raw) + b"\r\n"
    )
    assert _append8(client, "a1", message).startswith("a1 OK")
    client.command("a2", "EXAMINE INBOX")
    client.send_line("a3 FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])")
    assert client.read_line() == f"* 1 FETCH (BINARY.SIZE[1] {len(raw)} BINARY[1] ~{{{len(raw)}}}"
    assert client.read_exact(len(raw)) == raw


def test_multiappend_mixes_literal_and_literal8(imap_server: InProcessServer) -> None:
    """RFC 3502 with RFC 3516: each message may be either kind."""
    client = _selected(imap_server)
    first, second = b"Subject: one\r\n\r\nplain\r\n", b"Subject: two\r\n\r\n\x00\x00\r\n"
    client.send(
        b"a1 APPEND INBOX {%d+}\r\n%s ~{%d+}\r\n%s\r\n" % (len(first), first, len(second), second)
    )
    assert client.read_until_tagged("a1")[-1].startswith("a1 OK [APPENDUID ")
    client.command("a2", "EXAMINE INBOX")
    reply = client.command("a3", "FETCH 1:2 (BINARY.SIZE[1])")
    assert reply[:2] == ["* 1 FETCH (BINARY.SIZE[1] 7)", "* 2 FETCH (BINARY.SIZE[1] 4)"]
