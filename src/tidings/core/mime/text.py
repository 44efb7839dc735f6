"""Header and body text for SEARCH and SORT (RFC 9051 §6.4.4), read from the raw bytes with
the stored offsets: decoded (RFC 2047 words, transfer encodings, charsets) and unfolded."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from tidings.core.mime.attachments import attachment_search_text, find_attachments
from tidings.core.mime.facts import BodyPart, MessageFacts
from tidings.core.mime.headers import REPLACEMENT, decode_words, header_block_fields, unfold
from tidings.core.mime.params import decode_charset, part_charset
from tidings.core.mime.sections import UnknownTransferEncoding, decode_body


def header_fields(
    raw: bytes, facts: MessageFacts, names: Iterable[str] = ()
) -> list[tuple[str, str]]:
    """(name, unfolded raw value) of the top-level header fields named `names` (all fields
    when empty), in message order; names match case-insensitively."""
    wanted = {name.lower() for name in names}
    return [
        (field.name, unfold(field.value))
        for field in header_block_fields(raw, facts.body.header_start, facts.body.body_start)
        if field.value is not None and (not wanted or field.name.lower() in wanted)
    ]


def decoded_header_values(raw: bytes, facts: MessageFacts, name: str) -> list[str]:
    """Every value of the top-level field `name`, unfolded, RFC 2047 words decoded."""
    return [decode_words(value) for _, value in header_fields(raw, facts, (name,))]


def _chunks(raw: bytes, part: BodyPart) -> Iterator[tuple[bool, str]]:
    # (is a header, text) of everything below `part` in message order: each child's MIME
    # header and each attached message's header, and the decoded body of each text part.
    # The header of `part` itself is the caller's business (the top-level header, or a
    # MIME header yielded by the parent below).
    if part.multipart:
        for child in part.children:
            yield True, _headers_text(raw, child)
            yield from _chunks(raw, child)
    elif part.rfc822 and part.message is not None:
        inner = part.message[1]
        yield True, _headers_text(raw, inner)
        yield from _chunks(raw, inner)
    elif part.text:
        try:
            data = decode_body(raw[part.body_start : part.body_end], part.encoding)
        except UnknownTransferEncoding:
            data = raw[part.body_start : part.body_end]
        yield False, decode_charset(data, part_charset(part))


def _headers_text(raw: bytes, entity: BodyPart) -> str:
    lines = []
    for field in header_block_fields(raw, entity.header_start, entity.body_start):
        if field.value is not None:
            lines.append(f"{field.name}: {decode_words(unfold(field.value))}")
    return "\n".join(lines)


def search_text(raw: bytes, facts: MessageFacts, body_only: bool) -> str:
    """Decoded text for BODY (body_only) and TEXT searches (RFC 9051 §6.4.4), as Dovecot
    searches them: BODY looks only at the bodies of text/* parts, embedded messages'
    included, decoded by transfer encoding and charset; no header at any level (not the
    MIME headers of parts nor the headers of attached messages: they are not "the body
    of the message"). TEXT adds every header: the message's, each part's MIME header and
    each attached message's header, RFC 2047 words decoded.

    Both also match the attachments' file names (RFC 2231 and RFC 2047 decoded) and content
    types (issue 9: a search for "invoice.pdf" finds the message whose attachment is called
    so however the name was encoded). Dovecot's BODY does not; RFC 9051 §6.4.4 leaves what
    "the body" holds to the server. Facts stored before attachments were recorded have
    them detected here, from the raw message."""
    headers = not body_only
    chunks = [text for is_header, text in _chunks(raw, facts.body) if headers or not is_header]
    if headers:
        chunks.insert(0, _headers_text(raw, facts.body))
    chunks.extend(_attachment_chunk(raw, facts))
    return "\n".join(chunks)


def _attachment_chunk(raw: bytes, facts: MessageFacts) -> list[str]:
    attachments = facts.attachments
    if attachments is None:
        attachments = find_attachments(raw, facts)
    return [attachment_search_text(attachments)] if attachments else []


def index_texts(raw: bytes, facts: MessageFacts) -> tuple[str, str]:
    """The two case-folded texts a full-text index keeps of a message, (headers, body),
    such that for a folded needle without a line break: BODY matches (see search_text)
    if and only if the needle is in `body`, and TEXT if and only if it is in either.

    That holds because search_text joins its chunks with "\n": a needle without one lies
    inside a single chunk, and every chunk of TEXT is a header chunk (in `headers`) or a
    chunk of BODY. Case folding maps each character on its own, so folding the joined
    text is joining the folded chunks. And `headers` holds each top-level field as
    "name: value", the value decoded as decoded_header_values gives it, so a SEARCH HEADER
    string found in a field is found in `headers` too."""
    headers = [_headers_text(raw, facts.body)]
    body: list[str] = []
    for is_header, text in _chunks(raw, facts.body):
        (headers if is_header else body).append(text)
    body.extend(_attachment_chunk(raw, facts))
    return storable("\n".join(headers).casefold()), storable("\n".join(body).casefold())


_UNDECODED = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` with each octet that was not UTF-8 (a lone surrogate, from surrogateescape)
    as U+FFFD, so that it can be stored (UTF-8 has no surrogates). A search string is
    never a surrogate, so no match is lost; one holding U+FFFD is left to reading the
    message (text_index.searchable), where the octet is still itself."""
    return _UNDECODED.sub(REPLACEMENT, text)


__all__ = ["decoded_header_values", "header_fields", "index_texts", "search_text", "storable"]
