"""The work of `tidings deliver` apart from the command line: read the piped message, deliver
it, and say how it went as a sysexits(3) code with a one-line reason (`exit_status`).

The CLI (`tidings.cli`) opens the store and calls these; nothing here raises for an expected
failure, so every outcome reaches the MTA as an exit code, never as a traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import BinaryIO

from tidings.core.errors import MailError
from tidings.delivery.deliverer import Deliverer
from tidings.delivery.exit_status import (
    EX_DATAERR,
    EX_IOERR,
    EX_NOPERM,
    EX_OK,
    EX_USAGE,
    TOOBIG_TEXT,
    exit_status,
)
from tidings.delivery.piped import message_from_pipe

# Read the piped message in pieces of this size, so an oversized one is refused after
# `limit` bytes instead of after all of it has been read into memory.
READ_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Outcome:
    """How `tidings deliver` ends: its exit code and the line it prints on stderr."""

    code: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class DeliverRequest:
    """The command line of `tidings deliver ADDRESS [--mailbox NAME] [--from SENDER]`."""

    address: str
    mailbox: str | None = None
    sender: str | None = None  # None: the MTA added Return-Path/Delivered-To itself


def read_message(stream: BinaryIO | None, limit: int) -> bytes | Outcome:
    """The message on `stream` (stdin), ready to store, or the Outcome that ends the command:
    no stdin or a terminal (64), a read error (74), empty (65), over `limit` bytes as read
    or once its line endings are CRLF (77)."""
    if stream is None:
        return Outcome(EX_IOERR, "Cannot read the message: standard input is closed")
    try:
        if os.isatty(stream.fileno()):
            return Outcome(EX_USAGE, "The message must come on standard input, not a terminal")
        chunks: list[bytes] = []
        size = 0
        while chunk := stream.read(READ_CHUNK_BYTES):
            size += len(chunk)
            if size > limit:
                return Outcome(EX_NOPERM, TOOBIG_TEXT)
            chunks.append(chunk)
    except OSError as error:
        return Outcome(EX_IOERR, f"Cannot read the message: {error.strerror or error}")
    except ValueError as error:  # a closed file object
        return Outcome(EX_IOERR, f"Cannot read the message: {error}")
    message = message_from_pipe(b"".join(chunks))
    if not message:
        return Outcome(EX_DATAERR, "Empty message on standard input")
    if len(message) > limit:  # LF -> CRLF made it grow past the limit
        return Outcome(EX_NOPERM, TOOBIG_TEXT)
    return message


async def deliver_message(deliverer: Deliverer, request: DeliverRequest, message: bytes) -> Outcome:
    """Resolve the address and deliver `message`; the Outcome says how it went."""
    try:
        recipient = await deliverer.resolve(request.address)
        await deliverer.deliver(
            recipient,
            message,
            sender=request.sender or "",
            mailbox=request.mailbox,
            trace_headers=request.sender is not None,
        )
    except MailError as error:
        code, reason = exit_status(
            error, quota_full_tempfail=deliverer.settings.quota_full_tempfail
        )
        return Outcome(code, reason)
    return Outcome(EX_OK)
