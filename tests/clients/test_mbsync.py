"""mbsync (isync) against Tidings: a real offline client syncing both ways over IMAPS."""

from __future__ import annotations

import imaplib
import subprocess
from pathlib import Path

from tests.conftest import TidingsServer
from tests.support.apt import ensure_command


def _config(server: TidingsServer, tmp_path: Path) -> Path:
    maildir = tmp_path / "mail"
    maildir.mkdir()
    password_file = tmp_path / "password"
    password_file.write_text(server.password)
    config = tmp_path / "mbsyncrc"
    config.write_text(
        f"""IMAPAccount tidings
Host 127.0.0.1
Port {server.imaps_port}
User {server.user}
PassCmd "cat {password_file}"
SSLType IMAPS
CertificateFile {server.data_dir / "tls" / "cert.pem"}
AuthMechs PLAIN

IMAPStore remote
Account tidings

MaildirStore local
Path {maildir}/
Inbox {maildir}/INBOX
SubFolders Verbatim

Channel everything
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
"""
    )
    return config


def _sync(mbsync: str, config: Path) -> None:
    result = subprocess.run(
        [mbsync, "-c", str(config), "-a"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mbsync_pulls_and_pushes(server: TidingsServer, tmp_path: Path) -> None:
    """Server → maildir (messages, flags, folders), then maildir → server (new mail, flags)."""
    mbsync = ensure_command("mbsync", "isync")
    client = imaplib.IMAP4(server.host, server.imap_port, timeout=10)
    client.login(server.user, server.password)
    client.append("INBOX", r"(\Flagged)", None, b"Subject: one\r\n\r\nfirst\r\n")
    client.append("Sent", None, None, b"Subject: two\r\n\r\nsecond\r\n")
    config = _config(server, tmp_path)
    _sync(mbsync, config)

    maildir = tmp_path / "mail"
    inbox_files = list((maildir / "INBOX" / "cur").iterdir()) + list(
        (maildir / "INBOX" / "new").iterdir()
    )
    assert len(inbox_files) == 1
    local_copy = inbox_files[0].read_bytes()  # mbsync stores LF line ends, adds X-TUID
    assert local_copy.startswith(b"Subject: one\n") and local_copy.endswith(b"\n\nfirst\n")
    assert inbox_files[0].name.endswith("F")  # \Flagged became maildir flag F
    sent = maildir / "Sent"
    assert len(list((sent / "cur").iterdir()) + list((sent / "new").iterdir())) == 1

    # Local changes travel back: a new message, and \Seen on the first one.
    (maildir / "INBOX" / "new" / "1700000000.local.test").write_bytes(
        b"Subject: three\r\n\r\nfrom the laptop\r\n"
    )
    seen_name = inbox_files[0].parent.parent / "cur" / (inbox_files[0].name + "S")
    inbox_files[0].rename(seen_name)
    _sync(mbsync, config)

    client.select("INBOX", readonly=True)
    typ, data = client.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK"
    text = b" ".join(part if isinstance(part, bytes) else b" ".join(part) for part in data)
    assert b"Subject: three" in text
    assert b"\\Seen" in text and b"\\Flagged" in text
    client.logout()
