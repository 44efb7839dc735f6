"""GETMETADATA and SETMETADATA (RFC 5464 METADATA and METADATA-SERVER).

Server entries (mailbox "") and mailbox entries are kept per account: there are no shared
mailboxes, so a /shared entry is seen by whoever can see the mailbox, i.e. its owner, like a
/private one (RFC 5464 §3.3 lets the server decide who may see /shared). Limits come from
`Limits.max_metadata_*`; the storage checks the entry count and total size inside the write.
"""

from __future__ import annotations

import re

from tidings.core.errors import MailError, MailErrorKind
from tidings.imap.proto.metadata import (
    MAX_ENTRY_LENGTH,
    GetMetadata,
    SetMetadata,
    metadata_response,
)
from tidings.imap.session.core import CommandFailed, ImapSession
from tidings.imap.session.notify import publish_metadata_change
from tidings.imap.session.registry import handles
from tidings.storage.api import MetadataDepth, MetadataLimits


def _mailbox(session: ImapSession, name: str) -> str | None:
    """None for the server entries (RFC 5464 §3.1: the mailbox name "")."""
    return None if name == "" else session.decode_mailbox(name)


def _subtree(entry: str, depth: str, names: list[str]) -> list[str]:
    """`entry` and the stored names below it to `depth` (RFC 5464 §4.2.2), sorted."""
    prefix = entry + "/"
    below = [
        name
        for name in names
        if name.startswith(prefix)
        and (depth == "infinity" or (depth == "1" and "/" not in name[len(prefix) :]))
    ]
    return [entry, *below]


@handles(GetMetadata)
async def getmetadata(session: ImapSession, command: GetMetadata) -> None:
    """RFC 5464 §4.2: one METADATA response; as Dovecot answers it, each entry asked for
    comes with its value (NIL if it has none), then the entries below it to DEPTH.
    MAXSIZE leaves out longer values and reports the longest left out as
    [METADATA LONGENTRIES n] (§4.2.1)."""
    if len(command.entries) > session.context.limits.max_metadata_entries:
        # More entries than any mailbox may hold: refused before touching the store.
        raise CommandFailed("Too many entries requested.", status="BAD")
    mailbox = _mailbox(session, command.mailbox)
    found = dict(
        await session.store.get_metadata(mailbox, command.entries, MetadataDepth(command.depth))
    )
    values: list[tuple[str, bytes | None]] = []
    sent: set[str] = set()
    longest_skipped = 0
    for entry in command.entries:
        for name in _subtree(entry, command.depth, list(found)):
            value = found.get(name)
            if name in sent or (value is None and name != entry):
                continue
            sent.add(name)
            if value is not None and command.maxsize is not None and len(value) > command.maxsize:
                longest_skipped = max(longest_skipped, len(value))
                continue
            values.append((name, value))
    if values:
        shown = session.encode_mailbox(mailbox) if mailbox is not None else b'""'
        await session.untagged(metadata_response(shown, values))
    code = f"METADATA LONGENTRIES {longest_skipped}" if longest_skipped else None
    await session.complete(command, "Getmetadata completed.", code)


@handles(SetMetadata)
async def setmetadata(session: ImapSession, command: SetMetadata) -> None:
    """RFC 5464 §4.3: all entries or none. A value over `max_metadata_value_size` gets
    NO [METADATA MAXSIZE n]; more entries than the limits allow NO [METADATA TOOMANY]."""
    limits = session.context.limits
    if len(command.values) > limits.max_metadata_entries:
        raise CommandFailed("Too many metadata entries.", "METADATA TOOMANY")
    if any(
        value is not None and len(value) > limits.max_metadata_value_size
        for _, value in command.values
    ):
        raise CommandFailed(
            "Metadata value too large.", f"METADATA MAXSIZE {limits.max_metadata_value_size}"
        )
    mailbox = _mailbox(session, command.mailbox)
    bounds = MetadataLimits(limits.max_metadata_entries, limits.max_metadata_total_size)
    try:
        await session.store.set_metadata(mailbox, command.values, bounds)
    except MailError as error:
        if error.kind is MailErrorKind.LIMIT:
            raise CommandFailed(error.reason + ".", "METADATA TOOMANY") from error
        raise
    # After the commit: NOTIFY's MailboxMetadataChange / ServerMetadataChange (RFC 5465).
    assert session.account is not None
    entries = [entry for entry, _ in command.values]
    publish_metadata_change(session.context.hub, session.account, mailbox, entries)
    await session.complete(command, "Setmetadata completed.")


_SETMETADATA = re.compile(rb"[^ ]+ SETMETADATA ", re.IGNORECASE)


def metadata_literal_refusal(
    session: ImapSession, pending: bytes, size: int
) -> tuple[str, str] | None:
    """(code, text) to answer instead of `+` to a synchronizing literal of SETMETADATA
    (`pending` is the command so far) larger than any value may be, so that the client
    does not upload it in vain (RFC 5464 §4.3; Dovecot refuses it there too). A literal
    this large cannot be an entry name either (MAX_ENTRY_LENGTH)."""
    limit = session.context.limits.max_metadata_value_size
    if size <= max(limit, MAX_ENTRY_LENGTH) or not _SETMETADATA.match(pending):
        return None
    return f"METADATA MAXSIZE {limit}", "Metadata value too large."
