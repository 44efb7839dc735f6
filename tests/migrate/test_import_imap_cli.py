"""`tidings import imap` through the real command line, from a real Dovecot (installed from
Debian by the test setup) over STARTTLS, into a real SQLite store: every folder with its
UIDVALIDITY, UIDs, flags and dates; a second run copies only the new message and keeps its
UID; `--folder` and a URL path choose folders; a wrong password, a busy resume record and a
bad URL end with a clear error and exit status 1."""

from __future__ import annotations

import asyncio
import fcntl
import imaplib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import TEST_PASSWORD, TEST_USER, run_cli
from tests.migrate.test_imap_import import (
    FOLDERS,
    append_one,
    dovecot_state,
    fill_dovecot,
    tidings_state,
)
from tests.support.dovecot import DovecotServer, start_dovecot

from tidings.migrate.imap_resume import default_resume_path

LATE = (
    b"From: Late <late@example.test>\r\nTo: alice@example.test\r\nSubject: late\r\n"
    b"Message-ID: <late-cli@example.test>\r\nDate: Tue, 1 Jun 2021 10:00:00 +0000\r\n"
    b"\r\nArrived after the first import.\r\n"
)


def add_user(data_dir: Path) -> None:
    result = run_cli(data_dir, "user", "add", TEST_USER, "--password-stdin", stdin="pw pw pw pw\n")
    assert result.returncode == 0, result.stderr


def import_imap(
    data_dir: Path, url: str, *extra: str, password: str = TEST_PASSWORD
) -> subprocess.CompletedProcess[str]:
    os.environ["SOURCE_PASSWORD"] = password
    try:
        return run_cli(
            data_dir, "import", "imap", TEST_USER, url, "--password-env", "SOURCE_PASSWORD",
            "--insecure", *extra,
        )  # fmt: skip
    finally:
        del os.environ["SOURCE_PASSWORD"]


def expunge_all_but(port: int, folder: str, keep: int) -> None:
    """Expunge every message of `folder` after the first `keep`."""
    with imaplib.IMAP4("127.0.0.1", port, timeout=20) as imap:
        imap.login(TEST_USER, TEST_PASSWORD)
        imap.select(f'"{folder}"')
        assert imap.store(f"{keep + 1}:*", "+FLAGS", "(\\Deleted)")[0] == "OK"
        assert imap.expunge()[0] == "OK"
        imap.logout()


@pytest.fixture
def dovecot(tmp_path: Path) -> Iterator[DovecotServer]:
    server = start_dovecot(tmp_path / "dovecot")
    try:
        fill_dovecot(server.imap_port, count=12)
        yield server
    finally:
        server.stop()


@pytest.mark.dovecot
def test_every_folder_then_only_the_new_message_with_its_uid(
    tmp_path: Path, dovecot: DovecotServer
) -> None:
    data = tmp_path / "data"
    add_user(data)
    url = f"imap://alice%40example.test@127.0.0.1:{dovecot.imap_port}"

    first = import_imap(data, url)
    assert first.returncode == 0, first.stderr
    assert "imported 12 messages" in first.stdout, first.stdout
    for folder in FOLDERS:
        source = dovecot_state(dovecot.imap_port, folder)
        assert asyncio.run(tidings_state(data / "mail.db", folder)) == source, folder
    source_before = dovecot_state(dovecot.imap_port, "Work/Reports")[1]

    # A message that comes and goes on the source leaves a gap in its UIDs.
    append_one(dovecot.imap_port, "Work/Reports", LATE.replace(b"late-cli", b"gone"))
    expunge_all_but(dovecot.imap_port, "Work/Reports", keep=len(source_before))
    append_one(dovecot.imap_port, "Work/Reports", LATE)
    second = import_imap(data, url)
    assert second.returncode == 0, second.stderr
    assert "imported 1 messages" in second.stdout, second.stdout
    # The resumed mailbox still has the source's UIDVALIDITY, so the new UID is kept too.
    source = dovecot_state(dovecot.imap_port, "Work/Reports")
    assert max(source[1]) == max(source_before) + 2  # the gap
    assert asyncio.run(tidings_state(data / "mail.db", "Work/Reports")) == source

    third = import_imap(data, url)
    assert third.returncode == 0, third.stderr
    assert "imported 0 messages" in third.stdout, third.stdout


@pytest.mark.dovecot
def test_folders_are_chosen_by_option_or_url_path(tmp_path: Path, dovecot: DovecotServer) -> None:
    base = f"imap://alice%40example.test@127.0.0.1:{dovecot.imap_port}"
    by_option = tmp_path / "a"
    add_user(by_option)
    result = import_imap(by_option, base, "--folder", "\\Sent")
    assert result.returncode == 0, result.stderr
    sent = dovecot_state(dovecot.imap_port, "Sent")[1]
    assert asyncio.run(tidings_state(by_option / "mail.db", "Sent"))[1] == sent
    assert asyncio.run(tidings_state(by_option / "mail.db", "INBOX"))[1] == {}

    by_path = tmp_path / "b"
    add_user(by_path)
    result = import_imap(by_path, base + "/Work%2FReports", "--dry-run")
    assert result.returncode == 0, result.stderr
    reports = len(dovecot_state(dovecot.imap_port, "Work/Reports")[1])
    assert f"would import {reports} messages" in result.stdout, result.stdout
    assert asyncio.run(tidings_state(by_path / "mail.db", "INBOX"))[1] == {}

    missing = import_imap(by_path, base, "--folder", "Nowhere")
    assert missing.returncode == 1
    assert "the source has no folder 'Nowhere'" in missing.stderr


@pytest.mark.dovecot
def test_bad_password_busy_record_and_bad_url_are_clear_errors(
    tmp_path: Path, dovecot: DovecotServer
) -> None:
    data = tmp_path / "data"
    add_user(data)
    url = f"imap://alice%40example.test@127.0.0.1:{dovecot.imap_port}"

    wrong = import_imap(data, url, password="not the password")
    assert wrong.returncode == 1
    assert "nothing was imported" in wrong.stderr, wrong.stderr
    assert "Traceback" not in wrong.stderr

    record = default_resume_path(data, TEST_USER, f"{TEST_USER}@127.0.0.1:{dovecot.imap_port}")
    record.parent.mkdir(parents=True, exist_ok=True)
    lock = os.open(record.with_name(record.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        busy = import_imap(data, url)
    finally:
        os.close(lock)
    assert busy.returncode == 1
    assert "in use by another import from the same source" in busy.stderr, busy.stderr

    with_password = import_imap(data, f"imap://alice:secret@127.0.0.1:{dovecot.imap_port}")
    assert with_password.returncode == 1
    assert "do not put the password in the URL" in with_password.stderr

    os.environ["SOURCE_PASSWORD"] = TEST_PASSWORD
    try:
        no_account = run_cli(
            data, "import", "imap", "nobody@example.test", url, "--password-env",
            "SOURCE_PASSWORD", "--insecure",
        )  # fmt: skip
    finally:
        del os.environ["SOURCE_PASSWORD"]
    assert no_account.returncode == 1
    assert "no such user" in no_account.stderr, no_account.stderr
