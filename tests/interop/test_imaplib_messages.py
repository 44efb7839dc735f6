"""Stdlib imaplib against a real server: APPEND, FETCH, STORE, COPY, MOVE, EXPUNGE, CLOSE,
UNSELECT and their UID forms (RFC 9051 §6.3.12, §6.4; UIDPLUS RFC 4315; MOVE RFC 6851;
BINARY RFC 3516)."""

from __future__ import annotations

import datetime
import imaplib
import re

import pytest

from .helpers import (
    MULTIPART,
    ImapTarget,
    fetch_items,
    make_message,
    response_code,
    run,
    safe_logout,
    unique_name,
    untagged_fetches,
)

DATE = '"07-Feb-2020 21:52:25 +0100"'
# Both servers set one of these on every message they take in (issue 9; the test Dovecot runs
# with attachment detection): tests about other flags leave them out.
ATTACHMENT_KEYWORDS = {"$HasAttachment", "$HasNoAttachment"}


def internaldate(text: bytes) -> datetime.datetime:
    """An INTERNALDATE as an aware datetime."""
    return datetime.datetime.strptime(text.decode(), "%d-%b-%Y %H:%M:%S %z")


def append_one(
    conn: imaplib.IMAP4,
    mailbox: str,
    message: bytes,
    flags: str | None = None,
    date: str | None = None,
) -> int:
    """APPEND and return the new UID from APPENDUID."""
    typ, data = conn.append(mailbox, flags, date, message)
    assert typ == "OK", data
    code = response_code(data[0], "APPENDUID")
    assert code is not None, data
    return int(code.split()[1])


def seeded(imap: ImapTarget, mailbox: str, *messages: bytes) -> imaplib.IMAP4:
    """Append messages to mailbox and return a connection with it selected."""
    conn = imap.login()
    for message in messages:
        append_one(conn, mailbox, message)
    assert conn.select(mailbox)[0] == "OK"
    return conn


# --- APPEND ---------------------------------------------------------------------------------


def test_append_returns_appenduid_rfc4315_3(client: imaplib.IMAP4, mailbox: str) -> None:
    typ, data = client.append(mailbox, None, None, make_message())
    assert typ == "OK", data
    code = response_code(data[0], "APPENDUID")
    assert code is not None and re.fullmatch(r"[1-9]\d* 1", code), data
    typ, status = client.status(mailbox, "(UIDVALIDITY)")
    assert code.split()[0].encode() in status[0], (code, status)


def test_append_keeps_flags_and_internaldate_rfc9051_6_3_12(
    client: imaplib.IMAP4, mailbox: str
) -> None:
    uid = append_one(client, mailbox, make_message(), "(\\Flagged \\Seen $Work)", DATE)
    client.select(mailbox)
    items = fetch_items(client, str(uid), "(FLAGS INTERNALDATE)", uid=True)[1]
    assert {"\\Flagged", "\\Seen", "$Work"} <= set(items["FLAGS"]), items
    # The same instant; the server may show it in its own zone (Dovecot uses UTC).
    assert internaldate(items["INTERNALDATE"]) == internaldate(DATE.strip('"').encode())


def test_append_is_byte_exact_rfc9051_6_3_12(client: imaplib.IMAP4, mailbox: str) -> None:
    message = make_message(body="line one\r\n\r\n  indented\ttab \r\n.\r\nend without newline")
    uid = append_one(client, mailbox, message)
    client.select(mailbox)
    items = fetch_items(client, str(uid), "(RFC822.SIZE BODY.PEEK[])", uid=True)[1]
    assert items["BODY[]"] == message
    assert items["RFC822.SIZE"] == len(message)


def test_append_to_missing_mailbox_is_no_trycreate_rfc9051_6_3_12(client: imaplib.IMAP4) -> None:
    typ, data = client.append(unique_name("missing"), None, None, make_message())
    assert typ == "NO" and b"[TRYCREATE]" in data[0], data


def test_append_non_synchronizing_literal_rfc7888(imap: ImapTarget, mailbox: str) -> None:
    raw = imap.raw()
    message = make_message("literal plus")
    raw.send(b"P1 APPEND " + mailbox.encode() + b" {%d+}\r\n" % len(message) + message + b"\r\n")
    tagged = raw.read_response()
    assert tagged.startswith(b"P1 OK"), tagged


def test_append_with_utf8_header_bytes_is_stored_rfc6532(
    client: imaplib.IMAP4, mailbox: str
) -> None:
    message = make_message("Grüße", body="Grüße aus Köln\r\n")
    uid = append_one(client, mailbox, message)
    client.select(mailbox)
    assert fetch_items(client, str(uid), "(BODY.PEEK[])", uid=True)[1]["BODY[]"] == message


# --- FETCH ----------------------------------------------------------------------------------


def test_fetch_flags_internaldate_size_uid_rfc9051_6_4_5(imap: ImapTarget, mailbox: str) -> None:
    message = make_message()
    conn = seeded(imap, mailbox, message)
    items = fetch_items(conn, "1", "(FLAGS INTERNALDATE RFC822.SIZE UID)")[1]
    flags = [flag for flag in items["FLAGS"] if flag not in ATTACHMENT_KEYWORDS]
    assert flags in ([], ["\\Recent"]), items
    # date-day-fixed = (SP DIGIT) / 2DIGIT (RFC 9051 §9): " 2-Dec-2026" is as valid as "02-".
    assert re.fullmatch(
        rb"(?:\d\d| \d)-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}", items["INTERNALDATE"]
    ), items
    assert items["RFC822.SIZE"] == len(message) and items["UID"] == 1, items


def test_fetch_envelope_rfc9051_7_5_2(imap: ImapTarget, mailbox: str) -> None:
    conn = seeded(
        imap,
        mailbox,
        make_message(
            "hello there",
            to="Alice <alice@example.test>, bob@example.test",
            extra='Cc: "Dee, D." <dee@example.test>\r\nIn-Reply-To: <parent@example.test>\r\n',
        ),
    )
    envelope = fetch_items(conn, "1", "(ENVELOPE)")[1]["ENVELOPE"]
    date, subject, sender, from_sender, reply_to, to, cc, bcc, in_reply_to, message_id = envelope
    assert date == b"Mon, 07 Feb 1994 21:52:25 -0800"
    assert subject == b"hello there"
    assert sender == [[b"Carol Sender", None, b"carol", b"example.test"]]
    assert from_sender == sender and reply_to == sender  # defaulted from From (§7.5.2)
    assert to == [
        [b"Alice", None, b"alice", b"example.test"],
        [None, None, b"bob", b"example.test"],
    ]
    assert cc == [[b"Dee, D.", None, b"dee", b"example.test"]]
    assert bcc is None
    assert in_reply_to == b"<parent@example.test>"
    assert message_id.startswith(b"<") and message_id.endswith(b"@example.test>")


def test_fetch_bodystructure_multipart_rfc9051_7_5_2(imap: ImapTarget, mailbox: str) -> None:
    conn = seeded(imap, mailbox, MULTIPART)
    structure = fetch_items(conn, "1", "(BODYSTRUCTURE)")[1]["BODYSTRUCTURE"]
    first, second, subtype, params = structure[0], structure[1], structure[2], structure[3]
    assert subtype.upper() == b"MIXED"
    assert [p.upper() if isinstance(p, bytes) else p for p in params] == [b"BOUNDARY", b"XX"]
    assert first[0].upper() == b"TEXT" and first[1].upper() == b"PLAIN"
    assert [p.lower() for p in first[2]] == [b"charset", b"us-ascii"]
    # The CRLF before a boundary belongs to the boundary (RFC 2046 §5.1.1).
    assert first[5].upper() == b"BASE64" and first[6] == 28 and first[7] == 0
    assert second[0].upper() == b"TEXT" and second[1].upper() == b"HTML"
    assert second[6] == len(b"<p>second part</p>")


def test_fetch_body_is_bodystructure_without_extensions_rfc9051_7_5_2(
    imap: ImapTarget, mailbox: str
) -> None:
    conn = seeded(imap, mailbox, MULTIPART)
    body = fetch_items(conn, "1", "(BODY)")[1]["BODY"]
    assert len(body) == 3 and body[2].upper() == b"MIXED", body  # no parameters list


def test_fetch_body_sections_rfc9051_6_4_5(imap: ImapTarget, mailbox: str) -> None:
    conn = seeded(imap, mailbox, MULTIPART)
    items = fetch_items(
        conn, "1", "(BODY.PEEK[1] BODY.PEEK[2] BODY.PEEK[1.MIME] BODY.PEEK[HEADER])"
    )[1]
    assert items["BODY[1]"] == b"SGVsbG8sIGJpbmFyeSB3b3JsZC4="
    assert items["BODY[2]"] == b"<p>second part</p>"
    assert items["BODY[1.MIME]"] == (
        b"Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    )
    assert items["BODY[HEADER]"] == MULTIPART.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"


def test_fetch_header_fields_peek_rfc9051_6_4_5(imap: ImapTarget, mailbox: str) -> None:
    conn = seeded(imap, mailbox, make_message("only this"))
    items = fetch_items(conn, "1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)] FLAGS)")[1]
    assert items["BODY[HEADER.FIELDS (SUBJECT)]"] == b"Subject: only this\r\n\r\n", items
    assert "\\Seen" not in items["FLAGS"]
    items = fetch_items(conn, "1", "(BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT DATE FROM TO)])")[1]
    assert items["BODY[HEADER.FIELDS.NOT (SUBJECT DATE FROM TO)]"].startswith(b"Message-ID: ")


def test_fetch_partial_text_rfc9051_6_4_5(imap: ImapTarget, mailbox: str) -> None:
    conn = seeded(imap, mailbox, make_message(body="0123456789abcdefghij\r\n"))
    items = fetch_items(conn, "1", "(BODY.PEEK[TEXT]<0.10> BODY.PEEK[TEXT]<10.5>)")[1]
    assert items["BODY[TEXT]<0>"] == b"0123456789", items
    assert items["BODY[TEXT]<10>"] == b"abcde", items
    items = fetch_items(conn, "1", "(BODY.PEEK[TEXT]<1000.10>)")[1]
    assert items["BODY[TEXT]<1000>"] == b"", items


def test_fetch_body_sets_seen_and_peek_does_not_rfc9051_6_4_5(
    imap: ImapTarget, mailbox: str
) -> None:
    message = make_message()
    conn = seeded(imap, mailbox, message, message)
    assert fetch_items(conn, "1", "(BODY.PEEK[])")[1]["BODY[]"] == message
    assert "\\Seen" not in fetch_items(conn, "1", "(FLAGS)")[1]["FLAGS"]
    items = fetch_items(conn, "1", "(BODY[])")[1]
    assert items["BODY[]"] == message
    assert "\\Seen" in fetch_items(conn, "1", "(FLAGS)")[1]["FLAGS"]
    fetch_items(conn, "2", "(BODY[TEXT]<0.3>)")
    assert "\\Seen" in fetch_items(conn, "2", "(FLAGS)")[2]["FLAGS"]


def test_fetch_body_in_examined_mailbox_does_not_set_seen_rfc9051_6_3_3(
    imap: ImapTarget, mailbox: str
) -> None:
    conn = seeded(imap, mailbox, make_message())
    conn.select(mailbox, readonly=True)
    fetch_items(conn, "1", "(BODY[])")
    conn.select(mailbox)
    assert "\\Seen" not in fetch_items(conn, "1", "(FLAGS)")[1]["FLAGS"]


def test_fetch_rfc822_forms_rfc3501_6_4_5(imap: ImapTarget, mailbox: str) -> None:
    message = make_message(body="body text\r\n")
    conn = seeded(imap, mailbox, message)
    items = fetch_items(conn, "1", "(RFC822.HEADER RFC822.TEXT)")[1]
    header, text = message.split(b"\r\n\r\n", 1)
    assert items["RFC822.HEADER"] == header + b"\r\n\r\n"
    assert items["RFC822.TEXT"] == text == b"body text\r\n"
    assert "\\Seen" in fetch_items(conn, "1", "(FLAGS)")[1]["FLAGS"]  # RFC822.TEXT sets it
    assert fetch_items(conn, "1", "(RFC822)")[1]["RFC822"] == message


def test_fetch_rfc822_header_does_not_set_seen_rfc3501_6_4_5(
    imap: ImapTarget, mailbox: str
) -> None:
    conn = seeded(imap, mailbox, make_message())
    fetch_items(conn, "1", "(RFC822.HEADER)")
    assert "\\Seen" not in fetch_items(conn, "1", "(FLAGS)")[1]["FLAGS"]


def test_fetch_binary_decodes_base64_rfc3516(imap: ImapTarget, mailbox: str) -> None:
    conn = seeded(imap, mailbox, MULTIPART)
    items = fetch_items(conn, "1", "(BINARY.PEEK[1] BINARY.SIZE[1])")[1]
    assert items["BINARY[1]"] == b"Hello, binary world."
    assert items["BINARY.SIZE[1]"] == len(b"Hello, binary world.")
    assert "\\Seen" not in fetch_items(conn, "1", "(FLAGS)")[1]["FLAGS"]
    fetch_items(conn, "1", "(BINARY[1])")
    assert "\\Seen" in fetch_items(conn, "1", "(FLAGS)")[1]["FLAGS"]


def test_fetch_binary_partial_rfc3516_4_2(imap: ImapTarget, mailbox: str) -> None:
    conn = seeded(imap, mailbox, MULTIPART)
    items = fetch_items(conn, "1", "(BINARY.PEEK[1]<0.5> BINARY.SIZE[2] BINARY.PEEK[2]<7.100>)")[1]
    assert items["BINARY[1]<0>"] == b"Hello"
    assert items["BINARY.SIZE[2]"] == len(b"<p>second part</p>")
    assert items["BINARY[2]<7>"] == b"nd part</p>"


def test_fetch_macros_all_fast_full_rfc3501_6_4_5(imap: ImapTarget, mailbox: str) -> None:
    conn = seeded(imap, mailbox, make_message())
    assert set(fetch_items(conn, "1", "FAST")[1]) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE"}
    assert set(fetch_items(conn, "1", "ALL")[1]) == {
        "FLAGS",
        "INTERNALDATE",
        "RFC822.SIZE",
        "ENVELOPE",
    }
    assert set(fetch_items(conn, "1", "FULL")[1]) == {
        "FLAGS",
        "INTERNALDATE",
        "RFC822.SIZE",
        "ENVELOPE",
        "BODY",
    }


def test_fetch_sequence_sets_with_star_rfc9051_9(imap: ImapTarget, mailbox: str) -> None:
    conn = seeded(imap, mailbox, *(make_message(f"m{i}") for i in range(4)))
    assert set(fetch_items(conn, "2:*", "(UID)")) == {2, 3, 4}
    assert set(fetch_items(conn, "*", "(UID)")) == {4}
    assert set(fetch_items(conn, "1,3:2", "(UID)")) == {1, 2, 3}
    assert set(fetch_items(conn, "3:*", "(FLAGS)", uid=True)) == {3, 4}


def test_uid_fetch_includes_uid_item_rfc9051_6_4_9(imap: ImapTarget, mailbox: str) -> None:
    conn = seeded(imap, mailbox, make_message(), make_message())
    items = fetch_items(conn, "2", "(FLAGS)", uid=True)
    assert items == {2: {"UID": 2, "FLAGS": items[2]["FLAGS"]}}, items


def test_uid_fetch_of_missing_uid_is_empty_ok_rfc9051_6_4_9(imap: ImapTarget, mailbox: str) -> None:
    conn = seeded(imap, mailbox, make_message())
    typ, data = conn.uid("FETCH", "99", "(FLAGS)")
    assert typ == "OK" and data == [None], data


def test_fetch_out_of_range_sequence_is_bad_rfc9051_6_4_5(imap: ImapTarget, mailbox: str) -> None:
    conn = seeded(imap, mailbox, make_message())
    with pytest.raises(imaplib.IMAP4.error):
        conn.fetch("5", "(FLAGS)")


# --- STORE ----------------------------------------------------------------------------------


def test_store_add_remove_replace_flags_rfc9051_6_4_6(imap: ImapTarget, mailbox: str) -> None:
    conn = seeded(imap, mailbox, make_message())
    assert conn.store("1", "+FLAGS", "(\\Flagged $Work)")[0] == "OK"
    assert {"\\Flagged", "$Work"} <= set(fetch_items(conn, "1", "(FLAGS)")[1]["FLAGS"])
    conn.store("1", "-FLAGS", "(\\Flagged)")
    flags = set(fetch_items(conn, "1", "(FLAGS)")[1]["FLAGS"]) - {"\\Recent"}
    assert flags - ATTACHMENT_KEYWORDS == {"$Work"}, flags
    conn.store("1", "FLAGS", "(\\Answered \\Draft)")
    flags = set(fetch_items(conn, "1", "(FLAGS)")[1]["FLAGS"]) - {"\\Recent"}
    assert flags == {"\\Answered", "\\Draft"}, flags


def test_store_answers_with_untagged_fetch_rfc9051_6_4_6(imap: ImapTarget, mailbox: str) -> None:
    seeded(imap, mailbox, make_message())
    raw = imap.raw()
    raw.command(f"SELECT {mailbox}")
    untagged, tagged = raw.command("STORE 1 +FLAGS (\\Flagged)")
    assert b" OK" in tagged
    fetched = untagged_fetches(untagged)
    assert "\\Flagged" in fetched[1]["FLAGS"], untagged


def test_store_silent_sends_no_fetch_rfc9051_6_4_6(imap: ImapTarget, mailbox: str) -> None:
    seeded(imap, mailbox, make_message())
    raw = imap.raw()
    raw.command(f"SELECT {mailbox}")
    untagged, tagged = raw.command("STORE 1 +FLAGS.SILENT (\\Flagged)")
    assert b" OK" in tagged and untagged_fetches(untagged) == {}, untagged
    untagged, _ = raw.command("FETCH 1 FLAGS")
    assert "\\Flagged" in untagged_fetches(untagged)[1]["FLAGS"]


def test_imaplib_store_silent_returns_nothing_rfc9051_6_4_6(imap: ImapTarget, mailbox: str) -> None:
    conn = seeded(imap, mailbox, make_message())
    typ, data = conn.store("1", "-FLAGS.SILENT", "(\\Seen)")
    assert typ == "OK" and data == [None], data


def test_uid_store_reports_uid_rfc9051_6_4_9(imap: ImapTarget, mailbox: str) -> None:
    seeded(imap, mailbox, make_message(), make_message())
    raw = imap.raw()
    raw.command(f"SELECT {mailbox}")
    untagged, tagged = raw.command("UID STORE 2 +FLAGS (\\Deleted)")
    assert b" OK" in tagged
    fetched = untagged_fetches(untagged)
    assert fetched[2]["UID"] == 2 and "\\Deleted" in fetched[2]["FLAGS"], untagged


def test_store_keyword_appears_in_flags_and_permanentflags_rfc9051_2_3_2(
    imap: ImapTarget, mailbox: str
) -> None:
    seeded(imap, mailbox, make_message())
    raw = imap.raw()
    raw.command(f"SELECT {mailbox}")
    untagged, _ = raw.command("STORE 1 +FLAGS (NewKeyword)")
    text = b"".join(untagged)
    assert b"NewKeyword" in text, untagged


# --- COPY / MOVE ----------------------------------------------------------------------------


def test_copy_returns_copyuid_rfc4315_3(imap: ImapTarget, mailbox: str) -> None:
    conn = seeded(imap, mailbox, make_message("one"), make_message("two"))
    target = unique_name()
    conn.create(target)
    typ, data = conn.copy("1:2", target)
    assert typ == "OK", data
    code = response_code(data[0], "COPYUID")
    assert code is not None, data
    _validity, source, destination = code.split()
    assert (source, destination) == ("1:2", "1:2"), code
    assert conn.select(mailbox)[1] == [b"2"]  # the source keeps its messages
    assert conn.select(target)[1] == [b"2"]
    conn.close()
    conn.delete(target)


def test_copy_keeps_flags_and_internaldate_rfc9051_6_4_7(
    client: imaplib.IMAP4, mailbox: str
) -> None:
    append_one(client, mailbox, make_message(), "(\\Flagged $Work)", DATE)
    target = unique_name()
    client.create(target)
    client.select(mailbox)
    client.copy("1", target)
    client.select(target)
    items = fetch_items(client, "1", "(FLAGS INTERNALDATE)")[1]
    assert {"\\Flagged", "$Work"} <= set(items["FLAGS"])
    assert internaldate(items["INTERNALDATE"]) == internaldate(DATE.strip('"').encode())
    client.close()
    client.delete(target)


def test_copy_to_missing_mailbox_is_no_trycreate_rfc9051_6_4_7(
    imap: ImapTarget, mailbox: str
) -> None:
    conn = seeded(imap, mailbox, make_message())
    typ, data = conn.copy("1", unique_name("missing"))
    assert typ == "NO" and b"[TRYCREATE]" in data[0], data


def test_move_sends_copyuid_and_expunge_rfc6851_3(imap: ImapTarget, mailbox: str) -> None:
    seeded(imap, mailbox, make_message("one"), make_message("two"), make_message("three"))
    target = unique_name()
    raw = imap.raw()
    raw.command(f"CREATE {target}")
    raw.command(f"SELECT {mailbox}")
    untagged, tagged = raw.command(f"MOVE 2 {target}")
    assert b" OK" in tagged, tagged
    text = b"".join(untagged) + tagged
    code = response_code(text, "COPYUID")
    assert code is not None and code.split()[1:] == ["2", "1"], text
    assert [line for line in untagged if b"EXPUNGE" in line] == [b"* 2 EXPUNGE\r\n"], untagged
    untagged, _ = raw.command(f"STATUS {target} (MESSAGES)")
    assert b"MESSAGES 1" in untagged[0]
    raw.command("CLOSE")
    raw.command(f"DELETE {target}")


def test_uid_move_with_imaplib_rfc6851_3(imap: ImapTarget, mailbox: str) -> None:
    conn = seeded(imap, mailbox, make_message("one"), make_message("two"))
    target = unique_name()
    conn.create(target)
    conn.untagged_responses.clear()
    typ, data = conn.uid("MOVE", "1:2", target)
    assert typ == "OK", data
    assert conn.untagged_responses.get("COPYUID"), conn.untagged_responses
    # Two EXPUNGEs, each numbered after the one before: "1 1" or "2 1".
    expunged = conn.untagged_responses.get("EXPUNGE")
    assert expunged in ([b"1", b"1"], [b"2", b"1"]), conn.untagged_responses
    conn.select(mailbox)
    assert conn.response("EXISTS")[1] == [b"0"]
    conn.delete(target)


def test_uid_copy_rfc9051_6_4_9(imap: ImapTarget, mailbox: str) -> None:
    conn = seeded(imap, mailbox, make_message(), make_message())
    target = unique_name()
    conn.create(target)
    conn.untagged_responses.clear()
    typ, data = conn.uid("COPY", "2", target)
    assert typ == "OK", data
    # imaplib files the tagged response's [COPYUID ...] code with the untagged responses.
    copyuid = conn.untagged_responses.get("COPYUID", [b""])[0]
    assert copyuid.split()[1:] == [b"2", b"1"], conn.untagged_responses
    conn.delete(target)


def test_move_to_missing_mailbox_is_no_trycreate_rfc6851(imap: ImapTarget, mailbox: str) -> None:
    conn = seeded(imap, mailbox, make_message())
    typ, data = run(conn, "MOVE", "1", unique_name("missing"))
    assert typ == "NO" and b"[TRYCREATE]" in data[0], data
    assert conn.select(mailbox)[1] == [b"1"]


# --- EXPUNGE / CLOSE / UNSELECT -------------------------------------------------------------


def test_expunge_removes_deleted_and_reports_sequence_numbers_rfc9051_6_4_3(
    imap: ImapTarget, mailbox: str
) -> None:
    conn = seeded(imap, mailbox, *(make_message(f"m{i}") for i in range(4)))
    conn.store("2,4", "+FLAGS.SILENT", "(\\Deleted)")
    typ, data = conn.expunge()
    assert typ == "OK"
    # Each EXPUNGE number counts after the previous removal: 4 first or 2 then 3.
    assert data in ([b"2", b"3"], [b"4", b"2"]), data
    uids = [items["UID"] for items in fetch_items(conn, "1:*", "(UID)").values()]
    assert uids == [1, 3]


def test_uid_expunge_only_removes_listed_uids_rfc4315_2_1(imap: ImapTarget, mailbox: str) -> None:
    conn = seeded(imap, mailbox, *(make_message(f"m{i}") for i in range(3)))
    conn.store("1:3", "+FLAGS.SILENT", "(\\Deleted)")
    typ, data = conn.uid("EXPUNGE", "2")
    assert typ == "OK", data
    uids = [items["UID"] for items in fetch_items(conn, "1:*", "(UID)").values()]
    assert uids == [1, 3]


def test_close_expunges_silently_rfc9051_6_4_1(imap: ImapTarget, mailbox: str) -> None:
    seeded(imap, mailbox, make_message(), make_message())
    raw = imap.raw()
    raw.command(f"SELECT {mailbox}")
    raw.command("STORE 1 +FLAGS.SILENT (\\Deleted)")
    untagged, tagged = raw.command("CLOSE")
    assert b" OK" in tagged and not any(b"EXPUNGE" in line for line in untagged), untagged
    untagged, _ = raw.command(f"STATUS {mailbox} (MESSAGES)")
    assert b"MESSAGES 1" in untagged[0], untagged
    _, tagged = raw.command("FETCH 1 FLAGS")
    assert b" BAD" in tagged, "CLOSE must leave the selected state"


def test_close_on_examined_mailbox_does_not_expunge_rfc9051_6_4_1(
    imap: ImapTarget, mailbox: str
) -> None:
    conn = seeded(imap, mailbox, make_message())
    conn.store("1", "+FLAGS.SILENT", "(\\Deleted)")
    conn.select(mailbox, readonly=True)
    assert conn.close()[0] == "OK"
    assert b"MESSAGES 1" in conn.status(mailbox, "(MESSAGES)")[1][0]


def test_unselect_does_not_expunge_rfc3691(imap: ImapTarget, mailbox: str) -> None:
    conn = seeded(imap, mailbox, make_message())
    conn.store("1", "+FLAGS.SILENT", "(\\Deleted)")
    assert conn.unselect()[0] == "OK"
    assert conn.state == "AUTH"
    assert b"MESSAGES 1" in conn.status(mailbox, "(MESSAGES)")[1][0]


def test_select_of_other_mailbox_does_not_expunge_rfc9051_6_3_2(
    imap: ImapTarget, mailbox: str
) -> None:
    conn = seeded(imap, mailbox, make_message())
    conn.store("1", "+FLAGS.SILENT", "(\\Deleted)")
    conn.select("INBOX", readonly=True)
    assert b"MESSAGES 1" in conn.status(mailbox, "(MESSAGES)")[1][0]


def test_expunge_in_examined_mailbox_removes_nothing_rfc9051_6_3_3(
    imap: ImapTarget, mailbox: str
) -> None:
    conn = seeded(imap, mailbox, make_message())
    conn.store("1", "+FLAGS.SILENT", "(\\Deleted)")
    conn.select(mailbox, readonly=True)
    # Dovecot answers OK and ignores it; NO is as good. Either way nothing goes.
    typ, data = run(conn, "EXPUNGE")
    assert typ in ("OK", "NO"), data
    assert b"MESSAGES 1" in conn.status(mailbox, "(MESSAGES)")[1][0]


def test_check_rfc3501_6_4_1(imap: ImapTarget, mailbox: str) -> None:
    conn = seeded(imap, mailbox, make_message())
    assert conn.check()[0] == "OK"
    safe_logout(conn)
