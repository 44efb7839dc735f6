"""FETCH and UID FETCH (RFC 9051 §6.4.5, §7.5.2; BINARY from RFC 3516).

Everything but FLAGS comes from the facts parsed at APPEND and byte offsets into the stored
message: nothing is re-parsed here (DESIGN.md "Storage").
"""

from __future__ import annotations

from tidings.core.errors import MailError, MailErrorKind
from tidings.core.mime import MessageFacts, UnknownTransferEncoding, binary_section, section_bytes
from tidings.imap.proto import commands as c
from tidings.imap.proto import responses as r
from tidings.imap.proto.fetch_encoding import encode_bodystructure, encode_envelope
from tidings.imap.session import condstore
from tidings.imap.session.core import CommandFailed, ImapSession
from tidings.imap.session.message_extras import (
    MessageExtras,
    encode_extra,
    is_extra,
    load_for_fetch,
)
from tidings.imap.session.registry import handles
from tidings.imap.session.selected import SelectedMailbox
from tidings.storage.api import FlagOperation, MessageMeta

A = c.SimpleAttribute
_NEEDS_FACTS = {A.ENVELOPE, A.BODY, A.BODYSTRUCTURE, A.RFC822_HEADER, A.RFC822_TEXT}
_SETS_SEEN = {A.RFC822, A.RFC822_TEXT}
_HEADER = c.Section(specifier="HEADER")
_TEXT = c.Section(specifier="TEXT")


_NEEDS_RAW = {A.RFC822, A.RFC822_HEADER, A.RFC822_TEXT}


def _needs_message(item: c.FetchItem) -> bool:
    if isinstance(item, c.FetchAttribute):
        return item.attribute in _NEEDS_FACTS or item.attribute is A.RFC822
    return isinstance(item, c.FetchSection | c.FetchBinarySize)


def _needs_raw(item: c.FetchItem) -> bool:
    """Whether the item shows the message's octets (ENVELOPE, BODY and BODYSTRUCTURE come
    from its facts alone, so FETCH ENVELOPE never reads and inflates the message)."""
    if isinstance(item, c.FetchAttribute):
        return item.attribute in _NEEDS_RAW
    return isinstance(item, c.FetchSection | c.FetchBinarySize)


def _sets_seen(item: c.FetchItem) -> bool:
    """RFC 9051 §6.4.5: BODY[...] / BINARY[...] / RFC822 / RFC822.TEXT set \\Seen."""
    if isinstance(item, c.FetchAttribute):
        return item.attribute in _SETS_SEEN
    return isinstance(item, c.FetchSection) and not item.peek


def section_name(section: c.Section) -> str:
    """The section text as echoed in the response (`1.2.HEADER.FIELDS (A B)`)."""
    parts = [str(number) for number in section.part]
    if section.specifier:
        parts.append(section.specifier)
    text = ".".join(parts)
    if section.fields:
        text += " (" + " ".join(field.upper() for field in section.fields) + ")"
    return text


def _body_literal(data: bytes, binary: bool = False) -> bytes:
    if binary:
        return r.literal(data, binary=b"\x00" in data)
    # A literal cannot carry NUL (RFC 9051 §9: CHAR8 = %x01-ff). Content stored from a
    # literal8 (RFC 3516 §4.4) may hold some; BODY[] shows each as 0x80, as Dovecot does,
    # keeping sizes and offsets; BINARY[] gives the octets themselves.
    return r.literal(data.replace(b"\x00", b"\x80"))


@handles(c.Fetch)
async def fetch(session: ImapSession, command: c.Fetch) -> None:
    """Answer one FETCH line per message, in sequence order."""
    view = session.selected
    assert view is not None
    modifiers = condstore.fetch_options(session, command)  # RFC 7162 CHANGEDSINCE, VANISHED
    if not command.uid and not view.seq_range_valid(command.sequence_set):
        raise CommandFailed("Invalid messageset.", status="BAD")
    items = list(command.items)
    if command.uid and c.FetchAttribute(A.UID) not in items:
        items.insert(0, c.FetchAttribute(A.UID))  # RFC 9051 §6.4.9: UID FETCH always has UID
    if c.FetchAttribute(A.MODSEQ) in items or modifiers.changed_since is not None:
        await condstore.enable_condstore(session)  # RFC 7162 §3.1: enabling commands
    items = condstore.fetch_items(items, modifiers)
    pairs = view.resolve(command.sequence_set, command.uid, session.saved_search)
    if modifiers.changed_since is not None:
        pairs = condstore.changed_since(view, pairs, modifiers.changed_since)
        await condstore.fetch_vanished(session, command, modifiers)  # before any FETCH
    # RFC 8474 / 8514 / 8970 items, read for every message at once.
    extras = await load_for_fetch(session.store, view.mailbox_id, items, [u for _, u in pairs])
    needs_message = any(_needs_message(item) for item in items)
    needs_raw = any(_needs_raw(item) for item in items)
    wants_flags = c.FetchAttribute(A.FLAGS) in items
    seen_now: set[int] = set()
    if any(_sets_seen(item) for item in items) and not view.read_only:
        seen_now = await _mark_seen(session, view, [uid for _, uid in pairs])
    missing = False
    for seq, uid in pairs:
        meta = view.messages.get(uid)
        if meta is None or uid in view.expunged_unannounced:
            missing = True
            continue
        message: tuple[bytes, MessageFacts] | None = None
        if needs_message:
            try:
                raw = await session.store.read_message(view.mailbox_id, uid) if needs_raw else b""
                message = (raw, await session.store.read_facts(view.mailbox_id, uid))
            except MailError as error:
                if error.kind is not MailErrorKind.EXPUNGED:
                    raise
                missing = True
                continue
        data = [await _encode_item(session, item, meta, message, extras) for item in items]
        if uid in seen_now and not wants_flags:
            # RFC 9051 §6.4.5: the changed flags accompany the data that set \Seen.
            data.append(b"FLAGS " + r.flag_list(session.visible_flags(uid, meta.flags)))
            if session.condstore and c.FetchAttribute(A.MODSEQ) not in items:
                data.append(b"MODSEQ (%d)" % meta.modseq)  # RFC 7162 §3.1
        await session.untagged(b"%d FETCH (%s)" % (seq, b" ".join(data)))
    if missing:
        raise CommandFailed("Some of the requested messages no longer exist.", "EXPUNGEISSUED")
    await session.complete(command, "Fetch completed.")


async def _mark_seen(session: ImapSession, view: SelectedMailbox, uids: list[int]) -> set[int]:
    """Set \\Seen on the unseen messages among `uids` (RFC 9051 §6.4.5); the UIDs that
    changed. Without the "s" right of a shared mailbox nothing changes (RFC 4314 §4)."""
    unseen = [
        uid
        for uid in uids
        if uid in view.messages
        and "\\Seen" not in view.messages[uid].flags
        and uid not in view.expunged_unannounced
    ]
    if not unseen:
        return set()
    try:
        changed = await session.store.store_flags(
            view.mailbox_id, unseen, FlagOperation.ADD, ["\\Seen"]
        )
    except MailError as error:
        if error.kind is not MailErrorKind.NOPERM:
            raise
        return set()
    view.update_flags(changed)
    return set(unseen)


async def fetch_response(
    session: ImapSession, seq: int, meta: MessageMeta, items: tuple[c.FetchItem, ...]
) -> bytes | None:
    """One unsolicited `seq FETCH (...)` with `items` for NOTIFY's MessageNew (RFC 5465
    §5.2); a notification never sets \\Seen. None if the message went away meanwhile."""
    message: tuple[bytes, MessageFacts] | None = None
    if any(_needs_message(item) for item in items):
        assert session.selected is not None
        try:
            message = (
                await session.store.read_message(session.selected.mailbox_id, meta.uid),
                await session.store.read_facts(session.selected.mailbox_id, meta.uid),
            )
        except MailError as error:
            if error.kind is not MailErrorKind.EXPUNGED:
                raise
            return None
    data = [await _encode_item(session, item, meta, message) for item in items]
    return b"%d FETCH (%s)" % (seq, b" ".join(data))


async def _encode_item(
    session: ImapSession,
    item: c.FetchItem,
    meta: MessageMeta,
    message: tuple[bytes, MessageFacts] | None,
    extras: MessageExtras | None = None,
) -> bytes:
    if is_extra(item):
        if extras is None:  # a single message (e.g. a NOTIFY MessageNew fetch)
            assert session.selected is not None
            mailbox_id = session.selected.mailbox_id
            extras = await load_for_fetch(session.store, mailbox_id, [item], [meta.uid])
        return encode_extra(item, meta.uid, extras)
    if isinstance(item, c.FetchAttribute):
        return _encode_attribute(session, item.attribute, meta, message)
    assert message is not None and isinstance(item, c.FetchSection | c.FetchBinarySize)
    raw, facts = message
    return encode_section_item(item, raw, facts)


def encode_section_item(
    item: c.FetchSection | c.FetchBinarySize, raw: bytes, facts: MessageFacts
) -> bytes:
    """`BODY[...]`, `BINARY[...]` or `BINARY.SIZE[...]` with its value, for one message.

    A section whose part does not exist is an empty string (BINARY.SIZE 0), not NIL: RFC
    9051 §6.4.5 leaves it open, and Dovecot's imap-msgpart answers "an empty part" (its
    comment: "MIME part not found. return an empty part."), which clients meet in
    practice, e.g. BODY[1] of a multipart that has no parts."""
    if isinstance(item, c.FetchBinarySize):
        # RFC 3516 §4.2: the decoded size of the part, i.e. the size of its BINARY.
        decoded = _binary(raw, facts, item.part) or b""
        return b"BINARY.SIZE[%s] %d" % (".".join(map(str, item.part)).encode(), len(decoded))
    if item.binary:
        content = _binary(raw, facts, item.section.part)
        name = "BINARY[" + ".".join(map(str, item.section.part)) + "]"
    else:
        content = section_bytes(raw, facts, item.section)
        name = "BODY[" + section_name(item.section) + "]"
    content = content or b""
    if item.partial is not None:
        offset, count = item.partial
        name += f"<{offset}>"
        content = content[offset : offset + count]
    return name.encode() + b" " + _body_literal(content, binary=item.binary)


def _binary(raw: bytes, facts: MessageFacts, part: tuple[int, ...]) -> bytes | None:
    try:
        return binary_section(raw, facts, part)
    except UnknownTransferEncoding as error:
        # RFC 3516 §4.3: a part we cannot decode.
        raise CommandFailed("Unknown Content-Transfer-Encoding.", "UNKNOWN-CTE") from error


def _encode_attribute(
    session: ImapSession,
    attribute: c.SimpleAttribute,
    meta: MessageMeta,
    message: tuple[bytes, MessageFacts] | None,
) -> bytes:
    if attribute is A.FLAGS:
        return b"FLAGS " + r.flag_list(session.visible_flags(meta.uid, meta.flags))
    if attribute is A.UID:
        return b"UID %d" % meta.uid
    if attribute is A.INTERNALDATE:
        return b"INTERNALDATE " + r.imap_datetime(meta.internaldate)
    if attribute is A.RFC822_SIZE:
        return b"RFC822.SIZE %d" % meta.size
    if attribute is A.MODSEQ:
        return b"MODSEQ (%d)" % meta.modseq
    assert message is not None
    raw, facts = message
    if attribute is A.ENVELOPE:
        return b"ENVELOPE " + encode_envelope(facts.envelope)
    if attribute is A.BODY:
        return b"BODY " + encode_bodystructure(facts.body, extensible=False)
    if attribute is A.BODYSTRUCTURE:
        return b"BODYSTRUCTURE " + encode_bodystructure(facts.body, extensible=True)
    if attribute is A.RFC822:
        return b"RFC822 " + _body_literal(raw)
    if attribute is A.RFC822_HEADER:
        return b"RFC822.HEADER " + _body_literal(section_bytes(raw, facts, _HEADER) or b"")
    if attribute is A.RFC822_TEXT:
        return b"RFC822.TEXT " + _body_literal(section_bytes(raw, facts, _TEXT) or b"")
    raise CommandFailed(f"Unsupported FETCH item {attribute.value}", status="BAD")
