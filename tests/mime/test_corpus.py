"""Every corpus message: parsing is total, facts round-trip, sections slice exactly."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from tests.support.corpus import corpus_files

from tidings.core.mime import (
    BodyPart,
    MessageFacts,
    UnknownTransferEncoding,
    binary_section,
    parse_message,
    search_text,
    section_bytes,
)
from tidings.imap.proto.commands import Section
from tidings.imap.proto.fetch_encoding import encode_bodystructure, encode_envelope

CORPUS = corpus_files()


def balanced(data: bytes) -> bool:
    """Parentheses balance outside quoted strings and literals."""
    depth, i, quoted = 0, 0, False
    while i < len(data):
        c = data[i : i + 1]
        if quoted:
            if c == b"\\":
                i += 1
            elif c == b'"':
                quoted = False
        elif c == b'"':
            quoted = True
        elif c == b"{":
            end = data.index(b"}\r\n", i)
            i = end + 3 + int(data[i + 1 : end])
            continue
        elif c == b"(":
            depth += 1
        elif c == b")":
            depth -= 1
            if depth < 0:
                return False
        i += 1
    return depth == 0 and not quoted


def walk(part: BodyPart, path: tuple[int, ...] = ()):
    yield path, part
    if part.multipart:
        for i, child in enumerate(part.children, 1):
            yield from walk(child, (*path, i))
    elif part.rfc822 and part.message is not None:
        inner = part.message[1]
        if inner.multipart:
            for i, child in enumerate(inner.children, 1):
                yield from walk(child, (*path, i))


def test_corpus_present() -> None:
    assert len(CORPUS) >= 200


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_corpus_message(path: Path) -> None:
    raw = path.read_bytes()
    facts = parse_message(raw)
    assert facts.size == len(raw)
    assert MessageFacts.from_json(facts.to_json()) == facts
    assert balanced(encode_envelope(facts.envelope))
    assert balanced(encode_bodystructure(facts.body, True))
    assert balanced(encode_bodystructure(facts.body, False))
    header = section_bytes(raw, facts, Section((), "HEADER"))
    text = section_bytes(raw, facts, Section((), "TEXT"))
    assert header is not None and text is not None
    assert header + text == raw
    assert section_bytes(raw, facts, Section()) == raw
    fields = section_bytes(raw, facts, Section((), "HEADER.FIELDS", ("From", "Subject")))
    assert fields is not None and fields.endswith(b"\r\n")
    search_text(raw, facts, body_only=False)
    for part_path, part in walk(facts.body):
        assert 0 <= part.header_start <= part.body_start <= part.body_end <= len(raw)
        if not part_path:
            continue
        body = section_bytes(raw, facts, Section(part_path))
        mime = section_bytes(raw, facts, Section(part_path, "MIME"))
        assert body == raw[part.body_start : part.body_end]
        assert mime == raw[part.header_start : part.body_start]
        assert len(body) == part.size
        with contextlib.suppress(UnknownTransferEncoding):
            binary_section(raw, facts, part_path)
    one = section_bytes(raw, facts, Section((1,)))
    assert (one is None) == (facts.body.multipart and not facts.body.children)
