"""RFC 8970 PREVIEW: the FETCH item over real sockets (with LAZY), and the preview algorithm
over every corpus message and hand-made cases."""

from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path

import pytest
from tests.imap.harness import InProcessServer, LineClient, run_transcript
from tests.support.corpus import corpus_files

from tidings.core.mime import PREVIEW_MAX_CHARS, message_preview, parse_message

LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit. Curabitur aliquam turpis et "
    "ante dictum, et pulvinar dui congue. Maecenas hendrerit, lorem non imperdiet pellentesque, "
    "nulla ligula blandit diam, quis tincidunt nisl nisi quis velit. Sed ut nibh sit amet "
    "neque facilisis varius."
)


def _client(server: InProcessServer) -> LineClient:
    client = LineClient(server.port)
    client.login()
    return client


def _append(client: LineClient, raw: bytes) -> None:
    client.send(b"ap APPEND INBOX {%d+}\r\n%s\r\n" % (len(raw), raw))
    assert client.read_until_tagged("ap")[-1].startswith("ap OK")


def _preview(raw: bytes) -> str:
    return message_preview(raw, parse_message(raw))


# ------------------------------------------------------------------------------ over IMAP


def test_capability_advertises_preview(imap_server: InProcessServer) -> None:
    assert " PREVIEW" in _client(imap_server).command("c1", "CAPABILITY")[0]


def test_rfc8970_section_5_examples(imap_server: InProcessServer) -> None:
    """RFC 8970 §5: PREVIEW beside other items, PREVIEW (LAZY), and "" for a message
    without text."""
    client = _client(imap_server)
    _append(client, b"Subject: lorem\r\n\r\n" + LOREM.encode() + b"\r\n")
    _append(
        client,
        b"Subject: pic\r\nMIME-Version: 1.0\r\nContent-Type: image/png\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n",
    )
    run_transcript(
        imap_server,
        f"""
        C1: A1 LOGIN {{user}} "{{password}}"
        S1: A1 OK [CAPABILITY …PREVIEW…] …
        C1: A2 SELECT INBOX
        S1: * FLAGS …
        S1: * OK [PERMANENTFLAGS …
        S1: * 2 EXISTS
        S1: * 2 RECENT
        S1: * OK [UNSEEN 1] …
        S1: * OK [UIDVALIDITY …
        S1: * OK [UIDNEXT 3] …
        S1: * OK [MAILBOXID …
        S1: A2 OK [READ-WRITE] …
        C1: A3 FETCH 1 (RFC822.SIZE PREVIEW)
        S1: * 1 FETCH (RFC822.SIZE … PREVIEW "{LOREM[:PREVIEW_MAX_CHARS].rstrip()}")
        S1: A3 OK Fetch completed.
        C1: A4 FETCH 1:2 (PREVIEW (LAZY))
        S1: * 1 FETCH (PREVIEW "Lorem ipsum …")
        S1: * 2 FETCH (PREVIEW "")
        S1: A4 OK Fetch completed.
        C1: A5 UID FETCH 2 PREVIEW (LAZY)
        S1: * 2 FETCH (UID 2 PREVIEW "")
        S1: A5 OK Fetch completed.
        C1: A6 FETCH 1 (PREVIEW (FUZZY))
        S1: A6 BAD …
        """,
    )


def test_non_ascii_preview_is_a_literal(imap_server: InProcessServer) -> None:
    client = _client(imap_server)
    _append(
        client,
        "Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\nGrüße aus Köln\r\n".encode(),
    )
    client.command("a1", "SELECT INBOX")
    client.send_line("a2 FETCH 1 PREVIEW")
    header = client.read_line()
    assert header.startswith("* 1 FETCH (PREVIEW {") and header.endswith("}")
    size = int(header.rsplit("{", 1)[1].rstrip("}"))
    assert client.read_exact(size).decode("utf-8") == "Grüße aus Köln"
    assert client.read_line() == ")"


def test_lazy_is_nil_for_old_messages_and_plain_preview_computes_it(
    imap_server: InProcessServer,
) -> None:
    """RFC 8970 §3.2: LAZY may answer NIL when the preview is not ready; facts stored by a
    version without previews have none, and PREVIEW without LAZY computes it."""
    client = _client(imap_server)
    _append(client, b"Subject: old\r\n\r\nAn old message body.\r\n")
    with sqlite3.connect(imap_server.data_dir / "mail.db", timeout=10) as conn:
        (blob,) = conn.execute("SELECT facts FROM blobs").fetchone()
        text = zlib.decompress(blob).decode().replace('"v":2', '"v":1')
        text = text.split(',"preview"')[0] + "}"
        conn.execute("UPDATE blobs SET facts = ?", (zlib.compress(text.encode()),))
    client.command("a1", "SELECT INBOX")
    assert client.command("a2", "FETCH 1 (PREVIEW (LAZY))")[0] == "* 1 FETCH (PREVIEW NIL)"
    assert client.command("a3", "FETCH 1 (PREVIEW)")[0] == (
        '* 1 FETCH (PREVIEW "An old message body.")'
    )


# ----------------------------------------------------------------------- the algorithm


@pytest.mark.parametrize("path", corpus_files(), ids=lambda path: path.name)
def test_corpus_previews_are_short_clean_text(path: Path) -> None:
    """Every corpus message: no crash, at most 256 characters (RFC 8970 §3.1), no line
    breaks or control characters, no leading or trailing space."""
    raw = path.read_bytes()
    facts = parse_message(raw)
    assert facts.preview == message_preview(raw, facts)
    preview = facts.preview
    assert len(preview) <= PREVIEW_MAX_CHARS
    assert preview == preview.strip()
    assert not any(ord(char) < 0x20 or char == "\x7f" for char in preview)


def test_corpus_is_not_empty() -> None:
    assert len(corpus_files()) > 100


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            (
                b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n"
                b"<html><head><title>T</title><style>p {color: red}</style></head><body>"
                b"<p>Hello&nbsp;<b>you</b> &amp; me</p><script>alert(1)</script>"
                b"<blockquote>old text</blockquote><div>bye</div></body></html>\r\n"
            ),
            "Hello you & me bye",  # &nbsp; is whitespace too
            id="html_is_stripped_and_quoted_blocks_dropped",
        ),
        pytest.param(
            (
                b"Subject: re\r\n\r\nSounds   good.\r\n\r\nOn Mon, Bob wrote:\r\n> earlier\r\n"
                b"> text\r\nSee you.\r\n-- \r\nAlice\r\n"
            ),
            "Sounds good. See you.",
            id="plain_text_quotes_attribution_and_signature_dropped",
        ),
        pytest.param(
            b"Subject: re\r\n\r\nFine by me.\r\n\r\n-----Original Message-----\r\nFrom: Bob\r\n",
            "Fine by me.",
            id="outlook_original_message_dropped",
        ),
        pytest.param(
            (
                b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
                b"--b\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n"
                b"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
                b"Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 cr=E8me\r\n"
                b"--b\r\nContent-Type: text/plain\r\n\r\nsecond part\r\n--b--\r\n"
            ),
            "Café crème",
            id="first_text_part_of_a_multipart_decoded",
        ),
        pytest.param(
            (
                b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
                b"--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n"
                b"\r\nfile\r\n"
                b"--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner text\r\n"
                b"--b--\r\n"
            ),
            "",
            id="attachments_and_attached_messages_give_an_empty_preview",
        ),
        pytest.param(
            (
                b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=x-unknown\r\n"
                b"Content-Transfer-Encoding: base64\r\n\r\naGVsbG8gd29ybGQ=\r\n"
            ),
            "hello world",
            id="base64_body_and_unknown_charset",
        ),
    ],
)
def test_preview_of_hand_made_message(raw: bytes, expected: str) -> None:
    """The preview algorithm on small messages: HTML stripped, quotes, attributions and
    signatures dropped, the first text part decoded, attachments ignored."""
    assert _preview(raw) == expected


def test_long_and_huge_bodies_are_cut_to_the_limit() -> None:
    raw = b"Subject: big\r\n\r\n" + b"word " * 3_000_000
    preview = _preview(raw)
    assert len(preview) <= PREVIEW_MAX_CHARS and preview.startswith("word word")
