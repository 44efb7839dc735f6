"""Envelope addresses of MAIL FROM and RCPT TO (RFC 5321 §4.1.2, RFC 6531 §3.3).

    Reverse-path   = Path / "<>"
    Forward-path   = Path
    Path           = "<" [ A-d-l ":" ] Mailbox ">"
    A-d-l          = At-domain *( "," At-domain )      ; source route: accepted, ignored
    At-domain      = "@" Domain
    Mailbox        = Local-part "@" ( Domain / address-literal )
    Local-part     = Dot-string / Quoted-string
    Dot-string     = Atom *("."  Atom)
    Quoted-string  = DQUOTE *QcontentSMTP DQUOTE
    QcontentSMTP   = qtextSMTP / quoted-pairSMTP
    quoted-pairSMTP = %d92 %d32-126
    qtextSMTP      = %d32-33 / %d35-91 / %d93-126
    address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
                            General-address-literal ) "]"
    atext          =/ UTF8-non-ascii                    ; RFC 6531 §3.3
    sub-domain     =/ U-label                           ; RFC 6531 §3.3

Like Dovecot's LMTP (which parses with SMTP_ADDRESS_PARSE_FLAG_ALLOW_LOCALPART and a lax
dot-string), a path may hold a bare local part (`<postmaster>`, RFC 5321 §4.1.1.3) and a
local part may hold empty atoms (`a..b`): whether it names an account is the deliverer's
question, answered 550 rather than 501. A quoted local part whose content is a valid
dot-string is unquoted (`"alice"@x` is `alice@x`, RFC 5321 §4.1.2), as Dovecot does.
Non-ASCII addresses are accepted with or without SMTPUTF8, as Dovecot accepts them too.
"""

from __future__ import annotations

import re
import string

# RFC 5322 §3.2.3 atext (RFC 5321 §4.1.2 Atom uses it).
_ATEXT = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~")
_DOT_STRING_RE = re.compile(r"[^.]+(\.[^.]+)*\Z")
_LABEL_RE = re.compile(r"[A-Za-z0-9\u0080-\U0010ffff]([A-Za-z0-9\u0080-\U0010ffff-]*)\Z")
# dcontent of an address literal: %d33-90 / %d94-126 (RFC 5321 §4.1.3).
_LITERAL_RE = re.compile(r"\[[\x21-\x5a\x5e-\x7e]+\]")


class AddressSyntaxError(ValueError):
    """A path that breaks the grammar above; the message says where (Dovecot's wording)."""


def _is_atext(char: str) -> bool:
    return char in _ATEXT or ord(char) >= 0x80


def parse_path(text: str, *, allow_null: bool) -> tuple[str, str]:
    """Parse the path at the start of `text`: (mailbox without brackets, rest after ">").

    The null path `<>` gives "" when `allow_null` (a reverse-path), an error otherwise.
    """
    if not text.startswith("<"):
        if text[:1].isspace():
            raise AddressSyntaxError("Unexpected whitespace before path")
        raise AddressSyntaxError("Missing '<' at beginning of path")
    if text.startswith("<>"):
        if not allow_null:
            raise AddressSyntaxError("Null path not allowed")
        return "", text[2:]
    pos = _skip_source_route(text, 1)
    local, pos = _local_part(text, pos)
    domain = ""
    if text.startswith("@", pos):
        domain, pos = _domain(text, pos + 1)
    if not text.startswith(">", pos):
        if pos >= len(text) or text[pos].isspace():
            raise AddressSyntaxError("Missing '>' at end of path")
        raise AddressSyntaxError("Invalid character in path")
    mailbox = f"{local}@{domain}" if domain else local
    return mailbox, text[pos + 1 :]


def _skip_source_route(text: str, pos: int) -> int:
    """RFC 5321 §4.1.2: "A-d-l ... MUST BE accepted, SHOULD NOT be generated, and SHOULD
    be ignored" (see also Appendix C)."""
    if not text.startswith("@", pos):
        return pos
    colon = text.find(":", pos)
    if colon < 0:
        raise AddressSyntaxError("Invalid source route")
    for hop in text[pos:colon].split(","):
        if not hop.startswith("@"):
            raise AddressSyntaxError("Invalid source route")
        _check_domain(hop[1:])
    return colon + 1


def _local_part(text: str, pos: int) -> tuple[str, int]:
    if text.startswith('"', pos):
        return _quoted_local_part(text, pos)
    end = pos
    while end < len(text) and (_is_atext(text[end]) or text[end] == "."):
        end += 1
    if end == pos:
        raise AddressSyntaxError("Invalid character in localpart")
    return text[pos:end], end


def _quoted_local_part(text: str, pos: int) -> tuple[str, int]:
    content: list[str] = []
    index = pos + 1
    while index < len(text):
        char = text[index]
        if char == '"':
            value = "".join(content)
            if (
                value
                and _DOT_STRING_RE.match(value)
                and all(_is_atext(c) or c == "." for c in value)
            ):
                return value, index + 1
            return text[pos : index + 1], index + 1
        if char == "\\":
            index += 1
            if index >= len(text) or not (" " <= text[index] <= "~"):
                raise AddressSyntaxError("Invalid quoted-pair in localpart")
            char = text[index]
        elif not (" " <= char <= "~" or ord(char) >= 0x80):
            raise AddressSyntaxError("Invalid character in localpart")
        content.append(char)
        index += 1
    raise AddressSyntaxError("Missing '\"' at end of localpart")


def _domain(text: str, pos: int) -> tuple[str, int]:
    if text.startswith("[", pos):
        match = _LITERAL_RE.match(text, pos)
        if match is None:
            raise AddressSyntaxError("Invalid address literal")
        return match.group(0), match.end()
    end = pos
    while end < len(text) and text[end] not in "> \t":
        end += 1
    domain = text[pos:end]
    _check_domain(domain)
    return domain, end


def _check_domain(domain: str) -> None:
    """Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str] (§4.1.2)."""
    labels = domain.split(".")
    if not domain or not all(_LABEL_RE.match(label) for label in labels):
        raise AddressSyntaxError("Invalid domain")
    if any(label.endswith("-") for label in labels):
        raise AddressSyntaxError("Invalid domain")
