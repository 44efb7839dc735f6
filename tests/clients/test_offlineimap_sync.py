"""offlineimap3 (Debian's offlineimap3) keeping a Maildir in step with the server.

Each scenario seeds five folders (one nested, the local Maildir nests too with `sep = /`;
one name with a space, two non-ASCII ones), runs
`offlineimap -o -u quiet` (one shot) over IMAPS with the server's self-signed certificate as
`sslcacertfile`, changes one side, syncs again and checks the Maildir against the server as
imaplib sees it, and against what the change should have produced. Two more runs must then
change nothing: the same file names, the same UIDs and UIDNEXT. offlineimap runs with three
connections (folders in parallel) and with COMPRESS=DEFLATE whenever the server offers it.

offlineimap checks the certificate's DNS names itself (it ignores IP addresses), so it
connects to `localhost`, the name both test certificates carry.

Each scenario runs against Tidings and against Dovecot (`-m "not dovecot"` leaves Dovecot
out), which shows that the expectations are right.
"""

from __future__ import annotations

import subprocess
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
    maildir_names,
    maildir_state,
    message_id,
    seed,
    server_snapshot,
    server_state,
    set_maildir_flags,
)
from tests.support.apt import ensure_command

pytestmark = pytest.mark.slow

# A name with a space and a non-ASCII one (modified UTF-7 "Donn\u00e9es", RFC 3501 §5.1.3),
# with a child, so quoting and the hierarchy go through both clients as well.
LAYOUT = {"INBOX": 30, "Archive": 15, "Fresh Ideas": 5, "Donn&AOk-es": 5, "Donn&AOk-es/Sub Dir": 5}
RUN_TIMEOUT = 180  # seconds for one offlineimap run


def _compresses(endpoint: Endpoint) -> bool:
    """Whether the server offers COMPRESS=DEFLATE (RFC 4978) once logged in: offlineimap then
    uses it (`usecompression`), and sends COMPRESS blindly if told to, so only then."""
    client = endpoint.connect()
    try:
        typ, data = client.capability()
        assert typ == "OK", data
        return b"COMPRESS=DEFLATE" in data[0].split()
    finally:
        client.logout()


class OfflineImap:
    """One offlineimap setup in a temp dir: config, password file, metadata and Maildir."""

    def __init__(self, endpoint: Endpoint, home: Path) -> None:
        self.binary = ensure_command("offlineimap", "offlineimap3")
        self.maildir = home / "mail"
        self.maildir.mkdir(parents=True)
        password_file = home / "password"
        password_file.write_text(endpoint.password)
        self.config = home / "offlineimaprc"
        self.config.write_text(
            f"""[general]
accounts = main
metadata = {home / "metadata"}
maxsyncaccounts = 1

[Account main]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {self.maildir}
sep = /

[Repository remote]
type = IMAP
remotehost = {endpoint.tls_host}
remoteport = {endpoint.imaps_port}
ssl = yes
sslcacertfile = {endpoint.cert_file}
remoteuser = {endpoint.user}
remotepassfile = {password_file}
maxconnections = 3
holdconnectionopen = no
usecompression = {"yes" if _compresses(endpoint) else "no"}
"""
        )

    def sync(self) -> str:
        """One `offlineimap -o -u quiet`; it must succeed and report no error."""
        result = subprocess.run(
            [self.binary, "-c", str(self.config), "-o", "-u", "quiet"],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "ERROR" not in output, output
        return output


def _seeded(endpoint: Endpoint, tmp_path: Path) -> tuple[OfflineImap, State]:
    """Seed the server, sync once, check that the Maildir is the server's copy."""
    offlineimap = OfflineImap(endpoint, tmp_path / "offlineimap")
    client = endpoint.connect()
    try:
        seed(client, LAYOUT, corpus_messages(sum(LAYOUT.values())))
    finally:
        client.logout()
    offlineimap.sync()
    state = server_state(endpoint)
    assert {folder: len(state[folder]) for folder in LAYOUT} == LAYOUT
    assert_same(state, maildir_state(offlineimap.maildir))
    return offlineimap, state


def _assert_converged(offlineimap: OfflineImap, endpoint: Endpoint) -> None:
    """Two more runs change nothing: not a file name, not a UID, not UIDNEXT, not a flag."""
    server_before = server_snapshot(endpoint)
    local_before = maildir_names(offlineimap.maildir)
    for _ in range(2):
        offlineimap.sync()
        assert server_snapshot(endpoint) == server_before
        assert maildir_names(offlineimap.maildir) == local_before


def _take(state: State, folder: str, ident: str) -> tuple[str, str]:
    """Remove one message from an expected state and return it."""
    entries = [entry for entry in state[folder] if entry[0] == ident]
    assert len(entries) == 1, (folder, ident)
    state[folder].remove(entries[0])
    return entries[0]


def test_folders_and_moves(sync_endpoint: Endpoint, tmp_path: Path) -> None:
    """A folder created on the server arrives, one created locally reaches the server, and
    messages MOVEd on the server leave the local INBOX and arrive in the local Archive once."""
    offlineimap, expected = _seeded(sync_endpoint, tmp_path)
    client = sync_endpoint.connect()
    try:
        assert client.create("FromServer")[0] == "OK"
        for number in range(2):
            raw = generated_message(f"server-folder-{number}", "made on the server")
            assert client.append("FromServer", r"(\Seen)", None, raw)[0] == "OK"
    finally:
        client.logout()
    expected["FromServer"] = [
        ("<server-folder-0@sync.test>", "S"),
        ("<server-folder-1@sync.test>", "S"),
    ]
    for number in range(2):
        add_local_message(
            offlineimap.maildir,
            "FromLaptop",
            generated_message(f"local-folder-{number}", "made offline", b"\n"),
            f"170000000{number}.local.test",
        )
    expected["FromLaptop"] = [
        ("<local-folder-0@sync.test>", ""),
        ("<local-folder-1@sync.test>", ""),
    ]
    offlineimap.sync()
    assert_same(server_state(sync_endpoint), maildir_state(offlineimap.maildir), expected)

    client = sync_endpoint.connect()
    try:
        client.select("INBOX")
        typ, data = client.uid("FETCH", "3:5", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        assert typ == "OK"
        moved = [item[1] for item in data if isinstance(item, tuple)]
        assert len(moved) == 3
        assert client.uid("MOVE", "3:5", "Archive")[0] == "OK"
    finally:
        client.logout()
    for raw in moved:
        expected["Archive"].append(_take(expected, "INBOX", message_id(raw)))
    offlineimap.sync()
    assert_same(server_state(sync_endpoint), maildir_state(offlineimap.maildir), expected)
    _assert_converged(offlineimap, sync_endpoint)


def test_local_flags_and_deletions(sync_endpoint: Endpoint, tmp_path: Path) -> None:
    """Flag edits in file names, deleted files and a new file reach the server."""
    offlineimap, expected = _seeded(sync_endpoint, tmp_path)
    root = offlineimap.maildir
    toggles = ["F", "S", "R", "D"]
    for number, (ident, flags) in enumerate(list(expected["INBOX"])[:8]):
        letter = toggles[number % len(toggles)]
        new_flags = "".join(
            sorted(flags.replace(letter, "") if letter in flags else flags + letter)
        )
        set_maildir_flags(find_file(root, "INBOX", ident), new_flags)
        _take(expected, "INBOX", ident)
        expected["INBOX"].append((ident, new_flags))
    for folder in ("Archive", "Donn&AOk-es/Sub Dir"):
        for ident, _ in list(expected[folder])[:3]:
            find_file(root, folder, ident).unlink()
            _take(expected, folder, ident)
    # offlineimap turns a T (trashed) file into \Deleted on the server and leaves both copies
    # in place (it expunges only what it deleted itself), as it does with Dovecot.
    ident, flags = _take(expected, "Fresh Ideas", expected["Fresh Ideas"][0][0])
    set_maildir_flags(find_file(root, "Fresh Ideas", ident), flags + "T")
    expected["Fresh Ideas"].append((ident, "".join(sorted(flags + "T"))))
    add_local_message(
        root,
        "INBOX",
        generated_message("laptop", "written offline", b"\n"),
        "1700000000.local.test",
    )
    expected["INBOX"].append(("<laptop@sync.test>", ""))

    offlineimap.sync()
    assert_same(server_state(sync_endpoint), maildir_state(root), expected)
    _assert_converged(offlineimap, sync_endpoint)
