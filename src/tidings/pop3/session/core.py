"""A POP3 session: state, account, snapshot and the semantics of each command, no sockets.

The driver (pop3/driver.py) feeds it parsed commands and gives it a `SessionIO` to write
replies through; handlers live in pop3/session/handlers/, one module per RFC 1939 state.
"""

from __future__ import annotations

import logging
from typing import Protocol

from tidings.core.connection import ConnectionIO
from tidings.core.errors import MailError
from tidings.pop3.proto import commands as c
from tidings.pop3.proto import responses as r
from tidings.pop3.proto.events import LineTooLong, SaslResponse
from tidings.pop3.proto.responses import ResponseCode
from tidings.pop3.session.context import Pop3ServerContext
from tidings.pop3.session.errors import CommandFailed, failure_for
from tidings.pop3.session.handlers import HANDLERS
from tidings.pop3.session.snapshot import MaildropSnapshot
from tidings.pop3.session.state import Pop3State, refusal_reason
from tidings.storage.api import MailStore

log = logging.getLogger(__name__)


class SessionIO(ConnectionIO, Protocol):
    """What a session needs from its connection."""

    async def read_sasl_response(self) -> SaslResponse | LineTooLong | None:
        """The client's next line during AUTH; None if the connection ended or timed out."""
        ...


class Pop3Session:
    """One client's session (RFC 1939 §3): AUTHORIZATION → TRANSACTION → UPDATE."""

    def __init__(self, context: Pop3ServerContext, io: SessionIO) -> None:
        self.context = context
        self.io = io
        self.state = Pop3State.AUTHORIZATION
        self.pending_user: str | None = None  # the USER name awaiting PASS
        self.account: str | None = None
        self._store: MailStore | None = None
        self._snapshot: MaildropSnapshot | None = None
        self._locked: str | None = None  # the account whose maildrop lock we hold
        self.auth_failures = 0
        self.bad_commands = 0

    # ------------------------------------------------------------------ properties
    @property
    def store(self) -> MailStore:
        """The logged-in account's mail (TRANSACTION state only)."""
        assert self._store is not None, "not logged in"
        return self._store

    @property
    def snapshot(self) -> MaildropSnapshot:
        """The maildrop as opened at login (TRANSACTION state only)."""
        assert self._snapshot is not None, "not logged in"
        return self._snapshot

    @property
    def plaintext_allowed(self) -> bool:
        """DESIGN.md / Dovecot's disable_plaintext_auth: passwords only over TLS or loopback."""
        return self.io.is_tls or self.io.is_loopback

    # ------------------------------------------------------------------ replies
    async def ok(self, text: str = "", code: ResponseCode | None = None) -> None:
        """Send `+OK text`."""
        await self.io.send(r.ok(text, code))

    async def err(self, text: str, code: ResponseCode | None = None) -> None:
        """Send `-ERR [code] text`."""
        await self.io.send(r.err(text, code))

    # ------------------------------------------------------------------ commands
    async def execute(self, command: c.Command) -> None:
        """Run one command to its reply."""
        reason = refusal_reason(command, self.state)
        if reason is not None:
            await self.bad_command(reason)
            return
        try:
            await HANDLERS[type(command)](self, command)
        except CommandFailed as failure:
            await self.err(failure.text, failure.code)
        except MailError as error:
            mapped = failure_for(error)
            await self.err(mapped.text, mapped.code)

    async def bad_command(self, reason: str) -> None:
        """Answer an unknown, malformed or misplaced command, counting it against
        `max_bad_commands` (Dovecot and aiosmtpd disconnect such clients too)."""
        self.bad_commands += 1
        if self.bad_commands >= self.context.limits.max_bad_commands:
            await self.err(f"{reason} Too many invalid commands, closing the connection.")
            self.close()
            return
        await self.err(reason)

    # ------------------------------------------------------------------ lifecycle
    async def open_maildrop(self, account: str) -> None:
        """After a successful login: take the maildrop lock and the snapshot (RFC 1939 §4).

        RFC 2449 §8.1.2: a maildrop already opened by another POP3 session is `[IN-USE]`; the
        session stays in AUTHORIZATION, as RFC 1939 §4 allows after a negative reply.
        """
        locks = self.context.maildrop_locks
        if account in locks:
            raise CommandFailed("Mailbox is locked by another POP3 session.", ResponseCode.IN_USE)
        locks.add(account)
        self._locked = account
        try:
            store = await self.context.backend.mail_store(account)
            maildrop = await store.open_maildrop()
        except MailError as error:
            self.release_lock()
            log.warning("cannot open the maildrop of %s: %s", account, error)
            raise CommandFailed(
                f"Cannot open the mailbox: {error.reason}", ResponseCode.SYS_TEMP
            ) from error
        except BaseException:
            self.release_lock()
            raise
        self.account = account
        self._store = store
        self._snapshot = MaildropSnapshot.of(maildrop)
        self.pending_user = None
        self.state = Pop3State.TRANSACTION

    def release_lock(self) -> None:
        """Give the maildrop back (any exit: QUIT, error, dropped connection, shutdown)."""
        if self._locked is not None:
            self.context.maildrop_locks.discard(self._locked)
            self._locked = None

    def close(self) -> None:
        """End the session: nothing more is read, and the lock is released."""
        self.state = Pop3State.CLOSED
        self.release_lock()
