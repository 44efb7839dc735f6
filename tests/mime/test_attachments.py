"""Attachment detection (core/mime/attachments.py) over hand-written MIME, no I/O: which
parts are attachments, their decoded file names (RFC 2231, RFC 2047), the keyword rule for
stored flags, the facts' JSON and the SEARCH text."""

from __future__ import annotations

import base64
import json
import zlib

import pytest

from tidings.core.mime import (
    HAS_ATTACHMENT,
    HAS_NO_ATTACHMENT,
    Attachment,
    MessageFacts,
    attachment_keyword_pair,
    find_attachments,
    parse_message,
    search_text,
    with_attachment_keyword,
)
from tidings.storage.sqlite import blobs


def mime(*parts: bytes, subtype: str = "mixed", boundary: str = "b1") -> bytes:
    """A multipart message of `parts` (each a MIME header block, blank line and body)."""
    lines = [
        b"From: a@example.test\r\nSubject: test\r\nMIME-Version: 1.0\r\n",
        f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode(),
    ]
    for part in parts:
        lines.append(f"--{boundary}\r\n".encode() + part + b"\r\n")
    lines.append(f"--{boundary}--\r\n".encode())
    return b"".join(lines)


TEXT = b"Content-Type: text/plain\r\n\r\nSee the attached file.\r\n"
PDF_BODY = b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"


def attachments(raw: bytes) -> tuple[Attachment, ...]:
    facts = parse_message(raw)
    assert facts.attachments == find_attachments(raw, facts)  # parse_message records them
    return facts.attachments or ()


def test_disposition_attachment_is_one_whatever_the_type() -> None:
    raw = mime(
        TEXT,
        b"Content-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="invoice.pdf"\r\n' + PDF_BODY,
    )
    assert attachments(raw) == (Attachment("invoice.pdf", "application/pdf"),)


def test_text_plain_with_disposition_attachment_counts() -> None:
    raw = mime(
        TEXT,
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b'Content-Disposition: attachment; filename="notes.txt"\r\n\r\nsome notes\r\n',
    )
    assert attachments(raw) == (Attachment("notes.txt", "text/plain"),)


def test_attachment_disposition_without_a_name_still_counts() -> None:
    raw = mime(
        TEXT,
        b"Content-Type: application/octet-stream\r\nContent-Disposition: attachment\r\n\r\nxx\r\n",
    )
    assert attachments(raw) == (Attachment("", "application/octet-stream"),)


def test_pdf_named_only_by_content_type_name() -> None:
    raw = mime(TEXT, b'Content-Type: application/pdf; name="report.pdf"\r\n' + PDF_BODY)
    assert attachments(raw) == (Attachment("report.pdf", "application/pdf"),)


def test_a_single_part_pdf_message_is_an_attachment() -> None:
    raw = (
        b"From: a@example.test\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: application/pdf; name="scan.pdf"\r\n' + PDF_BODY
    )
    assert attachments(raw) == (Attachment("scan.pdf", "application/pdf"),)


def test_non_text_part_without_a_name_is_not() -> None:
    raw = mime(TEXT, b"Content-Type: application/octet-stream\r\n\r\nxx\r\n")
    assert attachments(raw) == ()


def test_inline_text_with_a_file_name_is_body_text() -> None:
    # Dovecot counts it (inline + filename); the rule here keeps text shown in place out.
    raw = mime(
        b'Content-Type: text/plain\r\nContent-Disposition: inline; filename="msg.txt"\r\n\r\nhi\r\n'
    )
    assert attachments(raw) == ()


HTML_WITH_IMAGE = (
    b"Content-Type: text/html; charset=utf-8\r\n\r\n"
    b'<p>Logo: <img src="cid:logo.123@example.test"></p>\r\n'
)
IMAGE = (
    b'Content-Type: image/png; name="logo.png"\r\n'
    b"Content-ID: <logo.123@example.test>\r\n"
    b'Content-Disposition: inline; filename="logo.png"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
)


def test_inline_image_of_multipart_related_is_not() -> None:
    related = mime(HTML_WITH_IMAGE, IMAGE, subtype="related", boundary="r1")
    body = related[related.index(b"Content-Type: multipart/related") :]
    raw = mime(b"Content-Type: text/plain\r\n\r\nplain version\r\n", body, subtype="alternative")
    assert attachments(raw) == ()


def test_attachment_disposition_inside_related_still_counts() -> None:
    part = IMAGE.replace(b"inline;", b"attachment;")
    raw = mime(HTML_WITH_IMAGE, part, subtype="related")
    assert attachments(raw) == (Attachment("logo.png", "image/png"),)


def test_inline_image_referenced_by_cid_outside_related_is_not() -> None:
    assert attachments(mime(HTML_WITH_IMAGE, IMAGE)) == ()


def test_inline_image_not_referenced_by_the_html_is_one() -> None:
    html = b"Content-Type: text/html\r\n\r\n<p>no pictures here</p>\r\n"
    assert attachments(mime(html, IMAGE)) == (Attachment("logo.png", "image/png"),)


def test_cid_reference_in_base64_html_and_percent_encoded() -> None:
    html = b'<img src="CID:logo.123%40example.test">'
    part = (
        b"Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(html)
        + b"\r\n"
    )
    assert attachments(mime(part, IMAGE)) == ()


def test_message_external_body_is_not() -> None:
    part = (
        b'Content-Type: message/external-body; access-type="anon-ftp"; name="draft.txt";'
        b' site="ftp.example.test"\r\n\r\nContent-Type: text/plain\r\n\r\n'
    )
    assert attachments(mime(TEXT, part)) == ()


FORWARDED = (
    b"From: b@example.test\r\nSubject: inner\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="inner"\r\n\r\n'
    b"--inner\r\nContent-Type: text/plain\r\n\r\ninner text\r\n"
    b"--inner\r\nContent-Type: application/zip\r\n"
    b'Content-Disposition: attachment; filename="data.zip"\r\n\r\nPK\r\n'
    b"--inner--\r\n"
)


def test_attachment_of_a_forwarded_message_counts() -> None:
    raw = mime(TEXT, b"Content-Type: message/rfc822\r\n\r\n" + FORWARDED)
    assert attachments(raw) == (Attachment("data.zip", "application/zip"),)


def test_forwarded_message_as_attachment() -> None:
    plain = FORWARDED.replace(b"multipart/mixed", b"text/plain")
    raw = mime(
        TEXT,
        b"Content-Type: message/rfc822\r\n"
        b'Content-Disposition: attachment; filename="fwd.eml"\r\n\r\n' + plain,
    )
    assert attachments(raw) == (Attachment("fwd.eml", "message/rfc822"),)


def test_inline_forwarded_message_without_attachments_is_not() -> None:
    plain = FORWARDED.replace(b"multipart/mixed", b"text/plain")
    assert attachments(mime(TEXT, b"Content-Type: message/rfc822\r\n\r\n" + plain)) == ()


@pytest.mark.parametrize(
    ("header", "name"),
    [
        # RFC 2231 §4 charset and percent-encoding
        (b"Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf", "résumé.pdf"),
        # RFC 2231 §3 continuations, §4.1 with charsets on the first segment only
        (
            b"Content-Disposition: attachment;\r\n filename*0*=utf-8''%E5%A0%B1%E5%91%8A;\r\n"
            b' filename*1="-2024.pdf"',
            "報告-2024.pdf",
        ),
        (
            b'Content-Disposition: attachment; filename*0="in"; filename*1="voice.pdf"',
            "invoice.pdf",
        ),
        # RFC 2231 in an ISO-8859-1 charset, with a language
        (
            b"Content-Disposition: attachment; filename*=iso-8859-1'de'%DCbersicht.pdf",
            "Übersicht.pdf",
        ),
        # RFC 2047 words in a quoted value (not standard, but what many mailers write)
        (
            b'Content-Disposition: attachment; filename="=?UTF-8?B?w5xiZXJzaWNodC5wZGY=?="',
            "Übersicht.pdf",
        ),
        (
            b'Content-Disposition: attachment; filename="=?iso-8859-1?q?r=E9sum=E9.pdf?="',
            "résumé.pdf",
        ),
        # The `*` form wins over the plain fallback beside it
        (
            b'Content-Disposition: attachment; filename="resume.pdf";'
            b" filename*=utf-8''r%C3%A9sum%C3%A9.pdf",
            "résumé.pdf",
        ),
        # Content-Type name, RFC 2047 encoded, when the disposition names nothing
        (b"Content-Disposition: attachment", "Übersicht.pdf"),
    ],
)
def test_file_names_are_decoded(header: bytes, name: str) -> None:
    part = (
        b'Content-Type: application/pdf; name="=?utf-8?q?=C3=9Cbersicht.pdf?="\r\n'
        + header
        + b"\r\n"
        + PDF_BODY
    )
    assert attachments(mime(TEXT, part)) == (Attachment(name, "application/pdf"),)


def test_plain_message_has_none() -> None:
    assert attachments(b"From: a@example.test\r\nSubject: hi\r\n\r\nJust text.\r\n") == ()


@pytest.mark.parametrize(
    ("given", "has_attachment", "stored"),
    [
        ((), True, (HAS_ATTACHMENT,)),
        (("\\Seen", "$Work"), False, ("\\Seen", "$Work", HAS_NO_ATTACHMENT)),
        # the client's explicit choice is kept, whatever the detection says
        (("$HasAttachment",), False, ("$HasAttachment",)),
        (("$hasnoattachment", "\\Flagged"), True, ("$hasnoattachment", "\\Flagged")),
        # both given: exactly one is stored, the detected one
        (("$HasAttachment", "$HasNoAttachment", "x"), False, ("x", HAS_NO_ATTACHMENT)),
    ],
)
def test_with_attachment_keyword(
    given: tuple[str, ...], has_attachment: bool, stored: tuple[str, ...]
) -> None:
    assert with_attachment_keyword(given, has_attachment) == stored


def test_attachment_keyword_pair() -> None:
    assert attachment_keyword_pair({"$Work"}) == {"$Work"}
    assert attachment_keyword_pair({"$Work", HAS_NO_ATTACHMENT}) == {
        "$Work",
        HAS_ATTACHMENT,
        HAS_NO_ATTACHMENT,
    }
    # a mailbox's own spelling stays, the missing one is added once
    assert attachment_keyword_pair({"$hasattachment"}) == {"$hasattachment", HAS_NO_ATTACHMENT}


ENCODED = mime(
    TEXT,
    b"Content-Type: application/pdf\r\n"
    b"Content-Disposition: attachment; filename*=utf-8''Rechnung-%C3%9C-invoice.pdf\r\n" + PDF_BODY,
)


def test_search_text_has_file_names_and_types_in_body_and_text() -> None:
    facts = parse_message(ENCODED)
    for body_only in (True, False):
        text = search_text(ENCODED, facts, body_only)
        assert "Rechnung-Ü-invoice.pdf" in text
        assert "application/pdf" in text


def test_facts_json_round_trip_keeps_attachments() -> None:
    facts = parse_message(ENCODED)
    assert facts.attachments
    assert MessageFacts.from_json(facts.to_json()) == facts
    assert (
        MessageFacts.from_json(parse_message(b"Subject: x\r\n\r\ny\r\n").to_json()).attachments
        == ()
    )


def test_facts_stored_before_attachments_existed_still_search() -> None:
    """Version 2 facts (no "attachments" key) read as None; SEARCH then detects them from
    the raw message, so an old blob finds its file names too."""
    data = json.loads(parse_message(ENCODED).to_json())
    del data["attachments"]
    data["v"] = 2
    old = blobs.load_facts(zlib.compress(json.dumps(data).encode()))
    assert old.attachments is None
    assert "Rechnung-Ü-invoice.pdf" in search_text(ENCODED, old, body_only=True)


def test_prepare_says_whether_there_is_an_attachment() -> None:
    assert blobs.prepare(ENCODED).has_attachment
    assert not blobs.prepare(b"Subject: x\r\n\r\ny\r\n").has_attachment
