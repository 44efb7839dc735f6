"""The asyncio driver of an LMTP connection: read → feed the reader → run → write.

It owns the socket-facing concerns only: the inactivity timeout (lmtp_timeout), the
bad-command budget (max_bad_commands), and when to write. All protocol meaning lives in the
sans-IO reader (lmtp/proto) and the session (lmtp/session).

Pipelining (RFC 2920 §3): the client may send many commands at once. Everything buffered is
processed in order and the replies are queued; they are written when the input is
exhausted (or the queue is large). The replies after the message (one per recipient) are
written one by one, as each delivery commits.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from tidings.lmtp.proto import catalog
from tidings.lmtp.proto.commands import Command
from tidings.lmtp.proto.events import (
    NEED_DATA,
    ChunkReceived,
    CommandRejected,
    Event,
    LineTooLong,
    MessageReceived,
)
from tidings.lmtp.proto.reader import LmtpReader
from tidings.lmtp.proto.replies import Reply, reply
from tidings.lmtp.session.context import LmtpServerContext
from tidings.lmtp.session.core import LmtpSession, is_protocol_error
from tidings.net.buffered import BufferedStream
from tidings.net.stream import Stream, StreamClosed

log = logging.getLogger("tidings.lmtp")


async def serve_connection(stream: Stream, context: LmtpServerContext) -> None:
    """Serve one LMTP connection until QUIT, a 421, or the peer goes away."""
    connection = LmtpConnection(stream, context)
    try:
        with contextlib.suppress(StreamClosed):  # the peer went away: nothing to answer
            await connection.run()
    finally:
        connection.io.cancel_read()


class LmtpConnection:
    """One connection: the reader, the session, the output queue and the budgets."""

    def __init__(self, stream: Stream, context: LmtpServerContext) -> None:
        self.io = BufferedStream(stream)
        self.context = context
        self.limits = context.limits
        self.reader = LmtpReader(
            max_line_length=self.limits.lmtp_max_line_length,
            max_message_size=self.limits.max_message_size,
        )
        self.session = LmtpSession(context, stream.peer_host)
        self._bad_commands = 0
        self._closing = False

    async def run(self) -> None:
        """Greet, then serve until the session or the budget ends it."""
        log.debug("lmtp<%s>: connect from %s", self.session.connection_id, self.io.peer_host)
        await self._send(self.session.greeting())
        while not self._closing:
            event = self.reader.next_event()
            if event is NEED_DATA:
                await self._flush()
                if not await self._read_more():
                    break
                continue
            await self._dispatch(event)
        await self._flush()
        log.debug("lmtp<%s>: disconnect", self.session.connection_id)

    async def _read_more(self) -> bool:
        """Wait for input; False at end of stream or after lmtp_timeout (then 421 is sent)."""
        data = await self.io.read(self.limits.lmtp_timeout)
        if data is None:
            # RFC 5321 §4.5.3.2.7: the server may close an idle connection; 421 says why.
            await self._send(catalog.timed_out(self.context.hostname))
            await self._flush()
            return False
        if not data:
            return False
        self.reader.receive_data(data)
        return True

    # ------------------------------------------------------------------ dispatch
    async def _dispatch(self, event: Event) -> None:
        if isinstance(event, MessageReceived):
            await self._send_each(self.session.receive_message(event))
        elif isinstance(event, ChunkReceived):
            await self._send_each(self.session.receive_chunk(event))
        elif isinstance(event, CommandRejected):
            await self._send(self.session.reject(event))
        elif isinstance(event, LineTooLong):
            await self._send(catalog.LINE_TOO_LONG)
        elif isinstance(event, Command):
            await self._run_command(event)

    async def _run_command(self, command: Command) -> None:
        try:
            answer = await self.session.handle_command(command)
        except Exception:
            log.exception("lmtp<%s>: %s failed", self.session.connection_id, type(command).__name__)
            answer = reply(451, "4.3.0", "Internal error")
        await self._send(answer)
        if answer.code == 354:
            self.reader.start_message()
        if self.session.finished:
            self._closing = True

    async def _send_each(self, replies: AsyncIterator[Reply]) -> None:
        """Write the replies after a message or chunk, each as soon as it exists (a reply
        to a delivery is only produced once that delivery is committed)."""
        async for answer in replies:
            await self._send(answer)
            await self._flush()

    # ------------------------------------------------------------------ output
    async def _send(self, answer: Reply) -> None:
        # The budget counts protocol errors in a row, as Dovecot's does: any other reply
        # (even a 550 for an unknown user) starts the count again. It is there to drop a
        # client that speaks another protocol, not one that makes an occasional mistake.
        if not is_protocol_error(answer):
            self._bad_commands = 0
        elif self._bad_commands >= self.limits.max_bad_commands:
            # As Dovecot: the error past the budget is answered 421, then the end.
            answer = catalog.too_many_bad_commands(self.context.hostname)
            self._closing = True
        else:
            self._bad_commands += 1
        # A client that pipelines without ever reading would block a write forever;
        # lmtp_timeout bounds that wait as it bounds reads.
        await self.io.send(answer.encode(), stalled_after=self.limits.lmtp_timeout)

    async def _flush(self) -> None:
        await self.io.flush(stalled_after=self.limits.lmtp_timeout)
