"""parse_message: one pass over a message's bytes building `MessageFacts`.

The MIME structure follows Dovecot's lib-mail message-parser.c, because FETCH BODYSTRUCTURE
must match Dovecot's byte for byte (DESIGN.md):
- RFC 2046 §5.1.1: a boundary line is "--" + boundary at the start of a line; like Dovecot,
  only the prefix must match and the longest active boundary wins, so a broken inner part
  is closed by its parent's boundary; the CRLF before a boundary line belongs to it.
- Content-* fields count only in MIME entities: a MIME-Version or Content-Type field, or a
  multipart child (RFC 2045 §4 is stricter; Dovecot and real mail are not).
- Without a usable Content-Type a part is text/plain, or message/rfc822 under
  multipart/digest (RFC 2046 §5.1.5).
The parser is total: any bytes give facts, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from tidings.core.mime import rfc822
from tidings.core.mime.attachments import find_attachments
from tidings.core.mime.dates import parse_date_value
from tidings.core.mime.facts import BodyPart, Envelope, MessageFacts
from tidings.core.mime.headers import HeaderField, decode_header_bytes, scan_header
from tidings.core.mime.preview import message_preview
from tidings.core.mime.text import header_fields
from tidings.core.mime.threadroot import thread_root

# Dovecot truncates boundaries (BOUNDARY_STRING_MAX_LEN) so a boundary line is bounded.
BOUNDARY_MAX = 80
# Nesting limit against hostile messages (Dovecot: message_max_nested_parts-like limits);
# deeper entities are kept as opaque leaves.
MAX_DEPTH = 100


@dataclass(frozen=True, slots=True)
class _Hit:
    """A boundary line found at `line` (position of its "--")."""

    line: int
    index: int  # position of the boundary in the active stack
    is_end: bool  # "--boundary--"
    after: int  # first byte after the line (len(raw) when it has no LF)
    has_lf: bool


class _Parser:
    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.n = len(raw)

    # ------------------------------------------------------------------ boundary lines

    def boundary_at(self, pos: int, stack: list[bytes]) -> _Hit | None:
        raw = self.raw
        if not stack or raw[pos : pos + 2] != b"--":
            return None
        newline = raw.find(b"\n", pos + 2)
        if newline < 0:
            line = raw[pos + 2 : pos + 2 + BOUNDARY_MAX + 4]
            best = _longest_boundary(line, stack)
        else:
            line = raw[pos + 2 : newline]
            if line.endswith(b"\r"):
                line = line[:-1]
            # RFC 2046 §5.1.1: "--" boundary "--" closes; match the boundary without that
            # suffix first, as Dovecot's boundary_line_find does. A boundary may itself end
            # in "--" (`__--__--` of Mailman digests), so "--__--__--" is a delimiter, not
            # the close of `__--__`: when nothing matches without the suffix, try with it.
            best = -1
            if len(line) > 2 and line.endswith(b"--"):
                best = _longest_boundary(line[:-2], stack)
            if best < 0:
                best = _longest_boundary(line, stack)
        if best < 0:
            return None
        tail = pos + 2 + len(stack[best])
        is_end = raw[tail : tail + 2] == b"--"
        after = self.n if newline < 0 else newline + 1
        return _Hit(pos, best, is_end, after, newline >= 0)

    def find_boundary(self, start: int, stack: list[bytes]) -> _Hit | None:
        if not stack:
            return None
        hit = self.boundary_at(start, stack)
        if hit is not None:
            return hit
        pos = start
        while True:
            found = self.raw.find(b"\n--", pos)
            if found < 0:
                return None
            hit = self.boundary_at(found + 1, stack)
            if hit is not None:
                return hit
            pos = found + 1

    def content_end(self, hit: _Hit | None, region_start: int) -> int:
        """Where content before `hit` ends: the [CR]LF before a boundary belongs to it."""
        if hit is None:
            return self.n
        line = hit.line
        if line <= region_start:
            return region_start
        end = line - 1
        if end - 1 >= region_start and self.raw[end - 1] == 0x0D:
            end -= 1
        return end

    def parent_end(self, hit: _Hit | None, region_start: int, child_cut: bool) -> int:
        """Where a multipart or message/rfc822 body ends when its last child ended at `hit`.

        Normally as `content_end`. But when that child's header was cut by the boundary
        line, Dovecot's parse_next_header moves the newline that ended the child's last
        header line into this (the parent's) body, so it ends at the boundary line itself.
        Only visible when the boundary is an ancestor's: otherwise the newline belongs to
        this body anyway (RFC 2046 §5.1.1 gives it to the boundary, which is ours)."""
        if child_cut and hit is not None:
            return max(region_start, hit.line)
        return self.content_end(hit, region_start)

    # ---------------------------------------------------------------------- entities

    def entity(
        self, start: int, stack: list[bytes], in_multipart: bool, digest_parent: bool, depth: int
    ) -> tuple[BodyPart, _Hit | None, list[HeaderField], bool]:
        """The entity at `start`: its part, the boundary line that ended it (None: the end
        of the message), its header fields, and whether a boundary line cut its header."""
        fields, body_start, cut = scan_header(
            self.raw,
            start,
            self.n,
            (lambda p: self.boundary_at(p, stack) is not None) if stack else None,
        )
        info = _content_info(fields, in_multipart, digest_parent)
        if depth >= MAX_DEPTH:
            info["multipart"] = info["rfc822"] = False
            info["boundary"] = None
        children: tuple[BodyPart, ...] = ()
        message: tuple[Envelope, BodyPart] | None = None
        if cut:
            hit = self.find_boundary(body_start, stack)
            body_end = body_start
            if info["rfc822"]:
                message = (
                    Envelope(),
                    BodyPart(header_start=body_start, body_start=body_start, body_end=body_start),
                )
        elif info["multipart"] and info["boundary"] is not None:
            children, hit, body_end = self.multipart_body(
                body_start, stack, info["boundary"], info["digest"], depth
            )
        elif info["rfc822"]:
            child, hit, child_fields, child_cut = self.entity(
                body_start, stack, False, False, depth + 1
            )
            body_end = self.parent_end(hit, body_start, child_cut) if hit else self.n
            body_end = max(body_end, child.body_end)
            message = (envelope_from_fields(self.raw, child_fields), child)
        else:
            hit = self.find_boundary(body_start, stack)
            body_end = self.content_end(hit, body_start)
        part = BodyPart(
            type=info["type"],
            subtype=info["subtype"],
            params=info["params"],
            id=info["id"],
            description=info["description"],
            encoding=info["encoding"],
            md5=info["md5"],
            disposition=info["disposition"],
            disposition_params=info["disposition_params"],
            language=info["language"],
            location=info["location"],
            header_start=start,
            body_start=body_start,
            body_end=body_end,
            size=body_end - body_start,
            lines=self.raw.count(b"\n", body_start, body_end),
            children=children,
            message=message,
            multipart=info["multipart"],
            rfc822=info["rfc822"],
            text=info["text"],
        )
        return part, hit, fields, cut

    def multipart_body(
        self, body_start: int, outer: list[bytes], boundary: bytes, digest: bool, depth: int
    ) -> tuple[tuple[BodyPart, ...], _Hit | None, int]:
        stack = [*outer, boundary]
        mine = len(outer)
        children: list[BodyPart] = []
        region = body_start
        hit = self.find_boundary(region, stack)
        child_cut = False
        while hit is not None and hit.index == mine:
            if hit.is_end or not hit.has_lf:
                if hit.is_end:
                    # RFC 2046 §5.1.1 epilogue: runs to the parent's boundary or the end.
                    region = hit.after
                    hit = self.find_boundary(region, outer)
                    return tuple(children), hit, max(body_start, self.content_end(hit, region))
                return tuple(children), None, self.n
            child, hit, _, child_cut = self.entity(hit.after, stack, True, digest, depth + 1)
            children.append(child)
            region = child.body_end
        return tuple(children), hit, max(body_start, self.parent_end(hit, region, child_cut))


def _longest_boundary(data: bytes, stack: list[bytes]) -> int:
    """Index in `stack` of the boundary that `data` (a line after its "--") starts with, -1
    for none. RFC 2046 §5.1.1 only asks for a prefix match; of several, the longest wins,
    and an exact match ends the search (newest first, so a boundary reused by a nested
    multipart belongs to the innermost), as Dovecot's boundary_find."""
    best = -1
    for index in range(len(stack) - 1, -1, -1):
        boundary = stack[index]
        if data.startswith(boundary) and (best < 0 or len(stack[best]) < len(boundary)):
            best = index
            if len(boundary) == len(data):
                break
    return best


def _first(fields: list[HeaderField], name: str) -> HeaderField | None:
    for field in fields:
        if field.value is not None and field.name.lower() == name:
            return field
    return None


def _content_info(
    fields: list[HeaderField], in_multipart: bool, digest_parent: bool
) -> dict[str, Any]:
    """Content-* data of one entity as Dovecot's message_part_data_parse_from_header."""
    info: dict[str, Any] = dict(
        type=None,
        subtype=None,
        params=(),
        id=None,
        description=None,
        encoding=None,
        md5=None,
        disposition=None,
        disposition_params=(),
        language=None,
        location=None,
        multipart=False,
        rfc822=False,
        text=False,
        digest=False,
        boundary=None,
    )
    is_mime = in_multipart
    seen_type = False
    for field in fields:
        lname = field.name.lower()
        value = field.value
        if value is None:
            continue
        if lname == "mime-version":
            is_mime = True
        elif lname == "content-type":
            is_mime = True
            if not seen_type:
                seen_type = True
                _apply_content_type(info, value)
        elif lname.startswith("content-"):
            _apply_content_field(info, lname[8:], value)
    if not is_mime:
        info = {
            **info,
            **dict(
                type=None,
                subtype=None,
                params=(),
                id=None,
                description=None,
                encoding=None,
                md5=None,
                disposition=None,
                disposition_params=(),
                language=None,
                location=None,
                multipart=False,
                rfc822=False,
                text=False,
                digest=False,
                boundary=None,
            ),
        }
    if not seen_type or not is_mime:
        if digest_parent:
            info["rfc822"] = True
        else:
            info["text"] = True
    return info


def _apply_content_type(info: dict[str, Any], value: str) -> None:
    main, sub, cursor, ok = rfc822.parse_content_type(value)
    info["type"], info["subtype"] = main, sub
    combined = f"{main}/{sub}".lower() if ok else main.lower()
    if combined == "message/rfc822":
        info["rfc822"] = True
    elif combined == "text" or combined.startswith("text/"):
        info["text"] = True
    elif combined.startswith("multipart/"):
        info["multipart"] = True
        info["digest"] = combined == "multipart/digest"
    if not ok:
        return
    params = rfc822.parse_params(cursor)
    info["params"] = params
    if info["multipart"]:
        for key, param in params:
            if key.lower() == "boundary":
                info["boundary"] = param.encode("utf-8", "surrogateescape")[:BOUNDARY_MAX]
                break


def _apply_content_field(info: dict[str, Any], name: str, value: str) -> None:
    # First occurrence wins, except Disposition, which Dovecot re-reads while it has no
    # parameters (its check is on content_disposition_params).
    if name == "id" and info["id"] is None:
        info["id"] = value
    elif name == "md5" and info["md5"] is None:
        info["md5"] = value
    elif name == "transfer-encoding" and info["encoding"] is None:
        info["encoding"] = rfc822.parse_single_token(value)
    elif name == "language" and info["language"] is None:
        info["language"] = rfc822.parse_language(value)
    elif name == "location" and info["location"] is None:
        info["location"] = value
    elif name == "description" and info["description"] is None:
        info["description"] = value
    elif name == "disposition" and not info["disposition_params"]:
        disposition, params = rfc822.parse_disposition(value)
        if disposition is not None:
            info["disposition"], info["disposition_params"] = disposition, params


_ENVELOPE_STRING_FIELDS = {
    "date": "date",
    "subject": "subject",
    "in-reply-to": "in_reply_to",
    "message-id": "message_id",
}
_ENVELOPE_ADDRESS_FIELDS = {
    "from": "from_",
    "sender": "sender",
    "reply-to": "reply_to",
    "to": "to",
    "cc": "cc",
    "bcc": "bcc",
}


def envelope_from_fields(raw: bytes, fields: list[HeaderField]) -> Envelope:
    """RFC 9051 §7.5.2 ENVELOPE from a header block, with repeated fields as Dovecot's
    message_part_envelope_parse_from_header: the last Date, Subject, In-Reply-To and
    Message-ID win; the addresses of every From, Sender, Reply-To, To, Cc and Bcc field
    (names compared case-insensitively) are joined in message order. RFC 5322 §3.6 allows
    each of these once, so this only decides what a broken message shows; joining keeps
    every recipient visible.

    The subject keeps its folding line breaks: Dovecot's imap_append_string_for_humans
    sees them and answers such a subject as a literal with whitespace collapsed, where an
    unfolded one with single spaces goes out quoted (`fetch_encoding._string_for_humans`)."""
    values: dict[str, Any] = {}
    for field in fields:
        if field.value is None:
            continue
        lname = field.name.lower()
        if lname == "subject":
            values["subject"] = _folded_value(raw, field)
        elif lname in _ENVELOPE_STRING_FIELDS:
            values[_ENVELOPE_STRING_FIELDS[lname]] = field.value
        elif lname in _ENVELOPE_ADDRESS_FIELDS:
            key = _ENVELOPE_ADDRESS_FIELDS[lname]
            values[key] = values.get(key, ()) + rfc822.parse_address_list(field.value)
    return Envelope(**values)


def _folded_value(raw: bytes, field: HeaderField) -> str:
    """The value of `field` with its folding (RFC 5322 §2.2.3) line breaks kept: the bytes
    after the colon and the whitespace following it, up to the field's final newline."""
    data = raw[field.start : field.end]
    data = data[:-1] if data.endswith(b"\n") else data
    data = data[:-1] if data.endswith(b"\r") else data
    return decode_header_bytes(data[data.find(b":") + 1 :].lstrip(b" \t"))


def parse_date(value: str | None) -> datetime | None:
    """RFC 5322 §3.3 date-time as Dovecot reads it (core/mime/dates.py); None when
    unparseable. Always timezone-aware ("-0000", unknown zone, is taken as UTC)."""
    return parse_date_value(value)


def parse_message(raw: bytes) -> MessageFacts:
    """Parse `raw` once into MessageFacts. Total: never raises for any bytes."""
    raw = bytes(raw)
    parser = _Parser(raw)
    try:
        body, _, fields, _ = parser.entity(0, [], False, False, 0)
        envelope = envelope_from_fields(raw, fields)
    except RecursionError:  # pragma: no cover - MAX_DEPTH keeps recursion bounded
        body = BodyPart(body_end=len(raw), size=len(raw), lines=raw.count(b"\n"))
        envelope, fields = Envelope(), []
    date_field = _first(fields, "date")
    sent_date = parse_date(date_field.value if date_field else None)
    facts = MessageFacts(size=len(raw), envelope=envelope, body=body, sent_date=sent_date)
    return with_derived_text(raw, facts)


def with_derived_text(raw: bytes, facts: MessageFacts) -> MessageFacts:
    """`facts` with the RFC 8970 preview, the RFC 8474 thread root and the attachments
    filled in (also for facts stored before they existed)."""
    references = header_fields(raw, facts, ("References",))
    return replace(
        facts,
        preview=message_preview(raw, facts),
        thread_root=thread_root(raw, facts),
        references=references[0][1] if references else "",
        attachments=find_attachments(raw, facts),
    )
