"""The facts parsed once per message at APPEND (DESIGN.md "Storage"): envelope, MIME tree
with byte offsets, sent date, attachments. Storage keeps them as JSON; FETCH and SEARCH read
them instead of re-parsing the message.

Text values are `str` decoded from the header bytes as UTF-8 with surrogateescape, so
`value.encode("utf-8", "surrogateescape")` gives the original octets back (8-bit headers in
other charsets survive the JSON round trip byte for byte).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tidings.core.mime.rfc822 import Address

Params = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Envelope:
    """RFC 9051 §7.5.2 ENVELOPE fields as Dovecot keeps them: strings are the raw header
    values (encoded words not decoded), unfolded except the subject, which keeps its folding
    line breaks for the encoder to collapse; address lists are () when absent. When a
    field repeats, the last string field wins and address fields are joined (Dovecot's
    message_part_envelope_parse_from_header)."""

    date: str | None = None
    subject: str | None = None
    from_: tuple[Address, ...] = ()
    sender: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    in_reply_to: str | None = None
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class BodyPart:
    """One MIME entity (RFC 2045) with what BODYSTRUCTURE needs and where its bytes are.

    `type`/`subtype` are as written (None: no usable Content-Type, i.e. text/plain or, under
    multipart/digest, message/rfc822). `params` are Content-Type parameters in Dovecot's
    order, RFC 2231 continuations merged (see rfc822.parse_params). The flags `multipart`,
    `rfc822` and `text` follow Dovecot's message parser (e.g. Content-* is ignored without
    MIME-Version or Content-Type). Offsets: the header block is raw[header_start:body_start]
    (including its blank line), the body raw[body_start:body_end]; `size` is body octets and
    `lines` the LF count of the body. `message` is (envelope, root) of the embedded message of
    a message/rfc822 part; `children` the parts of a multipart.
    """

    type: str | None = None
    subtype: str | None = None
    params: Params = ()
    id: str | None = None
    description: str | None = None
    encoding: str | None = None
    md5: str | None = None
    disposition: str | None = None
    disposition_params: Params = ()
    language: tuple[str, ...] | None = None
    location: str | None = None
    header_start: int = 0
    body_start: int = 0
    body_end: int = 0
    size: int = 0
    lines: int = 0
    children: tuple[BodyPart, ...] = ()
    message: tuple[Envelope, BodyPart] | None = None
    multipart: bool = False
    rfc822: bool = False
    text: bool = True


@dataclass(frozen=True, slots=True)
class Attachment:
    """One attached file (see attachments.py): its file name decoded (RFC 2231, RFC 2047;
    "" when the part names none) and its lower-cased content type."""

    filename: str
    content_type: str


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """Everything derived from one message's bytes, computed once by `parse_message`."""

    size: int
    envelope: Envelope
    body: BodyPart
    sent_date: datetime | None
    # RFC 8970 PREVIEW text ("" when the message has no text) and the RFC 8474 THREADID root
    # message-id ("" when it names none); None in facts stored before they were computed
    # (version 1 JSON), which readers then derive from the raw message on demand.
    preview: str | None = None
    thread_root: str | None = None
    # The unfolded raw value of the first References field, for RFC 5256 THREAD=REFERENCES
    # ("" when there is none); None in facts stored before it was recorded, as above.
    references: str | None = None
    # The attachments, in MIME part order (attachments.find_attachments); None in facts
    # stored before they were recorded (version 2 JSON and older): readers then detect them
    # from the raw message on demand.
    attachments: tuple[Attachment, ...] | None = None

    def to_json(self) -> bytes:
        """Serialise for storage; `from_json(to_json())` gives an equal object back."""
        data = {
            "v": 3,
            "size": self.size,
            "envelope": _envelope_to(self.envelope),
            "body": _part_to(self.body),
            "sent_date": self.sent_date.isoformat() if self.sent_date else None,
            "preview": self.preview,
            "thread_root": self.thread_root,
            "references": self.references,
            "attachments": (
                None
                if self.attachments is None
                else [[a.filename, a.content_type] for a in self.attachments]
            ),
        }
        # ensure_ascii escapes lone surrogates (8-bit header octets) so they round trip.
        return json.dumps(data, ensure_ascii=True, separators=(",", ":")).encode("ascii")

    @classmethod
    def from_json(cls, data: bytes) -> MessageFacts:
        """Inverse of `to_json`; older versions read too: version 1 JSON has no preview nor
        thread root, version 2 no attachments (those fields are None)."""
        obj = json.loads(data)
        sent = obj["sent_date"]
        attachments = obj.get("attachments")
        return cls(
            size=obj["size"],
            envelope=_envelope_from(obj["envelope"]),
            body=_part_from(obj["body"]),
            sent_date=datetime.fromisoformat(sent) if sent else None,
            preview=obj.get("preview"),
            thread_root=obj.get("thread_root"),
            references=obj.get("references"),
            attachments=(
                None
                if attachments is None
                else tuple(Attachment(name, kind) for name, kind in attachments)
            ),
        )


_ENVELOPE_STRINGS = ("date", "subject", "in_reply_to", "message_id")
_ENVELOPE_ADDRESSES = ("from_", "sender", "reply_to", "to", "cc", "bcc")


def _envelope_to(env: Envelope) -> dict[str, Any]:
    data: dict[str, Any] = {name: getattr(env, name) for name in _ENVELOPE_STRINGS}
    for name in _ENVELOPE_ADDRESSES:
        data[name] = [[a.name, a.route, a.mailbox, a.host] for a in getattr(env, name)]
    return data


def _envelope_from(data: dict[str, Any]) -> Envelope:
    kwargs: dict[str, Any] = {name: data[name] for name in _ENVELOPE_STRINGS}
    for name in _ENVELOPE_ADDRESSES:
        kwargs[name] = tuple(Address(*item) for item in data[name])
    return Envelope(**kwargs)


_PART_SCALARS = (
    "type",
    "subtype",
    "id",
    "description",
    "encoding",
    "md5",
    "disposition",
    "location",
    "header_start",
    "body_start",
    "body_end",
    "size",
    "lines",
    "multipart",
    "rfc822",
    "text",
)


def _part_to(part: BodyPart) -> dict[str, Any]:
    data: dict[str, Any] = {name: getattr(part, name) for name in _PART_SCALARS}
    data["params"] = [list(p) for p in part.params]
    data["disposition_params"] = [list(p) for p in part.disposition_params]
    data["language"] = list(part.language) if part.language is not None else None
    data["children"] = [_part_to(child) for child in part.children]
    if part.message is not None:
        data["message"] = [_envelope_to(part.message[0]), _part_to(part.message[1])]
    else:
        data["message"] = None
    return data


def _part_from(data: dict[str, Any]) -> BodyPart:
    kwargs: dict[str, Any] = {name: data[name] for name in _PART_SCALARS}
    kwargs["params"] = tuple((k, v) for k, v in data["params"])
    kwargs["disposition_params"] = tuple((k, v) for k, v in data["disposition_params"])
    language = data["language"]
    kwargs["language"] = tuple(language) if language is not None else None
    kwargs["children"] = tuple(_part_from(child) for child in data["children"])
    message = data["message"]
    kwargs["message"] = (
        (_envelope_from(message[0]), _part_from(message[1])) if message is not None else None
    )
    return BodyPart(**kwargs)
