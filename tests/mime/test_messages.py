"""Hand-written messages for the MIME cases the corpus may miss (RFC 2045-2047, 2231)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.core.mime import (
    MessageFacts,
    UnknownTransferEncoding,
    binary_section,
    decode_words,
    decoded_header_values,
    decoded_param,
    header_fields,
    parse_message,
    search_text,
    section_bytes,
)
from tidings.imap.proto.commands import Section
from tidings.imap.proto.fetch_encoding import encode_bodystructure, encode_envelope

NESTED = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: Bob <bob@example.org>, undisclosed-recipients:;\r\n"
    b"Subject: =?UTF-8?B?SGVsbG8gV8O2cmxk?=\r\n"
    b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=outer\r\n"
    b"\r\n"
    b"preamble\r\n"
    b"--outer\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"caf=E9 au lait\r\n"
    b"--outer\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"From: carol@example.org\r\n"
    b"Subject: inner\r\n"
    b'Content-Type: multipart/alternative; boundary="inner"\r\n'
    b"\r\n"
    b"--inner\r\n"
    b"\r\n"
    b"plain inner\r\n"
    b"--inner\r\n"
    b"Content-Type: text/html\r\n"
    b"\r\n"
    b"<p>html</p>\r\n"
    b"--inner--\r\n"
    b"--outer\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Disposition: attachment;\r\n"
    b" filename*0*=utf-8''%E2%82%AC%20rates;\r\n"
    b' filename*1=".txt"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"aGVsbG8=\r\n"
    b"--outer--\r\n"
    b"epilogue\r\n"
)


def test_nested_structure_and_sections() -> None:
    facts = parse_message(NESTED)
    body = facts.body
    assert body.multipart and len(body.children) == 3
    _text, message, attachment = body.children
    assert section_bytes(NESTED, facts, Section((1,))) == b"caf=E9 au lait"
    assert binary_section(NESTED, facts, (1,)) == b"caf\xe9 au lait"
    assert section_bytes(NESTED, facts, Section((2, 1))) == b"plain inner"
    assert section_bytes(NESTED, facts, Section((2, 2))) == b"<p>html</p>"
    mime = section_bytes(NESTED, facts, Section((2, 2), "MIME"))
    assert mime == b"Content-Type: text/html\r\n\r\n"
    header = section_bytes(NESTED, facts, Section((2,), "HEADER"))
    assert header is not None and header.startswith(b"From: carol") and header.endswith(b"\r\n\r\n")
    fields = section_bytes(NESTED, facts, Section((2,), "HEADER.FIELDS", ("subject",)))
    assert fields == b"Subject: inner\r\n\r\n"
    assert section_bytes(NESTED, facts, Section((4,))) is None
    assert binary_section(NESTED, facts, (3,)) == b"hello"
    assert decoded_param(attachment.disposition_params, "filename") == "\u20ac rates.txt"
    assert attachment.disposition_params == (("filename*", "utf-8''%E2%82%AC%20rates.txt"),)
    assert message.message is not None and message.message[0].subject == "inner"
    structure = encode_bodystructure(body, True)
    assert structure.startswith(
        b'(("text" "plain" ("charset" "iso-8859-1") NIL NIL "quoted-printable" 14 0 NIL NIL '
        b"NIL NIL)"
    )
    assert b'("filename*" "utf-8\'\'%E2%82%AC%20rates.txt")' in structure
    assert structure.endswith(b' "mixed" ("boundary" "outer") NIL NIL NIL)')
    assert b'"message" "rfc822" NIL NIL NIL "7bit"' in structure
    assert b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 11 0' in structure


def test_envelope_encoding() -> None:
    facts = parse_message(NESTED)
    assert encode_envelope(facts.envelope) == (
        b'("Mon, 7 Feb 1994 21:52:25 -0800" "=?UTF-8?B?SGVsbG8gV8O2cmxk?=" '
        b'(("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) '
        b'(("Alice" NIL "alice" "example.org")) '
        b'(("Bob" NIL "bob" "example.org")(NIL NIL "undisclosed-recipients" NIL)'
        b"(NIL NIL NIL NIL)) NIL NIL NIL NIL)"
    )
    assert facts.sent_date is not None and facts.sent_date.utcoffset() is not None
    assert decoded_header_values(NESTED, facts, "SUBJECT") == ["Hello W\u00f6rld"]
    assert header_fields(NESTED, facts, ["to"])[0][0] == "To"
    text = search_text(NESTED, facts, body_only=True)
    assert "caf\u00e9 au lait" in text and "<p>html</p>" in text and "Hello" not in text
    assert "Hello W\u00f6rld" in search_text(NESTED, facts, body_only=False)


def test_rfc2047_words() -> None:
    assert decode_words("=?iso-8859-1?q?caf=E9_cr=E8me?=") == "caf\u00e9 cr\u00e8me"
    assert decode_words("=?utf-8?b?w6k=?= =?utf-8?b?w6k=?=") == "\u00e9\u00e9"
    assert decode_words("a =?utf-8?q?b?= c") == "a b c"
    assert decode_words(b"=?x-unknown?q?abc?=") == "abc"
    assert decode_words("=?utf-8?b?###?=") == "=?utf-8?b?###?="


def test_rfc3501_example_body() -> None:
    line = b"x" * 48 + b"\r\n"
    raw = (
        b"MIME-Version: 1.0\r\nContent-Type: MULTIPART/MIXED; BOUNDARY=b\r\n\r\n"
        b"--b\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\nContent-Transfer-Encoding: 7BIT\r\n"
        b"\r\n" + b"xx" + line * 23 + b"\r\n"
        b"--b\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME=cc.diff\r\n"
        b"Content-ID: <960723163407.20117h@cac.washington.edu>\r\n"
        b"Content-Description: Compiler diff\r\nContent-Transfer-Encoding: BASE64\r\n\r\n"
        + b"y" * 4554
        + b"\r\n--b--\r\n"
    )
    facts = parse_message(raw)
    first = facts.body.children[0]
    assert first.size == 1152 and first.lines == 23
    second = facts.body.children[1]
    assert second.size == 4554 and second.lines == 0
    assert encode_bodystructure(facts.body, False) == (
        b'(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)'
        b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") '
        b'"<960723163407.20117h@cac.washington.edu>" "Compiler diff" "BASE64" 4554 0) "MIXED")'
    )


def test_missing_content_type_and_no_mime_version() -> None:
    raw = b"Subject: x\r\nContent-Transfer-Encoding: base64\r\n\r\nhello\r\n"
    facts = parse_message(raw)
    # Without MIME-Version or Content-Type, Content-* are ignored (as Dovecot).
    assert encode_bodystructure(facts.body, True) == (
        b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 7 1 NIL NIL NIL NIL)'
    )


def test_missing_final_boundary_and_bare_lf() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain\n\n"
        b"one\n--zz\n\ntwo\n"
    )
    facts = parse_message(raw)
    assert [c.size for c in facts.body.children] == [3, 4]
    assert section_bytes(raw, facts, Section((2,))) == b"two\n"
    assert section_bytes(raw, facts, Section((1,), "MIME")) == b"Content-Type: text/plain\n\n"


def test_headers_only_and_empty() -> None:
    for raw in (b"", b"Subject: only a header", b"Subject: x\r\n", b"\r\n"):
        facts = parse_message(raw)
        header = section_bytes(raw, facts, Section((), "HEADER"))
        text = section_bytes(raw, facts, Section((), "TEXT"))
        assert header is not None and text is not None and header + text == raw
        assert MessageFacts.from_json(facts.to_json()) == facts
    facts = parse_message(b"")
    assert encode_envelope(facts.envelope) == b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
    assert facts.sent_date is None


def test_header_fields_not_and_folding() -> None:
    raw = b"A: 1\r\nSubject: folded\r\n  line\r\nB: 2\r\n\r\nbody"
    facts = parse_message(raw)
    assert section_bytes(raw, facts, Section((), "HEADER.FIELDS.NOT", ("a", "B"))) == (
        b"Subject: folded\r\n  line\r\n\r\n"
    )
    assert facts.envelope.subject == "folded\r\n  line"  # folding kept, as Dovecot's
    # Dovecot writes a subject it had to clean up as a literal.
    assert encode_envelope(facts.envelope).startswith(b"(NIL {11}\r\nfolded line NIL")


def test_addresses_dovecot_style() -> None:
    raw = (
        b"From: bbb@ddd.com (John X. Doe)\r\n"
        b'To: "Quoted, Name" <q@x.org>, broken, <@route:r@y.org>\r\n'
        b"Cc: =?utf-8?q?J=C3=B6rg?= <j@z.org>\r\n\r\n"
    )
    env = parse_message(raw).envelope
    assert [(a.name, a.mailbox, a.host) for a in env.from_] == [("John X. Doe", "bbb", "ddd.com")]
    assert [(a.name, a.route, a.mailbox, a.host) for a in env.to] == [
        ("Quoted, Name", None, "q", "x.org"),
        (None, None, "broken", "MISSING_DOMAIN"),
        (None, "@route", "r", "y.org"),
    ]
    assert env.cc[0].name == "=?utf-8?q?J=C3=B6rg?="


def test_unknown_transfer_encoding() -> None:
    raw = b"MIME-Version: 1.0\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbody"
    facts = parse_message(raw)
    try:
        binary_section(raw, facts, (1,))
    except UnknownTransferEncoding as error:
        assert error.encoding == "x-uuencode"
    else:
        raise AssertionError("expected UnknownTransferEncoding")


def test_8bit_and_literals() -> None:
    raw = 'Subject: caf\u00e9 "quoted"\r\nDate: Tue, 1 Jan 2030 00:00:00 +0000\r\n\r\n'.encode()
    facts = parse_message(raw)
    assert facts.sent_date == datetime(2030, 1, 1, tzinfo=UTC)
    envelope = encode_envelope(facts.envelope)
    assert b'{14}\r\ncaf\xc3\xa9 "quoted"' in envelope
    assert MessageFacts.from_json(facts.to_json()) == facts


SECTIONS = [
    Section(),
    Section((), "HEADER"),
    Section((), "TEXT"),
    Section((1,)),
    Section((1,), "MIME"),
    Section((2, 1)),
    Section((1,), "HEADER.FIELDS", ("subject",)),
    Section((1, 2), "HEADER.FIELDS.NOT", ("x",)),
]

MIME_ALPHABET = st.sampled_from(
    [
        b"--b\r\n",
        b"--b--\r\n",
        b"\r\n",
        b"\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n",
        b"Content-Type: message/rfc822\r\n",
        b"MIME-Version: 1.0\r\n",
        b" folded\r\n",
        b"x: y\r\n",
        b"=?utf-8?b?w6k=?=",
        b"\x00",
        b"\xff",
        b"(",
        b'"',
        b"<a@b>",
        b"From: ",
        b"text\r\n",
    ]
)


def _exercise(raw: bytes) -> None:
    facts = parse_message(raw)
    assert MessageFacts.from_json(facts.to_json()) == facts
    encode_envelope(facts.envelope)
    encode_bodystructure(facts.body, True)
    encode_bodystructure(facts.body, False)
    for section in SECTIONS:
        section_bytes(raw, facts, section)
    search_text(raw, facts, body_only=False)
    with contextlib.suppress(UnknownTransferEncoding):
        binary_section(raw, facts, (1,))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    _exercise(raw)


@settings(max_examples=300, deadline=None)
@given(st.lists(MIME_ALPHABET, max_size=60).map(b"".join))
def test_mime_shaped_bytes_never_raise(raw: bytes) -> None:
    _exercise(raw)
