"""Messages for POP3 tests, put into INBOX over IMAP, and what POP3 must send for them.

`imap_append` speaks raw IMAP with a non-synchronizing literal (RFC 7888) so the stored bytes
are exactly the test's bytes: imaplib's append would turn bare LFs into CRLF first.
`expected_retr` is written independently of the server's encoder, from RFC 1939 §3.
"""

from __future__ import annotations

import imaplib
import re
import socket

# One of each kind the issue names: plain CRLF, bare LFs (and no final line end), lines that
# start with ".", and a large one (several chunks of the server's encoder, dot lines inside).
PLAIN = b"From: a@example.test\r\nSubject: plain\r\n\r\nHello over POP3.\r\n"
BARE_LF = b"From: b@example.test\nSubject: bare LF\n\nline one\nline two without end"
DOTS = (
    b"From: c@example.test\r\nSubject: dots\r\n\r\n.starts with a dot\r\n"
    b"..two dots\r\n.\r\nafter a lone dot\r\n"
)


def large_message(size: int = 3 * 1024 * 1024) -> bytes:
    """About `size` octets with numbered lines; every 1000th line starts with a dot."""
    lines = [b"From: d@example.test", b"Subject: large", b""]
    total = 0
    number = 0
    while total < size:
        prefix = b"." if number % 1000 == 0 else b""
        line = prefix + b"line %08d " % number + b"x" * 60
        lines.append(line)
        total += len(line) + 2
        number += 1
    return b"\r\n".join(lines) + b"\r\n"


def imap_append(port: int, user: str, password: str, *messages: bytes) -> list[int]:
    """APPEND each message to INBOX byte for byte; return the UIDs (APPENDUID)."""
    uids = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        reader = sock.makefile("rb")
        try:
            reader.readline()
            sock.sendall(b'a LOGIN "%s" "%s"\r\n' % (user.encode(), password.encode()))
            assert reader.readline().startswith(b"a OK")
            for message in messages:
                sock.sendall(b"b APPEND INBOX {%d+}\r\n" % len(message) + message + b"\r\n")
                reply = reader.readline()
                match = re.match(rb"b OK \[APPENDUID \d+ (\d+)\]", reply)
                assert match, reply
                uids.append(int(match.group(1)))
            sock.sendall(b"z LOGOUT\r\n")
        finally:
            reader.close()
    return uids


def expected_retr(raw: bytes) -> bytes:
    """The message as a client reassembles it from RETR: bare LF → CRLF, one final CRLF."""
    data = re.sub(rb"(?<!\r)\n", b"\r\n", raw)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def wire_size(raw: bytes) -> int:
    """The size LIST must report: the CRLF form, not counting an added final line end."""
    return len(re.sub(rb"(?<!\r)\n", b"\r\n", raw))


def joined(lines: list[bytes]) -> bytes:
    """poplib's unstuffed lines (without line ends) as the message bytes."""
    return b"".join(line + b"\r\n" for line in lines)


def imap_login(port: int, user: str, password: str) -> imaplib.IMAP4:
    """An imaplib connection, logged in."""
    client = imaplib.IMAP4("127.0.0.1", port, timeout=30)
    client.login(user, password)
    return client


def imap_uids_and_flags(port: int, user: str, password: str) -> dict[int, bytes]:
    """UID → FLAGS text of every INBOX message, read with EXAMINE (changes nothing)."""
    client = imap_login(port, user, password)
    try:
        _, count = client.select("INBOX", readonly=True)
        if count[0] == b"0":
            return {}
        _, data = client.fetch("1:*", "(UID FLAGS)")
        result = {}
        for item in data:
            if not isinstance(item, bytes):
                continue
            match = re.search(rb"UID (\d+) FLAGS \(([^)]*)\)", item)
            if match:
                result[int(match.group(1))] = match.group(2)
        return result
    finally:
        client.logout()


def uidvalidity(port: int, user: str, password: str) -> int:
    """INBOX's UIDVALIDITY."""
    client = imap_login(port, user, password)
    try:
        _, data = client.status("INBOX", "(UIDVALIDITY)")
        match = re.search(rb"UIDVALIDITY (\d+)", data[0] or b"")
        assert match, data
        return int(match.group(1))
    finally:
        client.logout()
