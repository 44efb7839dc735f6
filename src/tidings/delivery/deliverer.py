"""`Deliverer`: one message to one recipient, by the rules LMTP and `tidings deliver` share.

The LMTP session and the CLI are written against the signatures below: `resolve` the
address a client names, then `deliver` the message to the resolved recipient. The message is
committed before `deliver` returns, so a 250 (or exit status 0) sent afterwards is never a
lie (DESIGN.md "Nothing acknowledged is lost"); the store then publishes its change notice,
which wakes IDLE sessions here and, through the notify relay, in other processes.
"""

from __future__ import annotations

from dataclasses import dataclass

from tidings.core.errors import MailError, MailErrorKind
from tidings.delivery.junk import matching_junk_rule
from tidings.delivery.recipients import candidates, strip_address
from tidings.delivery.settings import DeliverySettings
from tidings.delivery.trace import trace_fields
from tidings.storage.api import Backend, MailStore

INBOX = "INBOX"
JUNK_SPECIAL_USE = "\\Junk"
# What get_mailbox raises for a name that cannot be a mailbox (too long, bad characters):
# for delivery that is the same as "no such mailbox".
_NO_SUCH_MAILBOX = {MailErrorKind.NOTFOUND, MailErrorKind.CANNOT, MailErrorKind.PARSE}


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

    @property
    def settings(self) -> DeliverySettings:
        """The delivery settings this deliverer applies."""
        return self._settings

    async def resolve(self, address: str) -> Recipient:
        """The account `address` reaches (plus addressing, case rules of the settings);
        MailError(NOTFOUND) if none, MailError(PARSE) if it is not an address."""
        bare = strip_address(address)
        for candidate in candidates(bare, self._settings):
            try:
                await self._backend.mail_store(candidate.account)
            except MailError as error:
                if error.kind is not MailErrorKind.NOTFOUND:
                    raise
                continue
            return Recipient(bare, candidate.account, candidate.detail)
        raise MailError(MailErrorKind.NOTFOUND, f"No such user: {bare}")

    async def deliver(
        self,
        recipient: Recipient,
        message: bytes,
        *,
        sender: str,
        mailbox: str | None = None,
        trace_headers: bool = True,
    ) -> DeliveryResult:
        """Store `message` for `recipient`, committed before returning.

        `message` is the message as received (LMTP: dot-unstuffed DATA). Prepended, as
        Dovecot does: `Return-Path: <sender>` (`<>` for the null sender) and
        `Delivered-To: recipient.address` (see `tidings.delivery.trace`), unless
        `trace_headers` is False (an MTA that pipes to `tidings deliver` may have added
        them already). The mailbox is, in order: `mailbox` if given and it exists; the
        \\Junk mailbox when a junk rule matches and routing is on for the account; the
        detail mailbox when `detail_mailbox` is on and it exists; INBOX.
        Raises MailError: OVERQUOTA, TOOBIG, TEMP (and NOTFOUND if the account vanished),
        PARSE if the sender or the address contains control characters.
        """
        prefix = trace_fields(sender, recipient.address) if trace_headers else b""
        store = await self._backend.mail_store(recipient.account)
        target = await self._choose_mailbox(store, recipient, message, mailbox)
        raw = prefix + message
        try:
            appended = await store.append(target, raw)
        except MailError as error:
            # The chosen mailbox was deleted meanwhile: INBOX, as if it never existed.
            if error.kind is not MailErrorKind.NOTFOUND or target == INBOX:
                raise
            target = INBOX
            appended = await store.append(target, raw)
        return DeliveryResult(target, appended.uidvalidity, appended.uid)

    async def _choose_mailbox(
        self, store: MailStore, recipient: Recipient, message: bytes, mailbox: str | None
    ) -> str:
        if mailbox is not None and await _exists(store, mailbox):
            # Like dovecot-lda -m without lda_mailbox_autocreate: a missing one means INBOX.
            return mailbox
        if matching_junk_rule(message, self._settings.junk_rules) and await self._routes_junk(
            store
        ):
            junk = await _special_use_mailbox(store, JUNK_SPECIAL_USE)
            if junk is not None:
                return junk
        detail = recipient.detail
        # Dovecot's lmtp_save_to_detail_mailbox, also without autocreate.
        if self._settings.detail_mailbox and detail and await _exists(store, detail):
            return detail
        return INBOX

    async def _routes_junk(self, store: MailStore) -> bool:
        account_choice = (await store.settings()).junk_routing
        return self._settings.junk_routing if account_choice is None else account_choice


async def _exists(store: MailStore, name: str) -> bool:
    try:
        await store.get_mailbox(name)
    except MailError as error:
        if error.kind in _NO_SUCH_MAILBOX:
            return False
        raise
    return True


async def _special_use_mailbox(store: MailStore, special_use: str) -> str | None:
    """The name of the first mailbox with the RFC 6154 attribute `special_use`, if any."""
    for info in await store.list_mailboxes():
        if info.special_use is not None and info.special_use.lower() == special_use.lower():
            return info.name
    return None
