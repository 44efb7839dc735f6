"""MULTIAPPEND (RFC 3502) with imapclient, WITHIN (RFC 5032) with imaplib and RECURSIVEMATCH's
CHILDINFO (RFC 5258 §3.5) on raw lines, each against Tidings and Dovecot."""

from __future__ import annotations

import datetime

from .helpers import ImapTarget, make_message, response_code, unique_name


def test_imapclient_multiappend_rfc3502(imap: ImapTarget, mailbox: str) -> None:
    client = imap.imapclient()
    when = datetime.datetime(2020, 2, 7, 21, 52, 25, tzinfo=datetime.UTC)
    messages = [make_message(f"m{i}") for i in range(3)]
    status, (text,) = client.multiappend(
        mailbox,
        [
            messages[0].decode(),
            {"msg": messages[1].decode(), "flags": ["\\Flagged"]},
            {"msg": messages[2].decode(), "date": when},
        ],
    )
    assert status == "OK", text
    code = response_code(text, "APPENDUID")
    assert code is not None and code.split()[1] == "1:3", text
    client.select_folder(mailbox, readonly=True)
    fetched = client.fetch([1, 2, 3], ["FLAGS", "INTERNALDATE", "BODY.PEEK[]"])
    assert [fetched[uid][b"BODY[]"] for uid in (1, 2, 3)] == messages
    assert b"\\Flagged" in fetched[2][b"FLAGS"]
    assert fetched[3][b"INTERNALDATE"] == when.astimezone().replace(tzinfo=None)


def test_multiappend_failure_stores_nothing_rfc3502_3(imap: ImapTarget, mailbox: str) -> None:
    raw = imap.raw()
    message = make_message()
    _, tagged = raw.command(
        b"APPEND %s {%d+}\r\n%s {0+}\r\n" % (mailbox.encode(), len(message), message)
    )
    assert b" NO " in tagged, tagged
    untagged, tagged = raw.command(f"STATUS {mailbox} (MESSAGES)")
    assert untagged[0].rstrip().endswith(b"(MESSAGES 0)"), untagged


def test_search_older_younger_rfc5032(imap: ImapTarget, mailbox: str) -> None:
    conn = imap.login()
    now = datetime.datetime.now(datetime.UTC)
    for age in (datetime.timedelta(days=30), datetime.timedelta(minutes=5)):
        stamp = (now - age).strftime('"%d-%b-%Y %H:%M:%S +0000"')
        assert conn.append(mailbox, None, stamp, make_message())[0] == "OK"
    conn.select(mailbox, readonly=True)
    assert conn.search(None, "YOUNGER", "86400") == ("OK", [b"2"])
    assert conn.search(None, "OLDER", "86400") == ("OK", [b"1"])
    assert conn.uid("SEARCH", "YOUNGER", "60") == ("OK", [b""])


def test_recursivematch_childinfo_form_rfc5258_3_5(imap: ImapTarget) -> None:
    """The same CHILDINFO item as Dovecot, only for a descendant the pattern cuts off."""
    raw = imap.raw()
    top = unique_name()
    raw.command(f"CREATE {top}")
    raw.command(f"CREATE {top}/sub")
    raw.command(f"SUBSCRIBE {top}/sub")
    untagged, _ = raw.command(f'LIST (SUBSCRIBED RECURSIVEMATCH) "" "{top}%"')
    assert len(untagged) == 1 and untagged[0].rstrip().endswith(
        b' "/" %s (CHILDINFO ("SUBSCRIBED"))' % top.encode()
    ), untagged
    untagged, _ = raw.command(f'LIST (SUBSCRIBED RECURSIVEMATCH) "" "{top}*"')
    assert [line.rstrip().endswith(b"/sub") for line in untagged] == [True], untagged
    raw.command(f"UNSUBSCRIBE {top}/sub")
    raw.command(f"DELETE {top}/sub")
    raw.command(f"DELETE {top}")
