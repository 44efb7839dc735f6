"""The engine of `tidings watch` against a real Tidings: new mail once, no duplicates over
restarts of the watcher and of the server, --once, flags, expunge, fatal configuration."""

from __future__ import annotations

import imaplib
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import TEST_PASSWORD, TEST_USER, TidingsServer, make_server
from tests.watch.support import WatcherProcess, deliver_lmtp, unique_subject

PASSWORD_ENV = "TIDINGS_ENGINE_TEST_PASSWORD"
ENV = {PASSWORD_ENV: TEST_PASSWORD}


@pytest.fixture
def tidings(tmp_path: Path) -> Iterator[TidingsServer]:
    """A Tidings of its own (some tests restart it)."""
    server = make_server(tmp_path / "server")
    server.start()
    yield server
    server.stop()


def watch_args(server: TidingsServer, state: Path, mailbox: str = "INBOX") -> list[str]:
    """URL, TLS and password flags for the test account."""
    user = TEST_USER.replace("@", "%40")
    cert = server.data_dir / "tls" / "cert.pem"
    url = f"imap://{user}@127.0.0.1:{server.imap_port}/{mailbox}"
    return [url, "--password-env", PASSWORD_ENV, "--ca-file", str(cert), "--state", str(state)]


def start(server: TidingsServer, state: Path, *extra: str) -> WatcherProcess:
    """A connected watcher."""
    watcher = WatcherProcess([*watch_args(server, state), *extra], env=ENV)
    watcher.wait_connected(timeout=20)
    return watcher


def subjects(watcher: WatcherProcess) -> list[object]:
    """The subjects of the `new` events so far."""
    return [e.get("subject") for e in watcher.events("new")]


def imap(server: TidingsServer) -> imaplib.IMAP4:
    """An imaplib connection (STARTTLS, logged in, INBOX selected)."""
    context = ssl.create_default_context(cafile=str(server.data_dir / "tls" / "cert.pem"))
    client = imaplib.IMAP4("127.0.0.1", server.imap_port)
    client.starttls(context)
    client.login(TEST_USER, TEST_PASSWORD)
    client.select("INBOX")
    return client


def test_new_message_is_reported_once(tidings: TidingsServer, tmp_path: Path) -> None:
    old = unique_subject("old")
    deliver_lmtp(tidings.lmtp_port, TEST_USER, old)
    with start(tidings, tmp_path / "state.json") as watcher:
        subject = unique_subject()
        deliver_lmtp(tidings.lmtp_port, TEST_USER, subject)
        event = watcher.wait_for(lambda e: e.get("subject") == subject)[0]
        time.sleep(1.0)
        assert subjects(watcher) == [subject]  # nothing old, the new one once
        assert event["from_address"] == "sender@example.test"
        assert event["mailbox"] == "INBOX"
        assert isinstance(event["uid"], int)
        assert watcher.stop() == 0


def test_deliveries_while_down_are_reported_once_after_restart(
    tidings: TidingsServer, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    first = start(tidings, state)
    seen = unique_subject("seen")
    deliver_lmtp(tidings.lmtp_port, TEST_USER, seen)
    first.wait_for(lambda e: e.get("subject") == seen)
    time.sleep(0.5)  # the state is written right after the sinks accepted the event
    first.kill()
    missed = [unique_subject("down"), unique_subject("down")]
    for subject in missed:
        deliver_lmtp(tidings.lmtp_port, TEST_USER, subject)
    with start(tidings, state) as second:
        second.wait_for(lambda e: e.get("event") == "new", count=2)
        time.sleep(1.0)
        assert subjects(second) == missed
        assert second.stop() == 0


def test_server_restart_while_idling(tidings: TidingsServer, tmp_path: Path) -> None:
    with start(tidings, tmp_path / "state.json") as watcher:
        tidings.stop()
        watcher.wait_for(lambda e: e.get("event") == "disconnected", timeout=30)
        tidings.start()
        subject = unique_subject("after restart")
        deliver_lmtp(tidings.lmtp_port, TEST_USER, subject)
        watcher.wait_for(lambda e: e.get("subject") == subject, timeout=40)
        time.sleep(1.0)
        assert subjects(watcher) == [subject]
        assert watcher.stop() == 0


def test_once_reports_what_is_new_and_exits(tidings: TidingsServer, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = WatcherProcess([*watch_args(tidings, state), "--once"], env=ENV)
    assert first.wait_exit() == 0
    assert first.events("new") == []
    subject = unique_subject("once")
    deliver_lmtp(tidings.lmtp_port, TEST_USER, subject)
    second = WatcherProcess([*watch_args(tidings, state), "--once"], env=ENV)
    assert second.wait_exit() == 0, second.describe()
    assert subjects(second) == [subject]


def test_flags_and_expunge_events(tidings: TidingsServer, tmp_path: Path) -> None:
    with start(tidings, tmp_path / "state.json") as watcher:
        subject = unique_subject("flags")
        deliver_lmtp(tidings.lmtp_port, TEST_USER, subject)
        uid = watcher.wait_for(lambda e: e.get("subject") == subject)[0]["uid"]
        client = imap(tidings)
        try:
            client.uid("STORE", str(uid), "+FLAGS", r"(\Flagged)")
            flags = watcher.wait_for(lambda e: e.get("event") == "flags" and e.get("uid") == uid)
            assert "\\Flagged" in flags[0]["flags"], watcher.describe()
            client.uid("STORE", str(uid), "+FLAGS", r"(\Deleted)")
            client.expunge()
        finally:
            client.logout()
        gone = watcher.wait_for(lambda e: e.get("event") == "expunge")[0]
        assert gone["uids"] == [uid]
        assert watcher.stop() == 0


def test_failing_password_command_exits_2(tidings: TidingsServer, tmp_path: Path) -> None:
    user = TEST_USER.replace("@", "%40")
    url = f"imap://{user}@127.0.0.1:{tidings.imap_port}/INBOX"
    cert = str(tidings.data_dir / "tls" / "cert.pem")
    state = str(tmp_path / "state.json")
    args = [url, "--password-command", "exit 3", "--ca-file", cert, "--state", state]
    watcher = WatcherProcess(args)
    assert watcher.wait_exit() == 2
    errors = [line for line in watcher.stderr_lines if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("tidings watch: error: "), watcher.describe()
    assert not any("Traceback" in line for line in watcher.stderr_lines)


def test_unknown_mailbox_exits_2(tidings: TidingsServer, tmp_path: Path) -> None:
    args = watch_args(tidings, tmp_path / "state.json", mailbox="NoSuchMailbox")
    watcher = WatcherProcess(args, env=ENV)
    assert watcher.wait_exit() == 2
    text = "\n".join(watcher.stderr_lines)
    assert "NoSuchMailbox" in text and "Traceback" not in text, watcher.describe()
