"""Attachment detection, run once per message at ingest (issue 9), for the `$HasAttachment` and
`$HasNoAttachment` keywords (IANA "IMAP and JMAP Keywords" registry, RFC 5788 §3) and for
searching by file name.

A part is an attachment when:
1. its Content-Disposition is `attachment` (RFC 2183 §2.2), whatever its type or place; or
2. it is a non-text, non-multipart part with a file name (Content-Disposition `filename`
   or Content-Type `name`, RFC 2231 and RFC 2047 decoded), except an inline resource of
   HTML mail: a part of a multipart/related (RFC 2387 §1: the parts make one compound
   object shown by its root), or an inline (or disposition-less) part whose Content-ID the
   HTML refers to with a `cid:` URL (RFC 2392 §2); and except message/external-body, whose
   data is not in the message at all (RFC 2046 §5.2.3).

Every entity counts, the message itself, multipart containers and the entities of embedded
messages included, as Dovecot's mail_message_has_attachment walks them. Rule 1 is Dovecot's
message_part_is_attachment (with no content-type filter); rule 2 differs from Dovecot, which
counts any `inline` part with a `filename` (text included, inline images included) and never
a part named only by Content-Type `name`. tests/differential/test_attachments_vs_dovecot.py
lists where that shows in the corpus.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import unquote

from tidings.core.mime.facts import Attachment, BodyPart, MessageFacts, Params
from tidings.core.mime.params import decode_charset, decoded_param, part_charset
from tidings.core.mime.sections import UnknownTransferEncoding, decode_body

HAS_ATTACHMENT = "$HasAttachment"
HAS_NO_ATTACHMENT = "$HasNoAttachment"
_KEYWORDS = frozenset({HAS_ATTACHMENT.lower(), HAS_NO_ATTACHMENT.lower()})

# Whether the message's HTML links to a Content-ID (see _HtmlReferences.refers_to).
CidTest = Callable[[str], bool]


def find_attachments(raw: bytes, facts: MessageFacts) -> tuple[Attachment, ...]:
    """The attachments of the message `raw` parsed into `facts`, in MIME part order."""
    html = _HtmlReferences(raw, facts.body)
    return tuple(
        Attachment(attachment_filename(part) or "", content_type(part))
        for part, parent in _entities(facts.body, None)
        if is_attachment(part, parent, html.refers_to)
    )


def is_attachment(part: BodyPart, parent: BodyPart | None, cid_referenced: CidTest) -> bool:
    """Whether `part` (a child of `parent`, None for the message) is an attachment by the
    rules in the module docstring; `cid_referenced(content_id)` says whether the message's
    HTML links to that Content-ID."""
    disposition = (part.disposition or "").lower()
    if disposition == "attachment":
        return True
    if part.multipart or part.text or attachment_filename(part) is None:
        return False
    if parent is not None and parent.multipart and (parent.subtype or "").lower() == "related":
        return False
    if disposition in ("", "inline") and part.id and cid_referenced(part.id):
        return False
    return content_type(part) != "message/external-body"


def attachment_filename(part: BodyPart) -> str | None:
    """The decoded, non-empty file name of `part`, None if it has none: Content-Disposition
    `filename` first (RFC 2183 §2.3), else Content-Type `name` (RFC 2046 §4.5.1, obsolete
    but still written); of the plain and the RFC 2231 §4 `*` form, the `*` form wins (it
    is the one a sender writes for readers that understand charsets)."""
    for params, name in ((part.disposition_params, "filename"), (part.params, "name")):
        value = decoded_param(_extended_first(params, name), name)
        if value and value.strip():
            return value.strip()
    return None


def content_type(part: BodyPart) -> str:
    """`type/subtype` lower-cased; the RFC 2045 §5.2 default when there is none (text/plain,
    or message/rfc822 in a multipart/digest, RFC 2046 §5.1.5)."""
    if part.type is None:
        return "message/rfc822" if part.rfc822 else "text/plain"
    if part.subtype is None:
        return part.type.lower()
    return f"{part.type}/{part.subtype}".lower()


def with_attachment_keyword(flags: Iterable[str], has_attachment: bool) -> tuple[str, ...]:
    """`flags` for a message being stored, with exactly one of `$HasAttachment` and
    `$HasNoAttachment`: the one the client gave when it gave exactly one (as Dovecot's
    mail_has_attachment_keywords), else the detected one (both given: the other is dropped,
    as Dovecot's mail_set_attachment_keywords)."""
    given = tuple(flags)
    folded = {flag.lower() for flag in given}
    if (HAS_ATTACHMENT.lower() in folded) != (HAS_NO_ATTACHMENT.lower() in folded):
        return given
    kept = tuple(flag for flag in given if flag.lower() not in _KEYWORDS)
    return (*kept, HAS_ATTACHMENT if has_attachment else HAS_NO_ATTACHMENT)


def attachment_keyword_pair(keywords: Iterable[str]) -> set[str]:
    """`keywords` (a mailbox's, for SELECT's FLAGS and PERMANENTFLAGS, RFC 9051 §7.3.5)
    with both attachment keywords when either is among them: detection defines the pair in
    a mailbox, as Dovecot's mail_set_attachment_keywords creates both keywords at once."""
    result = set(keywords)
    if any(keyword.lower() in _KEYWORDS for keyword in result):
        have = {keyword.lower() for keyword in result}
        result.update(k for k in (HAS_ATTACHMENT, HAS_NO_ATTACHMENT) if k.lower() not in have)
    return result


def attachment_search_text(attachments: Iterable[Attachment]) -> str:
    """The text SEARCH BODY and TEXT also match for attachments: each file name and type."""
    return "\n".join(f"{item.filename}\n{item.content_type}" for item in attachments)


def _extended_first(params: Params, name: str) -> Params:
    star = name.lower() + "*"
    return tuple(sorted(params, key=lambda param: param[0].lower() != star))


def _entities(
    part: BodyPart, parent: BodyPart | None
) -> Iterator[tuple[BodyPart, BodyPart | None]]:
    yield part, parent
    for child in part.children:
        yield from _entities(child, part)
    if part.rfc822 and part.message is not None:
        yield from _entities(part.message[1], part)


class _HtmlReferences:
    """The `cid:` links of the message's text/html parts, read only when first asked."""

    def __init__(self, raw: bytes, body: BodyPart) -> None:
        self._raw = raw
        self._body = body
        self._text: str | None = None

    def refers_to(self, content_id: str) -> bool:
        """Whether some HTML part links to `content_id` (RFC 2392 §2: "cid:" then the
        Content-ID without its angle brackets, percent-encoded where needed)."""
        if self._text is None:
            self._text = unquote("\n".join(self._html_parts(self._body))).casefold()
        wanted = content_id.strip().removeprefix("<").removesuffix(">").strip()
        return bool(wanted) and ("cid:" + wanted.casefold()) in self._text

    def _html_parts(self, part: BodyPart) -> Iterator[str]:
        for entity, _ in _entities(part, None):
            if entity.text and (entity.subtype or "").lower() == "html":
                data = self._raw[entity.body_start : entity.body_end]
                with contextlib.suppress(UnknownTransferEncoding):
                    data = decode_body(data, entity.encoding)
                yield decode_charset(data, part_charset(entity))


__all__ = [
    "HAS_ATTACHMENT",
    "HAS_NO_ATTACHMENT",
    "attachment_filename",
    "attachment_keyword_pair",
    "attachment_search_text",
    "content_type",
    "find_attachments",
    "is_attachment",
    "with_attachment_keyword",
]
