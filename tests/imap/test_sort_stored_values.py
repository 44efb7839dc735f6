"""SORT from the values stored at ingest (issue 5), over a real socket with imaplib against
`tidings serve`: every key gives the same order as SORT from the facts does (the same
SORTs again once the stored values are gone, as for mail stored before they were kept)."""

from __future__ import annotations

import imaplib
import sqlite3
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from tests.conftest import TEST_PASSWORD, TEST_USER, TidingsServer

CRITERIA = [
    "(DATE)", "(REVERSE DATE)", "(ARRIVAL)", "(FROM)", "(TO)", "(CC)", "(SUBJECT)",
    "(DISPLAYFROM)", "(DISPLAYTO)", "(SIZE)", "(REVERSE SUBJECT DATE)", "(FROM REVERSE SIZE)",
]  # fmt: skip


def _message(index: int) -> bytes:
    sent = datetime(2024, 3, 1, tzinfo=UTC) + timedelta(hours=(index * 7919) % 500)
    date = f"Date: {format_datetime(sent)}\r\n" if index % 5 else ""  # some without a Date
    names = ["Zoë Zed", "adam", "=?UTF-8?Q?=C3=89mile?=", "bob", ""]
    sender = names[index % len(names)]
    return (
        f"From: {sender} <user{(index * 37) % 11}@example.test>\r\n"
        f"To: t{(index * 13) % 7}@example.test\r\nCc: c{index % 3}@example.test\r\n"
        f"Subject: {['Re: ', 'Fwd: ', '', '[list] '][index % 4]}topic {(index * 3) % 8}\r\n"
        f"{date}\r\n{'x' * ((index * 101) % 300)}\r\n"
    ).encode()


def _sorts(client: imaplib.IMAP4) -> dict[str, list[int]]:
    found = {}
    for criteria in CRITERIA:
        typ, data = client.uid("SORT", criteria, "UTF-8", "ALL")
        assert typ == "OK", data
        found[criteria] = [int(uid) for uid in data[0].split()]
    return found


def test_sort_from_stored_values_matches_sort_from_the_facts(server: TidingsServer) -> None:
    client = imaplib.IMAP4("127.0.0.1", server.imap_port)
    client.login(TEST_USER, TEST_PASSWORD)
    client.create("Sorting")
    for index in range(40):
        assert client.append("Sorting", None, None, _message(index))[0] == "OK"
    client.select("Sorting")
    stored = _sorts(client)
    with sqlite3.connect(server.data_dir / "mail.db") as conn:
        assert conn.execute("SELECT count(*) FROM blob_sort").fetchone()[0] >= 40
        conn.execute("DELETE FROM blob_sort")
    conn.close()
    assert _sorts(client) == stored
    assert stored["(REVERSE DATE)"] != stored["(DATE)"]
    assert stored["(SUBJECT)"] != list(range(1, 41))
    client.logout()
