"""Header and body text for SEARCH and SORT (RFC 9051 §6.4.4), read from the raw bytes with
the stored offsets: decoded (RFC 2047 words, transfer encodings, charsets) and unfolded."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from tidings.core.mime.facts import BodyPart, MessageFacts
from tidings.core.mime.headers import decode_words, header_block_fields, unfold
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


def _charset(part: BodyPart) -> str:
    for key, value in part.params:
        if key.lower() == "charset":
            return value.strip() or "us-ascii"
    return "us-ascii"


def _decode_text(data: bytes, charset: str) -> str:
    try:
        return data.decode(charset, "replace")
    except (LookupError, ValueError, TypeError):
        # Unknown charsets: UTF-8 is the best guess for mail written this century.
        return data.decode("utf-8", "replace")


def _text_parts(raw: bytes, part: BodyPart, headers: bool) -> Iterator[str]:
    # The header of `part` itself is the caller's business (the top-level header, or a
    # MIME header yielded by the parent below).
    if part.multipart:
        for child in part.children:
            if headers:
                yield _headers_text(raw, child)
            yield from _text_parts(raw, child, headers)
    elif part.rfc822 and part.message is not None:
        inner = part.message[1]
        if headers:
            yield _headers_text(raw, inner)
        yield from _text_parts(raw, inner, headers)
    elif part.text:
        try:
            data = decode_body(raw[part.body_start : part.body_end], part.encoding)
        except UnknownTransferEncoding:
            data = raw[part.body_start : part.body_end]
        yield _decode_text(data, _charset(part))


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
    each attached message's header, RFC 2047 words decoded."""
    headers = not body_only
    chunks = list(_text_parts(raw, facts.body, headers))
    if headers:
        chunks.insert(0, _headers_text(raw, facts.body))
    return "\n".join(chunks)


def decoded_param(params: tuple[tuple[str, str], ...], name: str) -> str | None:
    """A parameter value with RFC 2231 §4 charset/percent decoding undone (BodyPart keeps
    Dovecot's merged `name*` form for BODYSTRUCTURE), None if absent."""
    lname = name.lower()
    for key, value in params:
        if key.lower() == lname:
            return decode_words(value)
        if key.lower() == lname + "*":
            charset, _, rest = value.partition("'")
            _, _, encoded = rest.partition("'")
            data = _percent_decode(encoded if rest else value)
            return _decode_text(data, charset or "us-ascii")
    return None


def _percent_decode(text: str) -> bytes:
    out = bytearray()
    data = text.encode("utf-8", "surrogateescape")
    i = 0
    while i < len(data):
        if data[i] == 0x25 and _is_hex(data[i + 1 : i + 3]):
            out.append(int(data[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(data[i])
            i += 1
    return bytes(out)


def _is_hex(pair: bytes) -> bool:
    return len(pair) == 2 and all(c in b"0123456789abcdefABCDEF" for c in pair)


__all__ = ["decoded_header_values", "decoded_param", "header_fields", "search_text"]
