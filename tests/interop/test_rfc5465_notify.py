"""RFC 5465 NOTIFY against a real `tidings serve` process over real sockets: a raw-socket
watcher, stdlib imaplib making the changes, and `tidings deliver` (another process) whose
delivery to a mailbox that is not selected reaches the watcher as STATUS.

Tidings only: the Dovecot fixture runs without its notify plugin (and mailbox list index),
which NOTIFY needs there.
"""

from __future__ import annotations

import imaplib
import subprocess
import time

from tests.conftest import TidingsServer, tidings_command
from tests.imap.harness import LineClient

# As for IDLE (tests/notify): a delivery by another process shows up within one second.
MAX_LATENCY = 1.0
MESSAGE = b"From: carol@example.test\nSubject: cross-process\n\nHello.\n"


def _watcher(server: TidingsServer, notify: str) -> LineClient:
    client = LineClient(server.imap_port)
    client.login(server.user, server.password)
    reply = client.command("n1", notify)
    assert reply[-1] == "n1 OK NOTIFY completed.", reply
    return client


def test_notify_watcher_sees_imaplib_changes_in_every_folder(server: TidingsServer) -> None:
    watcher = _watcher(
        server,
        "NOTIFY SET (personal (MessageNew MessageExpunge FlagChange MailboxName"
        " SubscriptionChange))",
    )
    other = imaplib.IMAP4(server.host, server.imap_port, timeout=10)
    try:
        other.login(server.user, server.password)
        assert other.append("Archive", None, None, b"Subject: a\r\n\r\nx\r\n")[0] == "OK"
        assert watcher.read_line().startswith("* STATUS Archive (MESSAGES 1 UIDNEXT 2 ")
        assert other.create("Reports")[0] == "OK"
        assert watcher.read_line() == '* LIST (\\HasNoChildren) "/" Reports'
        assert other.subscribe("Reports")[0] == "OK"
        assert watcher.read_line() == '* LIST (\\HasNoChildren \\Subscribed) "/" Reports'
        assert other.rename("Reports", "Reports-2026")[0] == "OK"
        assert watcher.read_line() == (
            '* LIST (\\HasNoChildren \\Subscribed) "/" Reports-2026 ("OLDNAME" (Reports))'
        )
        assert other.select("Archive")[0] == "OK"
        assert other.store("1", "+FLAGS", "(\\Seen)")[0] == "OK"
        assert watcher.read_line().endswith(" UNSEEN 0)")
        assert other.store("1", "+FLAGS", "(\\Deleted)")[0] == "OK"
        assert other.expunge()[0] == "OK"
        assert watcher.read_line().startswith("* STATUS Archive (MESSAGES 0 UIDNEXT 2 ")
        other.close()
        assert other.delete("Reports-2026")[0] == "OK"
        assert watcher.read_line() == '* LIST (\\NonExistent \\Subscribed) "/" Reports-2026'
        assert watcher.command("n2", "NOTIFY NONE") == ["n2 OK NOTIFY completed."]
        assert other.append("Archive", None, None, b"Subject: b\r\n\r\ny\r\n")[0] == "OK"
        assert watcher.command("n3", "NOOP") == ["n3 OK Noop completed."]
    finally:
        other.logout()
        watcher.close()


def test_notify_watcher_of_a_non_selected_mailbox_sees_a_cli_delivery(
    server: TidingsServer,
) -> None:
    """`tidings deliver --mailbox Archive` commits in another process; its notice travels
    through the relay into the server's hub and out to the NOTIFY watcher as STATUS."""
    watcher = _watcher(server, "NOTIFY SET STATUS (mailboxes Archive (MessageNew MessageExpunge))")
    try:
        started = time.monotonic()
        result = subprocess.run(
            tidings_command(
                "deliver", server.user, "--mailbox", "Archive", "--data", str(server.data_dir)
            ),
            input=MESSAGE,
            capture_output=True,
            timeout=60,
            check=False,
        )
        ended = time.monotonic()
        assert result.returncode == 0, result.stderr
        watcher.sock.settimeout(MAX_LATENCY + 5)
        line = watcher.read_line()
        seen = time.monotonic()
        assert line.startswith("* STATUS Archive (MESSAGES 1 UIDNEXT 2 "), line
        print(f"\nNOTIFY cross-process: {(seen - started) * 1000:.0f} ms after deliver started")
        assert seen - ended < MAX_LATENCY
    finally:
        watcher.close()
