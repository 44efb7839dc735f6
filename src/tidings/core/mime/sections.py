"""Byte-exact FETCH sections (RFC 9051 §6.4.5) and BINARY decoding (RFC 3516) from the
stored facts: only slicing and header-block scanning, never a MIME re-parse."""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING

from tidings.core.mime.facts import BodyPart, MessageFacts
from tidings.core.mime.headers import header_block_fields

if TYPE_CHECKING:
    from tidings.imap.proto.commands import Section


class UnknownTransferEncoding(ValueError):
    """BINARY of a part whose Content-Transfer-Encoding we cannot decode (RFC 3516 §4.3:
    the server answers NO [UNKNOWN-CTE])."""

    def __init__(self, encoding: str) -> None:
        super().__init__(f"unknown content-transfer-encoding: {encoding}")
        self.encoding = encoding


def find_part(body: BodyPart, path: tuple[int, ...]) -> BodyPart | None:
    """The part numbered `path` (RFC 9051 §6.4.5 section-part), None if there is none.

    Numbers index the children of a multipart; inside a message/rfc822 part they index its
    embedded message; a non-multipart entity has only part 1, itself (so BODY[1] of a
    single-part message is its body), as Dovecot's imap_msgpart_find does."""
    part = body
    for number in path:
        if number < 1:
            return None
        if part.rfc822 and part.message is not None and part is not body:
            part = part.message[1]
        if part.multipart:
            if number > len(part.children):
                return None
            part = part.children[number - 1]
        elif number != 1:
            return None
    return part


def _message_of(body: BodyPart, part: BodyPart, path: tuple[int, ...]) -> BodyPart:
    # HEADER/TEXT of a part address the message/rfc822 it embeds (RFC 9051 §6.4.5).
    if path and part.rfc822 and part.message is not None:
        return part.message[1]
    return part


def _fields_bytes(raw: bytes, entity: BodyPart, names: tuple[str, ...], keep: bool) -> bytes:
    wanted = {name.lower() for name in names}
    out = []
    for field in header_block_fields(raw, entity.header_start, entity.body_start):
        if (field.name.lower() in wanted) == keep:
            chunk = raw[field.start : field.end]
            if not chunk.endswith(b"\n"):
                chunk += b"\r\n"  # a last field cut at EOF still ends its line
            out.append(chunk)
    out.append(b"\r\n")  # the blank line that ends a header (RFC 9051 §6.4.5)
    return b"".join(out)


def section_bytes(raw: bytes, facts: MessageFacts, section: Section) -> bytes | None:
    """The octets of BODY[section] (RFC 9051 §6.4.5), None when the part does not exist."""
    part = find_part(facts.body, section.part)
    if part is None:
        return None
    spec = (section.specifier or "").upper()
    if spec == "":
        if not section.part:
            return raw
        return raw[part.body_start : part.body_end]
    if spec == "MIME":
        # The MIME header of the part itself (for the top level, the message header).
        return raw[part.header_start : part.body_start]
    entity = _message_of(facts.body, part, section.part)
    if spec == "HEADER":
        return raw[entity.header_start : entity.body_start]
    if spec == "TEXT":
        return raw[entity.body_start : entity.body_end]
    if spec == "HEADER.FIELDS":
        return _fields_bytes(raw, entity, section.fields, keep=True)
    if spec == "HEADER.FIELDS.NOT":
        return _fields_bytes(raw, entity, section.fields, keep=False)
    return None


_PASSTHROUGH = frozenset({"7bit", "8bit", "binary"})
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


def decode_body(data: bytes, encoding: str | None) -> bytes:
    """Undo a Content-Transfer-Encoding (RFC 2045 §6): base64 and quoted-printable
    leniently (garbage skipped), identity for 7bit/8bit/binary/absent."""
    name = (encoding or "7bit").lower()
    if name in _PASSTHROUGH:
        return data
    if name == "base64":
        # RFC 2045 §6.8: characters outside the alphabet are ignored; stop at padding.
        text = _NOT_BASE64.sub(b"", data.split(b"=", 1)[0])
        text = text[: len(text) - len(text) % 4] if len(text) % 4 == 1 else text
        try:
            return base64.b64decode(text + b"=" * (-len(text) % 4))
        except (binascii.Error, ValueError):  # pragma: no cover - input is sanitised
            return b""
    if name == "quoted-printable":
        return binascii.a2b_qp(data)  # RFC 2045 §6.7, soft line breaks included
    raise UnknownTransferEncoding(name)


def binary_section(raw: bytes, facts: MessageFacts, part: tuple[int, ...]) -> bytes | None:
    """BINARY[part] (RFC 3516 §4.2): the part's body with its transfer encoding undone.

    The whole message (empty `part`) and multipart/message parts are returned as stored.
    Raises UnknownTransferEncoding for encodings other than base64, quoted-printable,
    7bit, 8bit and binary."""
    if not part:
        return raw
    found = find_part(facts.body, part)
    if found is None:
        return None
    data = raw[found.body_start : found.body_end]
    if found.multipart or found.rfc822:
        return data
    return decode_body(data, found.encoding)
