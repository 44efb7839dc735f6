"""CONDSTORE and QRESYNC syntax (RFC 7162 §7): modifiers, select parameters, SEARCH MODSEQ.

The command grammar keeps RFC 4466 modifier lists raw (`Fetch.modifiers`, `Store.modifiers`,
`Select.parameters`); the functions here turn them into typed values or raise `ParseError`
with the reason for the BAD reply. No I/O.

    mod-sequence-value  = 1*DIGIT      ; positive unsigned 63-bit integer
    mod-sequence-valzer = "0" / mod-sequence-value
    fetch-modifier      =/ chgsince-fetch-mod / rexpunges-fetch-mod
    chgsince-fetch-mod  = "CHANGEDSINCE" SP mod-sequence-value
    rexpunges-fetch-mod = "VANISHED"
    store-modifier      =/ "UNCHANGEDSINCE" SP mod-sequence-valzer
    select-param        =/ condstore-param / "QRESYNC" SP "(" uidvalidity SP
                           mod-sequence-value [SP known-uids] [SP seq-match-data] ")"
    seq-match-data      = "(" known-sequence-set SP known-uid-set ")"
    search-modsequence  = "MODSEQ" [search-modseq-ext] SP mod-sequence-valzer
    search-modseq-ext   = SP entry-name SP entry-type-req
"""

from __future__ import annotations

from dataclasses import dataclass

from tidings.core.seqset import SequenceSet
from tidings.imap.proto.commands import SearchKey
from tidings.imap.proto.lexer import MAX_NUMBER64, Cursor, ParseError

# RFC 7162 §7: entry-type-req = entry-type-resp / "all"; entry-type-resp = "priv" / "shared"
_ENTRY_TYPES = frozenset({"PRIV", "SHARED", "ALL"})
_FLAG_ENTRY_PREFIX = "/flags/"


@dataclass(frozen=True, slots=True)
class SearchModseq(SearchKey):
    """MODSEQ [entry-name entry-type] n (RFC 7162 §3.1.5): modseq >= n. The entry names one
    flag's metadata; with one modseq per message it narrows nothing (RFC 7162 §3.1.5 lets a
    server that keeps no per-flag modseq use the message's)."""

    modseq: int
    entry: str | None = None
    entry_type: str | None = None


@dataclass(frozen=True, slots=True)
class FetchModifiers:
    """FETCH modifiers: CHANGEDSINCE n (§3.1.4.1) and VANISHED (§3.2.6)."""

    changed_since: int | None = None
    vanished: bool = False


@dataclass(frozen=True, slots=True)
class QresyncParameter:
    """SELECT/EXAMINE (QRESYNC (...)), RFC 7162 §3.2.5: what the client last knew."""

    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None = None
    # (message sequence numbers, their UIDs), RFC 7162 §3.2.5.2
    seq_match: tuple[SequenceSet, SequenceSet] | None = None


@dataclass(frozen=True, slots=True)
class SelectOptions:
    """SELECT/EXAMINE parameters: CONDSTORE (§3.1.8) and QRESYNC (§3.2.5)."""

    condstore: bool = False
    qresync: QresyncParameter | None = None


def parse_modseq(text: str | None, *, allow_zero: bool, what: str = "mod-sequence") -> int:
    """mod-sequence-value (or -valzer when `allow_zero`): 63-bit unsigned."""
    if text is None or not text.isdigit() or not text.isascii():
        raise ParseError(f"Invalid {what}")
    value = int(text)
    if value > MAX_NUMBER64 or (value == 0 and not allow_zero):
        raise ParseError(f"{what} out of range")
    return value


def fetch_modifiers(raw: tuple[tuple[str, str | None], ...]) -> FetchModifiers:
    """The typed FETCH modifiers; BAD for unknown or repeated ones."""
    changed_since: int | None = None
    vanished = False
    seen: set[str] = set()
    for name, value in raw:
        if name in seen:
            raise ParseError(f"{name} given twice")
        seen.add(name)
        if name == "CHANGEDSINCE":
            # Dovecot accepts CHANGEDSINCE 0 (every message); so do we.
            changed_since = parse_modseq(value, allow_zero=True, what="CHANGEDSINCE value")
        elif name == "VANISHED" and value is None:
            vanished = True
        else:
            raise ParseError(f"Unknown FETCH modifier {name}")
    return FetchModifiers(changed_since, vanished)


def store_unchanged_since(raw: tuple[tuple[str, str | None], ...]) -> int | None:
    """UNCHANGEDSINCE n of a STORE (RFC 7162 §3.1.3: only one), None without it."""
    if not raw:
        return None
    if len(raw) > 1:
        raise ParseError("Only one STORE modifier is allowed")
    name, value = raw[0]
    if name != "UNCHANGEDSINCE":
        raise ParseError(f"Unknown STORE modifier {name}")
    return parse_modseq(value, allow_zero=True, what="UNCHANGEDSINCE value")


def select_options(raw: tuple[tuple[str, str | None], ...]) -> SelectOptions:
    """The typed SELECT/EXAMINE parameters; BAD for unknown or repeated ones."""
    condstore = False
    qresync: QresyncParameter | None = None
    seen: set[str] = set()
    for name, value in raw:
        if name in seen:
            raise ParseError(f"{name} given twice")
        seen.add(name)
        if name == "CONDSTORE" and value is None:
            condstore = True
        elif name == "QRESYNC" and value is not None:
            qresync = parse_qresync(value)
        else:
            raise ParseError(f"Unknown SELECT parameter {name}")
    return SelectOptions(condstore, qresync)


def _uid_set(cursor: Cursor, what: str) -> SequenceSet:
    # known-uids / known-sequence-set / known-uid-set: sequence-set without "*" (§7)
    start = cursor.pos
    sequence_set = cursor.sequence_set()
    if sequence_set.is_saved or any(None in pair for pair in sequence_set.ranges):
        raise ParseError(f"{what} may not contain * or $")
    if cursor.pos == start:
        raise ParseError(f"Expected {what}")
    return sequence_set


def _count(sequence_set: SequenceSet) -> int:
    return sum(abs(int(high or 0) - int(low or 0)) + 1 for low, high in sequence_set.ranges)


def parse_qresync(text: str) -> QresyncParameter:
    """ "(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")" """
    cursor = Cursor(text.encode("ascii", "replace"))
    cursor.expect(b"(")
    uidvalidity = cursor.number("uidvalidity", nonzero=True)
    cursor.sp()
    start = cursor.pos
    cursor.number("mod-sequence", bits64=True)
    modseq = parse_modseq(
        cursor.data[start : cursor.pos].decode("ascii"), allow_zero=False, what="QRESYNC modseq"
    )
    known: SequenceSet | None = None
    seq_match: tuple[SequenceSet, SequenceSet] | None = None
    if cursor.maybe_sp() and cursor.peek() != 0x28:
        known = _uid_set(cursor, "known UIDs")
        cursor.maybe_sp()
    if cursor.peek() == 0x28:
        cursor.pos += 1
        sequences = _uid_set(cursor, "known sequence set")
        cursor.sp()
        uids = _uid_set(cursor, "known UID set")
        cursor.expect(b")", "')'")
        if _count(sequences) != _count(uids):
            raise ParseError("QRESYNC sequence match data of different sizes")
        seq_match = (sequences, uids)
    cursor.expect(b")", "')'")
    cursor.end()
    return QresyncParameter(uidvalidity, modseq, known, seq_match)


def parse_search_modseq(cursor: Cursor, name: str, depth: int) -> SearchKey:
    """The rest of MODSEQ [entry-name entry-type-req] mod-sequence-valzer (cursor after SP).

    entry-name = entry-flag-name ; entry-flag-name = DQUOTE "/flags/" attr-flag DQUOTE
    """
    entry: str | None = None
    entry_type: str | None = None
    if cursor.peek() == 0x22:
        entry = cursor.quoted().decode("utf-8", "replace")
        if not entry.lower().startswith(_FLAG_ENTRY_PREFIX) or len(entry) == len(
            _FLAG_ENTRY_PREFIX
        ):
            raise ParseError("MODSEQ entry name must be /flags/<flag>")
        cursor.sp()
        entry_type = cursor.keyword("entry type")
        if entry_type not in _ENTRY_TYPES:
            raise ParseError(f"Unknown MODSEQ entry type {entry_type}")
        cursor.sp()
    start = cursor.pos
    cursor.number("mod-sequence", bits64=True)
    value = parse_modseq(
        cursor.data[start : cursor.pos].decode("ascii"), allow_zero=True, what="MODSEQ value"
    )
    return SearchModseq(value, entry, entry_type)


def vanished(uids: SequenceSet, *, earlier: bool) -> bytes:
    """expunged-resp = "VANISHED" [SP "(EARLIER)"] SP known-uids   (RFC 7162 §3.2.10)"""
    return b"VANISHED " + (b"(EARLIER) " if earlier else b"") + str(uids).encode("ascii")


def modseq_item(modseq: int) -> bytes:
    """fetch-mod-resp = "MODSEQ" SP "(" permsg-modsequence ")"   (RFC 7162 §3.1.4.2)"""
    return b"MODSEQ (%d)" % modseq
