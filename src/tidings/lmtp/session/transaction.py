"""One mail transaction (RFC 5321 §3.3): the sender, the accepted recipients, the chunks.

Identifiers follow Dovecot's LMTP, so that log lines and the `250 2.0.0 <rcpt> <id> Saved`
replies read the same: a connection gets a random 128-bit id in unpadded base64 (Dovecot's
GUID), its second and later transactions add `:T<n>`, and the second and later RCPTs of a
transaction add `:R<n>`, n counting every RCPT that got as far as the account lookup
(lmtp-recipient.c: `session_id_seq`), failed ones included.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field

from tidings.delivery.deliverer import Recipient
from tidings.lmtp.proto.commands import Mail


def new_connection_id() -> str:
    """A fresh connection id: 16 random octets, base64 without padding (22 characters)."""
    return base64.b64encode(os.urandom(16)).decode("ascii").rstrip("=")


@dataclass(frozen=True, slots=True)
class AcceptedRecipient:
    """A recipient that RCPT accepted: the path as given and the account it reaches.

    `duplicate_of` is the index of an earlier recipient with the same address (Dovecot
    compares the local part exactly and the domain without case): the message is delivered
    once, and this recipient's reply after the data is a copy of that one's, as Dovecot's.
    """

    recipient: Recipient
    delivery_id: str  # the id of this delivery, for the reply and the log
    duplicate_of: int | None = None

    @property
    def address(self) -> str:
        """The address as the client gave it (echoed in replies, as Dovecot does)."""
        return self.recipient.address


@dataclass(slots=True)
class Transaction:
    """From MAIL to the end of DATA or BDAT LAST (or RSET)."""

    mail: Mail
    id: str
    recipients: list[AcceptedRecipient] = field(default_factory=list)
    lookups: int = 0  # RCPTs that reached the account lookup (Dovecot's session_id_seq)
    chunks: bytearray = field(default_factory=bytearray)
    chunked_size: int = 0  # octets announced by BDAT so far, kept or not
    chunking: bool = False  # a BDAT chunk has been accepted
    too_big: bool = False  # the chunks went past the size limit (and were dropped)

    @property
    def sender(self) -> str:
        """The reverse-path without brackets; "" for the null sender."""
        return self.mail.sender

    def accept(self, recipient: Recipient, delivery_id: str) -> None:
        """Add a recipient that RCPT accepted, noting whether it repeats an earlier one."""
        key = address_key(recipient.address)
        duplicate_of = next(
            (i for i, r in enumerate(self.recipients) if address_key(r.address) == key), None
        )
        self.recipients.append(AcceptedRecipient(recipient, delivery_id, duplicate_of))

    def next_delivery_id(self) -> str:
        """Count one more recipient lookup and return its delivery id."""
        self.lookups += 1
        return self.id if self.lookups == 1 else f"{self.id}:R{self.lookups}"

    def add_chunk(self, data: bytes | None, size: int, max_size: int) -> None:
        """Append a BDAT chunk; past `max_size` the octets are counted and dropped."""
        self.chunking = True
        self.chunked_size += size
        if data is None or self.chunked_size > max_size:
            self.too_big = True
            self.chunks.clear()
        elif not self.too_big:
            self.chunks += data


def transaction_id(connection_id: str, number: int) -> str:
    """The id of the `number`th transaction (1-based) of a connection."""
    return connection_id if number == 1 else f"{connection_id}:T{number}"


def address_key(address: str) -> tuple[str, str]:
    """What makes two recipient addresses the same: the local part as given, the domain
    without case (RFC 5321 §2.4: local parts may be case-sensitive, domains are not)."""
    local, _, domain = address.rpartition("@")
    return (local, domain.lower()) if local else (address, "")
