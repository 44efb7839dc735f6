"""Message facts: parse once at APPEND, then serve FETCH and SEARCH from offsets.

Stdlib only, no I/O, no IMAP knowledge (DESIGN.md "Layers": core).
"""

from tidings.core.mime.attachments import (
    HAS_ATTACHMENT,
    HAS_NO_ATTACHMENT,
    attachment_keyword_pair,
    find_attachments,
    with_attachment_keyword,
)
from tidings.core.mime.facts import Attachment, BodyPart, Envelope, MessageFacts
from tidings.core.mime.headers import decode_words
from tidings.core.mime.params import decoded_param
from tidings.core.mime.parser import parse_date, parse_message, with_derived_text
from tidings.core.mime.preview import PREVIEW_MAX_CHARS, message_preview
from tidings.core.mime.rfc822 import Address
from tidings.core.mime.sections import (
    UnknownTransferEncoding,
    binary_section,
    decode_body,
    find_part,
    section_bytes,
)
from tidings.core.mime.text import (
    decoded_header_values,
    header_fields,
    index_texts,
    search_text,
)

__all__ = [
    "HAS_ATTACHMENT",
    "HAS_NO_ATTACHMENT",
    "PREVIEW_MAX_CHARS",
    "Address",
    "Attachment",
    "BodyPart",
    "Envelope",
    "MessageFacts",
    "UnknownTransferEncoding",
    "attachment_keyword_pair",
    "binary_section",
    "decode_body",
    "decode_words",
    "decoded_header_values",
    "decoded_param",
    "find_attachments",
    "find_part",
    "header_fields",
    "index_texts",
    "message_preview",
    "parse_date",
    "parse_message",
    "search_text",
    "section_bytes",
    "with_attachment_keyword",
    "with_derived_text",
]
