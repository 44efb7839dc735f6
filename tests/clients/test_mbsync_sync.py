"""mbsync (isync) keeping a 200-message Maildir in step with the server, both directions.

Every scenario seeds four folders (one nested) with 200 messages from ../shared/corpus plus
generated ones, syncs over IMAPS with the server's self-signed certificate as the only trust
anchor (`CertificateFile`, no verification bypass), changes one side, syncs again and then
checks the Maildir against the server as a second client (imaplib) sees it: the same folders,
the same Message-IDs with the same flags, and what the change should have produced. Two more
runs must then change nothing at all: the same file names, the same UIDs and UIDNEXT (so no
message was uploaded twice).

Each scenario runs against Tidings and against Dovecot (`-m "not dovecot"` leaves Dovecot
out), which shows that the expectations are right.
"""

from __future__ import annotations

import imaplib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.clients.sync_state import (
    Endpoint,
    State,
    add_local_message,
    assert_same,
    corpus_messages,
    find_file,
    generated_message,
    internaldates,
    maildir_files,
    maildir_names,
    maildir_state,
    message_id,
    seed,
    server_snapshot,
    server_state,
    set_maildir_flags,
)
from tests.conftest import TidingsServer
from tests.support.apt import ensure_command, ensure_file

pytestmark = pytest.mark.slow

LAYOUT = {"INBOX": 110, "Archive": 40, "Projects": 30, "Projects/Alpha": 20}
RUN_TIMEOUT = 180  # seconds for one mbsync run; a 200-message pull takes a few


class Mbsync:
    """One mbsync setup in a temp dir: config, password file and the local Maildir."""

    def __init__(self, endpoint: Endpoint, home: Path, auth_mechs: str = "PLAIN") -> None:
        self.binary = ensure_command("mbsync", "isync")
        self.maildir = home / "mail"
        self.maildir.mkdir(parents=True)
        password_file = home / "password"
        password_file.write_text(endpoint.password)
        self.config = home / "mbsyncrc"
        self.config.write_text(
            f"""IMAPAccount server
Host {endpoint.tls_host}
Port {endpoint.imaps_port}
User {endpoint.user}
PassCmd "cat {password_file}"
SSLType IMAPS
CertificateFile {endpoint.cert_file}
AuthMechs {auth_mechs}
Timeout 60

IMAPStore remote
Account server

MaildirStore local
Path {self.maildir}/
Inbox {self.maildir}/INBOX
SubFolders Verbatim

Channel everything
CopyArrivalDate yes
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
"""
        )

    def sync(self) -> str:
        """One `mbsync -a`; it must succeed. Returns its output."""
        result = subprocess.run(
            [self.binary, "-c", str(self.config), "-a"],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout + result.stderr


def _seeded(endpoint: Endpoint, tmp_path: Path) -> tuple[Mbsync, State]:
    """Seed the server with 200 messages, pull them once, and check the pull."""
    mbsync = Mbsync(endpoint, tmp_path / "mbsync")
    client = endpoint.connect()
    try:
        seed(client, LAYOUT, corpus_messages(sum(LAYOUT.values())))
    finally:
        client.logout()
    mbsync.sync()
    state = server_state(endpoint)
    assert sum(len(state[folder]) for folder in LAYOUT) == 200
    assert_same(state, maildir_state(mbsync.maildir))
    return mbsync, state


def _assert_converged(mbsync: Mbsync, endpoint: Endpoint) -> None:
    """Two more runs change nothing: not a file name, not a UID, not UIDNEXT, not a flag."""
    server_before = server_snapshot(endpoint)
    local_before = maildir_names(mbsync.maildir)
    for _ in range(2):
        mbsync.sync()
        assert server_snapshot(endpoint) == server_before
        assert maildir_names(mbsync.maildir) == local_before


def test_initial_pull_of_200_messages(sync_endpoint: Endpoint, tmp_path: Path) -> None:
    """The first run brings all 200 messages with their flags into four Maildirs."""
    started = time.monotonic()
    mbsync, state = _seeded(sync_endpoint, tmp_path)
    print(f"{sync_endpoint.name}: seed and first mbsync run {time.monotonic() - started:.1f}s")
    assert {folder: len(state[folder]) for folder in LAYOUT} == LAYOUT
    assert ("<gen-199@sync.test>", "") in state["Projects/Alpha"]
    # CopyArrivalDate: each file's mtime is the server's INTERNALDATE (given with +02:00).
    for folder in LAYOUT:
        dates = internaldates(sync_endpoint, folder)
        for path in maildir_files(mbsync.maildir / folder):
            assert path.stat().st_mtime == dates[message_id(path.read_bytes())], path
    _assert_converged(mbsync, sync_endpoint)


def _replace(state: State, folder: str, ident: str, flags: str | None) -> None:
    """Change (or, with None, remove) one message of an expected state."""
    entries = [entry for entry in state[folder] if entry[0] == ident]
    assert len(entries) == 1, (folder, ident)
    state[folder].remove(entries[0])
    if flags is not None:
        state[folder].append((ident, "".join(sorted(flags))))


ARRIVAL = 1_600_000_000  # 2020-09-13 12:26:40 UTC


def big_message(size: int = 2 * 1024 * 1024) -> bytes:
    """A message of about `size` bytes with LF line ends, as a local mail program writes it."""
    head = generated_message("big-local", "a large attachment follows", b"\n")
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/==\n"
    return head + line * (size // len(line))


def test_local_changes_are_pushed(sync_endpoint: Endpoint, tmp_path: Path) -> None:
    """Flag edits in file names, deleted files, T-flagged files and new files (also in a new
    local folder) all reach the server; the Maildir ends up exactly like the server."""
    mbsync, expected = _seeded(sync_endpoint, tmp_path)
    root = mbsync.maildir
    toggles = ["F", "S", "R", "D"]
    for number, (ident, flags) in enumerate(list(expected["INBOX"])[:12]):
        letter = toggles[number % len(toggles)]
        new_flags = flags.replace(letter, "") if letter in flags else flags + letter
        set_maildir_flags(find_file(root, "INBOX", ident), new_flags)
        _replace(expected, "INBOX", ident, new_flags)
    for ident, _ in list(expected["Archive"])[:5]:  # the file disappears
        find_file(root, "Archive", ident).unlink()
        _replace(expected, "Archive", ident, None)
    for ident, flags in list(expected["Projects"])[:4]:  # marked trashed, then expunged
        set_maildir_flags(find_file(root, "Projects", ident), flags + "T")
        _replace(expected, "Projects", ident, None)
    for number in range(3):
        tag = f"laptop-{number}"
        add_local_message(
            root,
            "INBOX",
            generated_message(tag, "written offline", b"\n"),
            f"170000000{number}.local.test",
        )
        expected["INBOX"].append((f"<{tag}@sync.test>", ""))
    add_local_message(root, "Projects/Alpha", big_message(), "1700000010.local.test")
    expected["Projects/Alpha"].append(("<big-local@sync.test>", ""))
    # CopyArrivalDate: the file's mtime becomes the uploaded message's INTERNALDATE.
    os.utime(root / "Projects/Alpha/new/1700000010.local.test", (ARRIVAL, ARRIVAL))
    add_local_message(
        root, "Offline", generated_message("offline-folder", "new", b"\n"), "1700000020.local.test"
    )
    expected["Offline"] = [("<offline-folder@sync.test>", "")]

    mbsync.sync()
    assert_same(server_state(sync_endpoint), maildir_state(root), expected)
    assert internaldates(sync_endpoint, "Projects/Alpha")["<big-local@sync.test>"] == ARRIVAL
    _assert_converged(mbsync, sync_endpoint)


def test_server_changes_are_pulled(sync_endpoint: Endpoint, tmp_path: Path) -> None:
    """APPEND, STORE, EXPUNGE, MOVE and CREATE by another client all reach the Maildir."""
    mbsync, _ = _seeded(sync_endpoint, tmp_path)
    client = sync_endpoint.connect()
    try:
        for number in range(4):
            flags = r"(\Flagged)" if number % 2 else None
            raw = generated_message(f"phone-{number}", "sent from the phone")
            assert client.append("INBOX", flags, None, raw)[0] == "OK"
        client.select("INBOX")
        assert client.uid("STORE", "1:6", "+FLAGS.SILENT", r"(\Seen \Flagged)")[0] == "OK"
        assert client.uid("STORE", "7:10", "-FLAGS.SILENT", r"(\Seen)")[0] == "OK"
        assert client.uid("MOVE", "11:12", "Projects")[0] == "OK"
        client.select("Archive")
        assert client.uid("STORE", "1:7", "+FLAGS.SILENT", r"(\Deleted)")[0] == "OK"
        assert client.expunge()[0] == "OK"
        # New folders, one with a space and a non-ASCII child (modified UTF-7 "Données").
        for folder in ("Fresh Ideas", "Fresh Ideas/Donn&AOk-es"):
            assert client.create(f'"{folder}"')[0] == "OK"
            for number in range(3):
                raw = generated_message(f"{folder[-3:]}-{number}", "in a new folder")
                assert client.append(f'"{folder}"', r"(\Seen)", None, raw)[0] == "OK"
        client.logout()
    except BaseException:
        client.shutdown()
        raise
    expected = server_state(sync_endpoint)
    assert len(expected["Fresh Ideas/Donn&AOk-es"]) == 3 and len(expected["Archive"]) == 33
    assert len(expected["INBOX"]) == 110 + 4 - 2 and len(expected["Projects"]) == 30 + 2

    mbsync.sync()
    assert_same(server_state(sync_endpoint), maildir_state(mbsync.maildir), expected)
    _assert_converged(mbsync, sync_endpoint)


# Cyrus SASL's SCRAM plugin, which mbsync loads for AuthMechs SCRAM-SHA-256.
_MULTIARCH = getattr(sys.implementation, "_multiarch", "x86_64-linux-gnu")
SASL_SCRAM_PLUGIN = Path(f"/usr/lib/{_MULTIARCH}/sasl2/libscram.so.2")


def test_scram_sha_256_login(server: TidingsServer, tmp_path: Path) -> None:
    """mbsync logs in with SCRAM-SHA-256 (RFC 7677) through Cyrus SASL, a client-side SCRAM
    written independently of ours, and syncs. (mbsync passes no channel binding to SASL, so
    it cannot use SCRAM-SHA-256-PLUS.)"""
    endpoint = Endpoint(
        "tidings",
        "localhost",
        server.imap_port,
        server.imaps_port,
        server.user,
        server.password,
        server.data_dir / "tls" / "cert.pem",
    )
    greeting = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=30)
    offered = "AUTH=SCRAM-SHA-256" in greeting.capabilities  # before login, where AUTH= is
    greeting.logout()
    if not offered:
        pytest.skip("the server does not offer SCRAM-SHA-256")
    client = endpoint.connect()
    try:
        seed(client, {"INBOX": 3}, corpus_messages(3))
    finally:
        client.logout()
    ensure_file(SASL_SCRAM_PLUGIN, "libsasl2-modules")
    mbsync = Mbsync(endpoint, tmp_path / "mbsync", auth_mechs="SCRAM-SHA-256")
    output = subprocess.run(
        [mbsync.binary, "-c", str(mbsync.config), "-a", "-D"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert output.returncode == 0, output.stdout + output.stderr
    assert "AUTHENTICATE SCRAM-SHA-256" in output.stdout + output.stderr
    assert_same(server_state(endpoint), maildir_state(mbsync.maildir))
    assert len(maildir_state(mbsync.maildir)["INBOX"]) == 3
