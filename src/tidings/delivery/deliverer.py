"""`Deliverer`: one message to one recipient, by the rules LMTP and `tidings deliver` share.

INTERFACE (implementation in progress): the signatures and docstrings below are the
contract the LMTP session and the CLI are written against.
"""

from __future__ import annotations

from dataclasses import dataclass

from tidings.delivery.settings import DeliverySettings
from tidings.storage.api import Backend


@dataclass(frozen=True, slots=True)
class Recipient:
    """A resolved recipient address."""

    address: str  # as the client gave it (RCPT TO / the ADDRESS argument), without <>
    account: str  # the account it reaches (lower-case)
    detail: str | None  # the part after the recipient delimiter ("tag" in alice+tag@...)


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """Where a delivered message went."""

    mailbox: str
    uidvalidity: int
    uid: int


class Deliverer:
    """Resolves recipients and stores messages for them."""

    def __init__(self, backend: Backend, settings: DeliverySettings) -> None:
        self._backend = backend
        self._settings = settings

    async def resolve(self, address: str) -> Recipient:
        """The account `address` reaches (plus addressing, case rules of the settings);
        MailError(NOTFOUND) if none, MailError(PARSE) if it is not an address."""
        raise NotImplementedError

    async def deliver(
        self, recipient: Recipient, message: bytes, *, sender: str, mailbox: str | None = None
    ) -> DeliveryResult:
        """Store `message` for `recipient`, committed before returning.

        `message` is the message as received (LMTP: dot-unstuffed DATA). Prepended, as
        Dovecot does: `Return-Path: <sender>` (`<>` for the null sender) and
        `Delivered-To: <recipient.address>`. The mailbox is, in order: `mailbox` if given
        and it exists; the \\Junk mailbox when a junk rule matches and routing is on for
        the account; the detail mailbox when `detail_mailbox` is on and it exists; INBOX.
        Raises MailError: OVERQUOTA, TOOBIG, TEMP (and NOTFOUND if the account vanished).
        """
        raise NotImplementedError
