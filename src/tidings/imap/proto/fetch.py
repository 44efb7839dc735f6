"""FETCH arguments (RFC 9051 §6.4.5, RFC 3516 BINARY, RFC 7162 CONDSTORE) into FetchItems.

fetch           = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" /
                  fetch-att / "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]
fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")"      (RFC 4466)
"""

from __future__ import annotations

from tidings.imap.proto.commands import (
    Fetch,
    FetchAttribute,
    FetchBinarySize,
    FetchItem,
    FetchPreview,
    FetchSection,
    Section,
    SimpleAttribute,
)
from tidings.imap.proto.lexer import ATOM_CHARS, Cursor, ParseError, decode

_ATTRIBUTES = {attribute.value: FetchAttribute(attribute) for attribute in SimpleAttribute}

# RFC 9051 §6.4.5: the macros, which "MUST NOT" be combined with other items.
_FAST = tuple(_ATTRIBUTES[name] for name in ("FLAGS", "INTERNALDATE", "RFC822.SIZE"))
_ALL = (*_FAST, _ATTRIBUTES["ENVELOPE"])
_MACROS = {"FAST": _FAST, "ALL": _ALL, "FULL": (*_ALL, _ATTRIBUTES["BODY"])}

# Characters of a fetch-att name ("BODY.PEEK", "RFC822.SIZE", "BINARY.SIZE"...): an atom up to
# the section bracket or partial.
_NAME_CHARS = frozenset(c for c in ATOM_CHARS if c not in b"[<")
_SECTION_TEXT_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.")
_SECTION_MSGTEXT = ("HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT")


def parse_fetch(cursor: Cursor, tag: str, uid: bool) -> Fetch:
    """The arguments of [UID] FETCH, the cursor after the command name."""
    cursor.sp()
    sequence_set = cursor.sequence_set()
    cursor.sp()
    items: tuple[FetchItem, ...]
    if cursor.peek() == 0x28:
        items = cursor.paren_list(lambda: _fetch_att(cursor))
    else:
        start = cursor.pos
        name = cursor.keyword("fetch attribute")
        macro = _MACROS.get(name)
        if macro is not None and cursor.peek() in (None, 0x20):
            items = macro
        else:
            cursor.pos = start
            items = (_fetch_att(cursor),)
    modifiers: tuple[tuple[str, str | None], ...] = ()
    if cursor.maybe_sp():
        # fetch-modifier = "CHANGEDSINCE" SP mod-sequence-value / fetch-modifier-ext
        modifiers = cursor.tagged_ext_params()
    cursor.end()
    return Fetch(tag, sequence_set, items, uid=uid, modifiers=modifiers)


def _fetch_att(cursor: Cursor) -> FetchItem:
    """fetch-att = "ENVELOPE" / "FLAGS" / "INTERNALDATE" / "RFC822" [".HEADER" / ".TEXT"] /
    "RFC822.SIZE" / "BODY" ["STRUCTURE"] / "UID" /
    "BODY" section [partial] / "BODY.PEEK" section [partial] /
    "BINARY" [".PEEK"] section-binary [partial] /
    "BINARY.SIZE" section-binary / "MODSEQ"
    """
    raw = cursor.take(_NAME_CHARS)
    name = raw.decode("ascii").upper()
    if not name:
        raise ParseError("Expected fetch attribute")
    if name == "PREVIEW":
        return _preview(cursor)
    if cursor.peek() != 0x5B:  # "["
        attribute = _ATTRIBUTES.get(name)
        if attribute is None:
            raise ParseError(f"Unknown fetch attribute {name}")
        return attribute
    if name in ("BODY", "BODY.PEEK"):
        section = _section(cursor)
        return FetchSection(section, peek=name == "BODY.PEEK", partial=_partial(cursor))
    if name in ("BINARY", "BINARY.PEEK"):
        part = _section_binary(cursor)
        return FetchSection(
            Section(part), peek=name == "BINARY.PEEK", binary=True, partial=_partial(cursor)
        )
    if name == "BINARY.SIZE":
        return FetchBinarySize(_section_binary(cursor))
    raise ParseError(f"Unknown fetch attribute {name}")


def _preview(cursor: Cursor) -> FetchPreview:
    """fetch-att =/ "PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"]   (RFC 8970 §6)
    preview-mod = "LAZY"

    `PREVIEW (...)` is read as modifiers only when LAZY opens the list, so that
    `FETCH 1 PREVIEW (CHANGEDSINCE 1)` stays a fetch modifier (RFC 4466)."""
    start = cursor.pos
    if cursor.data[start : start + 6].upper() != b" (LAZY":
        return FetchPreview()
    cursor.sp()
    modifiers = cursor.paren_list(lambda: cursor.keyword("preview modifier"))
    unknown = [modifier for modifier in modifiers if modifier != "LAZY"]
    if unknown:
        raise ParseError(f"Unknown PREVIEW modifier {unknown[0]}")
    return FetchPreview(lazy=True)


def _section(cursor: Cursor) -> Section:
    """section = "[" [section-spec] "]"

    section-spec    = section-msgtext / (section-part ["." section-text])
    section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"
    section-part    = nz-number *("." nz-number)
    section-text    = section-msgtext / "MIME"
    header-list     = "(" header-fld-name *(SP header-fld-name) ")"
    """
    cursor.expect(b"[")
    part: tuple[int, ...] = ()
    specifier: str | None = None
    fields: tuple[str, ...] = ()
    if cursor.peek() != 0x5D:
        if cursor.peek_digit(cursor.pos):
            part = _section_part(cursor)
            if cursor.peek() == 0x2E:
                cursor.pos += 1
                specifier = _section_text(cursor, allow_mime=True)
        else:
            specifier = _section_text(cursor, allow_mime=False)
        if specifier in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
            cursor.sp()
            fields = cursor.paren_list(lambda: decode(cursor.astring_bytes()))
    cursor.expect(b"]", "']'")
    return Section(part, specifier, fields)


def _section_part(cursor: Cursor) -> tuple[int, ...]:
    numbers = [cursor.number("section part", nonzero=True)]
    while cursor.peek() == 0x2E and cursor.peek_digit(cursor.pos + 1):
        cursor.pos += 1
        numbers.append(cursor.number("section part", nonzero=True))
    return tuple(numbers)


def _section_text(cursor: Cursor, *, allow_mime: bool) -> str:
    raw = cursor.take(_SECTION_TEXT_CHARS)
    name = raw.decode("ascii").upper()
    if name in _SECTION_MSGTEXT or (allow_mime and name == "MIME"):
        return name
    raise ParseError(f"Invalid section {name or decode(cursor.data[cursor.pos : cursor.pos + 20])}")


def _section_binary(cursor: Cursor) -> tuple[int, ...]:
    """section-binary = "[" [section-part] "]" """
    cursor.expect(b"[")
    part: tuple[int, ...] = ()
    if cursor.peek() != 0x5D:
        part = _section_part(cursor)
    cursor.expect(b"]", "']'")
    return part


def _partial(cursor: Cursor) -> tuple[int, int] | None:
    """partial = "<" number64 "." nz-number64 ">" """
    if cursor.peek() != 0x3C:
        return None
    cursor.pos += 1
    offset = cursor.number("partial offset", bits64=True)
    cursor.expect(b".")
    count = cursor.number("partial count", nonzero=True, bits64=True)
    cursor.expect(b">")
    return offset, count
