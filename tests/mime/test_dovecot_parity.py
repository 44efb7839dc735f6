"""MIME parsing and FETCH answers that the corpus differential against Dovecot pinned down
(tests/differential): one test per difference found, each with a minimal message."""

from __future__ import annotations

from tidings.core.mime import find_part, parse_message, section_bytes
from tidings.core.mime.rfc822 import Address
from tidings.imap.proto import commands as c
from tidings.imap.proto.fetch_encoding import encode_bodystructure, encode_envelope
from tidings.imap.session.handlers.fetch import encode_section_item


def _addr(mailbox: str) -> Address:
    return Address(None, None, mailbox, "example.org")


def test_envelope_joins_repeated_address_fields_last_string_wins() -> None:
    # Corpus 021.eml (Cc:, CC:, cc:) and 026.eml (two To:); Dovecot's
    # message_part_envelope_parse_from_header appends address lists, replaces strings.
    raw = (
        b"From: a1@example.org\r\nFrom: a2@example.org\r\n"
        b"To: \r\nTo: t2@example.org\r\n"
        b"Cc: c1@example.org\r\nCC: c2@example.org, c3@example.org\r\ncc: c4@example.org\r\n"
        b"Subject: first\r\nSubject: second\r\n"
        b"Message-ID: <one@x>\r\nMessage-ID: <two@x>\r\n\r\nbody\r\n"
    )
    envelope = parse_message(raw).envelope
    assert envelope.from_ == (_addr("a1"), _addr("a2"))
    assert envelope.to == (_addr("t2"),)
    assert envelope.cc == tuple(_addr(f"c{i}") for i in range(1, 5))
    assert envelope.subject == "second"
    assert envelope.message_id == "<two@x>"


DIGEST = (
    b'MIME-Version: 1.0\r\nContent-Type: multipart/digest; boundary="__--__--"\r\n\r\n'
    b"--__--__--\r\n\r\nFrom: a@example.org\r\nSubject: one\r\n\r\nhello\r\n\r\n"
    b"--__--__--\r\n\r\nFrom: b@example.org\r\nSubject: two\r\n\r\nworld\r\n\r\n"
    b"--__--__----\r\n\r\nepilogue\r\n"
)


def test_boundary_ending_in_dashes_is_a_delimiter() -> None:
    # Corpus 002.eml (Mailman digest): with boundary "__--__--", "--__--__--" is a
    # delimiter line and "--__--__----" the close delimiter (RFC 2046 §5.1.1); the parts
    # of a digest default to message/rfc822 (RFC 2046 §5.1.5).
    body = parse_message(DIGEST).body
    assert body.multipart and len(body.children) == 2
    first, second = body.children
    assert first.rfc822 and second.rfc822
    assert first.message is not None and first.message[0].subject == "one"
    assert DIGEST[first.body_start : first.body_end].endswith(b"hello\r\n")
    assert DIGEST[second.body_start : second.body_end].endswith(b"world\r\n")
    assert encode_bodystructure(body, extensible=True).startswith(
        b'(("message" "rfc822" NIL NIL NIL "7bit" '
    )


def test_suffix_stripped_match_still_preferred() -> None:
    # "--x--" closes boundary "x" even when no boundary "x--" exists: the usual close.
    raw = (
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\none\r\n--x--\r\nepilogue\r\n"
    )
    body = parse_message(raw).body
    assert len(body.children) == 1
    assert raw[body.children[0].body_start : body.children[0].body_end] == b"one"


CUT_HEADER = (
    b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="AAA"\r\n\r\n'
    b'--AAA\r\nContent-Type: multipart/mixed; boundary="BBB"\r\n\r\n'
    b"--BBB\r\nContent-Type: text/plain\r\n\r\ntext one\r\n"
    b"--BBB \r\nnot a header\r\n"
    b"--AAA \r\nContent-Type: text/plain\r\n\r\nsecond\r\n--AAA--\r\n"
)


def test_header_cut_by_ancestor_boundary_gives_newline_to_parent() -> None:
    # Corpus 039.eml: part 1.2's header "not a header" is cut by the outer boundary line.
    # Dovecot moves the newline ending that header line into the parent's (part 1's)
    # body, so BODY[1] ends with it, while BODY[1.2.MIME] and part 1.1 do not.
    facts = parse_message(CUT_HEADER)
    part1 = section_bytes(CUT_HEADER, facts, c.Section((1,)))
    assert part1 is not None and part1.endswith(b"--BBB \r\nnot a header\r\n")
    mime = section_bytes(CUT_HEADER, facts, c.Section((1, 2), specifier="MIME"))
    assert mime == b"not a header"
    assert section_bytes(CUT_HEADER, facts, c.Section((1, 1))) == b"text one"
    assert section_bytes(CUT_HEADER, facts, c.Section((2,))) == b"second"


def test_unclosed_inner_part_ends_before_newline() -> None:
    # Without a cut header the newline before the ancestor's boundary belongs to that
    # boundary (RFC 2046 §5.1.1), in every part it closes (checked against Dovecot).
    raw = CUT_HEADER.replace(b"--BBB \r\nnot a header\r\n", b"")
    facts = parse_message(raw)
    assert section_bytes(raw, facts, c.Section((1,))) == (
        b"--BBB\r\nContent-Type: text/plain\r\n\r\ntext one"
    )


EMPTY_MULTIPART = b"Content-Type: multipart/mixed; boundary=zz\r\n\r\nno parts here\r\n"


def test_missing_part_is_an_empty_string() -> None:
    # Corpus 018/026/032/034/042 (BODY[1] of a multipart without parts) and 043
    # (BODY[2.1]): Dovecot answers an empty string and BINARY.SIZE 0, never NIL.
    facts = parse_message(EMPTY_MULTIPART)
    assert find_part(facts.body, (1,)) is None
    assert section_bytes(EMPTY_MULTIPART, facts, c.Section((1,))) is None  # core: "no part"
    body = c.FetchSection(section=c.Section((1,)), peek=True)
    assert encode_section_item(body, EMPTY_MULTIPART, facts) == b"BODY[1] {0}\r\n"
    partial = c.FetchSection(section=c.Section((2, 1)), peek=True, partial=(0, 10))
    assert encode_section_item(partial, EMPTY_MULTIPART, facts) == b"BODY[2.1]<0> {0}\r\n"
    binary = c.FetchSection(section=c.Section((1,)), peek=True, binary=True)
    assert encode_section_item(binary, EMPTY_MULTIPART, facts) == b"BINARY[1] {0}\r\n"
    size = c.FetchBinarySize(part=(1,))
    assert encode_section_item(size, EMPTY_MULTIPART, facts) == b"BINARY.SIZE[1] 0"


def test_binary_size_of_a_multipart_is_its_binary_length() -> None:
    # Deviation D4 (tests/differential/DEVIATIONS.md): Dovecot refuses BINARY.SIZE of a
    # multipart part (NO [PARSE]) though it serves its BINARY; we answer the length of
    # what BINARY returns, as RFC 3516 §4.2 defines BINARY.SIZE.
    facts = parse_message(CUT_HEADER)
    binary = encode_section_item(
        c.FetchSection(section=c.Section((1,)), peek=True, binary=True), CUT_HEADER, facts
    )
    size = encode_section_item(c.FetchBinarySize(part=(1,)), CUT_HEADER, facts)
    part1 = section_bytes(CUT_HEADER, facts, c.Section((1,)))
    assert part1 is not None
    assert size == b"BINARY.SIZE[1] %d" % len(part1)
    assert binary == b"BINARY[1] {%d}\r\n" % len(part1) + part1


def test_folded_subject_goes_out_as_collapsed_literal() -> None:
    # Corpus 058.eml and 25 more: Dovecot's imap_append_string_for_humans sees the folding
    # line break of a Subject and sends it as a literal, whitespace collapsed; an unfolded
    # subject with single spaces stays quoted.
    folded = parse_message(b"Subject: Thread quick\r\n regards\r\n\r\nbody\r\n").envelope
    assert folded.subject == "Thread quick\r\n regards"
    assert encode_envelope(folded).startswith(b"(NIL {20}\r\nThread quick regards ")
    plain = parse_message(b"Subject: Thread quick regards\r\n\r\nbody\r\n").envelope
    assert encode_envelope(plain).startswith(b'(NIL "Thread quick regards" ')
