"""SEARCH and UID SEARCH (RFC 9051 §6.4.4), ESEARCH replies (RFC 4731) and the saved
result `$` (RFC 5182)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tidings.core.mime import MessageFacts
from tidings.core.seqset import SequenceSet
from tidings.imap.proto import commands as c
from tidings.imap.proto import responses as r
from tidings.imap.session import condstore
from tidings.imap.session.core import CommandFailed, ImapSession
from tidings.imap.session.message_extras import load_for_search
from tidings.imap.session.registry import handles
from tidings.imap.session.search import SearchCandidate, matches, possible_uids

SUPPORTED_CHARSETS = ("US-ASCII", "UTF-8")


Loader = Callable[[], Awaitable[tuple[bytes, MessageFacts]]]


PREFETCH = 200
"""Messages a search that reads contents loads per storage round trip."""


class _Prefetcher:
    """Loads the messages a search reads a chunk at a time: the first candidate whose
    contents are needed brings in the next PREFETCH candidates with it, in one read of the
    store, instead of two round trips per message."""

    def __init__(self, session: ImapSession, uids: list[int]) -> None:
        self._session = session
        self._uids = uids
        self._position = {uid: index for index, uid in enumerate(uids)}
        self._loaded: dict[int, tuple[bytes, MessageFacts]] = {}

    def loader(self, session: ImapSession, uid: int) -> Loader:
        async def load() -> tuple[bytes, MessageFacts]:
            found = self._loaded.pop(uid, None)
            if found is None:
                await self._load_from(uid)
                found = self._loaded.pop(uid, None)
            if found is None:  # expunged meanwhile
                view = session.selected
                assert view is not None
                raw = await session.store.read_message(view.mailbox_id, uid)
                return raw, await session.store.read_facts(view.mailbox_id, uid)
            return found

        return load

    async def _load_from(self, uid: int) -> None:
        view = self._session.selected
        assert view is not None
        start = self._position.get(uid, 0)
        chunk = self._uids[start : start + PREFETCH]
        self._loaded = await self._session.store.read_messages_many(view.mailbox_id, chunk)


async def matching_messages(
    session: ImapSession,
    key: c.SearchKey,
    loader: Callable[[ImapSession, int], Loader] | None = None,
) -> list[tuple[int, int]]:
    """(seq, uid) of the selected messages that satisfy `key`, ascending; also for SORT and
    THREAD (RFC 5256 §3: "the searching criteria are as in SEARCH"). `loader` makes the
    function that loads a candidate's raw bytes and facts, if the caller wants to see them."""
    view = session.selected
    assert view is not None
    if isinstance(key, c.SearchAll):  # SORT and THREAD ask this most: no key to evaluate
        return [
            (seq, uid)
            for seq, uid in enumerate(list(view.uids), 1)
            if uid in view.messages and uid not in view.expunged_unannounced
        ]
    extras = await load_for_search(session.store, view.mailbox_id, key, view.uids)
    possible = possible_uids(key, extras.text_hits)  # the index rules out the others
    uids = list(view.uids)
    candidates = uids if possible is None else [uid for uid in uids if uid in possible]
    make_loader = loader or _Prefetcher(session, candidates).loader
    found: list[tuple[int, int]] = []
    for seq, uid in enumerate(uids, 1):
        if possible is not None and uid not in possible:
            continue
        meta = view.messages.get(uid)
        if meta is None or uid in view.expunged_unannounced:
            continue
        candidate = SearchCandidate(
            seq=seq,
            uid=uid,
            flags=meta.flags,
            recent=uid in view.recent,
            internaldate=meta.internaldate,
            size=meta.size,
            load=make_loader(session, uid),
            object_ids=extras.object_ids.get(uid),
            savedate=extras.savedates.get(uid),
            modseq=meta.modseq,
            text_hits=extras.text_hits,
        )
        if await matches(
            key,
            candidate,
            largest_seq=view.exists,
            largest_uid=view.largest_uid,
            saved_uids=session.saved_search,
        ):
            found.append((seq, uid))
    return found


@handles(c.Search)
async def search(session: ImapSession, command: c.Search) -> None:
    """Evaluate the key on every message; answer SEARCH (rev1) or ESEARCH."""
    view = session.selected
    assert view is not None
    if command.charset is not None and session.utf8_accept:
        # RFC 6855 §3: after ENABLE UTF8=ACCEPT a client must not name a charset, and the
        # server "SHOULD reject the command with a BAD response".
        raise CommandFailed("SEARCH CHARSET is not allowed after UTF8=ACCEPT.", status="BAD")
    if command.charset is not None and command.charset.upper() not in SUPPORTED_CHARSETS:
        # RFC 9051 §6.4.4: NO with BADCHARSET listing what we support.
        raise CommandFailed("Unsupported charset.", f"BADCHARSET ({' '.join(SUPPORTED_CHARSETS)})")
    uses_modseq = condstore.has_modseq_key(command.key)
    if uses_modseq:
        await condstore.enable_condstore(session)  # RFC 7162 §3.1: an enabling command
    found = await matching_messages(session, command.key)
    numbers = [uid if command.uid else seq for seq, uid in found]
    options = command.return_options
    if options is None and not session.rev2:
        modseq = condstore.search_modseq(view, [uid for _, uid in found]) if uses_modseq else None
        # RFC 7162 §3.1.6: `(MODSEQ n)`, the highest of the messages found, after MODSEQ.
        tail = [f"(MODSEQ {modseq})"] if modseq is not None else []
        await session.untagged(" ".join(["SEARCH", *map(str, numbers), *tail]))
        await session.complete(command, "Search completed.")
        return
    requested = set(options or ()) or {"ALL"}
    if "SAVE" in requested:
        _save_result(session, requested, [uid for _, uid in found])
        requested.discard("SAVE")
        if not requested and options:
            # RFC 5182 §2.1: SAVE alone produces no ESEARCH response.
            await session.complete(command, "Search completed.")
            return
        requested = requested or {"ALL"}
    line = _esearch(command, requested, numbers)
    if uses_modseq:
        line += condstore.esearch_modseq(view, requested, [uid for _, uid in found])
    await session.untagged(line)
    await session.complete(command, "Search completed.")


def _save_result(session: ImapSession, requested: set[str], uids: list[int]) -> None:
    """RFC 5182 §2.1: with MIN/MAX (and not ALL/COUNT) only those are saved."""
    if uids and requested & {"MIN", "MAX"} and not requested & {"ALL", "COUNT"}:
        kept = set()
        if "MIN" in requested:
            kept.add(min(uids))
        if "MAX" in requested:
            kept.add(max(uids))
        session.saved_search = frozenset(kept)
    else:
        session.saved_search = frozenset(uids)


def _esearch(command: c.Search, requested: set[str], numbers: list[int]) -> bytes:
    """RFC 4731 §3.1: `ESEARCH (TAG "t") [UID] MIN n MAX n COUNT n ALL set`."""
    parts = [b"ESEARCH (TAG " + r.quoted(command.tag) + b")"]
    if command.uid:
        parts.append(b"UID")
    if numbers and "MIN" in requested:
        parts.append(b"MIN %d" % min(numbers))
    if numbers and "MAX" in requested:
        parts.append(b"MAX %d" % max(numbers))
    if "COUNT" in requested:
        parts.append(b"COUNT %d" % len(numbers))
    if numbers and "ALL" in requested:
        parts.append(b"ALL " + str(SequenceSet.of(numbers)).encode())
    return b" ".join(parts)
