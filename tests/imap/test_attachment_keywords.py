"""Attachments over real sockets (issue 9): `tidings serve` sets `$HasAttachment` or
`$HasNoAttachment` on every message it takes in (IMAP APPEND, LMTP, `tidings deliver`,
`tidings import`), keeps the one a client APPENDs with, and SEARCH TEXT/BODY find attachment
file names however they are encoded (RFC 2231, RFC 2047). Clients: imaplib, smtplib.LMTP."""

from __future__ import annotations

import imaplib
import os
import re
import smtplib
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.conftest import TEST_USER, TidingsServer, run_cli, tidings_command

from tidings.migrate.mbox import write_mbox
from tidings.migrate.source import SourceMessage

HAS, HAS_NO = "$HasAttachment", "$HasNoAttachment"


def multipart(subject: str, attachment: bytes) -> bytes:
    """A multipart/mixed message: a text part, then the MIME part `attachment`."""
    return (
        b"From: Carol <carol@example.test>\r\nTo: alice@example.test\r\n"
        b"Subject: " + subject.encode() + b"\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="sep"\r\n\r\n'
        b"--sep\r\nContent-Type: text/plain\r\n\r\nPlease find it attached.\r\n"
        b"--sep\r\n" + attachment + b"\r\n--sep--\r\n"
    )


PDF = b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
PLAIN_NAME = multipart(
    "plain name",
    b'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="invoice.pdf"\r\n'
    + PDF,
)
RFC2231_NAME = multipart(
    "rfc 2231 name",
    b"Content-Type: application/pdf\r\n"
    b"Content-Disposition: attachment;\r\n filename*0*=utf-8''%C3%9Cbersicht-;\r\n"
    b" filename*1*=Rechnung%20Q3.pdf\r\n" + PDF,
)
RFC2047_NAME = multipart(
    "rfc 2047 name",
    b'Content-Type: application/vnd.ms-excel; name="=?UTF-8?B?QnVkZ2V0LVrDvHJpY2gueGxz?="\r\n'
    + PDF,
)
INLINE_IMAGE = (
    b"From: Carol <carol@example.test>\r\nSubject: newsletter\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/related; boundary="rel"\r\n\r\n'
    b'--rel\r\nContent-Type: text/html\r\n\r\n<img src="cid:logo@x">\r\n'
    b'--rel\r\nContent-Type: image/png; name="logo.png"\r\nContent-ID: <logo@x>\r\n'
    b'Content-Disposition: inline; filename="logo.png"\r\n\r\nPNG\r\n--rel--\r\n'
)
PLAIN = b"From: Carol <carol@example.test>\r\nSubject: no files\r\n\r\nJust words.\r\n"


def login(server: TidingsServer) -> imaplib.IMAP4:
    client = imaplib.IMAP4(server.host, server.imap_port, timeout=30)
    client.login(server.user, server.password)
    return client


@pytest.fixture
def mailbox(shared_server: TidingsServer) -> Iterator[tuple[imaplib.IMAP4, str]]:
    """A logged-in client and a new, empty mailbox of its own on the shared server."""
    client = login(shared_server)
    name = "att-" + uuid.uuid4().hex[:10]
    assert client.create(name)[0] == "OK"
    yield client, name
    client.logout()


def append(client: imaplib.IMAP4, name: str, raw: bytes, flags: str | None = None) -> None:
    status, data = client.append(name, flags, None, raw)
    assert status == "OK", data


def keywords_by_uid(client: imaplib.IMAP4) -> dict[int, set[str]]:
    """UID -> the attachment keywords among its FLAGS, for the selected mailbox."""
    status, data = client.uid("FETCH", "1:*", "(FLAGS)")
    assert status == "OK", data
    found = {}
    for line in data:
        assert isinstance(line, bytes), line
        match = re.search(rb"UID (\d+) FLAGS \(([^)]*)\)|FLAGS \(([^)]*)\) UID (\d+)", line)
        assert match, line
        uid = int(match.group(1) or match.group(4))
        flags = (match.group(2) or match.group(3) or b"").decode().split()
        found[uid] = {flag for flag in flags if flag.lower() in (HAS.lower(), HAS_NO.lower())}
    return found


def search(client: imaplib.IMAP4, *criteria: str, charset: str | None = None) -> list[int]:
    status, data = client.uid("SEARCH", *([f"CHARSET {charset}"] if charset else []), *criteria)
    assert status == "OK", data
    return [int(n) for n in data[0].split()] if data and data[0] else []


def test_append_sets_exactly_one_keyword(mailbox: tuple[imaplib.IMAP4, str]) -> None:
    client, name = mailbox
    for raw in (PLAIN_NAME, RFC2231_NAME, RFC2047_NAME, INLINE_IMAGE, PLAIN):
        append(client, name, raw, "(\\Seen)")
    client.select(name)
    assert keywords_by_uid(client) == {1: {HAS}, 2: {HAS}, 3: {HAS}, 4: {HAS_NO}, 5: {HAS_NO}}
    # SELECT's FLAGS and PERMANENTFLAGS name the keywords now in use (RFC 9051 §7.3.5).
    client.select(name)
    for response in ("FLAGS", "PERMANENTFLAGS"):
        (flags,) = client.response(response)[1]
        assert isinstance(flags, bytes)
        assert HAS.encode() in flags and HAS_NO.encode() in flags, (response, flags)
    assert search(client, "KEYWORD", HAS) == [1, 2, 3]
    assert search(client, "KEYWORD", HAS_NO.lower()) == [4, 5]
    assert search(client, "UNKEYWORD", HAS) == [4, 5]


def test_select_lists_both_keywords_once_either_is_used(
    mailbox: tuple[imaplib.IMAP4, str],
) -> None:
    """As Dovecot, which defines the pair in the mailbox when it detects (RFC 9051 §7.3.5:
    FLAGS lists the flags applicable to the mailbox)."""
    client, name = mailbox
    append(client, name, PLAIN)
    client.select(name)
    for response in ("FLAGS", "PERMANENTFLAGS"):
        (flags,) = client.response(response)[1]
        assert isinstance(flags, bytes)
        assert b"$HasAttachment $HasNoAttachment" in flags, (response, flags)


def test_the_clients_keyword_is_respected(mailbox: tuple[imaplib.IMAP4, str]) -> None:
    client, name = mailbox
    append(client, name, PLAIN_NAME, f"({HAS_NO})")  # wrong, but the client's word
    append(client, name, PLAIN, f"(\\Flagged {HAS})")
    append(client, name, PLAIN, f"({HAS} {HAS_NO})")  # both: exactly one is kept
    client.select(name)
    assert keywords_by_uid(client) == {1: {HAS_NO}, 2: {HAS}, 3: {HAS_NO}}
    # COPY is not ingest: the copy keeps the flags it had, nothing is detected again.
    assert client.uid("COPY", "1", name)[0] == "OK"
    client.select(name)
    assert keywords_by_uid(client)[4] == {HAS_NO}
    # A client may change them like any keyword.
    assert client.uid("STORE", "1", "FLAGS", f"({HAS})")[0] == "OK"
    assert keywords_by_uid(client)[1] == {HAS}


def test_search_finds_attachment_file_names(mailbox: tuple[imaplib.IMAP4, str]) -> None:
    client, name = mailbox
    for raw in (PLAIN_NAME, RFC2231_NAME, RFC2047_NAME, PLAIN, INLINE_IMAGE):
        append(client, name, raw)
    client.select(name)
    assert search(client, "TEXT", '"invoice.pdf"') == [1]
    assert search(client, "BODY", "invoice") == [1]
    # RFC 2231 continuations with a charset: found by the decoded name only.
    assert search(client, "BODY", '"Rechnung Q3"') == [2]
    client.literal = "Übersicht-Rechnung".encode()
    assert search(client, "BODY", charset="UTF-8") == [2]
    # RFC 2047 in a Content-Type name.
    client.literal = "budget-zürich.xls".encode()
    assert search(client, "TEXT", charset="UTF-8") == [3]
    assert search(client, "BODY", '"Budget-Z"') == [3]
    # Content types are indexed too.
    assert search(client, "BODY", "application/pdf") == [1, 2]
    assert search(client, "BODY", "ms-excel") == [3]
    # An inline image of HTML mail is no attachment, so BODY does not name it.
    assert search(client, "BODY", "logo.png") == []


def _lmtp_deliver(server: TidingsServer, raw: bytes) -> None:
    with smtplib.LMTP(server.host, server.lmtp_port, timeout=30) as client:
        client.ehlo()
        refused = client.sendmail("carol@example.test", [TEST_USER], raw)
        assert refused == {}


def _inbox_keywords_by_subject(server: TidingsServer) -> dict[str, set[str]]:
    client = login(server)
    try:
        client.select("INBOX")
        keywords = keywords_by_uid(client)
        status, data = client.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert status == "OK", data
        subjects = {}
        for item in data:
            if isinstance(item, tuple):
                uid = int(re.search(rb"UID (\d+)", item[0]).group(1))  # type: ignore[union-attr]
                subjects[item[1].decode().split(":", 1)[1].strip()] = keywords[uid]
        return subjects
    finally:
        client.logout()


def test_lmtp_delivery_sets_the_keyword(server: TidingsServer) -> None:
    _lmtp_deliver(server, RFC2231_NAME)
    _lmtp_deliver(server, PLAIN)
    assert _inbox_keywords_by_subject(server) == {"rfc 2231 name": {HAS}, "no files": {HAS_NO}}


def test_tidings_deliver_sets_the_keyword(server: TidingsServer) -> None:
    env = {**os.environ, "TIDINGS_DATA": str(server.data_dir)}
    env.pop("TIDINGS_CONFIG", None)
    for raw in (RFC2047_NAME, PLAIN):
        result = subprocess.run(
            tidings_command("deliver", TEST_USER),
            input=raw,
            capture_output=True,
            timeout=60,
            env=env,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    assert _inbox_keywords_by_subject(server) == {"rfc 2047 name": {HAS}, "no files": {HAS_NO}}


def test_import_sets_the_keyword_and_keeps_a_sources(server: TidingsServer, tmp_path: Path) -> None:
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    source = tmp_path / "in.mbox"
    messages = [
        SourceMessage(PLAIN_NAME, frozenset({"\\Seen"}), when, "INBOX"),
        SourceMessage(PLAIN, frozenset(), when, "INBOX"),
        # A source that already said so (e.g. a Dovecot with attachment detection) wins.
        SourceMessage(INLINE_IMAGE, frozenset({HAS}), when, "INBOX"),
    ]
    with open(source, "wb") as stream:
        write_mbox(stream, messages)
    result = run_cli(server.data_dir, "import", "mbox", TEST_USER, str(source))
    assert result.returncode == 0, result.stderr
    assert _inbox_keywords_by_subject(server) == {
        "plain name": {HAS},
        "no files": {HAS_NO},
        "newsletter": {HAS},
    }
