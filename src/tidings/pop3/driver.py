"""PLACEHOLDER until the POP3 driver lands: closes every connection at once."""

from __future__ import annotations

from tidings.net.stream import Stream
from tidings.pop3.session.context import Pop3ServerContext


async def serve_connection(stream: Stream, context: Pop3ServerContext) -> None:
    """Serve one POP3 connection until QUIT or disconnect."""
    await stream.write(b"-ERR [SYS/TEMP] POP3 is not implemented yet\r\n")
