"""CONDSTORE and QRESYNC in the session (RFC 7162): enabling, SELECT parameters, the
QRESYNC resynchronisation, VANISHED (EARLIER), and the MODSEQ parts of FETCH and STORE.

The handlers (fetch, store, search_cmd, mailboxes, selected_state, any_state) call in here;
the untagged EXPUNGE/VANISHED choice and unsolicited FETCH lines are `ImapSession.
announce_expunged` and `ImapSession.flag_update`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from tidings.core.seqset import SequenceSet
from tidings.imap.proto import commands as c
from tidings.imap.proto import condstore as p
from tidings.imap.proto import responses as r
from tidings.imap.proto.lexer import ParseError

if TYPE_CHECKING:
    from tidings.imap.session.core import ImapSession
    from tidings.imap.session.selected import SelectedMailbox
    from tidings.storage.api import MessageMeta

Ranges = list[tuple[int, int]]


def _failed(reason: str) -> Exception:
    # core imports this module's callers' module; import lazily to keep the graph acyclic.
    from tidings.imap.session.core import CommandFailed  # noqa: PLC0415

    return CommandFailed(reason, status="BAD")


# ---------------------------------------------------------------------------- enabling
async def enable_condstore(session: ImapSession) -> None:
    """RFC 7162 §3.1: a CONDSTORE enabling command. From now on every FETCH that carries
    flags carries MODSEQ too; a selected mailbox's HIGHESTMODSEQ is told at once (as
    Dovecot does, `* OK [HIGHESTMODSEQ n] Highest`)."""
    if session.condstore:
        return
    session.condstore = True
    if session.selected is not None:
        await session.untagged(f"OK [HIGHESTMODSEQ {session.selected.announced_modseq}] Highest")


def enable_names(session: ImapSession, names: Iterable[str]) -> list[str]:
    """ENABLE CONDSTORE / QRESYNC (RFC 7162 §3.2.3: QRESYNC implies CONDSTORE); the names
    newly enabled, for the ENABLED response. HIGHESTMODSEQ for a selected mailbox is the
    caller's (after ENABLED)."""
    enabled = []
    for name in names:
        upper = name.upper()
        if upper == "CONDSTORE" and not session.condstore and upper not in enabled:
            enabled.append("CONDSTORE")
        elif upper == "QRESYNC" and not session.qresync:
            session.qresync = True
            enabled.append("QRESYNC")
    return enabled


# ---------------------------------------------------------------------------- SELECT
def select_options(session: ImapSession, command: c.Select) -> p.SelectOptions:
    """The SELECT/EXAMINE parameters; BAD for unknown ones and for QRESYNC before ENABLE
    QRESYNC (RFC 7162 §3.2.5)."""
    try:
        options = p.select_options(command.parameters)
    except ParseError as error:
        raise _failed(error.reason) from None
    if options.qresync is not None and not session.qresync:
        raise _failed("QRESYNC not enabled")
    return options


async def after_select_data(
    session: ImapSession, view: SelectedMailbox, options: p.SelectOptions
) -> None:
    """After SELECT's UIDNEXT: the HIGHESTMODSEQ response code (RFC 7162 §3.1.2.1) for
    CONDSTORE clients (SELECT (CONDSTORE) is an enabling command, §3.1.8)."""
    if options.condstore or options.qresync is not None:
        session.condstore = True
    if session.condstore:
        await session.untagged(f"OK [HIGHESTMODSEQ {view.modseq}] Highest")


async def qresync(session: ImapSession, view: SelectedMailbox, options: p.SelectOptions) -> None:
    """RFC 7162 §3.2.5.1: before SELECT's tagged OK, what changed since the client's
    modseq: `VANISHED (EARLIER)` for expunged known UIDs, then `FETCH (UID FLAGS MODSEQ)`
    for the known messages changed since. A UIDVALIDITY mismatch means nothing is sent.

    Below the change log's floor the expunges are no longer remembered; then every known
    UID not in the mailbox is VANISHED (the client still ends exact, §3.2.5.2)."""
    param = options.qresync
    if param is None or param.uidvalidity != view.uidvalidity:
        return
    top = view.uidnext - 1
    known = _resolve(param.known_uids, top)
    history = await session.store.expunged_since(view.mailbox_id, param.modseq)
    if history is None:
        gone = subtract(known, view.uids)
    else:
        # Expunged after the snapshot (present in it, or beyond its UIDNEXT) is not for now.
        gone = [
            (uid, uid)
            for uid in history
            if uid <= top and uid not in view.messages and _within(known, uid)
        ]
    if gone:
        await session.untagged(p.vanished(SequenceSet(tuple(merge(gone))), earlier=True))
    for seq, uid in enumerate(view.uids, 1):
        meta = view.messages[uid]
        if meta.modseq > param.modseq and _within(known, uid):
            await session.untagged(fetch_flags_line(session, seq, meta, with_uid=True))


# ---------------------------------------------------------------------------- FETCH
def fetch_options(session: ImapSession, command: c.Fetch) -> p.FetchModifiers:
    """FETCH modifiers, with RFC 7162 §3.2.6's rules for VANISHED: only in UID FETCH, only
    with CHANGEDSINCE, only after ENABLE QRESYNC; BAD otherwise."""
    try:
        modifiers = p.fetch_modifiers(command.modifiers)
    except ParseError as error:
        raise _failed(error.reason) from None
    if modifiers.vanished:
        if not command.uid:
            raise _failed("VANISHED is only allowed in UID FETCH")
        if modifiers.changed_since is None:
            raise _failed("VANISHED needs CHANGEDSINCE")
        if not session.qresync:
            raise _failed("QRESYNC not enabled")
    return modifiers


async def fetch_vanished(
    session: ImapSession, command: c.Fetch, modifiers: p.FetchModifiers
) -> None:
    """UID FETCH ... (CHANGEDSINCE n VANISHED), RFC 7162 §3.2.6: the UIDs of the set that
    were expunged since n, as `VANISHED (EARLIER)`, before any FETCH response. Below the
    log's floor: every UID of the set (up to UIDNEXT-1) that is not in the mailbox."""
    view = session.selected
    if view is None or not modifiers.vanished or modifiers.changed_since is None:
        return
    top = max(view.uidnext - 1, view.largest_uid)
    wanted = _resolve(command.sequence_set, top)
    history = await session.store.expunged_since(view.mailbox_id, modifiers.changed_since)
    if history is None:
        present = [uid for uid in view.uids if uid not in view.expunged_unannounced]
        gone = subtract(wanted, present)
    else:
        gone = [(uid, uid) for uid in history if uid not in view.messages and _within(wanted, uid)]
    if gone:
        await session.untagged(p.vanished(SequenceSet(tuple(merge(gone))), earlier=True))


def fetch_items(items: list[c.FetchItem], modifiers: p.FetchModifiers) -> list[c.FetchItem]:
    """The items to answer: MODSEQ added for CHANGEDSINCE (§3.1.4.1). A plain FETCH FLAGS
    gets no MODSEQ even once CONDSTORE is on: §3.1's "mod-sequence data in all subsequent
    untagged FETCH responses" is about those a change causes (STORE, other sessions), as
    Dovecot reads it."""
    modseq = c.FetchAttribute(c.SimpleAttribute.MODSEQ)
    if modifiers.changed_since is not None and modseq not in items:
        items = [*items, modseq]
    return items


def changed_since(
    view: SelectedMailbox, pairs: list[tuple[int, int]], modseq: int
) -> list[tuple[int, int]]:
    """RFC 7162 §3.1.4.1: only the messages whose modseq is above CHANGEDSINCE (messages
    gone meanwhile stay, so that FETCH still says EXPUNGEISSUED)."""
    return [
        (seq, uid)
        for seq, uid in pairs
        if uid not in view.messages or view.messages[uid].modseq > modseq
    ]


# ---------------------------------------------------------------------------- STORE
def fetch_flags_line(
    session: ImapSession,
    seq: int,
    meta: MessageMeta,
    *,
    with_uid: bool,
    flags: bool = True,
    modseq_first: bool = False,
) -> bytes:
    """`n FETCH ([UID u] FLAGS (...) MODSEQ (m))` for QRESYNC's SELECT, or with
    `modseq_first` `n FETCH ([UID u] MODSEQ (m) [FLAGS (...)])` for STORE replies: both in
    Dovecot's order."""
    parts = [b"UID %d" % meta.uid] if with_uid else []
    if modseq_first:
        parts.append(p.modseq_item(meta.modseq))
    if flags:
        parts.append(b"FLAGS " + r.flag_list(session.visible_flags(meta.uid, meta.flags)))
    if not modseq_first:
        parts.append(p.modseq_item(meta.modseq))
    return b"%d FETCH (%s)" % (seq, b" ".join(parts))


def unchanged_since(command: c.Store) -> int | None:
    """STORE (UNCHANGEDSINCE n): n, or None; BAD for anything else (RFC 7162 §3.1.3)."""
    try:
        return p.store_unchanged_since(command.modifiers)
    except ParseError as error:
        raise _failed(error.reason) from None


def modified_code(numbers: Sequence[int]) -> str | None:
    """`MODIFIED set` for the tagged reply (RFC 7162 §3.1.3), None when nothing failed."""
    if not numbers:
        return None
    return f"MODIFIED {SequenceSet.of(numbers)}"


# ---------------------------------------------------------------------------- SEARCH
def has_modseq_key(key: c.SearchKey) -> bool:
    """Whether a search program uses MODSEQ (RFC 7162 §3.1.5, an enabling command)."""
    if isinstance(key, p.SearchModseq):
        return True
    if isinstance(key, c.SearchAnd):
        return any(has_modseq_key(sub) for sub in key.keys)
    if isinstance(key, c.SearchOr):
        return has_modseq_key(key.left) or has_modseq_key(key.right)
    if isinstance(key, c.SearchNot):
        return has_modseq_key(key.key)
    return False


def search_modseq(view: SelectedMailbox, uids: Iterable[int]) -> int | None:
    """The highest modseq among the messages returned (RFC 7162 §3.1.6), None if none."""
    values = [view.messages[uid].modseq for uid in uids if uid in view.messages]
    return max(values) if values else None


def esearch_modseq(view: SelectedMailbox, requested: set[str], found: list[int]) -> bytes:
    """` MODSEQ n` for ESEARCH after a MODSEQ search (RFC 7162 §3.1.10, RFC 4731 §3.2): the
    highest modseq of the messages returned, i.e. of all found for ALL or COUNT, else of
    the MIN and/or MAX one; empty when nothing was found. `found` are UIDs, ascending."""
    if not found:
        return b""
    if requested & {"ALL", "COUNT"}:
        returned = found
    else:
        returned = ([found[0]] if "MIN" in requested else []) + (
            [found[-1]] if "MAX" in requested else []
        )
    modseq = search_modseq(view, returned)
    return b"" if modseq is None else b" MODSEQ %d" % modseq


# ---------------------------------------------------------------------------- UID ranges
def _resolve(sequence_set: SequenceSet | None, top: int) -> Ranges:
    if sequence_set is None:
        return [(1, top)] if top >= 1 else []
    if sequence_set.is_saved:
        return []
    return merge(sequence_set.resolve(top))


def _within(ranges: Ranges, uid: int) -> bool:
    return any(low <= uid <= high for low, high in ranges)


def merge(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Sorted, non-overlapping, non-adjacent ranges covering the same numbers."""
    result: Ranges = []
    for low, high in sorted(ranges):
        if result and low <= result[-1][1] + 1:
            result[-1] = (result[-1][0], max(result[-1][1], high))
        else:
            result.append((low, high))
    return result


def subtract(ranges: Ranges, present: Sequence[int]) -> Ranges:
    """The numbers of `ranges` (merged) not in `present` (ascending), as ranges, without
    walking the ranges number by number (a known-uids of 1:4000000000 is cheap)."""
    result: Ranges = []
    index = 0
    for low, high in ranges:
        start = low
        while index < len(present) and present[index] < low:
            index += 1
        while index < len(present) and present[index] <= high:
            uid = present[index]
            if uid > start:
                result.append((start, uid - 1))
            start = uid + 1
            index += 1
        if start <= high:
            result.append((start, high))
    return result
