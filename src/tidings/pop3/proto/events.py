"""Events of the sans-IO POP3 command parser besides complete commands.

`CommandParser.next_event()` returns a `tidings.pop3.proto.commands.Command` or one of the
types below. They carry no bytes to write: the session chooses the reply (h11 style).
"""

from __future__ import annotations

from dataclasses import dataclass

from tidings.pop3.proto.commands import Command


@dataclass(frozen=True, slots=True)
class NeedData:
    """More bytes are needed before another event can be produced."""


NEED_DATA = NeedData()


@dataclass(frozen=True, slots=True)
class CommandError:
    """A command line could not be parsed; it was consumed whole.

    `keyword` is the upper-cased first word (None for an empty or undecodable line);
    `reason` is safe to send to the client after `-ERR`.
    """

    keyword: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class LineTooLong:
    """A line went past the configured limit; its remainder is being discarded."""

    limit: int


@dataclass(frozen=True, slots=True)
class SaslResponse:
    """A client line during AUTH (RFC 5034 §4): base64 text or "*", without its line end."""

    text: str

    def __repr__(self) -> str:
        return "SaslResponse(<hidden>)"


Event = Command | NeedData | CommandError | LineTooLong | SaslResponse
