"""The asyncio driver of an IMAP connection: read → feed the parser → run → write.

It owns the socket-facing concerns only: literal continuation requests, the autologout
timer, the bad-command budget, STARTTLS's buffer reset, and waiting during IDLE. All
protocol meaning lives in the sans-IO parser (imap/proto) and the session (imap/session).
"""

from __future__ import annotations

import logging
import time

from tidings.imap.proto import commands as c
from tidings.imap.proto import responses as r
from tidings.imap.proto.events import (
    NEED_DATA,
    CommandError,
    ContinuationLine,
    IdleDone,
    LineTooLong,
    LiteralRequest,
)
from tidings.imap.proto.parser import CommandParser
from tidings.imap.session.context import ImapServerContext
from tidings.imap.session.core import ImapSession
from tidings.imap.session.handlers import (  # noqa: F401  (each module registers itself)
    any_state,
    auth,
    copy_move,
    fetch,
    idle,
    listing,
    mailboxes,
    quota,
    search_cmd,
    selected_state,
    store,
)
from tidings.imap.session.handlers.any_state import capability_text
from tidings.imap.session.handlers.append import literal_refusal
from tidings.imap.session.handlers.idle import IdleEvent
from tidings.imap.session.handlers.metadata import metadata_literal_refusal
from tidings.imap.session.state import SessionState
from tidings.net.buffered import BufferedStream
from tidings.net.stream import Stream, StreamClosed
from tidings.net.waiting import first_done
from tidings.notify.hub import Subscription

log = logging.getLogger(__name__)


async def serve_connection(stream: Stream, context: ImapServerContext) -> None:
    """Serve one IMAP connection until LOGOUT, BYE or the peer goes away."""
    connection = ImapConnection(stream, context)
    try:
        await connection.run()
    except StreamClosed:
        pass
    finally:
        connection.cancel_read()
        connection.session.stop_notify()


class ImapConnection:
    """One connection: the parser, the session, and the `SessionIO` the session writes to."""

    def __init__(self, stream: Stream, context: ImapServerContext) -> None:
        self.io = BufferedStream(stream)
        self.context = context
        self.limits = context.limits
        self.parser = self._new_parser()
        self.session = ImapSession(context, self)
        self._bad_commands = 0
        self._idle_armed = False

    def _new_parser(self) -> CommandParser:
        return CommandParser(
            max_line_length=self.limits.max_line_length,
            max_literal_size=self.limits.max_message_size,
        )

    # ------------------------------------------------------------------ SessionIO
    @property
    def is_tls(self) -> bool:
        return self.io.is_tls

    @property
    def is_loopback(self) -> bool:
        return self.io.is_loopback

    @property
    def peer_host(self) -> str:
        return self.io.peer_host

    def channel_bindings(self) -> dict[str, bytes]:
        return self.io.channel_bindings()

    async def send(self, data: bytes) -> None:
        await self.io.send(data)

    async def flush(self) -> None:
        await self.io.flush()

    async def read_continuation(self) -> str | None:
        self.parser.expect_continuation()
        while True:
            event = self.parser.next_event()
            if event is NEED_DATA:
                if not await self._fill(self._autologout_left()):
                    return None
                continue
            if isinstance(event, ContinuationLine):
                return event.data
            return "*"  # an over-long or garbled line cancels the exchange

    async def start_tls(self) -> bool:
        assert self.context.tls_context is not None
        try:
            await self.io.start_tls(self.context.tls_context)
        except StreamClosed:
            return False
        # RFC 9051 §6.2.1: anything the client pipelined after STARTTLS is discarded.
        self.parser = self._new_parser()
        return True

    @property
    def compression_active(self) -> bool:
        return self.io.is_compressed

    async def start_compression(self) -> None:
        # RFC 4978 §3: the client compresses from the first command after COMPRESS, so
        # what it pipelined is compressed input: handed back by the parser to be inflated.
        await self.io.start_deflate(self.parser.take_unparsed())

    async def wait_idle(self, subscription: Subscription, tick: float) -> IdleEvent:
        if not self._idle_armed:
            self.parser.expect_idle_done()
            self._idle_armed = True
        while True:
            event = self.parser.next_event()
            if isinstance(event, IdleDone):
                self._idle_armed = False
                return IdleEvent.DONE
            if event is not NEED_DATA:
                self._idle_armed = False
                return IdleEvent.BAD
            if subscription.has_pending:
                return IdleEvent.NOTICE
            left = self._autologout_left()
            if left <= 0:
                return IdleEvent.TIMEOUT
            read_task = self.io.pending_read()
            notice_task = subscription.waiter()
            try:
                done = await first_done((read_task, notice_task), min(tick, left))
            finally:
                notice_task.cancel()
            if read_task in done:
                if not self._feed(self.io.take_read()):
                    return IdleEvent.CLOSED
                continue
            if subscription.has_pending:
                return IdleEvent.NOTICE
            if self._autologout_left() <= 0:
                return IdleEvent.TIMEOUT
            return IdleEvent.TICK

    # ------------------------------------------------------------------ reading
    def _autologout_left(self) -> float:
        """RFC 9051 §5.4: at least 30 minutes once authenticated; shorter before."""
        if self.session.state is SessionState.NOT_AUTHENTICATED:
            timeout = self.limits.idle_timeout_unauthenticated
        else:
            timeout = self.limits.idle_timeout_authenticated
        return self.io.last_activity + timeout - time.monotonic()

    def _feed(self, data: bytes | None) -> bool:
        """Give `data` to the parser; False at end of stream or after a timeout (None)."""
        if not data:
            return False
        self.parser.receive_data(data)
        return True

    async def _fill(self, wait_seconds: float) -> bool:
        """Read more input; False at end of stream or when `wait_seconds` pass."""
        return self._feed(await self.io.read(wait_seconds))

    def cancel_read(self) -> None:
        """Stop a pending read (at the end)."""
        self.io.cancel_read()

    async def _fill_between_commands(self) -> bool:
        """Like `_fill` with the autologout; while waiting, send NOTIFY's events as they
        come (RFC 5465 §3: "whenever it can", not only in IDLE). Without NOTIFY this is
        just `_fill`."""
        while (watch := self.session.notify) is not None and self.parser.between_commands:
            if watch.subscription.has_pending:
                await self._push_notifications()
                if self.session.state is SessionState.LOGOUT:
                    return True  # the run loop sees it and ends
                continue
            left = self._autologout_left()
            if left <= 0:
                return False
            read_task = self.io.pending_read()
            notice_task = watch.subscription.waiter()
            try:
                done = await first_done((read_task, notice_task), left)
            finally:
                notice_task.cancel()
            if read_task in done:
                if not self._feed(self.io.take_read()):
                    return False
                if watch.subscription.has_pending:  # what happened first goes out first
                    await self._push_notifications()
                return True
        return await self._fill(self._autologout_left())

    async def _push_notifications(self) -> None:
        assert self.session.notify is not None
        await self.session.notify.deliver(self.session, expunge_allowed=False)
        await self.flush()

    # ------------------------------------------------------------------ main loop
    async def run(self) -> None:
        """Greet, then serve commands until the session ends."""
        await self.send(
            r.untagged(f"OK [CAPABILITY {capability_text(self.session)}] {self.context.greeting}")
        )
        while self.session.state is not SessionState.LOGOUT:
            event = self.parser.next_event()
            if event is NEED_DATA:
                await self.flush()
                if not await self._fill_between_commands():
                    if self._autologout_left() <= 0:
                        await self.send(r.untagged("BYE Autologout; idle for too long."))
                    break
            elif isinstance(event, LiteralRequest):
                await self._on_literal(event)
            elif isinstance(event, CommandError):
                await self._on_bad(event.tag, event.reason, event.code)
            elif isinstance(event, LineTooLong):
                await self._on_bad(event.tag, "Command line too long.", "TOOBIG")
            elif isinstance(event, IdleDone):
                await self._on_bad(None, "DONE outside IDLE.", None)
            elif isinstance(event, c.Command):
                await self._execute(event)
        await self.flush()

    async def _execute(self, command: c.Command) -> None:
        try:
            await self.session.execute(command)
        except StreamClosed:
            raise
        except Exception:
            log.exception("command %s from %s failed", type(command).__name__, self.peer_host)
            await self.send(r.tagged(command.tag, "NO", "Internal error.", "SERVERBUG"))

    async def _on_literal(self, request: LiteralRequest) -> None:
        limit = self.limits.max_message_size
        if request.size > limit:
            self.parser.reject_literal()
            # RFC 7889 / RFC 9051 §7.1: TOOBIG; the command is dropped.
            await self.send(
                r.tagged(
                    request.tag or "*", "NO", f"Literal too large (limit {limit} bytes).", "TOOBIG"
                )
            )
            return
        # A command is held whole until it runs (a MULTIAPPEND is stored atomically, RFC
        # 3502 §3), so its literals together are bounded too.
        command_limit = max(self.limits.max_command_size, limit + self.limits.max_line_length)
        if self.parser.pending_size + request.size > command_limit:
            self.parser.reject_literal()
            reason = f"Command too large (limit {command_limit} bytes)."
            await self.send(r.tagged(request.tag or "*", "NO", reason, "LIMIT"))
            return
        refusal = None
        if request.synchronizing:
            refusal = await literal_refusal(
                self.session, self.parser.pending_command(), request.size
            )
            # RFC 5464 §4.3: a SETMETADATA value too large is refused before it is sent.
            refusal = refusal or metadata_literal_refusal(
                self.session, self.parser.pending_command(), request.size
            )
        if refusal is not None:
            self.parser.reject_literal()
            code, text = refusal
            await self.send(r.tagged(request.tag or "*", "NO", text, code))
            return
        self.parser.accept_literal()
        if request.synchronizing:
            await self.send(r.continuation("Ready for literal data"))
            await self.flush()

    async def _on_bad(self, tag: str | None, reason: str, code: str | None) -> None:
        self._bad_commands += 1
        await self.send(
            r.tagged(tag or "*", "BAD", reason, code) if tag else r.untagged(f"BAD {reason}")
        )
        if self._bad_commands >= self.limits.max_bad_commands:
            await self.send(r.untagged("BYE Too many invalid commands."))
            self.session.state = SessionState.LOGOUT
