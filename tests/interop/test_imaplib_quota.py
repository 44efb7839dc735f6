"""QUOTA (RFC 9208) and OVERQUOTA against a real `tidings serve`, with the stdlib imaplib.

Limits are set the way an administrator's tool does it: a second process opens the server's
database and writes them while the server runs (the server reads them in each write
transaction, so they apply at once). Each test gets an account of its own on one server.
Dovecot is compared in tests/differential/test_quota_vs_dovecot.py (it needs its quota
plugins configured, which the shared interop Dovecot does not have).
"""

from __future__ import annotations

import asyncio
import imaplib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import TidingsServer, make_server

from tidings.auth.passwords import hash_password
from tidings.storage.sqlite import SqliteBackend

from .helpers import TIMEOUT, make_message, safe_logout

PASSWORD = "quota password"
OVERQUOTA = b"[OVERQUOTA] Quota exceeded (mailbox for user is full)"


@pytest.fixture(scope="module")
def quota_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TidingsServer]:
    """One `tidings serve` for this module's tests."""
    server = make_server(tmp_path_factory.mktemp("tidings-quota"))
    server.start()
    yield server
    server.stop()


class Account:
    """A fresh account on the quota server, with a way to set its limits."""

    def __init__(self, server: TidingsServer) -> None:
        self.server = server
        self.address = f"q-{uuid.uuid4().hex[:10]}@example.test"
        self._call(lambda backend: backend.add_account(self.address, hash_password(PASSWORD)))

    def _call(self, action: object) -> None:
        async def run() -> None:
            backend = await SqliteBackend.open(Path(self.server.data_dir) / "mail.db")
            try:
                await action(backend)  # type: ignore[operator]
            finally:
                await backend.close()

        asyncio.run(run())

    def set_quota(self, storage_limit: int | None, message_limit: int | None) -> None:
        """What `tidings user quota` does, from another process than the server."""
        self._call(lambda backend: backend.set_quota(self.address, storage_limit, message_limit))

    def login(self) -> imaplib.IMAP4:
        """A logged-in imaplib connection."""
        conn = imaplib.IMAP4(self.server.host, self.server.imap_port, timeout=TIMEOUT)
        conn.login(self.address, PASSWORD)
        return conn


@pytest.fixture
def account(quota_server: TidingsServer) -> Account:
    """A new account with no limits."""
    return Account(quota_server)


@pytest.fixture
def conn(account: Account) -> Iterator[imaplib.IMAP4]:
    """The account, logged in."""
    connection = account.login()
    yield connection
    safe_logout(connection)


def sized(total: int) -> bytes:
    """A CRLF message of exactly `total` octets."""
    head = make_message("quota")
    return head + b"x" * (total - len(head) - 2) + b"\r\n"


def quota_of(conn: imaplib.IMAP4) -> bytes:
    typ, data = conn.getquota('""')
    assert typ == "OK", data
    return data[0]


def append(conn: imaplib.IMAP4, mailbox: str, raw: bytes) -> tuple[str, list[bytes]]:
    typ, data = conn.append(mailbox, None, None, raw)
    return typ, data


def test_capabilities_advertise_quota_resources_but_not_quotaset(
    conn: imaplib.IMAP4,
) -> None:
    typ, data = conn.capability()
    names = data[0].split()
    assert typ == "OK"
    assert {b"QUOTA", b"QUOTA=RES-STORAGE", b"QUOTA=RES-MESSAGE"} <= set(names)
    assert b"QUOTASET" not in names


def test_getquotaroot_and_getquota_report_usage_and_limits(
    account: Account, conn: imaplib.IMAP4
) -> None:
    typ, data = conn.getquotaroot("INBOX")
    assert (typ, data) == ("OK", [[b"INBOX"], [None]])  # no limits: no root
    assert conn.getquota('""')[0] == "NO"
    account.set_quota(1024 * 1024, 10)
    typ, data = conn.getquotaroot("INBOX")
    assert typ == "OK"
    assert data == [[b'INBOX ""'], [b'"" (STORAGE 0 1024 MESSAGE 0 10)']]
    assert quota_of(conn) == b'"" (STORAGE 0 1024 MESSAGE 0 10)'


def test_usage_changes_after_append_and_expunge(account: Account, conn: imaplib.IMAP4) -> None:
    account.set_quota(100 * 1024, 50)
    assert append(conn, "INBOX", sized(3000))[0] == "OK"
    assert append(conn, "Sent", sized(2200))[0] == "OK"
    assert quota_of(conn) == b'"" (STORAGE 6 100 MESSAGE 2 50)'  # 5200 octets: 6 KiB
    conn.select("INBOX")
    conn.store("1", "+FLAGS", "(\\Deleted)")
    assert quota_of(conn) == b'"" (STORAGE 6 100 MESSAGE 2 50)'  # \Deleted still counts
    conn.expunge()
    assert quota_of(conn) == b'"" (STORAGE 3 100 MESSAGE 1 50)'


def test_append_over_the_storage_limit_is_overquota(account: Account, conn: imaplib.IMAP4) -> None:
    account.set_quota(4000, None)
    assert append(conn, "INBOX", sized(3000))[0] == "OK"
    assert append(conn, "INBOX", sized(1001)) == ("NO", [OVERQUOTA])
    assert append(conn, "INBOX", sized(1000))[0] == "OK"  # exactly at the limit
    assert conn.status("INBOX", "(MESSAGES)") == ("OK", [b"INBOX (MESSAGES 2)"])


def test_append_over_the_message_limit_is_overquota(account: Account, conn: imaplib.IMAP4) -> None:
    account.set_quota(None, 2)
    for mailbox in ("INBOX", "Drafts"):
        assert append(conn, mailbox, make_message(mailbox))[0] == "OK"
    assert append(conn, "INBOX", make_message("third")) == ("NO", [OVERQUOTA])
    assert quota_of(conn) == b'"" (MESSAGE 2 2)'


def test_limit_set_while_logged_in_applies_at_once(account: Account, conn: imaplib.IMAP4) -> None:
    assert append(conn, "INBOX", make_message("before"))[0] == "OK"
    account.set_quota(None, 1)
    assert append(conn, "INBOX", make_message("after")) == ("NO", [OVERQUOTA])
    account.set_quota(None, None)
    assert append(conn, "INBOX", make_message("after"))[0] == "OK"


def test_copy_over_quota_copies_nothing(account: Account, conn: imaplib.IMAP4) -> None:
    for subject in ("one", "two"):
        append(conn, "INBOX", make_message(subject))
    account.set_quota(None, 3)
    conn.select("INBOX")
    assert conn.copy("1:2", "Archive") == ("NO", [OVERQUOTA])
    assert conn.status("Archive", "(MESSAGES)") == ("OK", [b"Archive (MESSAGES 0)"])
    typ, data = conn.copy("2", "Archive")
    assert typ == "OK" and data[0].startswith(b"[COPYUID "), data


def test_move_at_the_limit_is_allowed(account: Account, conn: imaplib.IMAP4) -> None:
    for _ in range(2):
        append(conn, "INBOX", sized(1500))
    account.set_quota(3000, 2)
    conn.select("INBOX")
    typ, data = conn.uid("MOVE", "1:2", "Archive")
    assert typ == "OK", data
    assert conn.status("Archive", "(MESSAGES)") == ("OK", [b"Archive (MESSAGES 2)"])
    assert quota_of(conn) == b'"" (STORAGE 3 3 MESSAGE 2 2)'


def test_status_deleted_and_deleted_storage(conn: imaplib.IMAP4) -> None:
    for total in (1000, 2500, 700):
        append(conn, "INBOX", sized(total))
    conn.select("INBOX")
    conn.store("1:2", "+FLAGS", "(\\Deleted)")
    typ, data = conn.status("INBOX", "(MESSAGES DELETED DELETED-STORAGE SIZE)")
    assert (typ, data) == (
        "OK",
        [b"INBOX (MESSAGES 3 DELETED 2 DELETED-STORAGE 3500 SIZE 4200)"],
    )


def test_setquota_is_refused(account: Account, conn: imaplib.IMAP4) -> None:
    account.set_quota(2048, None)
    assert conn.setquota('""', "(STORAGE 999999)") == (
        "NO",
        [b"[NOPERM] Quota can be changed only by admin."],
    )
    assert quota_of(conn) == b'"" (STORAGE 0 2)'
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):
        conn.setquota('""', "(STORAGE)")
