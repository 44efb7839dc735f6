"""`tidings watch` end to end: the CLI as a subprocess against a real `tidings serve` (and a
real Dovecot), messages delivered over LMTP, events seen on stdout, by an exec hook and by a
webhook receiver; reconnects through a proxy that freezes; bad configuration."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import imaplib
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.conftest import TEST_PASSWORD, TEST_USER, TidingsServer, make_server
from tests.watch.support import (
    FreezableProxy,
    WatcherProcess,
    WebhookReceiver,
    deliver_lmtp,
    start_watch_dovecot,
    unique_subject,
)

PASSWORD_ENV = "TIDINGS_WATCH_TEST_PASSWORD"
SECRET_ENV = "TIDINGS_WATCH_TEST_SECRET"
SECRET = "webhook secret for tests"
ENV = {PASSWORD_ENV: TEST_PASSWORD, SECRET_ENV: SECRET}
USER_IN_URL = TEST_USER.replace("@", "%40")
MAX_LATENCY = 1.0


@pytest.fixture(scope="module")
def tidings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TidingsServer]:
    """One Tidings for the tests of this module that do not restart it."""
    server = make_server(tmp_path_factory.mktemp("watch-tidings"))
    server.start()
    yield server
    server.stop()


def cert_of(server: TidingsServer) -> Path:
    """The server's self-signed certificate (written by `tidings serve` at start-up)."""
    path = server.data_dir / "tls" / "cert.pem"
    assert path.exists(), list(server.data_dir.rglob("*.pem"))
    return path


def starttls_args(
    server: TidingsServer, port: int | None = None, mailbox: str = "INBOX"
) -> list[str]:
    """URL and TLS/password flags for the test account over STARTTLS (optionally via a
    proxy on `port`)."""
    url = f"imap://{USER_IN_URL}@127.0.0.1:{port or server.imap_port}/{mailbox}"
    return [url, "--ca-file", str(cert_of(server)), "--password-env", PASSWORD_ENV]


def subject_is(subject: str) -> Callable[[dict[str, Any]], bool]:
    """A predicate: a `new` event with this subject."""
    return lambda e: e.get("event") == "new" and e.get("subject") == subject


def news(watcher: WatcherProcess, subject: str) -> list[dict[str, object]]:
    """The `new` events for `subject` so far."""
    return [e for e in watcher.events("new") if e.get("subject") == subject]


def start(args: list[str], tmp_path: Path, *extra: str) -> WatcherProcess:
    """A watcher with its own state file, already connected."""
    watcher = WatcherProcess([*args, "--state", str(tmp_path / "state.json"), *extra], env=ENV)
    watcher.wait_connected(timeout=20)
    time.sleep(0.3)  # connected is printed before IDLE is entered: let it get there
    return watcher


# --- sinks -------------------------------------------------------------------------------


HOOK = """\
import json, os, sys, time
event = json.load(sys.stdin)
out = os.path.join(sys.argv[1], event["id"] + ".json")
record = {"event": event, "env": {k: v for k, v in os.environ.items() if k.startswith("TIDINGS_")}}
with open(out + ".tmp", "w") as f:
    json.dump(record, f)
os.replace(out + ".tmp", out)
"""


def test_delivery_reaches_stdout_exec_and_webhook_within_a_second(
    tidings: TidingsServer, tmp_path: Path
) -> None:
    hook = tmp_path / "hook.py"
    hook.write_text(HOOK)
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    receiver = WebhookReceiver()
    try:
        with start(
            starttls_args(tidings),
            tmp_path,
            "--exec",
            f"{sys.executable} {hook} {outbox}",
            "--webhook",
            receiver.url,
            "--webhook-secret-env",
            SECRET_ENV,
        ) as watcher:
            subject = unique_subject("sinks")
            delivered = deliver_lmtp(tidings.lmtp_port, TEST_USER, subject)
            event = watcher.wait_for(subject_is(subject), timeout=10)[0]
            stdout_at = next(t for t, e in watcher.timed_events("new") if e is event)
            hook_at = None
            deadline = time.monotonic() + 10
            while hook_at is None and time.monotonic() < deadline:
                if list(outbox.glob("*.json")):
                    hook_at = time.monotonic()
                time.sleep(0.01)
            request = receiver.wait_for(lambda r: subject.encode() in r.body, timeout=10)[0]
            assert stdout_at - delivered < MAX_LATENCY, (stdout_at - delivered, watcher.describe())
            assert hook_at is not None, watcher.describe()
            assert hook_at - delivered < MAX_LATENCY + 0.1, hook_at - delivered
            assert request.time - delivered < MAX_LATENCY, request.time - delivered

            # stdout: the documented fields.
            assert event["mailbox"] == "INBOX"
            assert event["from_address"] == "sender@example.test"
            assert isinstance(event["uid"], int) and isinstance(event["uidvalidity"], int)
            for key in ("id", "account", "time", "from", "to", "date", "message_id", "size"):
                assert key in event, (key, event)
            # exec: the JSON on stdin and the fields in the environment.
            record = json.loads(next(outbox.glob("*.json")).read_text())
            assert record["event"]["subject"] == subject
            assert record["env"]["TIDINGS_EVENT"] == "new"
            assert record["env"]["TIDINGS_SUBJECT"] == subject
            assert record["env"]["TIDINGS_MAILBOX"] == "INBOX"
            assert record["env"]["TIDINGS_ID"] == event["id"]
            # webhook: HMAC-SHA256 of the raw body, headers naming the event and delivery.
            expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
            assert request.headers["x-tidings-signature"] == f"sha256={expected}"
            assert request.headers["x-tidings-event"] == "new"
            assert request.headers["x-tidings-delivery"] == event["id"]
            assert json.loads(request.body)["subject"] == subject
            from tidings.watch.sinks import verify_signature  # noqa: PLC0415 - lands later

            assert verify_signature(SECRET, request.body, request.headers["x-tidings-signature"])
            assert not verify_signature(
                "wrong", request.body, request.headers["x-tidings-signature"]
            )
            assert watcher.stop() == 0
    finally:
        receiver.close()


def test_webhook_failing_three_times_still_gets_the_event_once(
    tidings: TidingsServer, tmp_path: Path
) -> None:
    receiver = WebhookReceiver(fail_first=3)
    url = f"imaps://{USER_IN_URL}@127.0.0.1:{tidings.imaps_port}/INBOX"
    args = [url, "--ca-file", str(cert_of(tidings)), "--password-env", PASSWORD_ENV]
    try:
        with start(
            args, tmp_path, "--webhook", receiver.url, "--webhook-secret-env", SECRET_ENV
        ) as watcher:
            subject = unique_subject("retry")
            deliver_lmtp(tidings.lmtp_port, TEST_USER, subject)
            mine = receiver.wait_for(lambda r: subject.encode() in r.body, timeout=60, count=4)
            time.sleep(1.0)  # nothing more should come
            mine = [r for r in receiver.requests if subject.encode() in r.body]
            assert [r.status for r in mine] == [500, 500, 500, 204]
            assert len({r.headers["x-tidings-delivery"] for r in mine}) == 1
            assert len({r.body for r in mine}) == 1
            assert len(news(watcher, subject)) == 1, watcher.describe()
            assert watcher.stop() == 0
    finally:
        receiver.close()


# --- IDLE timers, dead connections, reconnects ---------------------------------------------


def test_idle_is_reissued_every_idle_restart_seconds(
    tidings: TidingsServer, tmp_path: Path
) -> None:
    proxy = FreezableProxy(tidings.imap_port)
    try:
        with start(
            starttls_args(tidings, proxy.port), tmp_path, "--mode", "idle", "--idle-restart", "1"
        ) as watcher:
            # Through TLS the proxy cannot read IDLE/DONE, but it sees each client write: an
            # idle client writes nothing; one cycle per second is DONE + IDLE (two writes).
            since = time.monotonic()
            time.sleep(4.5)
            writes = proxy.client_sends_since(since)
            assert writes >= 6, (writes, watcher.describe())
            assert proxy.accepted == 1, watcher.describe()  # the same connection throughout
            assert watcher.events("disconnected") == [], watcher.describe()
            subject = unique_subject("reidle")
            delivered = deliver_lmtp(tidings.lmtp_port, TEST_USER, subject)
            event = watcher.wait_for(subject_is(subject), timeout=10)[0]
            arrived = next(t for t, e in watcher.timed_events("new") if e is event)
            assert arrived - delivered < MAX_LATENCY + 1.0
            assert watcher.stop() == 0
    finally:
        proxy.close()


def test_frozen_server_is_detected_and_the_missed_message_reported_once(
    tidings: TidingsServer, tmp_path: Path
) -> None:
    proxy = FreezableProxy(tidings.imap_port)
    try:
        with start(
            starttls_args(tidings, proxy.port),
            tmp_path,
            "--idle-restart",
            "1",
            "--noop-timeout",
            "1",
        ) as watcher:
            proxy.freeze()
            frozen_at = time.monotonic()
            subject = unique_subject("frozen")
            deliver_lmtp(tidings.lmtp_port, TEST_USER, subject)  # straight to the server
            watcher.wait_for(lambda e: e.get("event") == "disconnected", timeout=15)
            noticed = next(t for t, e in watcher.timed_events("disconnected"))
            # idle_restart (1) + noop/DONE timeout (1) + slack.
            assert noticed - frozen_at < 5.0, (noticed - frozen_at, watcher.describe())
            assert news(watcher, subject) == []
            proxy.thaw()
            watcher.wait_for(lambda e: e.get("event") == "connected", timeout=60, count=2)
            watcher.wait_for(subject_is(subject), timeout=15)
            time.sleep(1.5)
            assert len(news(watcher, subject)) == 1, watcher.describe()
            later = unique_subject("after-thaw")
            deliver_lmtp(tidings.lmtp_port, TEST_USER, later)
            watcher.wait_for(subject_is(later), timeout=10)
            assert watcher.stop() == 0
    finally:
        proxy.close()


def test_server_restart_mid_idle_message_reported_once(tmp_path: Path) -> None:
    server = make_server(tmp_path / "data")
    server.start()
    try:
        with start(starttls_args(server), tmp_path) as watcher:
            server.stop()
            server.start()
            subject = unique_subject("restart")
            deliver_lmtp(server.lmtp_port, TEST_USER, subject)  # before the watcher is back
            watcher.wait_for(lambda e: e.get("event") == "disconnected", timeout=15)
            watcher.wait_for(subject_is(subject), timeout=60)
            time.sleep(1.5)
            assert len(news(watcher, subject)) == 1, watcher.describe()
            assert len(watcher.events("connected")) >= 2
            assert watcher.stop() == 0
    finally:
        server.stop()


def test_killed_and_restarted_watcher_no_duplicates_nothing_missed(
    tidings: TidingsServer, tmp_path: Path
) -> None:
    args = starttls_args(tidings)
    first = start(args, tmp_path)
    seen = unique_subject("before-kill")
    deliver_lmtp(tidings.lmtp_port, TEST_USER, seen)
    first.wait_for(subject_is(seen), timeout=10)
    time.sleep(0.5)  # the state is written after the sink accepted the event
    first.kill()
    missed = [unique_subject("while-dead") for _ in range(3)]
    for subject in missed:
        deliver_lmtp(tidings.lmtp_port, TEST_USER, subject)
    with start(args, tmp_path) as second:
        for subject in missed:
            second.wait_for(subject_is(subject), timeout=15)
        time.sleep(1.0)
        assert news(second, seen) == [], second.describe()
        assert [len(news(second, s)) for s in missed] == [1, 1, 1]
        assert second.stop() == 0


def test_once_reports_what_is_new_and_exits(tidings: TidingsServer, tmp_path: Path) -> None:
    args = [*starttls_args(tidings), "--state", str(tmp_path / "state.json")]
    first = WatcherProcess([*args, "--once"], env=ENV)
    assert first.wait_exit(30) == 0, first.describe()
    subject = unique_subject("once")
    deliver_lmtp(tidings.lmtp_port, TEST_USER, subject)
    second = WatcherProcess([*args, "--once"], env=ENV)
    assert second.wait_exit(30) == 0, second.describe()
    assert len(news(second, subject)) == 1, second.describe()
    third = WatcherProcess([*args, "--once"], env=ENV)
    assert third.wait_exit(30) == 0
    assert news(third, subject) == []


# --- NOTIFY --------------------------------------------------------------------------------


def test_notify_one_connection_for_inbox_and_junk(tidings: TidingsServer, tmp_path: Path) -> None:
    url = f"imap://{USER_IN_URL}@127.0.0.1:{tidings.imap_port}/INBOX"
    args = [url, "--ca-file", str(cert_of(tidings)), "--password-env", PASSWORD_ENV]
    with start(args, tmp_path, "--mode", "auto", "--mailbox", "Junk") as watcher:
        status = watcher.wait_for_stderr("tidings watch:", timeout=5)
        assert "NOTIFY" in status, status
        assert "INBOX" in status and "Junk" in status
        assert watcher.events("connected")[0]["mechanism"] == "NOTIFY"
        spam = unique_subject("junk")
        deliver_lmtp(tidings.lmtp_port, TEST_USER, spam, extra_headers="X-Spam-Flag: YES\r\n")
        ham = unique_subject("ham")
        deliver_lmtp(tidings.lmtp_port, TEST_USER, ham)
        junk_event = watcher.wait_for(subject_is(spam), timeout=10)[0]
        inbox_event = watcher.wait_for(subject_is(ham), timeout=10)[0]
        assert junk_event["mailbox"] == "Junk"
        assert inbox_event["mailbox"] == "INBOX"
        # An APPEND by another client into Junk too.
        appended = unique_subject("appended")
        with imaplib.IMAP4("127.0.0.1", tidings.imap_port, timeout=10) as imap:
            imap.login(TEST_USER, TEST_PASSWORD)
            message = f"From: x@example.test\r\nSubject: {appended}\r\n\r\nhi\r\n".encode()
            assert imap.append("Junk", None, None, message)[0] == "OK"
            imap.logout()
        assert watcher.wait_for(subject_is(appended), timeout=10)[0]["mailbox"] == "Junk"
        assert watcher.stop() == 0


def test_notify_reports_created_and_renamed_watched_mailboxes(
    tidings: TidingsServer, tmp_path: Path
) -> None:
    url = f"imap://{USER_IN_URL}@127.0.0.1:{tidings.imap_port}/INBOX"
    args = [url, "--ca-file", str(cert_of(tidings)), "--password-env", PASSWORD_ENV]
    with start(args, tmp_path, "--mode", "notify", "--mailbox", "Tickets*") as watcher:
        with imaplib.IMAP4("127.0.0.1", tidings.imap_port, timeout=10) as imap:
            imap.login(TEST_USER, TEST_PASSWORD)
            assert imap.create("Tickets-new")[0] == "OK"
            created = watcher.wait_for(
                lambda e: e.get("event") == "mailbox" and e.get("change") == "created", 10
            )[0]
            assert created["name"] == "Tickets-new"
            assert imap.rename("Tickets-new", "Tickets-old")[0] == "OK"
            renamed = watcher.wait_for(
                lambda e: e.get("event") == "mailbox" and e.get("change") == "renamed", 10
            )[0]
            assert (renamed["old_name"], renamed["name"]) == ("Tickets-new", "Tickets-old")
            message = b"From: x@example.test\r\nSubject: in tickets\r\n\r\nhi\r\n"
            assert imap.append("Tickets-old", None, None, message)[0] == "OK"
            imap.logout()
        event = watcher.wait_for(subject_is("in tickets"), timeout=10)[0]
        assert event["mailbox"] == "Tickets-old"
        assert watcher.stop() == 0


# --- Dovecot: IDLE and polling ---------------------------------------------------------------


def dovecot_args(dovecot: object, tmp_path: Path) -> list[str]:
    """URL and flags for Dovecot over STARTTLS, its certificate pinned by fingerprint."""
    base_dir = dovecot.base_dir  # type: ignore[attr-defined]
    port = dovecot.imap_port  # type: ignore[attr-defined]
    cert = x509.load_pem_x509_certificate((base_dir / "cert.pem").read_bytes())
    fingerprint = cert.fingerprint(hashes.SHA256()).hex()
    url = f"imap://{USER_IN_URL}@127.0.0.1:{port}/INBOX"
    return [url, "--fingerprint", fingerprint, "--password-env", PASSWORD_ENV]


@pytest.mark.dovecot
def test_idle_against_dovecot(tmp_path: Path) -> None:
    dovecot = start_watch_dovecot(tmp_path / "dovecot")
    try:
        # Dovecot offers NOTIFY too; this test is about IDLE.
        with start(dovecot_args(dovecot, tmp_path), tmp_path, "--mode", "idle") as watcher:
            status = watcher.wait_for_stderr("tidings watch:", timeout=5)
            assert "IDLE" in status, status
            subject = unique_subject("dovecot-idle")
            delivered = deliver_lmtp(dovecot.lmtp_port, TEST_USER, subject)
            event = watcher.wait_for(subject_is(subject), timeout=10)[0]
            arrived = next(t for t, e in watcher.timed_events("new") if e is event)
            assert arrived - delivered < MAX_LATENCY + 1.0
            assert event["mailbox"] == "INBOX"
            assert watcher.stop() == 0
    finally:
        dovecot.stop()


@pytest.mark.dovecot
def test_notify_against_dovecot(tmp_path: Path) -> None:
    dovecot = start_watch_dovecot(tmp_path / "dovecot")
    try:
        with start(dovecot_args(dovecot, tmp_path), tmp_path, "--mailbox", "Tickets*") as watcher:
            status = watcher.wait_for_stderr("tidings watch:", timeout=5)
            assert "NOTIFY" in status, status
            subject = unique_subject("dovecot-notify")
            deliver_lmtp(dovecot.lmtp_port, TEST_USER, subject)
            assert watcher.wait_for(subject_is(subject), timeout=10)[0]["mailbox"] == "INBOX"
            with imaplib.IMAP4("127.0.0.1", dovecot.imap_port, timeout=10) as imap:
                imap.login(TEST_USER, TEST_PASSWORD)
                assert imap.create("Tickets")[0] == "OK"
                message = b"From: x@example.test\r\nSubject: dovecot ticket\r\n\r\nhi\r\n"
                assert imap.append("Tickets", None, None, message)[0] == "OK"
                imap.logout()
            event = watcher.wait_for(subject_is("dovecot ticket"), timeout=10)[0]
            assert event["mailbox"] == "Tickets"
            time.sleep(1.0)
            assert len(news(watcher, subject)) == 1
            assert watcher.stop() == 0
    finally:
        dovecot.stop()


@pytest.mark.dovecot
def test_polling_against_dovecot_without_idle(tmp_path: Path) -> None:
    dovecot = start_watch_dovecot(tmp_path / "dovecot", without_idle=True)
    try:
        with start(dovecot_args(dovecot, tmp_path), tmp_path, "--poll-interval", "1") as watcher:
            status = watcher.wait_for_stderr("tidings watch:", timeout=5)
            assert "polling" in status, status
            subject = unique_subject("dovecot-poll")
            deliver_lmtp(dovecot.lmtp_port, TEST_USER, subject)
            watcher.wait_for(subject_is(subject), timeout=10)
            time.sleep(2.5)  # two more polls: still once
            assert len(news(watcher, subject)) == 1
            assert watcher.stop() == 0
    finally:
        dovecot.stop()


# --- bad configuration ---------------------------------------------------------------------


def other_certificate(path: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 that did not sign the server's."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def assert_config_error(watcher: WatcherProcess, *words: str) -> str:
    """Exit 2, one `tidings watch: error:` line naming `words`, no traceback."""
    assert watcher.wait_exit(60) == 2, watcher.describe()
    errors = [line for line in watcher.stderr_lines if line.startswith("tidings watch: error:")]
    assert len(errors) == 1, watcher.describe()
    assert "Traceback" not in "\n".join(watcher.stderr_lines), watcher.describe()
    for word in words:
        assert word.lower() in errors[0].lower(), errors[0]
    return errors[0]


def test_wrong_certificate_exits_2(tidings: TidingsServer, tmp_path: Path) -> None:
    url = f"imaps://{USER_IN_URL}@127.0.0.1:{tidings.imaps_port}/INBOX"
    ca = other_certificate(tmp_path / "other.pem")
    watcher = WatcherProcess(
        [url, "--ca-file", str(ca), "--password-env", PASSWORD_ENV, "--state", str(tmp_path / "s")],
        env=ENV,
    )
    assert_config_error(watcher, "certificate")


def test_missing_password_command_exits_2(tidings: TidingsServer, tmp_path: Path) -> None:
    url = f"imap://{USER_IN_URL}@127.0.0.1:{tidings.imap_port}/INBOX"
    missing = str(tmp_path / "no-such-password-helper")
    watcher = WatcherProcess(
        [
            url,
            "--ca-file",
            str(cert_of(tidings)),
            "--password-command",
            missing,
            "--state",
            str(tmp_path / "s"),
        ],
        env=ENV,
    )
    assert_config_error(watcher, "password")


def test_unknown_mailbox_exits_2(tidings: TidingsServer, tmp_path: Path) -> None:
    watcher = WatcherProcess(
        [*starttls_args(tidings, mailbox="NoSuchMailbox"), "--state", str(tmp_path / "s")],
        env=ENV,
    )
    assert_config_error(watcher, "NoSuchMailbox")


def test_wrong_password_exits_2(tidings: TidingsServer, tmp_path: Path) -> None:
    watcher = WatcherProcess(
        [*starttls_args(tidings), "--state", str(tmp_path / "s")],
        env={PASSWORD_ENV: "not the password"},
    )
    assert_config_error(watcher)
