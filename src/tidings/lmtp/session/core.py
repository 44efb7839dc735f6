"""The LMTP session: commands in, replies out, deliveries through the `Deliverer` (no I/O).

The driver feeds it what the reader produced: `handle_command` for a command, then, when
DATA was answered 354, `receive_message`; `receive_chunk` for each BDAT. Replies to the
message and to BDAT LAST come one per accepted recipient (RFC 2033 §4.2), as an async
iterator so that each can be written as soon as its delivery is committed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from tidings.core.errors import MailError
from tidings.lmtp.proto import catalog
from tidings.lmtp.proto import commands as c
from tidings.lmtp.proto.events import ChunkReceived, CommandRejected, MessageReceived
from tidings.lmtp.proto.replies import Reply
from tidings.lmtp.session.context import LmtpServerContext
from tidings.lmtp.session.delivery import deliver_to_recipients
from tidings.lmtp.session.errors import reply_for_error, temporary_failure
from tidings.lmtp.session.state import SEQUENCE_BEFORE_SYNTAX, Phase, refusal
from tidings.lmtp.session.transaction import (
    Transaction,
    new_connection_id,
    transaction_id,
)

log = logging.getLogger("tidings.lmtp")

# Replies that mean "the client broke the protocol", counted against max_bad_commands. As
# Dovecot counts them: unknown commands and syntax errors (500, 501), commands out of
# sequence (503) and unsupported parameters (555); not an unknown user (550) nor a full
# mailbox (552), which are the recipient's doing, not the client's.
_PROTOCOL_ERROR_CODES = frozenset({500, 501, 503, 555})


def is_protocol_error(reply: Reply) -> bool:
    """Whether `reply` answers a command the client should not have sent."""
    return reply.code in _PROTOCOL_ERROR_CODES


class LmtpSession:
    """One connection's protocol state: the LHLO, the transaction, the failed-chunk flag."""

    def __init__(self, context: LmtpServerContext, peer: str) -> None:
        self.context = context
        self.peer = peer
        self.connection_id = new_connection_id()
        self.client_name: str | None = None  # the LHLO argument, for the log
        self.transaction: Transaction | None = None
        self.transactions = 0
        self.chunk_failed = False
        self.finished = False  # QUIT was answered

    @property
    def phase(self) -> Phase:
        """Where the transaction stands (see state.py)."""
        transaction = self.transaction
        if transaction is None:
            return Phase.READY
        if transaction.chunking:
            return Phase.CHUNKING
        return Phase.RECIPIENTS if transaction.recipients else Phase.SENDER

    def greeting(self) -> Reply:
        """The 220 sent on connect."""
        return catalog.greeting(self.context.hostname)

    # ------------------------------------------------------------------ commands
    async def handle_command(self, command: c.Command) -> Reply:
        """Run one command other than BDAT (see `receive_chunk`) and return its reply.

        A 354 reply to DATA means the driver must now read the message.
        """
        refused = refusal(type(command), self.phase, self.chunk_failed)
        if refused is not None:
            return refused
        if isinstance(command, c.Lhlo):
            # RFC 5321 §4.1.4: EHLO (here LHLO) in the middle of a transaction resets it.
            self._reset()
            self.client_name = command.domain
            log.debug("lmtp<%s>: LHLO %s from %s", self.connection_id, command.domain, self.peer)
            return catalog.lhlo(self.context.hostname, self.context.limits.max_message_size)
        if isinstance(command, c.Mail):
            return self._mail(command)
        if isinstance(command, c.Rcpt):
            return await self._rcpt(command)
        if isinstance(command, c.Data):
            return catalog.START_DATA
        if isinstance(command, c.Rset):
            self._reset()
            return catalog.OK
        if isinstance(command, c.Quit):
            self.finished = True
            return catalog.BYE
        if isinstance(command, c.Vrfy):
            return catalog.VRFY_UNSUPPORTED
        return catalog.OK  # NOOP

    def reject(self, event: CommandRejected) -> Reply:
        """The reply to a line that did not parse: its syntax error, unless the command it
        names is out of sequence anyway (MAIL, RCPT: then 503, as Dovecot answers)."""
        if event.command_type in SEQUENCE_BEFORE_SYNTAX:
            refused = refusal(event.command_type, self.phase, self.chunk_failed)
            if refused is not None:
                return refused
        return event.reply

    def _reset(self) -> None:
        """RSET (RFC 5321 §4.1.1.5): drop the transaction and any failed-chunk state."""
        self.transaction = None
        self.chunk_failed = False

    def _mail(self, command: c.Mail) -> Reply:
        # RFC 1870 §6.1: a declared SIZE above the fixed maximum is refused with 552 at once.
        limit = self.context.limits.max_message_size
        if command.size is not None and command.size > limit:
            return catalog.MESSAGE_TOO_BIG
        self.transactions += 1
        self.transaction = Transaction(
            command, transaction_id(self.connection_id, self.transactions)
        )
        return catalog.SENDER_OK

    async def _rcpt(self, command: c.Rcpt) -> Reply:
        transaction = self.transaction
        assert transaction is not None  # the REFUSALS table guarantees it
        if len(transaction.recipients) >= self.context.limits.lmtp_max_recipients:
            return catalog.TOO_MANY_RECIPIENTS  # RFC 5321 §4.5.3.1.10
        delivery_id = transaction.next_delivery_id()
        try:
            recipient = await self.context.deliverer.resolve(command.recipient)
        except MailError as error:
            tempfail = self.context.settings.quota_full_tempfail
            return reply_for_error(error, command.recipient, quota_full_tempfail=tempfail)
        except Exception:
            log.exception("lmtp<%s>: looking up <%s> failed", delivery_id, command.recipient)
            return temporary_failure(command.recipient)
        transaction.accept(recipient, delivery_id)
        return catalog.RECIPIENT_OK

    # ------------------------------------------------------------------ message data
    async def receive_message(self, event: MessageReceived) -> AsyncIterator[Reply]:
        """The DATA text has arrived: deliver it, one reply per recipient (RFC 2033 §4.2)."""
        transaction = self.transaction
        self.transaction = None  # RFC 5321 §4.1.1.4: the transaction ends with the data
        if transaction is None:
            return
        async for answer in self._deliver(transaction, event.message):
            yield answer

    async def receive_chunk(self, event: ChunkReceived) -> AsyncIterator[Reply]:
        """A BDAT command with its chunk (RFC 3030 §2): 250 for a chunk, the per-recipient
        replies for the LAST one, or a refusal that fails the chunked transfer."""
        command = event.command
        refused = event.rejection
        if refused is None and command is not None:
            refused = refusal(type(command), self.phase, self.chunk_failed)
        if refused is not None or command is None:
            self.chunk_failed = True
            yield refused if refused is not None else catalog.INVALID_PARAMETERS
            return
        transaction = self.transaction
        assert transaction is not None  # the REFUSALS table guarantees it
        limit = self.context.limits.max_message_size
        transaction.add_chunk(event.data, event.size, limit)
        if not command.last:
            if transaction.too_big:
                # RFC 3030 §2: a failed chunk fails the transaction; tell the client now
                # rather than after it has sent everything.
                self.chunk_failed = True
                yield catalog.MESSAGE_TOO_BIG
                return
            yield catalog.chunk_added(event.size)
            return
        self.transaction = None
        message = None if transaction.too_big else bytes(transaction.chunks)
        async for answer in self._deliver(transaction, message):
            yield answer

    def _deliver(self, transaction: Transaction, message: bytes | None) -> AsyncIterator[Reply]:
        return deliver_to_recipients(
            self.context.deliverer,
            transaction.recipients,
            message,
            sender=transaction.sender,
            quota_full_tempfail=self.context.settings.quota_full_tempfail,
        )
