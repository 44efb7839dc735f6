"""A third-party COMPRESS=DEFLATE client: offlineimap3 (its imaplib2 speaks RFC 4978).

With `usecompression = yes` offlineimap sends COMPRESS DEFLATE after login and then talks
raw DEFLATE both ways (zlib wbits -15, Z_SYNC_FLUSH). Its debug log (`-d imap`) must show
that compression was switched on, the sync must succeed, and every message (text, and
multipart with a base64 attachment that does not compress) must arrive in the Maildir byte
for byte but for line ends. Generated, well-formed messages: offlineimap3 re-serializes some
malformed corpus messages itself (a blank line added after a part's headers), which has
nothing to do with compression. Plain IMAP on loopback: the TLS case is in
tests/imap/test_rfc4978_compress.py.

A known client bug, not exercised here: imaplib2's `read()` asks zlib for at most `size`
bytes, and when zlib fills exactly that in the middle of a back-reference with all input
consumed, it polls the socket instead of asking zlib for the rest, and waits forever. Long
runs of identical lines (5 messages of 3000 equal lines) hit it against Tidings and against
Dovecot 2.3's imap_zlib alike, at the same byte, since both compress with zlib level 6,
window 2^15, memLevel 8. The server cannot avoid it (tidings.net.deflate's own reader does
ask zlib again after a full read).
"""

from __future__ import annotations

import base64
import imaplib
import random
import subprocess
from pathlib import Path

from tests.conftest import TidingsServer
from tests.support.apt import ensure_command

RUN_TIMEOUT = 180  # seconds for one offlineimap run


def _message(number: int) -> bytes:
    """A text message that compresses well, or (odd numbers) one with a random attachment
    that does not; each with a Message-ID."""
    lines = "".join(
        f"Line {line} of message {number}, fetched compressed.\r\n" for line in range(400)
    )
    head = f"Subject: m{number}\r\nMessage-ID: <m{number}@compress.test>\r\n"
    if number % 2 == 0:
        return f"{head}\r\n{lines}".encode()
    blob = base64.encodebytes(random.Random(number).randbytes(30_000)).decode()
    blob = blob.replace("\n", "\r\n")
    return (
        f'{head}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        f"--b\r\nContent-Type: text/plain\r\n\r\n{lines}"
        f"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64"
        f"\r\n\r\n{blob}--b--\r\n"
    ).encode()


def test_offlineimap_syncs_with_compress(server: TidingsServer, tmp_path: Path) -> None:
    """offlineimap enables COMPRESS=DEFLATE and syncs every message intact."""
    binary = ensure_command("offlineimap", "offlineimap3")
    messages = [_message(number) for number in range(30)]
    client = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=30)
    client.login(server.user, server.password)
    for message in messages:
        assert client.append("INBOX", None, None, message)[0] == "OK"
    client.logout()
    maildir = tmp_path / "mail"
    maildir.mkdir()
    (tmp_path / "password").write_text(server.password)
    config = tmp_path / "offlineimaprc"
    config.write_text(
        f"""[general]
accounts = main
metadata = {tmp_path / "metadata"}

[Account main]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {maildir}

[Repository remote]
type = IMAP
remotehost = 127.0.0.1
remoteport = {server.imap_port}
ssl = no
starttls = no
remoteuser = {server.user}
remotepassfile = {tmp_path / "password"}
usecompression = yes
folderfilter = lambda name: name == "INBOX"
"""
    )
    result = subprocess.run(
        [binary, "-c", str(config), "-o", "-d", "imap"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "Enabled COMPRESS=DEFLATE" in output
    assert "ERROR" not in output, output[-4000:]
    # offlineimap stores messages with LF line ends.
    synced = sorted(path.read_bytes() for path in (maildir / "INBOX").glob("*/*"))
    assert synced == sorted(message.replace(b"\r\n", b"\n") for message in messages)
