"""`import_imap`: another IMAP server into an account, resumable.

Against a real Dovecot (installed from Debian by the test setup): every message of several
folders arrives byte for byte with its flags, keywords and INTERNALDATE, under the source's
UIDVALIDITY and UIDs; an import whose source connection is cut mid-way ends with a clear
error and, run again, ends with every message exactly once; a third run copies nothing; a
message appended between two runs is the only one the second copies. Against a scripted
Gmail: All Mail alone is read, each message once, filed under its labels. Without any
server: the commit tracker, the names, the X-GM-LABELS parser.
"""

from __future__ import annotations

import asyncio
import imaplib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path

import pytest
from tests.conftest import TEST_PASSWORD, TEST_USER
from tests.support.corpus import corpus_files
from tests.support.dovecot import start_dovecot
from tests.watch.support import FreezableProxy

from tidings.imap.client import Endpoint, ImapClient
from tidings.imap.proto.client_responses import Fetch, ResponseParser
from tidings.imap.proto.lexer import parse_date_time
from tidings.migrate.imap_resume import CommitTracker, ImapResumeState
from tidings.migrate.imap_source import (
    DROPPED,
    SourceFolder,
    choose_folders,
    import_imap,
    tidings_name,
)
from tidings.migrate.importer import Importer, ImportStopped, ImportSummary
from tidings.migrate.source import SourceMessage, to_crlf
from tidings.storage.sqlite import SqliteBackend
from tidings.watch.config import AccountConfig
from tidings.watch.url import account_from_url

FOLDERS = ("INBOX", "Sent", "Work/Reports")
FLAG_SETS = (
    "(\\Seen)",
    "(\\Flagged $Label1)",
    "()",
    "(\\Seen \\Answered Custom_Tag)",
    "(\\Draft $Label1 $Forwarded)",
)
SOURCE_KEY = "dovecot"  # one record whether the import goes through the proxy or not

Messages = dict[int, tuple[bytes, frozenset[str], datetime]]
"""UID -> (message, flags without \\Recent, INTERNALDATE) of one mailbox."""


# ---------------------------------------------------------------------- helpers
def fill_dovecot(port: int, count: int = 20) -> None:
    """`count` corpus messages over FOLDERS (Sent has Dovecot's \\Sent special use), each
    with flags and keywords and an INTERNALDATE of its own (offsets other than UTC)."""
    with imaplib.IMAP4("127.0.0.1", port, timeout=20) as imap:
        imap.login(TEST_USER, TEST_PASSWORD)
        assert imap.create('"Work/Reports"')[0] == "OK"
        for index, path in enumerate(corpus_files()[:count]):
            zone = timezone(timedelta(hours=index % 5 - 2, minutes=30 * (index % 2)))
            when = datetime(2021, 3, 1, 8, 15, 7, tzinfo=zone) + timedelta(days=index, hours=index)
            raw = to_crlf(path.read_bytes())
            folder = FOLDERS[index % len(FOLDERS)]
            flags = FLAG_SETS[index % len(FLAG_SETS)]
            date = imaplib.Time2Internaldate(when)
            assert imap.append(f'"{folder}"', flags, date, raw)[0] == "OK"
        imap.logout()


def append_one(port: int, folder: str, raw: bytes) -> None:
    """APPEND `raw` to `folder` of the Dovecot at `port`."""
    with imaplib.IMAP4("127.0.0.1", port, timeout=20) as imap:
        imap.login(TEST_USER, TEST_PASSWORD)
        assert imap.append(f'"{folder}"', "(\\Seen)", None, raw)[0] == "OK"
        imap.logout()


def dovecot_state(port: int, folder: str) -> tuple[int, Messages]:
    """UIDVALIDITY and messages of `folder`, read over IMAP."""
    with imaplib.IMAP4("127.0.0.1", port, timeout=20) as imap:
        imap.login(TEST_USER, TEST_PASSWORD)
        typ, data = imap.select(f'"{folder}"', readonly=True)
        assert typ == "OK", data
        code = imap.response("UIDVALIDITY")[1][0]
        assert isinstance(code, bytes)
        typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
        assert typ == "OK"
        messages: Messages = {}
        for item in data:
            if not isinstance(item, tuple):
                continue
            head = item[0].decode()
            uid = int(_field(r"UID (\d+)", head))
            flags = frozenset(_field(r"FLAGS \(([^)]*)\)", head).split()) - {"\\Recent"}
            date = parse_date_time(b'"' + _field(r'INTERNALDATE "([^"]+)"', head).encode() + b'"')
            messages[uid] = (item[1], flags, date)
        imap.logout()
    return int(code), messages


def _field(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match, (pattern, text)
    return match.group(1)


async def tidings_state(db: Path, name: str) -> tuple[int, Messages]:
    """UIDVALIDITY and messages of mailbox `name` in the account at `db`."""
    backend = await SqliteBackend.open(db)
    try:
        store = await backend.mail_store(TEST_USER)
        snapshot = await store.open_mailbox(name, False)
        messages: Messages = {}
        for meta in snapshot.messages:
            raw = await store.read_message(snapshot.info.id, meta.uid)
            messages[meta.uid] = (raw, meta.flags - {"\\Recent"}, meta.internaldate)
        return snapshot.info.uidvalidity, messages
    finally:
        await backend.close()


async def stored_count(db: Path) -> int:
    """How many messages the account at `db` holds, in every mailbox."""
    backend = await SqliteBackend.open(db)
    try:
        store = await backend.mail_store(TEST_USER)
        total = 0
        for info in await store.list_mailboxes():
            total += len((await store.open_mailbox(info.name, False)).messages)
        return total
    finally:
        await backend.close()


async def add_account(db: Path) -> None:
    """The account TEST_USER, with the default mailboxes, in a new database at `db`."""
    backend = await SqliteBackend.open(db)
    try:
        await backend.add_account(TEST_USER, "not a real hash")
    finally:
        await backend.close()


async def run_import(
    db: Path,
    port: int,
    state: Path | None,
    *,
    batch: int = 500,
    fetch_batch: int = 200,
    committed: Callable[[str, Sequence[SourceMessage]], None] | None = None,
    dry_run: bool = False,
    seen: list[Importer] | None = None,
    account: AccountConfig | None = None,
) -> ImportSummary:
    """One `import_imap` from the IMAP server at `port` (or `account`, which
    import_imap connects to itself) into the account at `db`."""
    backend = await SqliteBackend.open(db)
    try:
        store = await backend.mail_store(TEST_USER)
        importer = Importer(store, batch_messages=batch, committed=committed, dry_run=dry_run)
        if seen is not None:
            seen.append(importer)
        run = partial(
            import_imap, importer, state_path=state, fetch_batch=fetch_batch, source_key=SOURCE_KEY
        )
        if account is not None:
            return await run(account)
        client = await ImapClient.connect(Endpoint("127.0.0.1", port, "none"), timeout=10)
        try:
            await client.login(TEST_USER, TEST_PASSWORD)
            return await run(client)
        finally:
            client.close()
    finally:
        await backend.close()


def contents(messages: Messages) -> list[tuple[bytes, frozenset[str], datetime]]:
    """The messages without their UIDs, in a stable order."""
    return sorted(messages.values(), key=lambda m: (m[0], sorted(m[1])))


# ---------------------------------------------------------------------- Dovecot
@pytest.mark.dovecot
def test_every_message_arrives_with_flags_dates_uidvalidity_and_uids(tmp_path: Path) -> None:
    dovecot = start_dovecot(tmp_path / "dovecot")
    try:
        fill_dovecot(dovecot.imap_port)
        before = {folder: dovecot_state(dovecot.imap_port, folder) for folder in FOLDERS}
        db = tmp_path / "mail.sqlite"

        async def main() -> ImportSummary:
            await add_account(db)
            return await run_import(db, dovecot.imap_port, tmp_path / "resume.json")

        summary = asyncio.run(main())
    finally:
        dovecot.stop()
    assert (summary.imported, summary.duplicates, summary.problems) == (20, 0, [])
    for folder in FOLDERS:
        uidvalidity, messages = before[folder]
        assert len(messages) in (6, 7), folder
        after = asyncio.run(tidings_state(db, folder))
        assert after == (uidvalidity, messages), folder
    assert any("$Label1" in flags for _, flags, _ in before["INBOX"][1].values())
    record = json.loads((tmp_path / "resume.json").read_text())["accounts"][SOURCE_KEY]
    for folder in FOLDERS:
        uidvalidity, messages = before[folder]
        assert record[folder]["uidvalidity"] == uidvalidity
        assert record[folder]["last_uid"] == max(messages)


@pytest.mark.dovecot
def test_a_cut_import_resumes_and_ends_with_every_message_once(tmp_path: Path) -> None:
    dovecot = start_dovecot(tmp_path / "dovecot")
    proxy = FreezableProxy(dovecot.imap_port)
    db, state = tmp_path / "mail.sqlite", tmp_path / "resume.json"
    commits: list[int] = []

    def cut_after_the_first_batch(mailbox: str, batch: Sequence[SourceMessage]) -> None:
        commits.append(len(batch))
        if len(commits) == 1:
            proxy.cut()
            time.sleep(0.3)  # the proxy thread closes both sides within 50 ms

    try:
        fill_dovecot(dovecot.imap_port)
        before = {folder: dovecot_state(dovecot.imap_port, folder) for folder in FOLDERS}
        asyncio.run(add_account(db))
        first: list[Importer] = []
        with pytest.raises(ImportStopped) as stopped:
            asyncio.run(
                run_import(
                    db,
                    proxy.port,
                    state,
                    batch=5,
                    fetch_batch=4,
                    committed=cut_after_the_first_batch,
                    seen=first,
                )
            )
        assert DROPPED in str(stopped.value)
        done = first[0].summary.imported
        stored = asyncio.run(stored_count(db))
        assert 5 <= done == stored < 20  # the first batch, and what was read before the cut

        again = asyncio.run(run_import(db, proxy.port, state, batch=5, fetch_batch=4))
        assert (again.imported, again.duplicates, again.problems) == (20 - done, 0, [])
        third = asyncio.run(run_import(db, proxy.port, state))
        assert (third.imported, third.duplicates) == (0, 0)
        assert asyncio.run(stored_count(db)) == 20
    finally:
        proxy.close()
        dovecot.stop()
    for folder in FOLDERS:
        after = asyncio.run(tidings_state(db, folder))[1]
        assert contents(after) == contents(before[folder][1]), folder


@pytest.mark.dovecot
def test_only_what_is_new_is_copied_and_a_new_uidvalidity_starts_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot = start_dovecot(tmp_path / "dovecot")
    monkeypatch.setenv("SOURCE_PASSWORD", TEST_PASSWORD)
    db, state = tmp_path / "mail.sqlite", tmp_path / "resume.json"
    late = (
        b"From: Late <late@example.test>\r\nTo: alice@example.test\r\nSubject: late\r\n"
        b"Message-ID: <late-1@example.test>\r\nDate: Tue, 1 Jun 2021 10:00:00 +0000\r\n"
        b"\r\nArrived after the first import.\r\n"
    )
    try:
        fill_dovecot(dovecot.imap_port, count=9)
        asyncio.run(add_account(db))
        dry = asyncio.run(run_import(db, dovecot.imap_port, state, dry_run=True))
        assert dry.imported == 9
        assert not state.exists()
        assert asyncio.run(tidings_state(db, "INBOX"))[1] == {}

        first = asyncio.run(run_import(db, dovecot.imap_port, state))
        assert first.imported == 9
        append_one(dovecot.imap_port, "Work/Reports", late)
        # This time as `tidings import imap` does it: a URL, STARTTLS, a password source.
        url = f"imap://alice%40example.test@127.0.0.1:{dovecot.imap_port}/"
        account = account_from_url(url, password_env="SOURCE_PASSWORD", insecure=True)
        second = asyncio.run(run_import(db, 0, state, account=account))
        assert (second.imported, second.duplicates) == (1, 0)
        reports = asyncio.run(tidings_state(db, "Work/Reports"))[1]
        assert late in [raw for raw, _, _ in reports.values()]

        # As if INBOX had been re-created on the source: the record no longer applies,
        # the folder is read again, and the dedup finds every message already there.
        record = json.loads(state.read_text())
        record["accounts"][SOURCE_KEY]["INBOX"]["uidvalidity"] += 1
        state.write_text(json.dumps(record))
        third = asyncio.run(run_import(db, dovecot.imap_port, state))
        assert (third.imported, third.duplicates) == (0, 3)
    finally:
        dovecot.stop()


# ---------------------------------------------------------------------- Gmail
def gmail_message(subject: str) -> bytes:
    return (
        f"From: G <g@example.test>\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject}@gmail.example>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
        f"\r\n{subject}\r\n"
    ).encode()


GMAIL_FOLDERS = (
    ("\\HasNoChildren", "INBOX"),
    ("\\HasChildren \\Noselect", "[Gmail]"),
    ("\\All \\HasNoChildren", "[Gmail]/All Mail"),
    ("\\HasNoChildren \\Sent", "[Gmail]/Sent Mail"),
    ("\\Drafts \\HasNoChildren", "[Gmail]/Drafts"),
    ("\\HasNoChildren \\Junk", "[Gmail]/Spam"),
    ("\\HasNoChildren \\Trash", "[Gmail]/Trash"),
    ("\\Flagged \\HasNoChildren", "[Gmail]/Starred"),
    ("\\HasNoChildren \\Important", "[Gmail]/Important"),
    ("\\HasNoChildren", "Work/Reports"),
    ("\\HasNoChildren", "Caf&AOk-"),
)
GMAIL_MESSAGES = {  # All Mail UID -> (X-GM-LABELS, FLAGS, message)
    3: (b'(\\Inbox "Work/Reports")', b"(\\Seen)", gmail_message("one")),
    5: (b"(\\Sent)", b"(\\Seen)", gmail_message("two")),
    8: (b"()", b"()", gmail_message("three")),
    9: (b'(\\Inbox \\Important \\Starred "Caf&AOk-")', b"(\\Flagged)", gmail_message("four")),
    12: (b"(\\Trash)", b"()", gmail_message("five")),
}


@dataclass
class FakeGmail:
    """Just enough of Gmail's IMAP for an import of All Mail, recording the commands."""

    commands: list[bytes]

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* PREAUTH [CAPABILITY IMAP4rev1 X-GM-EXT-1 SPECIAL-USE] Gimap\r\n")
        while line := await reader.readline():
            tag, command = line.rstrip(b"\r\n").split(b" ", 1)
            self.commands.append(command)
            writer.write(self.answer(command) + tag + b" OK done\r\n")
            await writer.drain()
            if command == b"LOGOUT":
                break
        writer.close()

    def answer(self, command: bytes) -> bytes:
        if command.startswith(b"LIST"):
            return b"".join(
                b'* LIST (%s) "/" "%s"\r\n' % (attrs.encode(), name.encode())
                for attrs, name in GMAIL_FOLDERS
            )
        if command.startswith(b"EXAMINE"):
            return b"* 5 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 13] ok\r\n"
        if command.startswith(b"UID SEARCH"):
            return b"* SEARCH " + b" ".join(b"%d" % uid for uid in GMAIL_MESSAGES) + b"\r\n"
        if command.startswith(b"UID FETCH"):
            uids = [int(u) for u in re.split(rb"[,:]", command.split()[2])]
            return b"".join(self.fetch(uid, b"BODY.PEEK[]" in command) for uid in uids)
        return b""

    def fetch(self, uid: int, full: bool) -> bytes:
        if uid not in GMAIL_MESSAGES:
            return b""
        labels, flags, raw = GMAIL_MESSAGES[uid]
        seq = sorted(GMAIL_MESSAGES).index(uid) + 1
        if not full:
            return b"* %d FETCH (UID %d RFC822.SIZE %d)\r\n" % (seq, uid, len(raw))
        return (
            b'* %d FETCH (X-GM-LABELS %s UID %d FLAGS %s INTERNALDATE "01-Jan-2024 10:00:00'
            b' +0000" RFC822.SIZE %d BODY[] {%d}\r\n%s)\r\n'
            % (seq, labels, uid, flags, len(raw), len(raw), raw)
        )


def test_gmail_all_mail_is_read_once_and_filed_by_labels(tmp_path: Path) -> None:
    db, state = tmp_path / "mail.sqlite", tmp_path / "resume.json"
    fake = FakeGmail([])

    async def main() -> tuple[ImportSummary, int]:
        await add_account(db)
        server = await asyncio.start_server(fake.serve, "127.0.0.1", 0)
        port = int(server.sockets[0].getsockname()[1])
        backend = await SqliteBackend.open(db)
        try:
            client = await ImapClient.connect(Endpoint("127.0.0.1", port, "none"), timeout=5)
            importer = Importer(await backend.mail_store(TEST_USER))
            summary = await import_imap(importer, client, state_path=state)
            await client.logout()
            return summary, port
        finally:
            await backend.close()
            server.close()
            await server.wait_closed()

    summary, port = asyncio.run(main())
    assert (summary.imported, summary.problems) == (6, [])  # 4 messages, 2 second labels

    def subjects(name: str) -> dict[str, frozenset[str]]:
        messages = asyncio.run(tidings_state(db, name))[1].values()
        return {raw.rsplit(b"\r\n", 2)[-2].decode(): flags for raw, flags, _ in messages}

    none = "$HasNoAttachment"  # set at import: the scripted Gmail sends no such keyword
    assert subjects("INBOX") == {
        "one": frozenset({"\\Seen", none}),
        "four": frozenset({"\\Flagged", "$Important", none}),
    }
    assert subjects("Sent") == {"two": frozenset({"\\Seen", none})}
    assert subjects("Archive") == {"three": frozenset({none})}
    assert subjects("Work/Reports") == {"one": frozenset({"\\Seen", none})}
    assert subjects("Café") == {"four": frozenset({"\\Flagged", "$Important", none})}
    assert subjects("Trash") == {}
    examined = [c for c in fake.commands if c.startswith(b"EXAMINE")]
    assert examined == [b'EXAMINE "[Gmail]/All Mail"']
    bodies = [c for c in fake.commands if b"BODY.PEEK[]" in c]
    assert bodies == [b"UID FETCH 3,5,8:9,12 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[]"
                      b" X-GM-LABELS)"]  # fmt: skip
    record = json.loads(state.read_text())["accounts"][f"127.0.0.1:{port}"]
    assert list(record) == ["[Gmail]/All Mail"]
    entry = record["[Gmail]/All Mail"]
    assert (entry["uidvalidity"], entry["last_uid"]) == (7, 12)


# ---------------------------------------------------------------------- no server
def test_a_folder_mark_moves_only_past_messages_whose_copies_are_all_stored() -> None:
    resume = ImapResumeState.open(None, "source")
    assert resume.first_uid("All Mail", 7) == 1
    tracker = CommitTracker(resume)
    a, b, c = (SourceMessage(f"message {n}".encode(), frozenset(), None, "INBOX") for n in "abc")

    def mark() -> int:
        stored = resume.get("All Mail")
        assert stored is not None
        return stored.last_uid

    tracker.queued(tracker.expect("All Mail", 1, a.raw), 2)  # INBOX and a label's copy
    tracker.queued(tracker.expect("All Mail", 2, b.raw), 0)  # a duplicate: nothing queued
    tracker.committed("Work", [SourceMessage(a.raw, frozenset(), None, "Work")])
    assert mark() == 0  # a's INBOX copy still waits
    tracker.committed("INBOX", [a])
    assert mark() == 2
    tracker.queued(tracker.expect("All Mail", 3, c.raw), 1)
    tracker.done_up_to("All Mail", 9)
    assert mark() == 2
    tracker.committed("INBOX", [SourceMessage(bytes(bytearray(c.raw)), frozenset(), None, "INBOX")])
    assert mark() == 2  # equal bytes are not the same message
    tracker.committed("INBOX", [c])
    assert mark() == 9
    assert resume.first_uid("All Mail", 7) == 10
    assert resume.first_uid("All Mail", 8) == 1  # a new UIDVALIDITY starts over


@pytest.mark.parametrize(
    ("source", "delimiter", "prefix", "name"),
    [
        ("INBOX.Work.Reports", ".", "INBOX.", "Work/Reports"),
        ("Work.Reports", ".", "", "Work/Reports"),
        ("inbox", ".", "INBOX.", "INBOX"),
        ("Work/Reports", "/", "", "Work/Reports"),
        ("Flat", None, "", "Flat"),
    ],
)
def test_source_names_become_tidings_names(
    source: str, delimiter: str | None, prefix: str, name: str
) -> None:
    assert tidings_name(source, delimiter, prefix) == name


def test_x_gm_labels_are_parsed_like_mailbox_names() -> None:
    parser = ResponseParser()
    parser.feed(
        b'* 1 FETCH (UID 4 X-GM-LABELS (\\Inbox "Work/Reports" Caf&AOk- "a b") FLAGS ())\r\n'
    )
    item = parser.next_response()
    assert isinstance(item, Fetch)
    assert item.labels == ("\\Inbox", "Work/Reports", "Café", "a b")
    assert item.uid == 4


def test_folders_are_chosen_by_name_pattern_or_special_use() -> None:
    listed = [
        SourceFolder("INBOX", "INBOX", None, "."),
        SourceFolder("INBOX.Sent Items", "Sent Items", "\\Sent", "."),
        SourceFolder("INBOX.Work.Reports", "Work/Reports", None, "."),
        SourceFolder("Virtual.All", "Virtual/All", "\\All", "."),
    ]
    assert choose_folders(listed, None) == ["INBOX", "INBOX.Sent Items", "INBOX.Work.Reports"]
    assert choose_folders(listed, ["\\sent", "inbox"]) == ["INBOX.Sent Items", "INBOX"]
    assert choose_folders(listed, ["Work/Reports"]) == ["INBOX.Work.Reports"]
    assert choose_folders(listed, ["INBOX.*"]) == ["INBOX.Sent Items", "INBOX.Work.Reports"]
    assert choose_folders(listed, ["\\All"]) == ["Virtual.All"]
    with pytest.raises(ImportStopped, match="no folder 'Nope'"):
        choose_folders(listed, ["Nope"])
