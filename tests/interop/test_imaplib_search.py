"""Stdlib imaplib against a real server: SEARCH keys (RFC 9051 §6.4.4, RFC 3501 §6.4.4) and
ESEARCH return options (RFC 4731, SEARCHRES RFC 5182)."""

from __future__ import annotations

import imaplib
import re
from collections.abc import Iterator

import pytest

from .helpers import (
    ImapTarget,
    make_message,
    safe_logout,
    tidings_only,
)

# Four messages with known headers, bodies, sizes, flags and dates:
# 1 alpha: from carol, to alice, sent 2020-02-01, received 2020-02-01, \Flagged \Seen
# 2 beta:  from dave, to bob, sent 2021-03-15, received 2021-03-15, \Seen $Work
# 3 Grüße: UTF-8 subject (RFC 2047), large body, sent 2022-06-01, received 2022-06-01, unseen
# 4 gamma: sent 2023-01-01, received 2023-01-01, \Deleted, unseen, X-Custom header
CORPUS = [
    (
        make_message(
            "alpha report", body="the quick brown fox\r\n", date="Sat, 01 Feb 2020 09:00:00 +0000"
        ),
        "(\\Flagged \\Seen)",
        '"01-Feb-2020 10:00:00 +0000"',
    ),
    (
        make_message(
            "beta news",
            body="a lazy dog sleeps\r\n",
            sender="Dave <dave@example.test>",
            to="Bob <bob@example.test>",
            date="Mon, 15 Mar 2021 12:00:00 +0000",
        ),
        "(\\Seen $Work)",
        '"15-Mar-2021 12:00:00 +0000"',
    ),
    (
        make_message(
            "=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=",
            body="x" * 3000 + "\r\n",
            date="Wed, 01 Jun 2022 12:00:00 +0000",
        ),
        None,
        '"01-Jun-2022 12:00:00 +0000"',
    ),
    (
        make_message(
            "gamma",
            body="plain\r\n",
            date="Sun, 01 Jan 2023 12:00:00 +0000",
            extra="X-Custom: marker-value\r\n",
        ),
        "(\\Deleted)",
        '"01-Jan-2023 12:00:00 +0000"',
    ),
]


@pytest.fixture
def searchable(imap: ImapTarget, mailbox: str) -> Iterator[imaplib.IMAP4]:
    """A connection with the four-message corpus selected."""
    conn = imap.login()
    for message, flags, date in CORPUS:
        typ, data = conn.append(mailbox, flags, date, message)
        assert typ == "OK", data
    conn.select(mailbox)
    yield conn
    safe_logout(conn)


def search(conn: imaplib.IMAP4, *criteria: str, uid: bool = False) -> list[int]:
    if uid:
        typ, data = conn.uid("SEARCH", *criteria)
    else:
        typ, data = conn.search(None, *criteria)
    assert typ == "OK", data
    return sorted(int(n) for n in b" ".join(d for d in data if d).split())


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ("ALL", [1, 2, 3, 4]),
        ("FLAGGED", [1]),
        ("UNFLAGGED", [2, 3, 4]),
        ("SEEN", [1, 2]),
        ("UNSEEN", [3, 4]),
        ("DELETED", [4]),
        ("UNDELETED", [1, 2, 3]),
        ("ANSWERED", []),
        ("UNANSWERED", [1, 2, 3, 4]),
        ("DRAFT", []),
        ("KEYWORD $Work", [2]),
        ("UNKEYWORD $Work", [1, 3, 4]),
        ("HEADER Subject beta", [2]),
        ("HEADER X-Custom marker", [4]),
        ('HEADER X-Custom ""', [4]),
        ("FROM dave", [2]),
        ("FROM carol@example.test", [1, 3, 4]),
        ("TO bob", [2]),
        ("CC nobody", []),
        ("BCC nobody", []),
        ("SUBJECT alpha", [1]),
        ('SUBJECT "NEWS"', [2]),
        ("BODY fox", [1]),
        ("BODY alpha", []),
        ("TEXT fox", [1]),
        ("TEXT dave", [2]),
        ("LARGER 2000", [3]),
        ("SMALLER 2000", [1, 2, 4]),
        ("BEFORE 15-Mar-2021", [1]),
        ("ON 15-Mar-2021", [2]),
        ("SINCE 15-Mar-2021", [2, 3, 4]),
        ("SENTBEFORE 15-Mar-2021", [1]),
        ("SENTON 15-Mar-2021", [2]),
        ("SENTSINCE 01-Jun-2022", [3, 4]),
        ("2:*", [2, 3, 4]),
        ("*", [4]),
        ("1,3", [1, 3]),
        ("UID 2:3", [2, 3]),
        ("UID *", [4]),
        ("OR FROM carol FROM dave", [1, 2, 3, 4]),
        ("OR SUBJECT alpha SUBJECT beta", [1, 2]),
        ("NOT SEEN", [3, 4]),
        ("NOT NOT SEEN", [1, 2]),
        ("(SEEN FLAGGED)", [1]),
        ("OR (SEEN FLAGGED) (DELETED)", [1, 4]),
        ("SEEN NOT FLAGGED", [2]),
        ("(OR SEEN DELETED) NOT (SUBJECT beta)", [1, 4]),
    ],
)
def test_search_key_rfc9051_6_4_4(
    searchable: imaplib.IMAP4, criteria: str, expected: list[int]
) -> None:
    assert search(searchable, criteria) == expected


def test_uid_search_returns_uids_rfc9051_6_4_9(searchable: imaplib.IMAP4) -> None:
    searchable.store("1", "+FLAGS.SILENT", "(\\Deleted)")
    searchable.expunge()  # removes 1 and 4 (already \Deleted)
    # Sequence numbers moved down by one; UIDs did not.
    assert search(searchable, "SUBJECT beta") == [1]
    assert search(searchable, "SUBJECT beta", uid=True) == [2]
    assert search(searchable, "UID 3:*", uid=True) == [3]


def test_search_charset_utf8_literal_rfc9051_6_4_4(searchable: imaplib.IMAP4) -> None:
    searchable.literal = "Grüße".encode()
    typ, data = searchable.search("UTF-8", "SUBJECT")
    assert typ == "OK", data
    assert data[0].split() == [b"3"], data
    searchable.literal = "köln".encode()
    assert searchable.search("UTF-8", "SUBJECT")[1][0].split() == [b"3"]


def test_search_charset_us_ascii_rfc9051_6_4_4(searchable: imaplib.IMAP4) -> None:
    typ, data = searchable.search("US-ASCII", "SUBJECT", "gamma")
    assert typ == "OK" and data[0].split() == [b"4"], data


def test_search_unknown_charset_is_no_badcharset_rfc9051_6_4_4(
    searchable: imaplib.IMAP4,
) -> None:
    typ, data = searchable._simple_command("SEARCH", "CHARSET", "X-NO-SUCH", "ALL")
    assert typ == "NO" and b"[BADCHARSET" in data[0], data


def test_search_bad_syntax_is_bad_rfc9051_6_4_4(searchable: imaplib.IMAP4) -> None:
    with pytest.raises(imaplib.IMAP4.error):
        searchable.search(None, "NOSUCHKEY")
    with pytest.raises(imaplib.IMAP4.error):
        searchable.search(None, "(SEEN")


def test_search_recent_new_old_rfc3501_6_4_4(imap: ImapTarget, mailbox: str) -> None:
    conn = imap.login()
    conn.append(mailbox, "(\\Seen)", None, make_message("seen"))
    conn.append(mailbox, None, None, make_message("unseen"))
    conn.select(mailbox)  # the first session to see them gets \Recent
    assert search(conn, "RECENT") == [1, 2]
    assert search(conn, "NEW") == [2]
    assert search(conn, "OLD") == []
    other = imap.login()
    other.select(mailbox)
    assert search(other, "RECENT") == []
    assert search(other, "OLD") == [1, 2]
    assert search(other, "NEW") == []


def test_search_empty_mailbox_rfc9051_6_4_4(client: imaplib.IMAP4, mailbox: str) -> None:
    client.select(mailbox)
    assert client.search(None, "ALL") == ("OK", [b""])


# --- ESEARCH (RFC 4731) ---------------------------------------------------------------------


def esearch(imap: ImapTarget, mailbox: str, command: str) -> dict[str, str]:
    """Run a SEARCH RETURN command on a raw connection; returns the ESEARCH items."""
    raw = imap.raw()
    raw.command(f"SELECT {mailbox}")
    untagged, tagged = raw.command(command)
    assert b" OK" in tagged, tagged
    lines = [line for line in untagged if line.upper().startswith(b"* ESEARCH")]
    assert len(lines) == 1, untagged
    line = lines[0].decode().rstrip("\r\n")
    assert re.match(r'^\* ESEARCH \(TAG "R\d+"\)', line), line
    words = re.sub(r'^\* ESEARCH \(TAG "R\d+"\)', "", line).split()
    items: dict[str, str] = {}
    if words and words[0].upper() == "UID":
        items["UID"] = ""
        words = words[1:]
    items.update({words[i].upper(): words[i + 1] for i in range(0, len(words), 2)})
    return items


@pytest.mark.usefixtures("searchable")
def test_esearch_min_max_count_all_rfc4731_3_1(imap: ImapTarget, mailbox: str) -> None:
    items = esearch(imap, mailbox, "SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN")
    assert items == {"MIN": "3", "MAX": "4", "COUNT": "2", "ALL": "3:4"}, items
    items = esearch(imap, mailbox, "SEARCH RETURN (MIN MAX COUNT ALL) OR FLAGGED DELETED")
    assert items == {"MIN": "1", "MAX": "4", "COUNT": "2", "ALL": "1,4"}, items


@pytest.mark.usefixtures("searchable")
def test_esearch_empty_return_means_all_rfc4731_3_1(imap: ImapTarget, mailbox: str) -> None:
    assert esearch(imap, mailbox, "SEARCH RETURN () SEEN") == {"ALL": "1:2"}


@pytest.mark.usefixtures("searchable")
def test_esearch_no_match_has_count_zero_only_rfc4731_3_1(imap: ImapTarget, mailbox: str) -> None:
    items = esearch(imap, mailbox, "SEARCH RETURN (MIN MAX COUNT) SUBJECT nothing-matches")
    assert items == {"COUNT": "0"}, items


@pytest.mark.usefixtures("searchable")
def test_uid_esearch_is_marked_uid_rfc4731_3_1(imap: ImapTarget, mailbox: str) -> None:
    items = esearch(imap, mailbox, "UID SEARCH RETURN (COUNT ALL) SEEN")
    assert items == {"UID": "", "COUNT": "2", "ALL": "1:2"}, items


@pytest.mark.usefixtures("searchable")
def test_search_return_save_then_fetch_dollar_rfc5182(imap: ImapTarget, mailbox: str) -> None:
    raw = imap.raw()
    raw.command(f"SELECT {mailbox}")
    untagged, tagged = raw.command("SEARCH RETURN (SAVE) UNSEEN")
    assert b" OK" in tagged and not any(b"SEARCH" in line for line in untagged), untagged
    untagged, tagged = raw.command("FETCH $ (UID)")
    assert b" OK" in tagged, tagged
    assert sorted(line.split()[1] for line in untagged if b"FETCH" in line) == [b"3", b"4"]


@pytest.mark.usefixtures("searchable")
def test_uid_search_save_then_uid_fetch_and_store_dollar_rfc5182(
    imap: ImapTarget, mailbox: str
) -> None:
    raw = imap.raw()
    raw.command(f"SELECT {mailbox}")
    _, tagged = raw.command("UID SEARCH RETURN (SAVE) UNSEEN")
    assert b" OK" in tagged, tagged
    untagged, _ = raw.command("UID FETCH $ (FLAGS)")
    assert sorted(line.split()[1] for line in untagged if b"FETCH" in line) == [b"3", b"4"]
    raw.command("UID STORE $ +FLAGS.SILENT (\\Answered)")
    untagged, _ = raw.command("SEARCH ANSWERED")
    assert untagged[-1] == b"* SEARCH 3 4\r\n", untagged


def test_search_after_enable_imap4rev2_answers_esearch_rfc9051_7_3_4(
    imap: ImapTarget, mailbox: str, searchable: imaplib.IMAP4
) -> None:
    tidings_only(imap, "Dovecot 2.3 does not implement IMAP4rev2")
    raw = imap.raw()
    raw.command("ENABLE IMAP4rev2")
    raw.command(f"SELECT {mailbox}")
    untagged, tagged = raw.command("SEARCH SEEN")
    assert b" OK" in tagged, tagged
    assert not any(line.startswith(b"* SEARCH") for line in untagged), untagged
    lines = [line for line in untagged if line.startswith(b"* ESEARCH")]
    assert len(lines) == 1 and lines[0].rstrip().endswith(b"ALL 1:2"), untagged


def test_rev1_search_answers_search_not_esearch_design(
    imap: ImapTarget, mailbox: str, searchable: imaplib.IMAP4
) -> None:
    raw = imap.raw()
    raw.command(f"SELECT {mailbox}")
    untagged, tagged = raw.command("SEARCH SEEN")
    assert b" OK" in tagged, tagged
    assert untagged[-1] == b"* SEARCH 1 2\r\n", untagged


def test_search_keyword_unknown_matches_nothing_rfc9051_6_4_4(
    searchable: imaplib.IMAP4,
) -> None:
    assert search(searchable, "KEYWORD NeverUsed") == []
