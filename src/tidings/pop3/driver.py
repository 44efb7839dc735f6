"""The asyncio driver of a POP3 connection: read → feed the parser → run → write.

It owns the socket-facing concerns only: the greeting, the inactivity timer (for reads and
for writes to a client that stopped reading), STLS's buffer reset, and pipelining (RFC 2449
§6.6: replies are queued while commands are waiting and written when input runs dry). All
protocol meaning lives in the sans-IO parser (pop3/proto) and the session (pop3/session).
"""

from __future__ import annotations

import logging
import time

from tidings.net.buffered import BufferedStream
from tidings.net.stream import Stream, StreamClosed
from tidings.pop3.proto import commands as c
from tidings.pop3.proto import responses as r
from tidings.pop3.proto.events import (
    NEED_DATA,
    CommandError,
    LineTooLong,
    SaslResponse,
)
from tidings.pop3.proto.parser import CommandParser
from tidings.pop3.proto.responses import ResponseCode
from tidings.pop3.session.context import Pop3ServerContext
from tidings.pop3.session.core import Pop3Session
from tidings.pop3.session.state import Pop3State

log = logging.getLogger(__name__)


async def serve_connection(stream: Stream, context: Pop3ServerContext) -> None:
    """Serve one POP3 connection until QUIT, an error, a timeout or the peer goes away.

    Whatever way it ends, the maildrop lock is released; only QUIT applies DELE marks."""
    connection = Pop3Connection(stream, context)
    try:
        await connection.run()
    except StreamClosed:
        pass
    finally:
        connection.cancel_read()
        connection.session.release_lock()


class Pop3Connection:
    """One connection: the parser, the session, and the `SessionIO` the session writes to."""

    def __init__(self, stream: Stream, context: Pop3ServerContext) -> None:
        self.io = BufferedStream(stream)
        self.context = context
        self.limits = context.limits
        self.parser = self._new_parser()
        self.session = Pop3Session(context, self)

    def _new_parser(self) -> CommandParser:
        return CommandParser(max_line_length=self.limits.pop3_max_line_length)

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

    # A client that stops reading is as idle as one that stops writing.
    async def send(self, data: bytes) -> None:
        await self.io.send(data, stalled_after=self._timeout())

    async def flush(self) -> None:
        await self.io.flush(stalled_after=self._timeout())

    async def read_sasl_response(self) -> SaslResponse | LineTooLong | None:
        self.parser.expect_sasl_response()
        while True:
            event = self.parser.next_event()
            if event is NEED_DATA:
                if not await self._fill(self._time_left()):
                    return None
                continue
            if isinstance(event, SaslResponse | LineTooLong):
                return event
            raise AssertionError(f"unexpected event during AUTH: {event!r}")

    async def start_tls(self) -> bool:
        assert self.context.tls_context is not None
        try:
            await self.io.start_tls(self.context.tls_context)
        except StreamClosed:
            return False
        # Commands the client pipelined after STLS (RFC 2595 §4) came in plaintext: they are
        # discarded, never run inside TLS (RFC 3207 §4.2's rule; CVE-2011-0411).
        self.parser = self._new_parser()
        self.io.last_activity = time.monotonic()
        return True

    # ------------------------------------------------------------------ reading
    def _timeout(self) -> float:
        """RFC 1939 §3: the autologout timer "MUST be of at least 10 minutes" once logged
        in (`pop3_timeout`); before login a short one (`idle_timeout_unauthenticated`)."""
        if self.session.state is Pop3State.AUTHORIZATION:
            return self.limits.idle_timeout_unauthenticated
        return self.limits.pop3_timeout

    def _time_left(self) -> float:
        return self.io.last_activity + self._timeout() - time.monotonic()

    async def _fill(self, wait_seconds: float) -> bool:
        """Read more input; False at end of stream or when `wait_seconds` pass."""
        data = await self.io.read(wait_seconds)
        if not data:
            return False
        self.parser.receive_data(data)
        return True

    def cancel_read(self) -> None:
        """Stop a pending read (at the end)."""
        self.io.cancel_read()

    # ------------------------------------------------------------------ main loop
    async def run(self) -> None:
        """Greet (RFC 1939 §4), then serve commands until the session is closed."""
        await self.send(r.ok(self.context.greeting))
        while self.session.state is not Pop3State.CLOSED:
            event = self.parser.next_event()
            if event is NEED_DATA:
                await self.flush()
                if not await self._fill(self._time_left()):
                    if self._time_left() <= 0:
                        await self.send(r.err("Disconnected for inactivity."))
                    break
            elif isinstance(event, CommandError):
                await self.session.bad_command(event.reason)
            elif isinstance(event, LineTooLong):
                await self.session.bad_command(f"Line too long (limit {event.limit} bytes).")
            elif isinstance(event, c.Command):
                await self._execute(event)
        await self.flush()

    async def _execute(self, command: c.Command) -> None:
        try:
            await self.session.execute(command)
        except StreamClosed:
            raise
        except Exception:
            # One broken command must not take the server down nor leave the client hanging.
            log.exception("POP3 %s from %s failed", command.keyword, self.peer_host)
            await self.send(r.err("Internal error.", ResponseCode.SYS_TEMP))
            if self.session.state is Pop3State.UPDATE:
                self.session.close()
