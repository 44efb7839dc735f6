"""SORT and THREAD, with their UID forms (RFC 5256 §3; RFC 5957 DISPLAYFROM / DISPLAYTO).

The search program is evaluated as for SEARCH (handlers/search_cmd.matching_messages). The
keys come from the facts parsed once at ingest (envelope, sent date, References): each
matching message's facts are read once, never its raw bytes unless the search program itself
needs them (or the facts predate the References field).
"""

from __future__ import annotations

from collections.abc import Iterable

from tidings.core import threads
from tidings.core.base_subject import base_subject
from tidings.core.errors import MailError, MailErrorKind
from tidings.core.mime import BodyPart, Envelope, MessageFacts, header_fields
from tidings.core.sort_facts import SortFacts, sent_seconds, sort_facts
from tidings.imap.proto import commands as c
from tidings.imap.proto.sort import sort_response, thread_response
from tidings.imap.session import condstore
from tidings.imap.session.core import CommandFailed, ImapSession
from tidings.imap.session.handlers.search_cmd import (
    SUPPORTED_CHARSETS,
    Loader,
    matching_messages,
)
from tidings.imap.session.registry import handles
from tidings.imap.session.sort_keys import METADATA_KEYS, sent_timestamp, sort_value

# UIDs whose facts one storage call reads: big enough that the per-call cost vanishes,
# small enough that one call holds a read transaction only briefly.
PREFETCH_BATCH = 500

# The facts of a message that was expunged under us: no header fields at all.
_NO_HEADERS = MessageFacts(0, Envelope(), BodyPart(), None, references="")


class _FactsCache:
    """The facts of each message, read at most once per command (the search program's
    loader fills it too, so a message it loaded is not read again)."""

    def __init__(self, session: ImapSession) -> None:
        view = session.selected
        assert view is not None
        self.session = session
        self.mailbox_id = view.mailbox_id
        self.facts: dict[int, MessageFacts] = {}

    def loader(self, session: ImapSession, uid: int) -> Loader:
        """A search candidate's loader that keeps the facts it loads."""

        async def load() -> tuple[bytes, MessageFacts]:
            raw = await session.store.read_message(self.mailbox_id, uid)
            facts = await session.store.read_facts(self.mailbox_id, uid)
            self.facts[uid] = facts
            return raw, facts

        return load

    async def prefetch(self, uids: list[int]) -> None:
        """Read the facts of `uids` not seen yet, many per storage call; a message another
        session expunged meanwhile (it keeps its sequence number until the client is told)
        gets facts without header fields, as in Dovecot, instead of failing the command."""
        missing = [uid for uid in uids if uid not in self.facts]
        for start in range(0, len(missing), PREFETCH_BATCH):
            batch = missing[start : start + PREFETCH_BATCH]
            found = await self.session.store.read_facts_many(self.mailbox_id, batch)
            for uid in batch:
                self.facts[uid] = found.get(uid) or _NO_HEADERS

    async def get(self, uid: int) -> MessageFacts:
        """The facts of `uid`; a message another session expunged meanwhile (it keeps its
        sequence number until the client is told) has no header fields, as in Dovecot,
        rather than failing the whole command."""
        facts = self.facts.get(uid)
        if facts is None:
            try:
                facts = await self.session.store.read_facts(self.mailbox_id, uid)
            except MailError as error:
                if error.kind is not MailErrorKind.EXPUNGED:
                    raise
                facts = _NO_HEADERS
            self.facts[uid] = facts
        return facts

    async def references(self, uid: int, facts: MessageFacts) -> str | None:
        """The first References value; from the header for facts stored without it."""
        if facts.references is not None:
            return facts.references or None
        raw = await self.session.store.read_message(self.mailbox_id, uid)
        fields = header_fields(raw, facts, ("References",))
        return fields[0][1] if fields else None


async def _matches(
    session: ImapSession, command: c.Sort | c.Thread, cache: _FactsCache
) -> list[tuple[int, int]]:
    """Check the charset (RFC 5256 §3: NO [BADCHARSET] when unsupported), then search."""
    if command.charset not in SUPPORTED_CHARSETS:
        raise CommandFailed("Unsupported charset.", f"BADCHARSET ({' '.join(SUPPORTED_CHARSETS)})")
    if condstore.has_modseq_key(command.key):
        await condstore.enable_condstore(session)  # RFC 7162 §3.1: an enabling command
    return await matching_messages(session, command.key, cache.loader)


def _modseq_tail(session: ImapSession, command: c.Sort, uids: Iterable[int]) -> bytes:
    """RFC 7162 §3.1.6 (and its sort-data extension): ` (MODSEQ n)` after a MODSEQ search."""
    view = session.selected
    assert view is not None
    if not condstore.has_modseq_key(command.key):
        return b""
    modseq = condstore.search_modseq(view, uids)
    return b"" if modseq is None else b" (MODSEQ %d)" % modseq


@handles(c.Sort)
async def sort(session: ImapSession, command: c.Sort) -> None:
    """RFC 5256 §3 SORT: the matching messages ordered by each criterion in turn, REVERSE
    inverting one criterion only; full ties in mailbox order."""
    view = session.selected
    assert view is not None
    cache = _FactsCache(session)
    found = await _matches(session, command, cache)
    needs_facts = any(criterion.key not in METADATA_KEYS for criterion in command.criteria)
    stored: dict[int, SortFacts] = {}
    if needs_facts:
        uids = [uid for _, uid in found]
        stored = await session.store.sort_facts_many(view.mailbox_id, uids)
        await cache.prefetch([uid for uid in uids if uid not in stored])
    rows = []
    for seq, uid in found:
        meta = view.messages[uid]
        values_of = None
        if needs_facts:
            values_of = stored.get(uid) or sort_facts(await cache.get(uid))
        values = tuple(sort_value(key.key, meta, values_of) for key in command.criteria)
        rows.append((seq, uid, values))
    # Stable sorts from the last criterion to the first: each REVERSE flips its own key
    # only, and messages equal on every key stay in sequence order (as in Dovecot).
    for index in reversed(range(len(command.criteria))):
        rows.sort(key=lambda row: row[2][index], reverse=command.criteria[index].reverse)
    numbers = [uid if command.uid else seq for seq, uid, _ in rows]
    tail = _modseq_tail(session, command, (uid for _, uid, _ in rows))
    await session.untagged(sort_response(numbers) + tail)
    await session.complete(command, "Sort completed.")


@handles(c.Thread)
async def thread(session: ImapSession, command: c.Thread) -> None:
    """RFC 5256 §3 THREAD with ORDEREDSUBJECT (§2.3) or REFERENCES (§2.4)."""
    view = session.selected
    assert view is not None
    cache = _FactsCache(session)
    found = await _matches(session, command, cache)
    messages = []
    references = command.algorithm is c.ThreadAlgorithm.REFERENCES
    await cache.prefetch([uid for _, uid in found])
    for seq, uid in found:
        facts = await cache.get(uid)
        envelope = facts.envelope
        messages.append(
            threads.ThreadMessage(
                number=uid if command.uid else seq,
                order=seq,
                date=sent_timestamp(sent_seconds(facts), view.messages[uid].internaldate),
                subject=base_subject(envelope.subject),
                has_subject=envelope.subject is not None,
                message_id=envelope.message_id,
                references=await cache.references(uid, facts) if references else None,
                in_reply_to=envelope.in_reply_to,
            )
        )
    if references:
        forest = threads.references(messages, session.context.limits.max_thread_references)
    else:
        forest = threads.ordered_subject(messages)
    await session.untagged(thread_response(forest))
    await session.complete(command, "Thread completed.")
