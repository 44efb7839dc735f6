"""The trace header fields a delivery prepends (no I/O here).

RFC 5321 §4.4: the server that makes final delivery inserts `Return-Path:` with the
envelope sender (the reverse-path) at the beginning of the message. Dovecot 2.3 (LMTP, with
`lmtp_hdr_delivery_address = final`, its default) also prepends `Delivered-To:` with the
recipient address as the client gave it. The bytes below are Dovecot's, checked against a
real Dovecot 2.3.19 in tests/delivery/test_dovecot_parity.py:

    Return-Path: <Sender@Remote.Example>\\r\\n
    Delivered-To: alice+tag@example.test\\r\\n

Dovecot's LMTP adds a third field, `Received: from ... by HOST with LMTP id ...; DATE`.
Tidings does not: the MTA that hands over the message has recorded its own Received, a
loopback hop adds nothing a reader needs, and the stored message then is exactly
Return-Path + Delivered-To + the bytes that were sent.
"""

from __future__ import annotations

from tidings.core.errors import MailError, MailErrorKind
from tidings.delivery.recipients import strip_address

# The most octets the trace fields may take. RFC 5321 §4.5.3.1.3 limits a path to 256
# octets, so real fields are far shorter; the store's size limit allows this much on top
# of max_message_size, so a message the protocol accepted is never refused for its trace.
MAX_TRACE_FIELDS_OCTETS = 2048


def _check_header_safe(what: str, text: str) -> None:
    # A CR or LF here would let an envelope address inject header fields.
    if any(ord(char) < 0x20 or char == "\x7f" for char in text):
        raise MailError(MailErrorKind.PARSE, f"{what} contains control characters: {text!r}")


def trace_fields(sender: str, recipient_address: str) -> bytes:
    """`Return-Path: <sender>` (`<>` for the null sender) and `Delivered-To: address`,
    each ending in CRLF. MailError(PARSE) if either contains a control character."""
    reverse_path = strip_address(sender)
    _check_header_safe("the sender", reverse_path)
    _check_header_safe("the recipient", recipient_address)
    text = f"Return-Path: <{reverse_path}>\r\nDelivered-To: {recipient_address}\r\n"
    fields = text.encode("utf-8")
    if len(fields) > MAX_TRACE_FIELDS_OCTETS:
        raise MailError(MailErrorKind.PARSE, "the sender or recipient address is too long")
    return fields
