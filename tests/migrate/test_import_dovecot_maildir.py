"""`tidings import maildir` of a Maildir that a real Dovecot (from Debian) wrote: every
folder, flags and keywords, and Dovecot's UIDVALIDITY and UIDs kept, as a client that
synced against Dovecot sees them over IMAP afterwards."""

from __future__ import annotations

import imaplib
import re
from pathlib import Path

import pytest
from tests.conftest import TEST_PASSWORD, TEST_USER, make_server, run_cli
from tests.support.corpus import corpus_files
from tests.support.dovecot import start_dovecot

FOLDERS = ("INBOX", "Work/Reports")
FLAG_SETS = ("(\\Seen)", "(\\Flagged $Label1)", "()", "(\\Seen \\Answered Custom_Tag)")


def _state(imap: imaplib.IMAP4, folder: str) -> tuple[int, dict[int, tuple[bytes, set[str]]]]:
    """UIDVALIDITY and {uid: (message, flags)} of `folder`, read over IMAP."""
    assert imap.select(f'"{folder}"', readonly=True)[0] == "OK"
    status = imap.status(f'"{folder}"', "(UIDVALIDITY)")[1][0]
    assert isinstance(status, bytes)
    match = re.search(rb"UIDVALIDITY (\d+)", status)
    assert match, status
    typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
    assert typ == "OK"
    messages: dict[int, tuple[bytes, set[str]]] = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        head = item[0].decode()
        uid = int(re.search(r"UID (\d+)", head).group(1))  # type: ignore[union-attr]
        flags = set(re.search(r"FLAGS \(([^)]*)\)", head).group(1).split())  # type: ignore[union-attr]
        flags.discard("\\Recent")
        messages[uid] = (item[1], flags)
    imap.close()
    return int(match.group(1)), messages


@pytest.mark.dovecot
def test_import_of_a_dovecot_maildir_keeps_uids_and_uidvalidity(tmp_path: Path) -> None:
    dovecot = start_dovecot(tmp_path / "dovecot")
    try:
        with imaplib.IMAP4("127.0.0.1", dovecot.imap_port, timeout=20) as imap:
            imap.login(TEST_USER, TEST_PASSWORD)
            assert imap.create('"Work/Reports"')[0] == "OK"
            for index, path in enumerate(corpus_files()[:16]):
                folder = FOLDERS[index % 2]
                raw = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
                flags = FLAG_SETS[index % len(FLAG_SETS)]
                assert imap.append(f'"{folder}"', flags, None, raw)[0] == "OK"
            # A gap in the UIDs: Dovecot's numbering must survive as it is.
            imap.select("INBOX")
            imap.uid("STORE", "2", "+FLAGS.SILENT", "(\\Deleted)")
            imap.expunge()
            imap.close()
            before = {folder: _state(imap, folder) for folder in FOLDERS}
            imap.logout()
    finally:
        dovecot.stop()
    maildir = tmp_path / "dovecot" / "mail" / TEST_USER / "Maildir"
    assert (maildir / "dovecot-uidlist").exists()

    server = make_server(tmp_path / "tidings")
    result = run_cli(server.data_dir, "import", "maildir", TEST_USER, str(maildir))
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"imported 15 messages", result.stdout), result.stdout
    server.start()
    try:
        with imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=20) as imap:
            imap.login(TEST_USER, TEST_PASSWORD)
            after = {folder: _state(imap, folder) for folder in FOLDERS}
            imap.logout()
    finally:
        server.stop()
    for folder in FOLDERS:
        uidvalidity, messages = before[folder]
        assert after[folder][0] == uidvalidity, folder
        assert sorted(after[folder][1]) == sorted(messages), folder
        assert after[folder][1] == messages, folder
    assert 2 not in after["INBOX"][1]
