"""FETCH ENVELOPE and BODY/BODYSTRUCTURE encoding (RFC 9051 §7.5.2, RFC 3501 §7.4.2) from
stored MessageFacts, byte-identical to Dovecot 2.3 (imap-envelope.c, imap-bodystructure.c,
imap-quote.c), since clients and our differential tests compare against it."""

from __future__ import annotations

from tidings.core.mime import Address, BodyPart, Envelope

# Dovecot switches from a quoted string to a literal after this many quoted-specials
# (imap-quote.c QUOTED_MAX_ESCAPE_CHARS): a literal is shorter beyond that point.
QUOTED_MAX_ESCAPES = 4
DEFAULT_CHARSET = b'"charset" "us-ascii"'  # RFC 2045 §5.2 default for text/*
EMPTY_BODY = b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)'
EMPTY_BODYSTRUCTURE = b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)'
NIL_ENVELOPE = b"NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL"


def _octets(text: str) -> bytes:
    # Values are header octets decoded with surrogateescape; C strings end at NUL.
    return text.encode("utf-8", "surrogateescape").split(b"\0", 1)[0]


def _literal(data: bytes) -> bytes:
    return b"{%d}\r\n" % len(data) + data


def _nstring(text: str | None) -> bytes:
    """RFC 9051 §4.3 string: quoted when possible, else a literal (imap_append_nstring)."""
    if text is None:
        return b"NIL"
    data = _octets(text)
    escapes = 0
    for byte in data:
        if byte in b'"\\':
            escapes += 1
            if escapes > QUOTED_MAX_ESCAPES:
                return _literal(data)
        elif byte in b"\r\n" or byte >= 0x80:
            return _literal(data)
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def _nstring_nolf(text: str | None) -> bytes:
    """imap_append_nstring_nolf: line breaks dropped (a space kept between lines)."""
    if text is None or ("\r" not in text and "\n" not in text):
        return _nstring(text)
    out = []
    for i, char in enumerate(text):
        if char not in "\r\n":
            out.append(char)
        elif i + 1 < len(text) and text[i + 1] not in " \t\r\n":
            out.append(" ")
    return _nstring("".join(out))


def _string_for_humans(text: str) -> bytes:
    """imap_append_string_for_humans: whitespace runs collapsed and trimmed, NUL as 0x80;
    quoted if untouched, else a literal (used for subjects and display names)."""
    data = text.encode("utf-8", "surrogateescape")
    modify = False
    remove = 0
    last_lwsp = True
    prefix = True
    for byte in data:
        if byte == 0:
            last_lwsp = False
            modify = True
        elif byte in b"\r\n\t ":
            if byte != 0x20:
                modify = True
            if last_lwsp:
                modify = True
                remove += 1
            last_lwsp = True
        else:
            if byte in b'"\\' or byte >= 0x80:
                modify = True
            last_lwsp = False
        if not last_lwsp:
            prefix = False
    if last_lwsp and data and not prefix:
        modify = True
        remove += 1
    if not modify:
        return b'"' + data + b'"'
    if len(data) == remove:
        return b'""'
    out = bytearray()
    last_lwsp = True
    for byte in data:
        if byte == 0:
            out.append(0x80)
            last_lwsp = False
        elif byte in b"\r\n\t ":
            if not last_lwsp:
                out.append(0x20)
            last_lwsp = True
        else:
            out.append(byte)
            last_lwsp = False
    if out.endswith(b" "):
        del out[-1]
    return _literal(bytes(out))


def _addresses(addresses: tuple[Address, ...]) -> bytes:
    # RFC 9051 §7.5.2: a parenthesised list of (name adl mailbox host), or NIL.
    if not addresses:
        return b"NIL"
    items = []
    for address in addresses:
        name = b"NIL" if address.name is None else _string_for_humans(address.name)
        items.append(
            b"("
            + name
            + b" "
            + _nstring(address.route)
            + b" "
            + _nstring(address.mailbox)
            + b" "
            + _nstring(address.host)
            + b")"
        )
    return b"(" + b"".join(items) + b")"


def encode_envelope(envelope: Envelope | None) -> bytes:
    """The parenthesised ENVELOPE (RFC 9051 §7.5.2): Sender and Reply-To default to From."""
    if envelope is None:
        return b"(" + NIL_ENVELOPE + b")"
    subject = b"NIL" if envelope.subject is None else _string_for_humans(envelope.subject)
    fields = [
        _nstring(envelope.date),
        subject,
        _addresses(envelope.from_),
        _addresses(envelope.sender or envelope.from_),
        _addresses(envelope.reply_to or envelope.from_),
        _addresses(envelope.to),
        _addresses(envelope.cc),
        _addresses(envelope.bcc),
        _nstring(envelope.in_reply_to),
        _nstring(envelope.message_id),
    ]
    return b"(" + b" ".join(fields) + b")"


def _params(params: tuple[tuple[str, str], ...], default_charset: bool) -> bytes:
    # RFC 9051 §9 body-fld-param; text/* always shows a charset (Dovecot's params_write).
    if not params and not default_charset:
        return b"NIL"
    items = [_nstring(key) + b" " + _nstring(value) for key, value in params]
    if default_charset and not any(key.lower() == "charset" for key, _ in params):
        items.append(DEFAULT_CHARSET)
    return b"(" + b" ".join(items) + b")"


def _extension_common(part: BodyPart) -> bytes:
    # RFC 9051 §9 body-ext-1part / body-ext-mpart tail: disposition, language, location.
    if part.disposition is None:
        disposition = b"NIL"
    else:
        disposition = (
            b"("
            + _nstring(part.disposition)
            + b" "
            + _params(part.disposition_params, False)
            + b")"
        )
    if part.language:
        language = b"(" + b" ".join(_nstring(lang) for lang in part.language) + b")"
    else:
        language = b"NIL"
    return b" " + disposition + b" " + language + b" " + _nstring_nolf(part.location)


def _multipart(part: BodyPart, extensible: bool) -> bytes:
    # RFC 9051 §9 body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
    if part.children:
        out = b"".join(encode_bodystructure(child, extensible) for child in part.children)
    else:
        # A multipart without parts is invalid; Dovecot shows one empty text/plain.
        out = EMPTY_BODYSTRUCTURE if extensible else EMPTY_BODY
    out += b" " + _nstring(part.subtype or "")
    if extensible:
        out += b" " + _params(part.params, False) + _extension_common(part)
    return out


def _single(part: BodyPart, extensible: bool) -> bytes:
    # RFC 9051 §9 body-type-1part: basic / msg / text, then body-ext-1part.
    if part.rfc822:
        out = b'"message" "rfc822"'
        text = False
    elif part.type is None:
        out = b'"text" "plain"'
        text = True
    else:
        text = part.type.lower() == "text"
        out = _nstring(part.type) + b" " + _nstring(part.subtype or "")
    out += b" " + _params(part.params, text)
    out += b" " + _nstring_nolf(part.id) + b" " + _nstring_nolf(part.description)
    out += b" " + (_nstring(part.encoding) if part.encoding is not None else b'"7bit"')
    out += b" %d" % part.size
    if text:
        out += b" %d" % part.lines
    elif part.rfc822:
        envelope, inner = part.message if part.message is not None else (None, BodyPart())
        out += b" " + encode_envelope(envelope) + b" " + encode_bodystructure(inner, extensible)
        out += b" %d" % part.lines
    if extensible:
        out += b" " + _nstring_nolf(part.md5) + _extension_common(part)
    return out


def encode_bodystructure(body: BodyPart, extensible: bool) -> bytes:
    """The parenthesised BODY (`extensible`=False) or BODYSTRUCTURE (True) of `body`
    (RFC 9051 §7.5.2 / §9 `body`)."""
    if body.multipart:
        return b"(" + _multipart(body, extensible) + b")"
    return b"(" + _single(body, extensible) + b")"
