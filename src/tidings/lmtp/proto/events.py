"""What the sans-IO reader hands the driver besides complete commands.

`LmtpReader.next_event()` returns a `tidings.lmtp.proto.commands.Command` or one of these.
They carry no bytes to write: the session chooses the reply (h11 style).
"""

from __future__ import annotations

from dataclasses import dataclass

from tidings.lmtp.proto.commands import Bdat, Command
from tidings.lmtp.proto.replies import Reply


@dataclass(frozen=True, slots=True)
class NeedData:
    """More bytes are needed before another event can be produced."""


NEED_DATA = NeedData()


@dataclass(frozen=True, slots=True)
class CommandRejected:
    """A command line that does not parse; `reply` is the answer (a 500/501/555), and
    `command_type` the command its verb named, if any."""

    reply: Reply
    command_type: type[Command] | None = None


@dataclass(frozen=True, slots=True)
class LineTooLong:
    """A command line went past lmtp_max_line_length; it was discarded up to its end."""


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """The mail data after DATA, up to CRLF.CRLF, dot-unstuffed (RFC 5321 §4.5.2).

    `message` is None when the data went past the size limit (it was read and dropped).
    """

    message: bytes | None
    size: int


@dataclass(frozen=True, slots=True)
class ChunkReceived:
    """A BDAT command with its chunk (RFC 3030 §2), or with `command` None when the line
    did not parse but named a size (`rejection` is then the reply; the chunk was skipped).

    `data` is None when the chunk alone is larger than the size limit (read and dropped),
    and empty after a line that did not parse (its octets were skipped).
    """

    command: Bdat | None
    data: bytes | None
    size: int
    rejection: Reply | None = None


Event = Command | NeedData | CommandRejected | LineTooLong | MessageReceived | ChunkReceived
