"""Typed IMAP commands: what the sans-IO parser produces and the session consumes.

One frozen, slotted dataclass per command of RFC 9051 §6 / RFC 3501 §6 (and the extensions
the core serves: UIDPLUS, MOVE, ID, ENABLE, UNSELECT, LIST-EXTENDED, ESEARCH, QUOTA). Mailbox names
are kept as the client sent them (`str`, decoded as UTF-8 with surrogateescape): whether they
are modified UTF-7 (IMAP4rev1) or UTF-8 (after ENABLE IMAP4rev2) is the session's decision.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

from tidings.core.seqset import SequenceSet

# --------------------------------------------------------------------------- search keys
# RFC 9051 §6.4.4 / RFC 3501 §6.4.4. The parser normalises aliases: FROM/TO/CC/BCC/SUBJECT
# become SearchHeader, NEW becomes (RECENT UNSEEN), OLD becomes NOT RECENT, UNSEEN becomes
# SearchFlag("\\Seen", False), KEYWORD/UNKEYWORD become SearchFlag(keyword, ...), a
# parenthesised list and a top-level list become SearchAnd.


@dataclass(frozen=True, slots=True)
class SearchKey:
    """Base of all search keys."""


@dataclass(frozen=True, slots=True)
class SearchAll(SearchKey):
    """ALL: every message."""


@dataclass(frozen=True, slots=True)
class SearchAnd(SearchKey):
    """All of `keys` match (a list of keys, or a parenthesised list)."""

    keys: tuple[SearchKey, ...]


@dataclass(frozen=True, slots=True)
class SearchOr(SearchKey):
    """OR key1 key2."""

    left: SearchKey
    right: SearchKey


@dataclass(frozen=True, slots=True)
class SearchNot(SearchKey):
    """NOT key."""

    key: SearchKey


@dataclass(frozen=True, slots=True)
class SearchSequence(SearchKey):
    """A bare sequence set (message sequence numbers), or `$` (RFC 5182)."""

    sequence_set: SequenceSet


@dataclass(frozen=True, slots=True)
class SearchUid(SearchKey):
    """UID sequence-set."""

    sequence_set: SequenceSet


@dataclass(frozen=True, slots=True)
class SearchFlag(SearchKey):
    """A flag is set (`present`) or not: ANSWERED/UNANSWERED, DELETED, DRAFT, FLAGGED, SEEN,
    KEYWORD/UNKEYWORD. RECENT is SearchFlag("\\Recent", True)."""

    flag: str
    present: bool


class DateField(enum.Enum):
    """Which date a date key compares."""

    INTERNAL = "internal"  # BEFORE, ON, SINCE: the internal date
    SENT = "sent"  # SENTBEFORE, SENTON, SENTSINCE: the Date: header
    SAVED = "saved"  # SAVEDBEFORE, SAVEDON, SAVEDSINCE: the save date (RFC 8514 §4.3)


class DateRelation(enum.Enum):
    """How a date key compares (RFC 9051 §6.4.4: dates only, time and zone ignored)."""

    BEFORE = "before"
    ON = "on"
    SINCE = "since"


@dataclass(frozen=True, slots=True)
class SearchDate(SearchKey):
    """BEFORE/ON/SINCE and the SENT* forms."""

    field: DateField
    relation: DateRelation
    date: date


@dataclass(frozen=True, slots=True)
class SearchSize(SearchKey):
    """LARGER n (`larger`=True) or SMALLER n: RFC822.SIZE strictly above/below n."""

    larger: bool
    size: int


@dataclass(frozen=True, slots=True)
class SearchHeader(SearchKey):
    """HEADER field-name string; FROM/TO/CC/BCC/SUBJECT map here. `field` as sent (match it
    case-insensitively); an empty `value` matches every message that has the field."""

    field: str
    value: str


@dataclass(frozen=True, slots=True)
class SearchObjectId(SearchKey):
    """EMAILID objectid / THREADID objectid (RFC 8474 §6): an exact id match; `field` is
    SimpleAttribute.EMAILID or THREADID."""

    field: SimpleAttribute
    value: str


@dataclass(frozen=True, slots=True)
class SearchText(SearchKey):
    """BODY string (`body_only`=True) or TEXT string (header and body)."""

    value: str
    body_only: bool


@dataclass(frozen=True, slots=True)
class SearchAge(SearchKey):
    """OLDER n (`older`=True) or YOUNGER n (RFC 5032 WITHIN): the internal date is at least
    / less than `seconds` seconds before the time of the search."""

    older: bool
    seconds: int


# ----------------------------------------------------------------------------- fetch items


@dataclass(frozen=True, slots=True)
class Section:
    """A BODY[...] / BINARY[...] section (RFC 9051 §6.4.5).

    `part` is the part number path (empty for the whole message), `specifier` one of None,
    "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"; `fields` the header
    field names of HEADER.FIELDS (NOT), as the client spelled them.
    """

    part: tuple[int, ...] = ()
    specifier: str | None = None
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FetchItem:
    """Base of the fetch attributes."""


class SimpleAttribute(enum.Enum):
    """Fetch attributes without arguments."""

    FLAGS = "FLAGS"
    INTERNALDATE = "INTERNALDATE"
    RFC822_SIZE = "RFC822.SIZE"
    ENVELOPE = "ENVELOPE"
    BODY = "BODY"  # the non-extensible BODYSTRUCTURE
    BODYSTRUCTURE = "BODYSTRUCTURE"
    UID = "UID"
    RFC822 = "RFC822"  # like BODY[]; sets \Seen
    RFC822_HEADER = "RFC822.HEADER"  # like BODY.PEEK[HEADER]
    RFC822_TEXT = "RFC822.TEXT"  # like BODY[TEXT]; sets \Seen
    MODSEQ = "MODSEQ"  # RFC 7162
    EMAILID = "EMAILID"  # RFC 8474 §5.1, §5.3
    THREADID = "THREADID"  # RFC 8474 §5.2, §5.3
    SAVEDATE = "SAVEDATE"  # RFC 8514 §4.2


@dataclass(frozen=True, slots=True)
class FetchAttribute(FetchItem):
    """One of the SimpleAttribute items. Macros ALL/FAST/FULL are expanded by the parser."""

    attribute: SimpleAttribute


@dataclass(frozen=True, slots=True)
class FetchSection(FetchItem):
    """BODY[section]<partial>, BODY.PEEK[...], BINARY[...], BINARY.PEEK[...] (RFC 3516).

    `partial` is (offset, count) as sent; `binary` selects BINARY.
    """

    section: Section
    peek: bool = False
    binary: bool = False
    partial: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class FetchPreview(FetchItem):
    """PREVIEW [(LAZY)] (RFC 8970 §3.1): with `lazy`, NIL rather than computing it now."""

    lazy: bool = False


@dataclass(frozen=True, slots=True)
class FetchBinarySize(FetchItem):
    """BINARY.SIZE[part] (RFC 3516 §4.2)."""

    part: tuple[int, ...]


# -------------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class Command:
    """Base of all commands: every command has its tag."""

    tag: str


@dataclass(frozen=True, slots=True)
class Capability(Command):
    """CAPABILITY (RFC 9051 §6.1.1)."""


@dataclass(frozen=True, slots=True)
class Noop(Command):
    """NOOP (§6.1.2)."""


@dataclass(frozen=True, slots=True)
class Logout(Command):
    """LOGOUT (§6.1.3)."""


@dataclass(frozen=True, slots=True)
class StartTLS(Command):
    """STARTTLS (§6.2.1)."""


@dataclass(frozen=True, slots=True)
class Compress(Command):
    """COMPRESS mechanism (RFC 4978 §3); the mechanism as sent (only DEFLATE is known)."""

    mechanism: str


@dataclass(frozen=True, slots=True)
class Authenticate(Command):
    """AUTHENTICATE mechanism [initial-response] (§6.2.2, SASL-IR RFC 4959).

    `initial_response` is the base64 text as sent ("=" for an empty one), None if absent.
    """

    mechanism: str
    initial_response: str | None = None


@dataclass(frozen=True, slots=True)
class Login(Command):
    """LOGIN userid password (§6.2.3)."""

    username: str
    password: str


@dataclass(frozen=True, slots=True)
class Enable(Command):
    """ENABLE capability... (§6.3.1, RFC 5161); names upper-cased."""

    capabilities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Select(Command):
    """SELECT (or EXAMINE when `read_only`) mailbox [(params)] (§6.3.2, §6.3.3).

    `parameters` keeps select parameters (e.g. CONDSTORE) upper-cased with raw values.
    """

    mailbox: str
    read_only: bool = False
    parameters: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class Create(Command):
    """CREATE mailbox [(USE (\\Special))] (§6.3.4, RFC 6154 §3)."""

    mailbox: str
    special_use: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Delete(Command):
    """DELETE mailbox (§6.3.5)."""

    mailbox: str


@dataclass(frozen=True, slots=True)
class Rename(Command):
    """RENAME existing new (§6.3.6)."""

    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Subscribe(Command):
    """SUBSCRIBE (or UNSUBSCRIBE when not `subscribe`) mailbox (§6.3.7, §6.3.8)."""

    mailbox: str
    subscribe: bool = True


class StatusItem(enum.Enum):
    """STATUS data items (§6.3.11, RFC 8438 SIZE, RFC 7162 HIGHESTMODSEQ, RFC 9208 §4.1.4
    DELETED-STORAGE)."""

    MESSAGES = "MESSAGES"
    UIDNEXT = "UIDNEXT"
    UIDVALIDITY = "UIDVALIDITY"
    UNSEEN = "UNSEEN"
    DELETED = "DELETED"
    SIZE = "SIZE"
    RECENT = "RECENT"
    HIGHESTMODSEQ = "HIGHESTMODSEQ"
    DELETED_STORAGE = "DELETED-STORAGE"
    MAILBOXID = "MAILBOXID"  # RFC 8474 §4.3
    APPENDLIMIT = "APPENDLIMIT"  # RFC 7889 §3


@dataclass(frozen=True, slots=True)
class List(Command):
    """LIST [(selection)] reference patterns [RETURN (options)] (§6.3.9, RFC 5258).

    `patterns` has one element for the basic form, several for `(p1 p2)`.
    `selection` holds upper-cased selection options (SUBSCRIBED, REMOTE,
    RECURSIVEMATCH, SPECIAL-USE); `return_options` upper-cased return options (SUBSCRIBED,
    CHILDREN, SPECIAL-USE) and `return_status` the items of RETURN (STATUS (...)) (RFC 5819).
    """

    reference: str
    patterns: tuple[str, ...]
    selection: frozenset[str] = frozenset()
    return_options: frozenset[str] = frozenset()
    return_status: tuple[StatusItem, ...] = ()


@dataclass(frozen=True, slots=True)
class Lsub(Command):
    """LSUB reference pattern (RFC 3501 §6.3.9)."""

    reference: str
    pattern: str


@dataclass(frozen=True, slots=True)
class Namespace(Command):
    """NAMESPACE (§6.3.10, RFC 2342)."""


@dataclass(frozen=True, slots=True)
class Status(Command):
    """STATUS mailbox (items) (§6.3.11)."""

    mailbox: str
    items: tuple[StatusItem, ...]


@dataclass(frozen=True, slots=True)
class AppendMessage:
    """One message of an APPEND: data, flags, internal date, and how the data came:
    `binary` for a literal8 `~{n}` (RFC 3516 §4.4), `utf8` for `UTF8 (~{n})` (RFC 6855 §4)."""

    message: bytes
    flags: tuple[str, ...] = ()
    internaldate: datetime | None = None
    binary: bool = False
    utf8: bool = False


@dataclass(frozen=True, slots=True)
class Append(Command):
    """APPEND mailbox [(flags)] [date-time] literal (§6.3.12), with further messages in
    `more` (RFC 3502 MULTIAPPEND: `append = "APPEND" SP mailbox 1*append-message`).

    The fields after `mailbox` describe the first message (see AppendMessage);
    `messages` gives all of them in order.
    """

    mailbox: str
    message: bytes
    flags: tuple[str, ...] = ()
    internaldate: datetime | None = None
    binary: bool = False
    utf8: bool = False
    more: tuple[AppendMessage, ...] = ()

    @property
    def messages(self) -> tuple[AppendMessage, ...]:
        """Every message of the command, the first one included."""
        first = AppendMessage(self.message, self.flags, self.internaldate, self.binary, self.utf8)
        return (first, *self.more)


@dataclass(frozen=True, slots=True)
class Idle(Command):
    """IDLE (§6.3.13, RFC 2177). The parser then expects DONE (see Parser.expect_idle_done)."""


@dataclass(frozen=True, slots=True)
class Check(Command):
    """CHECK (RFC 3501 §6.4.1)."""


@dataclass(frozen=True, slots=True)
class Close(Command):
    """CLOSE (§6.4.1)."""


@dataclass(frozen=True, slots=True)
class Unselect(Command):
    """UNSELECT (§6.4.2, RFC 3691)."""


@dataclass(frozen=True, slots=True)
class Expunge(Command):
    """EXPUNGE (§6.4.3), or UID EXPUNGE uid-set (§6.4.9, RFC 4315) when `uids` is given."""

    uids: SequenceSet | None = None


@dataclass(frozen=True, slots=True)
class Search(Command):
    """[UID] SEARCH [RETURN (options)] [CHARSET x] keys (§6.4.4, RFC 4731 ESEARCH).

    `return_options` is None when no RETURN was given (then a rev1 client gets `* SEARCH`),
    else the upper-cased options (MIN MAX ALL COUNT SAVE; an empty RETURN () means ALL).
    `charset` is upper-cased, None if absent.
    """

    key: SearchKey
    uid: bool = False
    charset: str | None = None
    return_options: tuple[str, ...] | None = None


class SortKey(enum.Enum):
    """sort-key (RFC 5256 §3, RFC 5957 §3 DISPLAYFROM / DISPLAYTO)."""

    ARRIVAL = "ARRIVAL"
    CC = "CC"
    DATE = "DATE"
    FROM = "FROM"
    SIZE = "SIZE"
    SUBJECT = "SUBJECT"
    TO = "TO"
    DISPLAYFROM = "DISPLAYFROM"
    DISPLAYTO = "DISPLAYTO"


@dataclass(frozen=True, slots=True)
class SortCriterion:
    """sort-criterion = ["REVERSE" SP] sort-key (RFC 5256 §5)."""

    key: SortKey
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class Sort(Command):
    """[UID] SORT (criteria) charset search-keys (RFC 5256 §3); `charset` upper-cased."""

    criteria: tuple[SortCriterion, ...]
    charset: str
    key: SearchKey
    uid: bool = False


class ThreadAlgorithm(enum.Enum):
    """thread-alg (RFC 5256 §5): the algorithms this server implements."""

    ORDEREDSUBJECT = "ORDEREDSUBJECT"
    REFERENCES = "REFERENCES"


@dataclass(frozen=True, slots=True)
class Thread(Command):
    """[UID] THREAD algorithm charset search-keys (RFC 5256 §3); `charset` upper-cased."""

    algorithm: ThreadAlgorithm
    charset: str
    key: SearchKey
    uid: bool = False


@dataclass(frozen=True, slots=True)
class Fetch(Command):
    """[UID] FETCH sequence-set items (§6.4.5).

    `modifiers` keeps fetch modifiers (RFC 4466, e.g. CHANGEDSINCE) upper-cased with raw
    values, for extensions.
    """

    sequence_set: SequenceSet
    items: tuple[FetchItem, ...]
    uid: bool = False
    modifiers: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class Store(Command):
    """[UID] STORE sequence-set [+-]FLAGS[.SILENT] flags (§6.4.6)."""

    sequence_set: SequenceSet
    operation: str  # "replace", "add" or "remove" (storage.api.FlagOperation values)
    flags: tuple[str, ...]
    silent: bool = False
    uid: bool = False
    modifiers: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class Copy(Command):
    """[UID] COPY sequence-set mailbox (§6.4.7), or [UID] MOVE (§6.4.8, RFC 6851)."""

    sequence_set: SequenceSet
    mailbox: str
    uid: bool = False
    move: bool = False


@dataclass(frozen=True, slots=True)
class Id(Command):
    """ID ("key" "value" ...) or ID NIL (RFC 2971)."""

    parameters: tuple[tuple[str, str | None], ...] | None = None


@dataclass(frozen=True, slots=True)
class SetAcl(Command):
    """SETACL mailbox identifier mod-rights (RFC 4314 §3.1)."""

    mailbox: str
    identifier: str
    rights: str


@dataclass(frozen=True, slots=True)
class DeleteAcl(Command):
    """DELETEACL mailbox identifier (RFC 4314 §3.2)."""

    mailbox: str
    identifier: str


@dataclass(frozen=True, slots=True)
class GetAcl(Command):
    """GETACL mailbox (RFC 4314 §3.3)."""

    mailbox: str


@dataclass(frozen=True, slots=True)
class ListRights(Command):
    """LISTRIGHTS mailbox identifier (RFC 4314 §3.4)."""

    mailbox: str
    identifier: str


@dataclass(frozen=True, slots=True)
class MyRights(Command):
    """MYRIGHTS mailbox (RFC 4314 §3.5)."""

    mailbox: str


@dataclass(frozen=True, slots=True)
class GetQuota(Command):
    """GETQUOTA quota-root-name (RFC 9208 §4.1.1)."""

    root: str


@dataclass(frozen=True, slots=True)
class GetQuotaRoot(Command):
    """GETQUOTAROOT mailbox (RFC 9208 §4.1.2)."""

    mailbox: str


@dataclass(frozen=True, slots=True)
class SetQuota(Command):
    """SETQUOTA quota-root-name (resource limit ...) (RFC 9208 §4.1.3).

    `limits` keeps each (resource name upper-cased, limit) in the order sent; an empty list
    asks to remove every limit of the root."""

    root: str
    limits: tuple[tuple[str, int], ...] = ()
