"""Events produced by the sans-IO IMAP command parser besides complete commands.

`CommandParser.next_event()` returns either a `tidings.imap.proto.commands.Command` or one of
the types below. They carry no bytes to write: the driver chooses the reply (h11 style).
"""

from __future__ import annotations

from dataclasses import dataclass

from tidings.imap.proto.commands import Command


@dataclass(frozen=True, slots=True)
class NeedData:
    """More bytes are needed before another event can be produced."""


NEED_DATA = NeedData()


@dataclass(frozen=True, slots=True)
class LiteralRequest:
    """A literal header `{n}`, `{n+}` (RFC 7888) or `~{n}` (RFC 3516) was read.

    For a synchronizing literal the driver writes `+ Ready` and calls `accept_literal()`, or
    answers NO/BAD and calls `reject_literal()`. A non-synchronizing literal is reported too,
    so that the driver can refuse one that is too large (RFC 7888 §4: the server answers
    BAD and skips the bytes the client sends anyway).
    """

    tag: str | None
    size: int
    synchronizing: bool


@dataclass(frozen=True, slots=True)
class CommandError:
    """A command line (with its literals) could not be parsed; it was consumed whole.

    `tag` is None when no tag could be read (the driver then answers `* BAD`); `code` is an
    optional response code for the reply.
    """

    tag: str | None
    reason: str
    code: str | None = None


@dataclass(frozen=True, slots=True)
class LineTooLong:
    """A command line went past the configured limit; its remainder is being discarded."""

    tag: str | None


@dataclass(frozen=True, slots=True)
class IdleDone:
    """The `DONE` line that ends IDLE (RFC 2177 §3)."""


@dataclass(frozen=True, slots=True)
class ContinuationLine:
    """A raw client line during AUTHENTICATE (RFC 9051 §6.2.2), without its line end."""

    data: str


Event = (
    Command | NeedData | LiteralRequest | CommandError | LineTooLong | IdleDone | ContinuationLine
)
