"""PLACEHOLDER until the LMTP driver lands: closes every connection at once."""

from __future__ import annotations

from tidings.lmtp.session.context import LmtpServerContext
from tidings.net.stream import Stream


async def serve_connection(stream: Stream, context: LmtpServerContext) -> None:
    """Serve one LMTP connection until QUIT or disconnect."""
    await stream.write(b"421 4.3.2 LMTP is not implemented yet\r\n")
