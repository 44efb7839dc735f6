"""`tidings import mbox|maildir` and `tidings export` through the real command line, on a
real SQLite store: round trips with ../shared/corpus, duplicates, quota, dry runs, bad
input, Google Takeout and Thunderbird flags, and a running server's IDLE clients."""

from __future__ import annotations

import imaplib
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.conftest import TEST_PASSWORD, TEST_USER, make_server, run_cli
from tests.migrate.helpers import split
from tests.support.corpus import corpus_files

from tidings.core.mime import parse_message, with_attachment_keyword
from tidings.migrate.maildir import read_maildir
from tidings.migrate.mbox import read_mbox, write_mbox
from tidings.migrate.source import SourceMessage, to_crlf

ACCOUNT = "migrant@example.test"
OTHER = "second@example.test"
KEYWORDS = ("$Work", "$Label1", "Custom_Tag")


def add_account(data_dir: Path, address: str) -> None:
    result = run_cli(data_dir, "user", "add", address, "--password-stdin", stdin="pw pw pw pw\n")
    assert result.returncode == 0, result.stderr


def corpus_messages(count: int | None = None) -> list[SourceMessage]:
    """Corpus messages with varied flags, keywords and internal dates."""
    files = corpus_files()[:count] if count else corpus_files()
    assert files, "the corpus is empty"
    base = datetime(2023, 5, 1, 8, 30, tzinfo=UTC)
    out = []
    for index, path in enumerate(files):
        flags = set()
        if index % 2:
            flags.add("\\Seen")
        if index % 3 == 0:
            flags.add("\\Flagged")
        if index % 5 == 0:
            flags.add("\\Answered")
        if index % 4 == 1:
            flags.add(KEYWORDS[index % len(KEYWORDS)])
        raw = to_crlf(path.read_bytes())
        # The keyword Tidings sets at import is already there (as after an export from
        # Tidings), so a round trip gives the same flags and bytes back.
        flags = set(with_attachment_keyword(flags, bool(parse_message(raw).attachments)))
        when = base + timedelta(hours=7 * index)
        out.append(SourceMessage(raw, frozenset(flags), when, "INBOX"))
    return out


def write_mbox_file(path: Path, messages: list[SourceMessage]) -> None:
    with open(path, "wb") as stream:
        write_mbox(stream, messages)


def imported_count(output: str) -> int:
    match = re.search(r"(?:would import|imported) (\d+) messages", output)
    assert match, output
    return int(match.group(1))


def duplicates(output: str) -> int:
    match = re.search(r"skipped (\d+) duplicates", output)
    assert match, output
    return int(match.group(1))


def test_mbox_round_trip_is_byte_for_byte(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_account(data, ACCOUNT)
    messages = corpus_messages()
    source = tmp_path / "in.mbox"
    write_mbox_file(source, messages)

    result = run_cli(data, "import", "mbox", ACCOUNT, str(source))
    assert result.returncode == 0, result.stderr
    assert imported_count(result.stdout) == len(messages)
    assert "0 problems" in result.stdout

    out = tmp_path / "out"
    result = run_cli(data, "export", ACCOUNT, str(out), "--mailbox", "INBOX")
    assert result.returncode == 0, result.stderr
    # Same bytes, flags (Status/X-Status/X-Keywords) and From-line dates: the same file.
    assert (out / "INBOX.mbox").read_bytes() == source.read_bytes()
    again, problems = split(read_mbox(out / "INBOX.mbox", strip_status_headers=True))
    assert problems == []
    assert [(m.flags, m.internaldate) for m in again] == [
        (m.flags, m.internaldate) for m in messages
    ]
    # The stored messages are the originals; a corpus message that carried flag fields of
    # its own (Status, X-Status, X-Keywords) lost them to its flags, as in Dovecot's mbox.
    flag_field = re.compile(rb"^(Status|X-Status|X-Keywords):", re.MULTILINE | re.IGNORECASE)
    for stored, original in zip(again, messages, strict=True):
        header = original.raw.split(b"\r\n\r\n", 1)[0]
        if flag_field.search(header) is None:
            assert stored.raw == original.raw


def test_second_import_skips_every_duplicate(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_account(data, ACCOUNT)
    messages = corpus_messages(40)
    source = tmp_path / "in.mbox"
    write_mbox_file(source, messages)
    assert run_cli(data, "import", "mbox", ACCOUNT, str(source)).returncode == 0
    # A second file with the same messages plus one new one: only the new one is stored.
    extra = SourceMessage(
        b"From: a@example.test\r\nSubject: only new\r\n\r\nnew\r\n", frozenset(), None, "INBOX"
    )
    write_mbox_file(source, [*messages, extra])
    result = run_cli(data, "import", "mbox", ACCOUNT, str(source))
    assert result.returncode == 0, result.stderr
    assert imported_count(result.stdout) == 1
    assert duplicates(result.stdout) == len(messages)
    exported = run_cli(data, "export", ACCOUNT, str(tmp_path / "out"), "--mailbox", "INBOX")
    assert f"exported {len(messages) + 1} messages" in exported.stdout


def test_maildir_round_trip_keeps_uids_uidvalidity_and_flags(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_account(data, ACCOUNT)
    add_account(data, OTHER)
    source = tmp_path / "in.mbox"
    messages = corpus_messages(30)
    write_mbox_file(source, messages[:20])
    assert run_cli(data, "import", "mbox", ACCOUNT, str(source)).returncode == 0
    write_mbox_file(source, messages[20:])
    result = run_cli(data, "import", "mbox", ACCOUNT, str(source), "--mailbox", "Work/Reports")
    assert result.returncode == 0, result.stderr

    first = tmp_path / "maildir-1"
    assert run_cli(data, "export", ACCOUNT, str(first), "--format", "maildir").returncode == 0
    result = run_cli(data, "import", "maildir", OTHER, str(first))
    assert result.returncode == 0, result.stderr
    assert imported_count(result.stdout) == 30
    second = tmp_path / "maildir-2"
    assert run_cli(data, "export", OTHER, str(second), "--format", "maildir").returncode == 0

    def content(root: Path) -> dict[str, list[tuple[int | None, bytes, frozenset[str]]]]:
        messages, problems = split(read_maildir(root))
        assert problems == []
        by_box: dict[str, list[tuple[int | None, bytes, frozenset[str]]]] = {}
        for m in messages:
            by_box.setdefault(m.mailbox, []).append((m.uid, m.raw, m.flags))
        return by_box

    assert content(second) == content(first)
    assert set(content(first)) == {"INBOX", "Work/Reports"}
    for folder in ("", ".Work.Reports"):
        header = (first / folder / "dovecot-uidlist").read_text().splitlines()[0]
        again = (second / folder / "dovecot-uidlist").read_text().splitlines()[0]
        assert header.split()[:3] == again.split()[:3]  # version, UIDVALIDITY, next UID
    reports = content(second)["Work/Reports"]
    assert [flags for _, _, flags in reports] == [m.flags for m in messages[20:]]
    assert [uid for uid, _, _ in reports] == list(range(1, 11))


def test_import_over_quota_stops_with_nothing_half_imported(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_account(data, ACCOUNT)
    # Many short lines: CRLF makes the stored messages clearly larger than the LF file.
    messages = [
        SourceMessage(
            b"Message-ID: <q%d@example.test>\r\nSubject: quota %d\r\n\r\n" % (n, n)
            + b"ab\r\n" * 400,
            frozenset(),
            None,
            "INBOX",
        )
        for n in range(30)
    ]
    source = tmp_path / "in.mbox"
    write_mbox_file(source, messages)
    size = source.stat().st_size

    # Clearly too small: refused before anything is stored.
    assert run_cli(data, "user", "quota", ACCOUNT, "--storage", str(size // 2)).returncode == 0
    result = run_cli(data, "import", "mbox", ACCOUNT, str(source))
    assert result.returncode == 1
    assert "over quota" in result.stderr and "nothing was imported" in result.stderr
    out = run_cli(data, "export", ACCOUNT, str(tmp_path / "out0"), "--mailbox", "INBOX")
    assert "exported 0 messages" in out.stdout

    # Big enough for the file's LF bytes but not for the CRLF messages: stops at a batch.
    stored = sum(len(m.raw) for m in messages)
    assert size < stored
    limit = (size + stored) // 2
    assert run_cli(data, "user", "quota", ACCOUNT, "--storage", str(limit)).returncode == 0
    result = run_cli(data, "import", "mbox", ACCOUNT, str(source), "--batch", "5")
    assert result.returncode == 1
    assert "stopped after" in result.stderr and "not stored" in result.stderr
    done = imported_count(result.stdout)
    assert 0 < done < len(messages) and done % 5 == 0
    out_dir = tmp_path / "out1"
    assert run_cli(data, "export", ACCOUNT, str(out_dir), "--mailbox", "INBOX").returncode == 0
    kept, _ = split(read_mbox(out_dir / "INBOX.mbox", strip_status_headers=True))
    assert [m.raw for m in kept] == [m.raw for m in messages[:done]]  # whole messages only


def test_dry_run_counts_and_stores_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_account(data, ACCOUNT)
    source = tmp_path / "in.mbox"
    write_mbox_file(source, corpus_messages(12))
    result = run_cli(data, "import", "mbox", ACCOUNT, str(source), "--mailbox", "New", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would import 12 messages" in result.stdout
    out = run_cli(data, "export", ACCOUNT, str(tmp_path / "out"))
    assert "exported 0 messages" in out.stdout
    assert not (tmp_path / "out" / "New.mbox").exists()


def test_bad_input_is_reported_and_the_rest_imported(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_account(data, ACCOUNT)
    good = tmp_path / "good.mbox"
    write_mbox_file(good, corpus_messages(5))
    odd = (
        b"From someone@example.test Mon Jan  1 00:00:00 2024\n"
        b"no header separator and \xff\xfe binary junk\n"
        b"\n"
        b"From someone@example.test Mon Jan  1 00:00:01 2024\n"
        b"Subject: cut short\n\nthe file ends in the middle of this li"
    )
    truncated = tmp_path / "truncated.mbox"
    truncated.write_bytes(odd)
    unreadable = tmp_path / "a-directory.mbox"
    unreadable.mkdir()
    result = run_cli(data, "import", "mbox", ACCOUNT, str(good), str(unreadable), str(truncated))
    assert result.returncode == 0, result.stderr
    assert imported_count(result.stdout) == 7
    assert f"{unreadable}: cannot read" in result.stdout
    out = tmp_path / "out"
    assert run_cli(data, "export", ACCOUNT, str(out), "--mailbox", "INBOX").returncode == 0
    kept, _ = split(read_mbox(out / "INBOX.mbox", strip_status_headers=True))
    assert kept[5].raw == b"no header separator and \xff\xfe binary junk\r\n"
    # mbox holds lines: the export ends the unterminated last line.
    assert kept[6].raw.endswith(b"the file ends in the middle of this li\r\n")

    missing = run_cli(data, "import", "mbox", ACCOUNT, str(tmp_path / "nope.mbox"))
    assert missing.returncode == 1 and "no such file" in missing.stderr
    nobody = run_cli(data, "import", "mbox", "nobody@example.test", str(good))
    assert nobody.returncode == 1 and "no such user" in nobody.stderr


def test_gmail_takeout_labels_become_mailboxes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_account(data, ACCOUNT)
    takeout = (
        b"From 1790000000000000001@xxx Mon Jan 01 10:00:00 +0000 2024\n"
        b"X-GM-THRID: 1790000000000000001\n"
        b"X-Gmail-Labels: Inbox,Opened,Work,Important\n"
        b"Message-ID: <one@example.test>\nSubject: labelled\n\nbody one\n\n"
        b"From 1790000000000000002@xxx Mon Jan 01 11:00:00 +0000 2024\n"
        b"X-Gmail-Labels: Sent,Opened\n"
        b"Message-ID: <two@example.test>\nSubject: sent\n\nbody two\n"
    )
    source = tmp_path / "All mail Including Spam and Trash.mbox"
    source.write_bytes(takeout)
    result = run_cli(data, "import", "mbox", ACCOUNT, str(source), "--gmail-labels")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    assert run_cli(data, "export", ACCOUNT, str(out)).returncode == 0
    inbox, _ = split(read_mbox(out / "INBOX.mbox", strip_status_headers=True))
    work, _ = split(read_mbox(out / "Work.mbox", strip_status_headers=True))
    sent, _ = split(read_mbox(out / "Sent.mbox", strip_status_headers=True))
    assert [b"Subject: labelled" in m.raw for m in inbox] == [True]
    assert [b"Subject: labelled" in m.raw for m in work] == [True]
    assert [b"Subject: sent" in m.raw for m in sent] == [True]
    assert "\\Seen" in inbox[0].flags  # "Opened"


def test_thunderbird_mozilla_status_becomes_flags(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_account(data, ACCOUNT)
    thunderbird = (
        b"From - Mon Jan 01 10:00:00 2024\n"
        b"X-Mozilla-Status: 0005\nX-Mozilla-Status2: 00000000\n"
        b"Message-ID: <tb@example.test>\nSubject: read and flagged\n\nhello\n"
    )
    source = tmp_path / "Inbox"
    source.write_bytes(thunderbird)
    assert run_cli(data, "import", "mbox", ACCOUNT, str(source)).returncode == 0
    out = tmp_path / "out"
    assert run_cli(data, "export", ACCOUNT, str(out), "--mailbox", "INBOX").returncode == 0
    kept, _ = split(read_mbox(out / "INBOX.mbox", strip_status_headers=True))
    assert kept[0].flags == {"\\Seen", "\\Flagged", "$HasNoAttachment"}


def test_import_while_the_server_runs_reaches_idle_clients(tmp_path: Path) -> None:
    server = make_server(tmp_path / "data")
    server.start()
    try:
        source = tmp_path / "in.mbox"
        write_mbox_file(source, corpus_messages(3))
        imap = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=10)
        imap.login(TEST_USER, TEST_PASSWORD)
        imap.select("INBOX")
        tag = imap._new_tag().decode()  # type: ignore[attr-defined]
        imap.send(f"{tag} IDLE\r\n".encode())
        assert imap.readline().startswith(b"+")
        result = run_cli(server.data_dir, "import", "mbox", TEST_USER, str(source))
        assert result.returncode == 0, result.stderr
        imap.sock.settimeout(10)
        deadline = time.monotonic() + 10
        seen = b""
        while b"EXISTS" not in seen and time.monotonic() < deadline:
            try:
                seen += imap.readline()
            except TimeoutError:
                break
        assert re.search(rb"\* [1-3] EXISTS", seen), seen
        imap.send(b"DONE\r\n")
        imap.logout()
    finally:
        server.stop()


@pytest.mark.parametrize("command", [["export"], ["import", "maildir"]])
def test_usage_errors_are_one_line(tmp_path: Path, command: list[str]) -> None:
    data = tmp_path / "data"
    add_account(data, ACCOUNT)
    target = tmp_path / "not-there"
    if command == ["export"]:
        result = run_cli(data, *command, ACCOUNT, str(target), "--mailbox", "Nope")
        assert result.returncode == 1 and "no such mailbox: Nope" in result.stderr
    else:
        result = run_cli(data, *command, ACCOUNT, str(target))
        assert result.returncode == 1 and "not a directory" in result.stderr
    assert "Traceback" not in result.stderr
