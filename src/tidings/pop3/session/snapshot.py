"""The maildrop as one POP3 session sees it: fixed at login, with its DELE and RETR marks.

RFC 1939 §4: once the maildrop is opened, messages are numbered 1..n and "Message numbers
... do not change" for the session; §5: a message marked as deleted "may not be referenced"
until RSET. Messages that arrive later, or that IMAP expunges meanwhile, change nothing here
(a RETR of an expunged one fails on its own). Marks are only applied in the UPDATE state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tidings.pop3.session.errors import CommandFailed
from tidings.storage.api import Maildrop, MaildropEntry


def unique_id(uid: int, uidvalidity: int) -> str:
    """The UIDL of a message (RFC 1939 §7: 1-70 characters in 0x21-0x7E, never reused).

    Dovecot's default `pop3_uidl_format = %08Xu%08Xv`: the UID then the UIDVALIDITY, eight
    hex digits each. Dovecot 2.3 prints them in lower case ("000000016b026773"), and so do
    we: a maildrop moved from Dovecot with its UIDs and UIDVALIDITY keeps its UIDLs, and
    clients that "leave mail on the server" fetch nothing twice.
    """
    return f"{uid:08x}{uidvalidity:08x}"


@dataclass
class MaildropSnapshot:
    """INBOX at login: numbered entries plus the marks this session has made."""

    mailbox_id: int
    uidvalidity: int
    entries: tuple[MaildropEntry, ...]
    deleted: set[int] = field(default_factory=set)  # message numbers marked by DELE
    retrieved: set[int] = field(default_factory=set)  # message numbers sent by RETR

    @classmethod
    def of(cls, maildrop: Maildrop) -> MaildropSnapshot:
        """The snapshot of a freshly opened maildrop."""
        return cls(maildrop.info.id, maildrop.info.uidvalidity, maildrop.messages)

    def live_numbers(self) -> list[int]:
        """Message numbers not marked as deleted, ascending."""
        return [n for n in range(1, len(self.entries) + 1) if n not in self.deleted]

    def totals(self) -> tuple[int, int]:
        """STAT's "nn mm": count and total size of the messages not marked as deleted."""
        numbers = self.live_numbers()
        return len(numbers), sum(self.entries[n - 1].wire_size for n in numbers)

    def entry(self, number: int) -> MaildropEntry:
        """Message `number`; -ERR if there is none or it is marked as deleted (RFC 1939 §5)."""
        if not 1 <= number <= len(self.entries):
            raise CommandFailed(f"There's no message {number}.")
        if number in self.deleted:
            raise CommandFailed("Message is deleted.")
        return self.entries[number - 1]

    def unique_id(self, number: int) -> str:
        """The UIDL of message `number` (which must exist)."""
        return unique_id(self.entries[number - 1].uid, self.uidvalidity)

    def mark_deleted(self, number: int) -> None:
        """DELE: mark message `number` (RFC 1939 §5: an error if already marked)."""
        self.entry(number)
        self.deleted.add(number)

    def reset(self) -> None:
        """RSET (RFC 1939 §5): unmark everything; RETR's pending \\Seen is dropped too."""
        self.deleted.clear()
        self.retrieved.clear()

    def uids_to_delete(self) -> list[int]:
        """UIDs of the messages marked as deleted, ascending."""
        return sorted(self.entries[n - 1].uid for n in self.deleted)

    def uids_to_mark_seen(self) -> list[int]:
        """UIDs of messages sent by RETR and not deleted, ascending."""
        return sorted(self.entries[n - 1].uid for n in self.retrieved - self.deleted)
