"""RFC 5322 / RFC 2045 token-level parsing of header values, mirroring Dovecot's
lib-mail rfc822-parser.c, rfc2231-parser.c and message-address.c so that the structures we
build encode byte for byte like Dovecot 2.3 (DESIGN.md: "where an RFC leaves room, do what
Dovecot does"). Works on `str` values that were decoded from bytes with surrogateescape.

Every function is total: malformed input yields a best-effort value, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass

# RFC 5322 §3.2.3 atext, plus 8-bit characters (Dovecot accepts them for UTF-8 headers).
_ATEXT_SPECIALS = frozenset("!#$%&'*+-/=?^_`{|}~")
# RFC 2045 §5.1 tspecials that are also atext: they end a MIME token.
_TOKEN_EXCLUDED = frozenset("/=?")
_LWSP = frozenset(" \t\r\n")


def is_atext(char: str) -> bool:
    """RFC 5322 §3.2.3 atext (8-bit characters included, as Dovecot does)."""
    return (char.isascii() and (char.isalnum() or char in _ATEXT_SPECIALS)) or ord(char) >= 0x80


def _is_token_char(char: str) -> bool:
    # RFC 2045 §5.1 token: atext without tspecials, plus "." (Dovecot's mime token).
    return char == "." or (is_atext(char) and char not in _TOKEN_EXCLUDED)


class Cursor:
    """A position in a header value with Dovecot's rfc822_parser_context semantics:
    methods return 1 when data remains, 0 at the end, -1 on a syntax error."""

    __slots__ = ("data", "end", "last_comment", "pos")

    def __init__(self, data: str) -> None:
        self.data = data
        self.pos = 0
        self.end = len(data)
        self.last_comment: str = ""

    def peek(self) -> str:
        """The current character, or "" at the end."""
        return self.data[self.pos] if self.pos < self.end else ""

    def skip_lwsp(self) -> int:
        """Skip whitespace and comments (RFC 5322 §3.2.2 CFWS); remember the last comment."""
        while self.pos < self.end:
            char = self.data[self.pos]
            if char in _LWSP:
                self.pos += 1
            elif char == "(":
                if self._skip_comment() < 0:
                    return -1
            else:
                break
        return 1 if self.pos < self.end else 0

    def _skip_comment(self) -> int:
        parts: list[str] = []
        level = 1
        self.pos += 1
        start = self.pos
        while self.pos < self.end:
            char = self.data[self.pos]
            if char == "(":
                level += 1
            elif char == ")":
                level -= 1
                if level == 0:
                    parts.append(self.data[start : self.pos])
                    self.last_comment = "".join(parts)
                    self.pos += 1
                    return 1
            elif char in "\r\n":
                parts.append(self.data[start : self.pos])
                start = self.pos + 1
            elif char == "\\":
                parts.append(self.data[start : self.pos])
                start = self.pos + 1
                self.pos += 1
                if self.pos >= self.end:
                    return -1
            self.pos += 1
        return -1  # missing ")"

    def parse_atom(self, out: list[str]) -> int:
        """RFC 5322 §3.2.3 atom: 1*atext, then CFWS."""
        if self.pos >= self.end or not is_atext(self.data[self.pos]):
            return -1
        start = self.pos
        while self.pos < self.end and is_atext(self.data[self.pos]):
            self.pos += 1
        out.append(self.data[start : self.pos])
        return self.skip_lwsp()

    def parse_atom_or_dot(self, out: list[str]) -> int:
        """obs-phrase words: atext and "." runs."""
        start = self.pos
        while self.pos < self.end and (is_atext(self.data[self.pos]) or self.data[self.pos] == "."):
            self.pos += 1
        out.append(self.data[start : self.pos])
        return self.skip_lwsp()

    def parse_dot_atom(self, out: list[str]) -> int:
        """RFC 5322 §3.2.3 dot-atom, CFWS allowed around the dots (as Dovecot)."""
        if self.pos >= self.end or not is_atext(self.data[self.pos]):
            return -1
        start = self.pos
        self.pos += 1
        while self.pos < self.end:
            char = self.data[self.pos]
            if is_atext(char):
                self.pos += 1
                continue
            if char != ".":
                break
            out.append(self.data[start : self.pos + 1])
            self.pos += 1
            if self.skip_lwsp() <= 0 or not is_atext(self.data[self.pos]):
                return -1
            start = self.pos
        out.append(self.data[start : self.pos])
        return self.skip_lwsp()

    def parse_quoted_string(self, out: list[str]) -> int:
        """RFC 5322 §3.2.4 quoted-string: content unescaped, folding removed."""
        self.pos += 1
        start = self.pos
        while self.pos < self.end:
            char = self.data[self.pos]
            if char == '"':
                out.append(self.data[start : self.pos])
                self.pos += 1
                return self.skip_lwsp()
            if char in "\r\n":
                out.append(self.data[start : self.pos])
                start = self.pos + 1
            elif char == "\\":
                out.append(self.data[start : self.pos])
                self.pos += 1
                if self.pos >= self.end:
                    return -1
                start = self.pos
            self.pos += 1
        return -1  # missing closing quote

    def parse_phrase(self, out: list[str]) -> int:
        """RFC 5322 §3.2.5 phrase (with obs-phrase): words joined by one space."""
        if self.pos >= self.end:
            return 0
        if self.data[self.pos] == ".":
            return -1
        while True:
            if self.peek() == '"':
                ret = self.parse_quoted_string(out)
            else:
                ret = self.parse_atom_or_dot(out)
            if ret <= 0:
                return ret
            char = self.peek()
            if not (is_atext(char) or char in '".') or char == "":
                break
            out.append(" ")
        return self.skip_lwsp()

    def parse_mime_token(self, out: list[str]) -> int:
        """RFC 2045 §5.1 token, then CFWS."""
        start = self.pos
        while self.pos < self.end and _is_token_char(self.data[self.pos]):
            self.pos += 1
        out.append(self.data[start : self.pos])
        if self.pos >= self.end:
            return 0
        return self.skip_lwsp()

    def parse_domain(self, out: list[str]) -> int:
        """RFC 5322 §3.4.1 domain after "@": dot-atom or domain-literal."""
        self.pos += 1  # "@"
        if self.skip_lwsp() <= 0:
            return -1
        if self.peek() != "[":
            return self.parse_dot_atom(out)
        start = self.pos
        while self.pos < self.end and self.data[self.pos] != "]":
            if self.data[self.pos] == "\\":
                self.pos += 1
            self.pos += 1
        if self.pos >= self.end:
            return -1
        self.pos += 1
        out.append("".join(c for c in self.data[start : self.pos] if c not in "\r\n"))
        return self.skip_lwsp()


# ------------------------------------------------------------------------- Content-Type


def parse_content_type(value: str) -> tuple[str, str, Cursor, bool]:
    """RFC 2045 §5.1 type "/" subtype; returns (type, subtype, cursor at params, ok)."""
    cursor = Cursor(value)
    cursor.skip_lwsp()
    if cursor.skip_lwsp() <= 0:
        return "", "", cursor, False
    main: list[str] = []
    ret = cursor.parse_mime_token(main)
    if ret <= 0 or not main[0]:
        return "".join(main), "", cursor, False
    if cursor.peek() != "/":
        return "", "", cursor, False
    cursor.pos += 1
    if cursor.skip_lwsp() <= 0:
        return "", "", cursor, False
    sub: list[str] = []
    ret = cursor.parse_mime_token(sub)
    if ret < 0 or not sub[0]:
        return "", "", cursor, False
    return main[0], sub[0], cursor, True


def _parse_content_param(cursor: Cursor) -> tuple[int, str, str]:
    # RFC 2045 §5.1: ";" attribute "=" value, value = token / quoted-string.
    if cursor.pos >= cursor.end:
        return 0, "", ""
    if cursor.peek() != ";":
        return -1, "", ""
    cursor.pos += 1
    if cursor.skip_lwsp() <= 0:
        return -1, "", ""
    key: list[str] = []
    if cursor.parse_mime_token(key) <= 0 or cursor.peek() != "=":
        return -1, "", ""
    cursor.pos += 1
    out: list[str] = []
    ret = cursor.skip_lwsp()
    if ret <= 0:
        pass  # no value
    elif cursor.peek() == '"':
        ret = cursor.parse_quoted_string(out)
    elif cursor.peek() == "=":
        # Dovecot's workaround for name==?utf-8?b?...?= (unquoted encoded words).
        start = cursor.pos
        while cursor.pos < cursor.end and cursor.data[cursor.pos] not in "; \t\r\n":
            cursor.pos += 1
        out.append(cursor.data[start : cursor.pos])
        ret = cursor.skip_lwsp()
    else:
        ret = cursor.parse_mime_token(out)
    return (-1 if ret < 0 else 1), "".join(key), "".join(out)


def parse_params(cursor: Cursor) -> tuple[tuple[str, str], ...]:  # noqa: PLR0915 - one pass, as rfc2231_parse
    """Parameters with RFC 2231 §3 continuations merged the way Dovecot's rfc2231_parse does:
    `name*0*=a; name*1*=b` becomes ("name*", "ab") — charset'lang' prefix kept, not decoded
    (Dovecot sends them so in BODYSTRUCTURE); plain parameters first, merged ones after."""
    result: list[tuple[str, str]] = []
    extended_params: list[tuple[str, int, bool, str]] = []
    idx = 0
    extended = False
    while True:
        ret, key, value = _parse_content_param(cursor)
        if ret == 0:
            break
        if ret < 0:
            if cursor.pos >= cursor.end:
                break
            cursor.pos += 1
            continue
        star = key.find("*")
        if star < 0:
            result.append((key, value))
            continue
        p = star
        if p + 1 < len(key):
            p += 1
            idx = 0  # Dovecot resets the index only when digits may follow
            while p < len(key) and key[p].isdigit() and key[p].isascii():
                idx = idx * 10 + int(key[p])
                p += 1
        if p < len(key) and key[p] == "*":
            extended = True
            p += 1
        else:
            extended = False
        if p != len(key):
            result.append((key, value))
        else:
            extended_params.append((key[:star], idx, extended, value))
    if not extended_params:
        return tuple(result)
    extended_params.sort(key=lambda item: (item[0].encode("utf-8", "surrogateescape"), item[1]))
    i = 0
    while i < len(extended_params):
        name = extended_params[i][0].lower()
        j = i
        ok, have_extended, next_idx = True, False, 0
        while j < len(extended_params) and extended_params[j][0].lower() == name:
            ok = ok and extended_params[j][1] == next_idx
            have_extended = have_extended or extended_params[j][2]
            next_idx += 1
            j += 1
        group = extended_params[i:j]
        if not ok:
            for key, index, ext, value in group:
                result.append((f"{key}*{index}*" if ext else f"{key}*{index}", value))
        else:
            merged = "''" if not group[0][2] and have_extended else ""
            for _, _, ext, value in group:
                merged += value.replace("%", "%25") if not ext and have_extended else value
            key = group[0][0] + ("*" if have_extended else "")
            result.append((key, merged))
        i = j
    return tuple(result)


def parse_single_token(value: str) -> str | None:
    """Content-Transfer-Encoding (RFC 2045 §6.1): one token and nothing else, else None."""
    cursor = Cursor(value)
    cursor.skip_lwsp()
    out: list[str] = []
    if cursor.parse_mime_token(out) >= 0 and cursor.skip_lwsp() == 0 and out[0]:
        return out[0]
    return None


def parse_disposition(value: str) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """Content-Disposition (RFC 2183 §2): type and parameters."""
    cursor = Cursor(value)
    cursor.skip_lwsp()
    out: list[str] = []
    if cursor.parse_mime_token(out) < 0:
        return None, ()
    return out[0], parse_params(cursor)


def parse_language(value: str) -> tuple[str, ...] | None:
    """Content-Language (RFC 3282 §2): comma-separated language tags."""
    cursor = Cursor(value)
    cursor.skip_lwsp()
    langs: list[str] = []
    while True:
        out: list[str] = []
        if cursor.parse_atom(out) < 0:
            break
        langs.append(out[0])
        if cursor.peek() != ",":
            break
        cursor.pos += 1
        cursor.skip_lwsp()
    return tuple(langs) or None


# ----------------------------------------------------------------------------- addresses


@dataclass(frozen=True, slots=True)
class Address:
    """One RFC 9051 §7.5.2 address: (name adl mailbox host). A group start is
    (None, None, group-name, None), a group end all None (RFC 9051 §7.5.2 group syntax)."""

    name: str | None
    route: str | None
    mailbox: str | None
    host: str | None


class _AddressParser:
    # message-address.c with MESSAGE_ADDRESS_PARSE_FLAG_FILL_MISSING, as Dovecot's ENVELOPE.

    def __init__(self, value: str) -> None:
        self.cursor = Cursor(value)
        self.out: list[Address] = []
        self._reset()

    def _reset(self) -> None:
        self.name: str | None = None
        self.route: str | None = None
        self.mailbox: str | None = None
        self.domain: str | None = None
        self.invalid = False

    def _add(self) -> None:
        self.out.append(Address(self.name, self.route, self.mailbox, self.domain))
        self._reset()

    def _add_fixed(self) -> None:
        if self.mailbox is None:
            self.mailbox = "MISSING_MAILBOX"
        if not self.domain:
            self.domain = "MISSING_DOMAIN"
        self._add()

    def _local_part(self) -> int:
        out: list[str] = []
        if self.cursor.peek() == '"':
            ret = self.cursor.parse_quoted_string(out)
        else:
            ret = self.cursor.parse_dot_atom(out)
        if ret < 0:
            return -1
        self.mailbox = "".join(out)
        return ret

    def _domain(self) -> int:
        out: list[str] = []
        ret = self.cursor.parse_domain(out)
        if ret < 0:
            return -1
        self.domain = "".join(out)
        return ret

    def _domain_list(self) -> int:
        # RFC 5322 §4.4 obs-domain-list = "@" domain *(*(CFWS / ",") [CFWS] "@" domain)
        route = ""
        cursor = self.cursor
        while True:
            if cursor.pos >= cursor.end:
                return 0
            if cursor.peek() != "@":
                break
            if route:
                route += ","
            out: list[str] = []
            ret = cursor.parse_domain(out)
            route += "@" + "".join(out)
            if ret <= 0:
                return ret
            while cursor.skip_lwsp() > 0 and cursor.peek() == ",":
                cursor.pos += 1
        self.route = route
        return 1

    def _angle_addr(self) -> int:
        cursor = self.cursor
        cursor.pos += 1  # "<"
        if cursor.skip_lwsp() <= 0:
            return -1
        if cursor.peek() == "@":
            if self._domain_list() > 0 and cursor.peek() == ":":
                cursor.pos += 1
            else:
                self.route = "INVALID_ROUTE"
                if cursor.pos >= cursor.end:
                    return -1
            if cursor.skip_lwsp() <= 0:
                return -1
        if cursor.peek() != ">":
            if self._local_part() <= 0:
                return -1
            if cursor.peek() == "@" and self._domain() <= 0:
                return -1
        if cursor.peek() != ">":
            return -1
        cursor.pos += 1
        return cursor.skip_lwsp()

    def _name_addr(self) -> int:
        out: list[str] = []
        if self.cursor.parse_phrase(out) <= 0 or self.cursor.peek() != "<":
            return -1
        self.name = "".join(out) or None
        if self._angle_addr() < 0:
            self.domain = "SYNTAX_ERROR"
            self.invalid = True
        return 1 if self.cursor.pos < self.cursor.end else 0

    def _addr_spec(self) -> int:
        cursor = self.cursor
        cursor.last_comment = ""
        quoted = cursor.peek() == '"'
        ret = self._local_part()
        ret2 = -2
        if ret <= 0:
            self.invalid = True
        if ret != 0 and cursor.pos < cursor.end and cursor.peek() == "@":
            ret2 = self._domain()
            if ret2 <= 0:
                ret = ret2
        if cursor.last_comment:
            self.name = cursor.last_comment
        elif ret2 == -2:
            # a lone "user": a mailbox, unless more words follow (then a display name)
            rest: list[str] = []
            cursor.parse_phrase(rest)
            if "".join(rest):
                self.name = (self.mailbox or "") + " " + "".join(rest)
                self.mailbox = None
            elif not quoted:
                self.domain = ""
            self.invalid = True
            ret = -1
        return ret

    def _mailbox(self) -> int:
        start = self.cursor.pos
        ret = self._name_addr()
        if ret < 0:
            self.cursor.pos = start
            self._reset()
            ret = self._addr_spec()
            if (
                self.invalid
                and self.name is None
                and self.mailbox is not None
                and (self.domain is None)
            ):
                self.name, self.mailbox = self.mailbox, None
        self._add_fixed()
        return ret

    def _group(self) -> int:
        cursor = self.cursor
        out: list[str] = []
        if cursor.parse_phrase(out) <= 0 or cursor.peek() != ":":
            return -1
        cursor.pos += 1
        ret = cursor.skip_lwsp()
        self.mailbox = "".join(out)
        self._add()
        if ret > 0 and cursor.peek() != ";":
            while True:
                self._mailbox()
                if cursor.pos >= cursor.end or cursor.peek() != ",":
                    break
                cursor.pos += 1
                if cursor.skip_lwsp() <= 0:
                    ret = -1
                    break
        if ret >= 0:
            if cursor.pos >= cursor.end or cursor.peek() != ";":
                ret = -1
            else:
                cursor.pos += 1
                ret = cursor.skip_lwsp()
        self._add()
        return 0 if ret == 0 else 1

    def _address(self) -> int:
        start = self.cursor.pos
        ret = self._group()
        if ret < 0:
            self.cursor.pos = start
            self._reset()
            ret = self._mailbox()
        return ret

    def parse(self) -> tuple[Address, ...]:
        cursor = self.cursor
        if cursor.skip_lwsp() <= 0:
            return ()
        # A guard against pathological input: every round must consume something.
        while True:
            before = cursor.pos
            if self._address() == 0:
                break
            if cursor.pos >= cursor.end or cursor.peek() != ",":
                break
            cursor.pos += 1
            ret = cursor.skip_lwsp()
            if ret <= 0:
                if ret < 0:
                    self._add_fixed()
                break
            if cursor.pos <= before:
                break
        return tuple(self.out)


def parse_address_list(value: str) -> tuple[Address, ...]:
    """RFC 5322 §3.4 address-list as Dovecot parses it for ENVELOPE (missing parts filled
    with MISSING_MAILBOX / MISSING_DOMAIN, a comment after an addr-spec used as the name)."""
    try:
        return _AddressParser(value).parse()
    except (IndexError, ValueError):  # pragma: no cover - defensive; parser is total
        return ()
