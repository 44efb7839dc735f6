"""RFC 8474 OBJECTID, RFC 8514 SAVEDATE, RFC 8970 PREVIEW and RFC 5464 METADATA against a
real `tidings serve` process, with independent clients: imapclient parses the FETCH and
STATUS responses, stdlib imaplib sends the METADATA commands, and `tidings deliver` (another
process) stores a message whose save date and preview come from the delivery path.

Tidings only: Dovecot 2.3 answers THREADID NIL and needs a dict for METADATA.
"""

from __future__ import annotations

import imaplib
import re
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from imapclient import IMAPClient
from tests.conftest import TidingsServer, tidings_command

DELIVERED = b"From: carol@example.test\nSubject: delivered\nMessage-ID: <d@x>\n\nDelivered text.\n"


def _client(server: TidingsServer) -> IMAPClient:
    client = IMAPClient(server.host, port=server.imap_port, ssl=False, timeout=10)
    client.login(server.user, server.password)
    return client


def test_imapclient_reads_object_ids_savedate_and_preview(server: TidingsServer) -> None:
    subprocess.run(
        tidings_command("--data", str(server.data_dir), "deliver", server.user),
        input=DELIVERED,
        check=True,
        timeout=60,
    )
    client = _client(server)
    try:
        caps = client.capabilities()
        for name in (b"OBJECTID", b"SAVEDATE", b"PREVIEW", b"METADATA", b"METADATA-SERVER"):
            assert name in caps
        client.append("INBOX", b"Subject: re\r\nIn-Reply-To: <d@x>\r\n\r\nA reply.\r\n")
        client.select_folder("INBOX")
        data = client.fetch([1, 2], ["EMAILID", "THREADID", "SAVEDATE", "PREVIEW"])
        assert data[1][b"PREVIEW"] == b"Delivered text."
        assert data[2][b"PREVIEW"] == b"A reply."
        assert data[1][b"THREADID"] == data[2][b"THREADID"]
        assert data[1][b"EMAILID"] != data[2][b"EMAILID"]
        for uid in (1, 2):
            saved = data[uid][b"SAVEDATE"]
            when = datetime.strptime(saved.decode().strip(), "%d-%b-%Y %H:%M:%S %z")
            assert abs(when - datetime.now(UTC)) < timedelta(minutes=2)
        # imapclient reads `EMAILID (M...)` as a one-item tuple.
        (emailid,) = data[1][b"EMAILID"]
        assert re.fullmatch(rb"M[0-9a-f]{24}", emailid)
        client.copy([1], "Archive")
        assert client.search(["EMAILID", emailid.decode()]) == [1]
        client.select_folder("Archive")
        copied = client.fetch([1], ["EMAILID"])
        assert copied[1][b"EMAILID"] == data[1][b"EMAILID"]
        status = client.folder_status("Archive", ["MAILBOXID", "MESSAGES"])
        assert status[b"MESSAGES"] == 1
        (mailboxid,) = status[b"MAILBOXID"]
        assert re.fullmatch(rb"F[0-9a-f]{24}", mailboxid)
    finally:
        client.logout()


def test_imaplib_sets_and_gets_metadata(
    server: TidingsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # imaplib sends only the commands it knows; RFC 5464's are valid once authenticated.
    for name in ("SETMETADATA", "GETMETADATA"):
        monkeypatch.setitem(imaplib.Commands, name, ("AUTH", "SELECTED"))
    conn = imaplib.IMAP4(server.host, server.imap_port, timeout=10)
    try:
        conn.login(server.user, server.password)
        typ, _ = conn._simple_command("SETMETADATA", "INBOX", '(/private/comment "from imaplib")')
        assert typ == "OK"
        typ, _ = conn._simple_command("GETMETADATA", "INBOX", "/private/comment")
        assert typ == "OK"
        assert conn.untagged_responses["METADATA"] == [b'INBOX (/private/comment "from imaplib")']
    finally:
        conn.logout()
