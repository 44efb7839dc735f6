"""Acknowledged means durable: restarts and `kill -9` lose nothing (DESIGN.md "Storage")."""

from __future__ import annotations

import imaplib
import socket
import time
from pathlib import Path

from tests.conftest import TidingsServer, make_server


def _connect(server: TidingsServer) -> imaplib.IMAP4:
    client = imaplib.IMAP4(server.host, server.imap_port, timeout=10)
    client.login(server.user, server.password)
    return client


def test_state_survives_restart(tmp_path: Path) -> None:
    """UIDVALIDITY, UIDNEXT, flags, keywords and internal dates survive a clean restart."""
    server = make_server(tmp_path / "data")
    server.start()
    try:
        client = _connect(server)
        client.create("Keep")
        date = imaplib.Time2Internaldate(time.mktime((2020, 5, 17, 10, 30, 0, 0, 0, -1)))
        client.append("Keep", r"(\Flagged $Important)", date, b"Subject: keep\r\n\r\nbody\r\n")
        client.select("Keep", readonly=True)
        before = client.fetch("1", "(UID FLAGS INTERNALDATE)")[1]
        status_before = client.status("Keep", "(UIDVALIDITY UIDNEXT MESSAGES)")[1]
        client.logout()
        server.stop()
        server.start()
        client = _connect(server)
        client.select("Keep", readonly=True)
        assert client.fetch("1", "(UID FLAGS INTERNALDATE)")[1] == before
        assert client.status("Keep", "(UIDVALIDITY UIDNEXT MESSAGES)")[1] == status_before
        client.logout()
    finally:
        server.stop()


def test_append_acknowledged_survives_kill_9(tmp_path: Path) -> None:
    """An APPEND answered OK is there after SIGKILL right after the OK."""
    server = make_server(tmp_path / "data")
    server.start()
    try:
        raw = socket.create_connection((server.host, server.imap_port), timeout=10)
        reader = raw.makefile("rb")
        reader.readline()
        raw.sendall(f'a LOGIN {server.user} "{server.password}"\r\n'.encode())
        assert reader.readline().startswith(b"a OK")
        message = b"Subject: durable\r\n\r\nmust survive\r\n"
        raw.sendall(b"b APPEND INBOX {%d+}\r\n%s\r\n" % (len(message), message))
        reply = reader.readline()
        assert reply.startswith(b"b OK [APPENDUID"), reply
        server.stop(kill=True)  # SIGKILL the moment the OK arrived
        raw.close()
        server.start()
        client = _connect(server)
        client.select("INBOX")
        typ, data = client.fetch("1", "(BODY.PEEK[])")
        assert typ == "OK"
        assert data[0][1] == message
        client.logout()
    finally:
        server.stop()
