"""An IMAP session: connection state plus the semantics of each command, without sockets.

The driver (imap/driver.py) feeds it parsed commands and gives it a `SessionIO` to write
responses through; handlers live in imap/session/handlers/, one module per command group.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from tidings.core.connection import ConnectionIO
from tidings.core.errors import MailError
from tidings.core.seqset import SequenceSet
from tidings.imap.proto import commands as c
from tidings.imap.proto import responses as r
from tidings.imap.proto.mutf7 import decode_mutf7
from tidings.imap.session.context import ImapServerContext
from tidings.imap.session.errors import response_code
from tidings.imap.session.registry import HANDLERS
from tidings.imap.session.selected import PendingUpdates, SelectedMailbox
from tidings.imap.session.state import SessionState, refusal_reason
from tidings.notify.hub import Subscription
from tidings.storage.api import MailStore, MessageMeta
from tidings.storage.namespaces import NamespacedStore

if TYPE_CHECKING:
    from tidings.imap.session.handlers.idle import IdleEvent
    from tidings.imap.session.notify import NotifyWatch
    from tidings.notify.hub import Subscription

log = logging.getLogger(__name__)

# Commands during which EXPUNGE must not be sent (RFC 9051 §7.5.1; RFC 3501 §7.4.1 allows it
# during the UID forms, but clients and Dovecot are happier without).
# SORT and THREAD answer with sequence numbers too (RFC 5256 §3), so like SEARCH.
_NO_EXPUNGE_DURING = (c.Fetch, c.Store, c.Search, c.Sort, c.Thread)


class SessionIO(ConnectionIO, Protocol):
    """What a session needs from its connection."""

    async def read_continuation(self) -> str | None:
        """The client's next line during AUTHENTICATE; None if the connection ended."""
        ...

    async def wait_idle(self, subscription: Subscription, tick: float) -> IdleEvent:
        """During IDLE: wait for DONE, a change notice, `tick` seconds, or the autologout."""
        ...

    @property
    def compression_active(self) -> bool:
        """Whether COMPRESS=DEFLATE is on (RFC 4978)."""
        ...

    async def start_compression(self) -> None:
        """RFC 4978 §3: DEFLATE both ways from the next byte (queued output goes first,
        uncompressed); input pipelined after COMPRESS is inflated, not dropped."""
        ...


class CommandFailed(Exception):
    """Raised by handlers to answer the command with NO (or BAD) and stop it."""

    def __init__(self, text: str, code: str | None = None, status: str = "NO") -> None:
        super().__init__(text)
        self.text = text
        self.code = code
        self.status = status


class ImapSession:
    """One client's session: state, account, selected mailbox, enabled extensions."""

    def __init__(self, context: ImapServerContext, io: SessionIO) -> None:
        self.context = context
        self.io = io
        self.state = SessionState.NOT_AUTHENTICATED
        self.account: str | None = None
        self._store: MailStore | None = None
        self.selected: SelectedMailbox | None = None
        self.rev2 = False  # ENABLE IMAP4rev2 (RFC 9051 §6.3.1)
        self.condstore = False  # a CONDSTORE enabling command was seen (RFC 7162 §3.1)
        self.qresync = False  # ENABLE QRESYNC (RFC 7162 §3.2.3); implies condstore
        self._vanished_sent = False  # a VANISHED went out during the current command
        self.utf8_accept = False  # ENABLE UTF8=ACCEPT (RFC 6855 §3)
        self.auth_failures = 0
        self.saved_search: frozenset[int] = frozenset()  # RFC 5182 `$`, as UIDs
        self.current_command: c.Command | None = None
        self.notify: NotifyWatch | None = None  # RFC 5465 NOTIFY SET (handlers/notify.py)

    # ------------------------------------------------------------------ properties
    @property
    def store(self) -> MailStore:
        """The logged-in account's mail (only valid once authenticated)."""
        assert self._store is not None, "no account"
        return self._store

    @property
    def utf8_names(self) -> bool:
        """Mailbox names are UTF-8, never modified UTF-7: after ENABLE IMAP4rev2 (RFC 9051
        §5.1) or ENABLE UTF8=ACCEPT (RFC 6855 §3)."""
        return self.rev2 or self.utf8_accept

    @property
    def plaintext_allowed(self) -> bool:
        """RFC 9051 §11.1 / DESIGN.md: plaintext passwords only over TLS or on loopback."""
        return self.io.is_tls or self.io.is_loopback

    # ------------------------------------------------------------------ responses
    async def untagged(self, text: bytes | str) -> None:
        """Send `* text`."""
        await self.io.send(r.untagged(text))

    async def tagged(self, tag: str, status: str, text: str, code: str | None = None) -> None:
        """Send the tagged completion of a command."""
        await self.io.send(r.tagged(tag, status, text, code))

    def encode_mailbox(self, name: str) -> bytes:
        """A mailbox name as the client expects it: UTF-8 for rev2, else modified UTF-7."""
        return r.mailbox_name(name, utf8=self.utf8_names)

    def decode_mailbox(self, name: str) -> str:
        """A client's mailbox argument as a storage name (RFC 3501 §5.1.3, RFC 9051 §5.1)."""
        if name.upper() == "INBOX":
            return "INBOX"
        if self.utf8_names:
            try:
                name.encode("utf-8")
            except UnicodeEncodeError as error:
                raise CommandFailed("Mailbox name is not valid UTF-8", "CANNOT") from error
            return name
        try:
            decoded = decode_mutf7(name)
        except ValueError as error:
            raise CommandFailed("Mailbox name is not valid mUTF-7", "CANNOT") from error
        if decoded.upper() == "INBOX":
            return "INBOX"
        return decoded

    # ------------------------------------------------------------------ lifecycle
    async def login_succeeded(self, account: str) -> None:
        """Enter the authenticated state for `account`."""
        self.account = account
        backend = self.context.backend
        own = await backend.mail_store(account)
        # Every namespace (RFC 2342) when the backend keeps ACLs (RFC 4314).
        sharing = hasattr(backend, "guest_store")
        if sharing:
            view = NamespacedStore(own, backend)  # type: ignore[arg-type]
            await view.refresh_notice_accounts()
            self._store = view
        else:
            self._store = own
        self.state = SessionState.AUTHENTICATED

    def subscribe_notices(self, max_pending: int | None = None) -> Subscription:
        """A hub subscription to the account's notices and to those of every account
        whose shared mailboxes the user works in."""
        subscription = self.context.hub.subscribe(self.account or "", max_pending)
        store = self._store
        if isinstance(store, NamespacedStore):
            for owner in store.notice_accounts:
                subscription.also(owner)
        return subscription

    def stop_notify(self) -> None:
        """End NOTIFY's events (NOTIFY NONE or SET, an overflow, the end of the connection)."""
        if self.notify is not None:
            self.notify.close()
            self.notify = None

    def deselect(self) -> None:
        """Leave the selected state (CLOSE, UNSELECT, a failed SELECT)."""
        self.selected = None
        self.saved_search = frozenset()
        if self.state is SessionState.SELECTED:
            self.state = SessionState.AUTHENTICATED

    async def execute(self, command: c.Command) -> None:
        """Run one command to its tagged completion."""
        reason = refusal_reason(command, self.state)
        if reason is not None:
            await self.tagged(command.tag, "BAD", reason)
            return
        handler = HANDLERS.get(type(command))
        if handler is None:
            await self.tagged(command.tag, "BAD", "Command not implemented.")
            return
        self.current_command = command
        self._vanished_sent = False
        try:
            await handler(self, command)
        except CommandFailed as failure:
            await self.send_updates(command)
            await self.tagged(command.tag, failure.status, failure.text, failure.code)
        except MailError as error:
            await self.send_updates(command)
            await self.tagged(command.tag, "NO", error.reason, response_code(error))
        finally:
            self.current_command = None
        if self.notify is not None:  # RFC 5465 §5: no events for the client's own changes
            await self.notify.after_command(self, command)

    async def complete(self, command: c.Command, text: str, code: str | None = None) -> None:
        """Send pending updates, then the tagged OK. After a VANISHED it carries the new
        HIGHESTMODSEQ (RFC 7162 §3.2.7 requires it for EXPUNGE; Dovecot does it for every
        command, which spares QRESYNC clients a later resync of what they already have)."""
        await self.send_updates(command)
        if code is None and self._vanished_sent and self.selected is not None:
            code = f"HIGHESTMODSEQ {self.selected.announced_modseq}"
        self._vanished_sent = False
        await self.tagged(command.tag, "OK", text, code)

    # ------------------------------------------------------------------ updates
    async def send_updates(self, command: c.Command | None) -> None:
        """Announce other sessions' changes to the selected mailbox, as §7.5.1 allows."""
        if self.selected is None or self.state is not SessionState.SELECTED:
            return
        allow_expunge = not isinstance(command, _NO_EXPUNGE_DURING)
        try:
            updates = await self.selected.sync(self.store, allow_expunge, hold_back=self.condstore)
        except MailError:
            # The mailbox went away under us (deleted or renamed by another session).
            await self.mailbox_vanished()
            return
        await self.announce(updates)

    async def announce(self, updates: PendingUpdates) -> None:
        """Write the untagged responses for `updates`."""
        await self.announce_expunged(updates.expunged_seqs, updates.expunged_uids)
        for seq, meta in updates.flag_changes:
            await self.untagged(self.flag_update(seq, meta))
        if updates.exists is not None:
            await self.untagged(f"{updates.exists} EXISTS")
        if updates.recent is not None and not self.rev2:
            await self.untagged(f"{updates.recent} RECENT")

    async def announce_expunged(self, seqs: list[int], uids: list[int]) -> None:
        """`* n EXPUNGE` per message (`seqs` in announcement order), or for a QRESYNC client
        one `* VANISHED uids` instead (RFC 7162 §3.2.10.2). The messages are already gone
        from the view."""
        if self.qresync:
            if uids:
                await self.untagged(b"VANISHED " + str(SequenceSet.of(uids)).encode())
                self._vanished_sent = True
            return
        for seq in seqs:
            await self.untagged(f"{seq} EXPUNGE")

    def flag_update(self, seq: int, meta: MessageMeta) -> bytes:
        """`n FETCH (...)` telling a flag change: with the UID for rev2 and QRESYNC clients
        (RFC 7162 §3.2.4), with MODSEQ once CONDSTORE is on (RFC 7162 §3.1)."""
        parts = []
        if self.rev2 or self.qresync:
            parts.append(b"UID %d" % meta.uid)
        if self.condstore:
            parts.append(b"MODSEQ (%d)" % meta.modseq)  # before FLAGS, as Dovecot
        parts.append(b"FLAGS " + r.flag_list(self.visible_flags(meta.uid, meta.flags)))
        return b"%d FETCH (%s)" % (seq, b" ".join(parts))

    def visible_flags(self, uid: int, flags: frozenset[str]) -> list[str]:
        """Flags of a message as the client sees them: `\\Recent` added for rev1 only."""
        shown = sorted(flags, key=_flag_order)
        if not self.rev2 and self.selected is not None and uid in self.selected.recent:
            shown.append("\\Recent")
        return shown

    async def mailbox_vanished(self) -> None:
        """The selected mailbox was deleted or renamed by another session.

        Its sequence numbers mean nothing any more; like Dovecot, say BYE and disconnect.
        """
        self.deselect()
        self.state = SessionState.LOGOUT
        await self.untagged("BYE Selected mailbox was deleted, have to disconnect.")


_SYSTEM_FLAG_ORDER = {
    "\\answered": 0,
    "\\flagged": 1,
    "\\deleted": 2,
    "\\seen": 3,
    "\\draft": 4,
}


def _flag_order(flag: str) -> tuple[int, str]:
    return (_SYSTEM_FLAG_ORDER.get(flag.lower(), 5), flag)
