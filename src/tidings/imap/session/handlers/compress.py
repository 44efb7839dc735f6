"""COMPRESS (RFC 4978 §3): DEFLATE both ways, from the byte after the tagged OK.

The codec is the connection's (tidings.net.deflate); the session only answers the command
and tells its connection to switch.
"""

from __future__ import annotations

from tidings.imap.proto import commands as c
from tidings.imap.proto.compress import DEFLATE
from tidings.imap.session.core import CommandFailed, ImapSession
from tidings.imap.session.registry import handles


@handles(c.Compress)
async def compress(session: ImapSession, command: c.Compress) -> None:
    """RFC 4978 §3. Already on: `NO [COMPRESSIONACTIVE]`, the RFC 5530 code for this case
    and Dovecot's answer (RFC 4978 §3 lists BAD for it, and NO [COMPRESSIONACTIVE] for
    compression active in another layer; clients treat both as "stay as you are"). An
    unknown mechanism: `BAD` ("invalid or unknown argument", RFC 4978 §3; Dovecot says NO)."""
    if session.io.compression_active:
        raise CommandFailed("DEFLATE compression is already active.", "COMPRESSIONACTIVE")
    if command.mechanism.upper() != DEFLATE:
        raise CommandFailed("Unknown compression mechanism.", status="BAD")
    # The OK is the last uncompressed byte the client gets (RFC 4978 §3): written out before
    # the switch, which also takes what the client pipelined after the command.
    await session.tagged(command.tag, "OK", "DEFLATE active.")
    await session.io.flush()
    await session.io.start_compression()
