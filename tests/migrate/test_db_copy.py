"""`tidings db copy` (issue 7): a SQLite installation moved into PostgreSQL keeps
UIDVALIDITY, UIDs, MODSEQs, flags and dates, so a client that synced against SQLite resyncs
against PostgreSQL (RFC 7162 QRESYNC) with nothing to download again."""

from __future__ import annotations

import imaplib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import TEST_PASSWORD, TEST_USER, TidingsServer, make_server, run_cli

from tidings.storage.postgres import schema


def _message(n: int) -> bytes:
    return (
        f"From: carol@example.test\r\nTo: {TEST_USER}\r\nSubject: message {n}\r\n"
        f"Message-ID: <copy-{n}@example.test>\r\n\r\nBody of message {n}.\r\n"
    ).encode()


def _login(server: TidingsServer) -> imaplib.IMAP4:
    client = imaplib.IMAP4(server.host, server.imap_port)
    client.login(TEST_USER, TEST_PASSWORD)
    typ, _ = client._simple_command("ENABLE", "QRESYNC")
    assert typ == "OK"
    return client


def _qresync_select(
    client: imaplib.IMAP4, mailbox: str, known: tuple[int, int] | None
) -> list[bytes]:
    """SELECT `mailbox` (with QRESYNC (uidvalidity modseq) if `known`; the client has
    enabled QRESYNC); every untagged line of the SELECT."""
    client.untagged_responses.clear()
    argument = mailbox if known is None else f"{mailbox} (QRESYNC ({known[0]} {known[1]}))"
    typ, _ = client._simple_command("SELECT", argument)
    assert typ == "OK"
    client.state = "SELECTED"  # imaplib only tracks its own select()
    lines: list[bytes] = []
    for name, values in client.untagged_responses.items():
        lines += [f"{name} ".encode() + (v if isinstance(v, bytes) else b"") for v in values]
    client.untagged_responses.clear()
    return lines


def _state(client: imaplib.IMAP4, mailbox: str) -> dict[str, object]:
    """What a syncing client keeps of `mailbox`: UIDVALIDITY, HIGHESTMODSEQ and each
    message's UID, FLAGS, MODSEQ, INTERNALDATE and bytes."""
    lines = _qresync_select(client, mailbox, None)
    text = b"\n".join(lines).decode()
    uidvalidity = int(re.search(r"UIDVALIDITY (\d+)", text).group(1))  # type: ignore[union-attr]
    highest = int(re.search(r"HIGHESTMODSEQ (\d+)", text).group(1))  # type: ignore[union-attr]
    typ, data = client.uid("FETCH", "1:*", "(FLAGS MODSEQ INTERNALDATE BODY.PEEK[])")
    assert typ == "OK"
    messages = {}
    for item in data:
        if isinstance(item, tuple):
            head = item[0].decode()
            uid = int(re.search(r"UID (\d+)", head).group(1))  # type: ignore[union-attr]
            flags = re.search(r"FLAGS \(([^)]*)\)", head).group(1)  # type: ignore[union-attr]
            modseq = re.search(r"MODSEQ \((\d+)\)", head).group(1)  # type: ignore[union-attr]
            date = re.search(r'INTERNALDATE "([^"]+)"', head).group(1)  # type: ignore[union-attr]
            kept = sorted(flag for flag in flags.split() if flag != "\\Recent")  # per session
            messages[uid] = (kept, modseq, date, item[1])
    return {"uidvalidity": uidvalidity, "highestmodseq": highest, "messages": messages}


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[TidingsServer]:
    server = make_server(tmp_path / "data")
    yield server
    server.stop()


def test_a_synced_client_resyncs_against_postgresql_without_downloading(
    sqlite_server: TidingsServer, postgres_dsn: str, tmp_path: Path
) -> None:
    server = sqlite_server
    server.start()
    client = _login(server)
    for n in range(1, 6):
        flags = "(\\Seen)" if n % 2 else None
        client.append("INBOX", flags, f'"03-Feb-2025 10:0{n}:00 +0100"', _message(n))
    client.create("Projects")
    client.append("Projects", "($Work)", None, _message(99))
    client.select("INBOX")
    client.uid("STORE", "2", "+FLAGS", "(\\Flagged $Important)")
    client.uid("STORE", "3", "+FLAGS", "(\\Deleted)")
    client.expunge()
    before = {name: _state(client, name) for name in ("INBOX", "Projects")}
    client.logout()
    server.stop()
    assert sorted(before["INBOX"]["messages"]) == [1, 2, 4, 5]  # type: ignore[call-overload]

    copied = run_cli(
        server.data_dir, "db", "copy", "--from", f"sqlite:{server.data_dir}", "--to", postgres_dsn
    )
    assert copied.returncode == 0, copied.stderr
    assert "messages 5" in copied.stdout and "accounts 2" in copied.stdout

    config = tmp_path / "pg.toml"
    config.write_text(f'[storage]\nurl = "{postgres_dsn}"\n')
    server.start("--config", str(config))
    client = _login(server)  # the password hash came along
    for name, state in before.items():
        known = (int(state["uidvalidity"]), int(state["highestmodseq"]))  # type: ignore[call-overload]
        lines = _qresync_select(client, name, known)
        text = b"\n".join(lines).decode()
        # Nothing changed since the client's modseq: no VANISHED, no FETCH to apply.
        assert "VANISHED" not in text and "FETCH" not in text, text
        assert _state(client, name) == state
    # New mail continues the same UID sequence under the same UIDVALIDITY.
    typ, data = client.append("INBOX", None, None, _message(6))
    assert typ == "OK"
    assert f"[APPENDUID {before['INBOX']['uidvalidity']} 6]".encode() in data[0]
    client.logout()


def test_copy_refuses_a_database_that_holds_data(
    sqlite_server: TidingsServer, postgres_dsn: str
) -> None:
    data = sqlite_server.data_dir
    first = run_cli(data, "db", "copy", "--from", f"sqlite:{data}/mail.db", "--to", postgres_dsn)
    assert first.returncode == 0, first.stderr
    again = run_cli(data, "db", "copy", "--from", f"sqlite:{data}", "--to", postgres_dsn)
    assert again.returncode == 1
    assert "already holds data" in again.stderr


@pytest.mark.parametrize(
    ("source", "target", "reason"),
    [
        ("{data}", "{dsn}", "--from must be sqlite:PATH"),
        ("sqlite:{data}/missing.db", "{dsn}", "no SQLite store"),
        ("sqlite:{data}", "mysql://x/y", "--to must be a postgresql:// URL"),
        ("sqlite:{data}", "postgresql://nobody@127.0.0.1:1/none", "cannot connect"),
    ],
)
def test_copy_bad_arguments_are_clear_errors(
    sqlite_server: TidingsServer, postgres_dsn: str, source: str, target: str, reason: str
) -> None:
    data = sqlite_server.data_dir
    result = run_cli(
        data,
        "db",
        "copy",
        "--from",
        source.format(data=data),
        "--to",
        target.format(dsn=postgres_dsn),
    )
    assert result.returncode == 1
    assert reason in result.stderr


def test_db_migrate_creates_and_reports_the_postgresql_schema(
    tmp_path: Path, postgres_dsn: str
) -> None:
    config = tmp_path / "pg.toml"
    config.write_text(f'[storage]\nurl = "{postgres_dsn}"\n')
    data = tmp_path / "data"
    not_yet = run_cli(data, "user", "list", "--config", str(config))
    assert not_yet.returncode == 1
    assert "tidings db migrate" in not_yet.stderr
    first = run_cli(data, "db", "migrate", "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert f"migrated from version 0 to {schema.SCHEMA_VERSION}" in first.stdout
    second = run_cli(data, "db", "migrate", "--config", str(config))
    assert f"up to date (version {schema.SCHEMA_VERSION})" in second.stdout
    added = run_cli(
        data, "user", "add", "x@example.test", "--password-stdin", "--config", str(config),
        stdin="pw\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    listed = run_cli(data, "user", "list", "--config", str(config))
    assert listed.stdout.startswith("x@example.test ")
