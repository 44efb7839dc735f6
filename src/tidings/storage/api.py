"""The storage contract: what every backend (SQLite, PostgreSQL, ...) provides.

Protocol code depends only on this module. Every method is async and raises only
`tidings.core.errors.MailError` for expected failures. A method that changes mail returns only
after the change is committed (durable), and then publishes a `ChangeNotice` to the hub, so an
acknowledgement sent after `await` is never a lie (DESIGN.md "Nothing acknowledged is lost").

Mailbox names are Unicode strings with "/" as the hierarchy delimiter; "INBOX" is
case-insensitive (RFC 9051 §5.1) and always stored and returned as "INBOX".
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from tidings.core.mime import MessageFacts
    from tidings.core.sort_facts import SortFacts

HIERARCHY_DELIMITER = "/"

# The mailboxes every account gets, with their RFC 6154 SPECIAL-USE attributes.
DEFAULT_MAILBOXES: tuple[tuple[str, str | None], ...] = (
    ("INBOX", None),
    ("Drafts", "\\Drafts"),
    ("Sent", "\\Sent"),
    ("Junk", "\\Junk"),
    ("Trash", "\\Trash"),
    ("Archive", "\\Archive"),
)


@dataclass(frozen=True, slots=True)
class MailboxInfo:
    """A mailbox as it is at the moment it was read."""

    id: int
    name: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    special_use: str | None
    subscribed: bool
    mailboxid: str = ""  # RFC 8474 §4 MAILBOXID: stable across RENAME, new on re-create


@dataclass(frozen=True, slots=True)
class SharedMailbox:
    """A mailbox of another account that a user holds rights on (RFC 4314)."""

    owner: str  # the owning account's address
    team: str | None  # the owner's Shared/ name when the owner is a team account
    mailbox_id: int
    name: str  # the name in the owner's account
    rights: frozenset[str]


@dataclass(frozen=True, slots=True)
class MailboxStatus:
    """The counters STATUS reports (RFC 9051 §6.3.11, RFC 8438 SIZE)."""

    messages: int
    recent: int
    unseen: int
    deleted: int
    size: int
    uidnext: int
    uidvalidity: int
    highestmodseq: int
    # Octets that EXPUNGE would free: the sizes of the \\Deleted messages (RFC 9208
    # DELETED-STORAGE, reported in octets like STATUS SIZE).
    deleted_storage: int = 0
    mailboxid: str = ""  # RFC 8474 §4.3 STATUS MAILBOXID


@dataclass(frozen=True, slots=True)
class Quota:
    """An account's quota (RFC 9208 §5): limits (None = unlimited) and exact usage.

    Usage counts every message in every mailbox of the account, including \\Deleted ones
    not yet expunged (as Dovecot's `count` quota backend does)."""

    storage_limit: int | None  # octets
    message_limit: int | None
    storage_used: int  # octets
    messages_used: int

    def fits(self, octets: int, messages: int) -> bool:
        """Whether `messages` more messages of `octets` in total fit. Usage after the change
        may reach a limit but not pass it (Dovecot refuses `used + size > limit`)."""
        storage_ok = self.storage_limit is None or self.storage_used + octets <= self.storage_limit
        count_ok = self.message_limit is None or self.messages_used + messages <= self.message_limit
        return storage_ok and count_ok


@dataclass(frozen=True, slots=True)
class MaildropEntry:
    """One message as POP3 sees it."""

    uid: int
    # The octets RETR sends before dot-stuffing: the stored message with every bare LF
    # turned into CRLF (RFC 1939 §11: "sizes in LIST/STAT are the sizes RETR sends").
    wire_size: int


@dataclass(frozen=True, slots=True)
class Maildrop:
    """INBOX as a POP3 session sees it at login (RFC 1939 §4): fixed for the session."""

    info: MailboxInfo
    messages: tuple[MaildropEntry, ...]  # ascending by UID


@dataclass(frozen=True, slots=True)
class AccountSettings:
    """Per-account delivery settings; None means "use the server's default"."""

    junk_routing: bool | None = None


@dataclass(frozen=True, slots=True)
class MessageMeta:
    """The mutable and cheap facts of one message in one mailbox."""

    uid: int
    modseq: int
    flags: frozenset[str]  # system flags with their backslash ("\\Seen"), keywords as given
    internaldate: datetime  # timezone-aware
    size: int  # RFC822.SIZE: octets of the message as stored


@dataclass(frozen=True, slots=True)
class MailboxSnapshot:
    """What SELECT/EXAMINE sees: the mailbox and all its messages, ascending by UID."""

    info: MailboxInfo
    messages: tuple[MessageMeta, ...]
    recent_uids: frozenset[int]  # \Recent messages this opening claimed (empty for EXAMINE)


class ChangeKind(enum.Enum):
    """What a change-log row records."""

    APPEND = "append"
    FLAGS = "flags"
    EXPUNGE = "expunge"


@dataclass(frozen=True, slots=True)
class Change:
    """One row of a mailbox's change log, in modseq order.

    `meta` is the message's state at `modseq` for APPEND and FLAGS, None for EXPUNGE.
    """

    modseq: int
    uid: int
    kind: ChangeKind
    meta: MessageMeta | None


@dataclass(frozen=True, slots=True)
class ChangeLog:
    """ "Changes since modseq N" with what a reader needs to trust them (RFC 7162 §3.2.5.2).

    The log keeps every change above `floor` (older rows are pruned after the retention).
    When N was below the floor, `current` holds the mailbox's messages as they are now, so
    the reader compares UIDs and flags instead; otherwise it is None."""

    changes: tuple[Change, ...]
    floor: int
    highestmodseq: int
    current: tuple[MessageMeta, ...] | None = None


@dataclass(frozen=True, slots=True)
class ConditionalStore:
    """The outcome of STORE (UNCHANGEDSINCE n), RFC 7162 §3.1.3: the messages whose flags
    changed (with their new modseq), the UIDs that failed the test, and the failed ones
    that already were in the requested state (their current state; not a failure)."""

    changed: tuple[MessageMeta, ...]
    modified: tuple[int, ...]
    already: tuple[MessageMeta, ...] = ()


class FlagOperation(enum.Enum):
    """STORE's three modes (RFC 9051 §6.4.6)."""

    REPLACE = "replace"  # FLAGS
    ADD = "add"  # +FLAGS
    REMOVE = "remove"  # -FLAGS


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Where an APPENDed message went (RFC 4315 APPENDUID)."""

    uidvalidity: int
    uid: int


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One message for `MailStore.append_many` (RFC 3502 MULTIAPPEND): the raw bytes, the
    flags to set and the internal date (None: now). `uid` is for imports that keep the
    source's UIDs (so synced clients do not download again): given for all messages of a
    batch or for none, ascending, and at or above the mailbox's UIDNEXT."""

    raw: bytes
    flags: tuple[str, ...] = ()
    internaldate: datetime | None = None
    uid: int | None = None


@dataclass(frozen=True, slots=True)
class AppendManyResult:
    """Where the messages of one `append_many` went: `uids[i]` is the UID of message i
    (RFC 4315 §3 APPENDUID with a uid-set, RFC 3502 §3)."""

    uidvalidity: int
    uids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class MessageObjectIds:
    """RFC 8474 §5 ids of one message: EMAILID (the same for its copies) and THREADID (the
    same for every message of its thread)."""

    emailid: str
    threadid: str


TextScope = Literal["body", "text", "headers"]
"""Where a full-text search looks: the text SEARCH BODY reads, the text SEARCH TEXT reads,
or only the headers (every header at every level, as TEXT reads them)."""


@dataclass(frozen=True, slots=True)
class TextHits:
    """What the full-text index says of one search string in one mailbox: the UIDs whose
    search text holds it, and the UIDs it has not indexed (to be searched by reading the
    message). A UID in neither does not match."""

    hits: frozenset[int]
    unindexed: frozenset[int]


class MetadataDepth(enum.Enum):
    """GETMETADATA DEPTH (RFC 5464 §4.2.2): the entry only, its children, or all below."""

    ZERO = "0"
    ONE = "1"
    INFINITY = "infinity"


@dataclass(frozen=True, slots=True)
class MetadataLimits:
    """Bounds on RFC 5464 annotations, checked inside the write (see core/limits.py)."""

    max_entries: int  # per mailbox, and for the server entries of an account
    max_total_size: int  # octets of entry names and values, per account


@dataclass(frozen=True, slots=True)
class CopyResult:
    """Where COPY/MOVE put messages (RFC 4315 COPYUID): source_uids[i] became dest_uids[i]."""

    uidvalidity: int
    source_uids: tuple[int, ...]
    dest_uids: tuple[int, ...]


class MailStore(Protocol):
    """One account's mailboxes and messages."""

    @property
    def account(self) -> str:
        """The account's address."""
        ...

    async def list_mailboxes(self) -> list[MailboxInfo]:
        """Every existing mailbox, sorted by name."""
        ...

    async def list_subscriptions(self) -> list[str]:
        """Subscribed names, which may include mailboxes that no longer exist."""
        ...

    async def get_mailbox(self, name: str) -> MailboxInfo:
        """The mailbox called `name`; NOTFOUND if none."""
        ...

    async def create_mailbox(self, name: str, special_use: str | None = None) -> MailboxInfo:
        """Create `name` and any missing parents; EXISTS if it exists, CANNOT if invalid."""
        ...

    async def delete_mailbox(self, name: str) -> None:
        """Delete `name` with its messages; NOPERM for INBOX, CANNOT if it has children."""
        ...

    async def rename_mailbox(self, old: str, new: str) -> None:
        """Rename `old` and its children to `new`.

        Renaming INBOX moves all its messages to a new mailbox `new` and leaves INBOX empty
        (RFC 9051 §6.3.6). NOTFOUND, EXISTS, CANNOT as for create.
        """
        ...

    async def set_subscribed(self, name: str, subscribed: bool) -> None:
        """Add or remove `name` from the subscriptions (no error if already so)."""
        ...

    async def status(self, name: str) -> MailboxStatus:
        """Counters of `name`; NOTFOUND if none."""
        ...

    async def open_mailbox(self, name: str, claim_recent: bool) -> MailboxSnapshot:
        """Snapshot for SELECT (claim_recent=True) or EXAMINE (False)."""
        ...

    async def claim_recent(self, mailbox_id: int, up_to_uid: int) -> frozenset[int]:
        """Claim \\Recent for messages with UIDs up to `up_to_uid` not yet claimed by any
        session; return the UIDs this caller won (RFC 3501 §2.3.2: one session each)."""
        ...

    async def changes_since(self, mailbox_id: int, modseq: int) -> list[Change]:
        """Change-log rows with modseq > `modseq`, ascending; NOTFOUND if the mailbox is gone."""
        ...

    async def change_log(self, mailbox_id: int, modseq: int) -> ChangeLog:
        """The changes after `modseq`, or the current messages when the log was pruned past
        it, in one consistent read; NOTFOUND if the mailbox is gone."""
        ...

    async def expunged_since(self, mailbox_id: int, modseq: int) -> tuple[int, ...] | None:
        """UIDs expunged with a modseq above `modseq`, ascending; None when the log was
        pruned past `modseq` and cannot tell (RFC 7162 §3.2.5.2)."""
        ...

    async def store_flags_unchanged_since(
        self,
        mailbox_id: int,
        uids: Sequence[int],
        operation: FlagOperation,
        flags: Iterable[str],
        unchanged_since: int,
    ) -> ConditionalStore:
        """STORE (UNCHANGEDSINCE n), RFC 7162 §3.1.3: change only the messages whose modseq
        is at most `unchanged_since`, atomically with the check."""
        ...

    async def append(
        self,
        name: str,
        raw: bytes,
        flags: Iterable[str] = (),
        internaldate: datetime | None = None,
    ) -> AppendResult:
        """Parse and store `raw` in mailbox `name`; committed before returning.

        OVERQUOTA if the message would take the account over either quota limit (checked
        inside the same transaction as the insert, so concurrent deliveries stay exact);
        TOOBIG above the backend's size limit."""
        ...

    async def set_uidvalidity(self, name: str, uidvalidity: int) -> MailboxInfo:
        """Give mailbox `name`, which has never held a message (UIDNEXT 1), the UIDVALIDITY
        of the mailbox it is imported from; CANNOT once it has been used, NOTFOUND if it
        does not exist. (RFC 9051 §2.3.1.1: the pair UIDVALIDITY, UID must never name two
        messages; a never-used mailbox has handed out no UID under either value.)"""
        ...

    async def append_many(self, name: str, messages: Sequence[NewMessage]) -> AppendManyResult:
        """Store every message of `messages` in mailbox `name`, all or none, in one
        transaction (RFC 3502 §3 MULTIAPPEND); committed before returning. UIDs are
        consecutive, in the order given. OVERQUOTA (storing nothing) if they do not fit in
        the quota together; TOOBIG if any one is above the backend's size limit."""
        ...

    async def store_flags(
        self, mailbox_id: int, uids: Sequence[int], operation: FlagOperation, flags: Iterable[str]
    ) -> list[MessageMeta]:
        """Change flags of `uids` (missing UIDs are ignored); return the messages whose flags
        actually changed, each with its new modseq."""
        ...

    async def expunge(self, mailbox_id: int, uids: Sequence[int] | None = None) -> list[int]:
        """Remove the messages flagged \\Deleted (only those in `uids` if given); return the
        expunged UIDs, ascending."""
        ...

    async def copy(self, mailbox_id: int, uids: Sequence[int], dest_name: str) -> CopyResult:
        """Copy `uids` (ascending, existing ones only) to `dest_name` with flags and dates;
        OVERQUOTA (copying nothing) if the copies would exceed the account's quota."""
        ...

    async def move(self, mailbox_id: int, uids: Sequence[int], dest_name: str) -> CopyResult:
        """Copy then expunge from the source, atomically (RFC 6851). Usage does not change,
        so a move is never refused for quota."""
        ...

    async def read_message(self, mailbox_id: int, uid: int) -> bytes:
        """The message exactly as stored; EXPUNGED if it is gone."""
        ...

    async def read_messages_many(
        self, mailbox_id: int, uids: Sequence[int]
    ) -> dict[int, tuple[bytes, MessageFacts]]:
        """Raw bytes and facts of the existing messages among `uids`, in one read (SEARCH
        reads thousands); an expunged UID is simply absent."""
        ...

    async def read_facts(self, mailbox_id: int, uid: int) -> MessageFacts:
        """The facts parsed at APPEND (envelope, structure, offsets); EXPUNGED if gone."""
        ...

    async def read_facts_many(
        self, mailbox_id: int, uids: Sequence[int]
    ) -> dict[int, MessageFacts]:
        """The facts of the existing messages among `uids` (absent: expunged), at once."""
        ...

    async def object_ids(self, mailbox_id: int, uids: Sequence[int]) -> dict[int, MessageObjectIds]:
        """RFC 8474 EMAILID/THREADID of the existing messages among `uids`."""
        ...

    async def savedates(
        self, mailbox_id: int, uids: Sequence[int] | None = None
    ) -> dict[int, datetime | None]:
        """RFC 8514 save date of each existing message among `uids` (all if None); None for
        a message whose save date is unknown (stored by an older version)."""
        ...

    async def sort_facts_many(self, mailbox_id: int, uids: Sequence[int]) -> dict[int, SortFacts]:
        """SORT's values of the messages among `uids` (RFC 5256 §3), worked out at ingest;
        a message stored before they were kept is absent (as is an expunged one): the
        caller works its values out from the facts."""
        ...

    async def text_search(
        self, mailbox_id: int, needles: Sequence[tuple[str, TextScope]]
    ) -> dict[tuple[str, TextScope], TextHits]:
        """The full-text index's answer for each (case-folded string, scope): which messages
        hold the string in their SEARCH BODY or TEXT text (RFC 9051 §6.4.4) or in their
        headers. Strings it cannot answer (one with a line break) are left out, to be
        searched by reading the messages."""
        ...

    async def get_metadata(
        self, mailbox: str | None, entries: Sequence[str], depth: MetadataDepth
    ) -> list[tuple[str, bytes]]:
        """RFC 5464 entries of `mailbox` (None: the server entries) named in `entries`
        (lower-case) or, with `depth`, below them; (entry, value) sorted by entry.
        NOTFOUND if the mailbox does not exist."""
        ...

    async def set_metadata(
        self,
        mailbox: str | None,
        changes: Sequence[tuple[str, bytes | None]],
        limits: MetadataLimits,
    ) -> None:
        """Set (or with None remove) each entry, all or none. LIMIT if the entries would
        pass `limits`; NOTFOUND if the mailbox does not exist."""
        ...

    async def quota(self) -> Quota:
        """The account's quota limits and its exact current usage."""
        ...

    async def settings(self) -> AccountSettings:
        """The account's delivery settings."""
        ...

    async def open_maildrop(self) -> Maildrop:
        """INBOX with every message's POP3 wire size, in one consistent read."""
        ...

    async def delete_messages(self, mailbox_id: int, uids: Sequence[int]) -> list[int]:
        """Expunge exactly `uids` whatever their flags (POP3's UPDATE state, RFC 1939 §6),
        in one transaction; return the UIDs that were still there, ascending."""
        ...


class AccountStore(Protocol):
    """The accounts a backend holds."""

    async def add_account(
        self, address: str, password_hash: str, *, scram_sha256: str | None = None
    ) -> None:
        """Create the account with the DEFAULT_MAILBOXES; EXISTS if present. `scram_sha256`:
        the SCRAM secrets of the same password (tidings.auth.scram_secrets), never the
        password; None for none yet (made at the next password login)."""
        ...

    async def set_password_hash(
        self, address: str, password_hash: str, *, scram_sha256: str | None = None
    ) -> None:
        """Replace the stored hash and the SCRAM secrets together (None drops the old ones,
        so the old password stops working for SCRAM too); NOTFOUND if no such account."""
        ...

    async def scram_sha256(self, address: str) -> str | None:
        """The account's SCRAM-SHA-256 secrets as stored; None if there is no such account
        or it has none. Case-insensitive address."""
        ...

    async def set_scram_sha256(self, address: str, scram_sha256: str, password_hash: str) -> bool:
        """Store SCRAM secrets derived from the password whose hash is `password_hash`, only
        while that is still the stored hash (a password changed meanwhile wins); whether
        they were stored. NOTFOUND if no such account."""
        ...

    async def auth_secret(self) -> bytes:
        """A random 32-byte key made once per store and kept across restarts, for values
        that must be stable but unguessable (the decoy SCRAM salts of unknown users)."""
        ...

    async def count_accounts_without_scram(self) -> int:
        """How many accounts have no SCRAM secrets (made before they were stored, and not
        logged in with a password since)."""
        ...

    async def remove_account(self, address: str) -> None:
        """Delete the account and all its mail; NOTFOUND if none."""
        ...

    async def list_accounts(self) -> list[str]:
        """All account addresses, sorted."""
        ...

    async def password_hash(self, address: str) -> str | None:
        """The stored hash, None if there is no such account. Case-insensitive address."""
        ...

    async def mail_store(self, address: str) -> MailStore:
        """The account's mail; NOTFOUND if no such account."""
        ...

    async def set_quota(
        self, address: str, storage_limit: int | None, message_limit: int | None
    ) -> None:
        """Set both limits of the account (None = unlimited); NOTFOUND if no such account."""
        ...

    async def set_settings(self, address: str, settings: AccountSettings) -> None:
        """Replace the account's delivery settings; NOTFOUND if no such account."""
        ...


class Backend(AccountStore, Protocol):
    """A storage backend: accounts plus lifecycle."""

    async def index_old_mail(self) -> tuple[int, int]:
        """Index one batch of the mail stored before the full-text index existed (`tidings
        db index`); (how many messages' contents were indexed, how many are left)."""
        ...

    async def close(self) -> None:
        """Finish pending work and release connections and files."""
        ...
