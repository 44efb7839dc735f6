"""The Dovecot fixture itself: the reference server answers LOGIN, LIST, APPEND and FETCH."""

from __future__ import annotations

import imaplib
import ssl

import pytest
from tests.support.dovecot import SPECIAL_MAILBOXES, DovecotServer

pytestmark = pytest.mark.dovecot


def test_login_list_append_fetch(dovecot: DovecotServer) -> None:
    client = imaplib.IMAP4(dovecot.host, dovecot.imap_port)
    try:
        assert client.login(dovecot.user, dovecot.password)[0] == "OK"
        status, listing = client.list()
        assert status == "OK"
        text = b"\n".join(line for line in listing if isinstance(line, bytes))
        for name in SPECIAL_MAILBOXES:
            assert b"\\" + name.encode() in text, text  # RFC 6154 attribute on each
        message = b"Subject: fixture check\r\n\r\nbody\r\n"
        assert client.append("INBOX", None, None, message)[0] == "OK"
        status, data = client.select("INBOX")
        assert status == "OK"
        status, fetched = client.fetch(str(int(data[0] or 0)), "(BODY.PEEK[])")
        assert status == "OK"
        first = fetched[0]
        assert isinstance(first, tuple) and first[1] == message
    finally:
        client.logout()


def test_imaps_and_second_user(dovecot: DovecotServer) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the fixture's certificate is self-signed
    client = imaplib.IMAP4_SSL(dovecot.host, dovecot.imaps_port, ssl_context=context)
    try:
        assert client.login("bob@example.test", "bob's password")[0] == "OK"
    finally:
        client.logout()
