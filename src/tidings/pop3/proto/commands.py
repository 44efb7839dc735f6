"""Typed POP3 commands: what the sans-IO parser produces and the session consumes.

One frozen, slotted dataclass per command of RFC 1939 §§4-7 (USER, PASS, QUIT, STAT, LIST,
RETR, DELE, NOOP, RSET, TOP, UIDL), RFC 2449 §5 (CAPA), RFC 2595 §4 (STLS) and RFC 5034 §4
(AUTH). `encode()` is the mirror image of the parser: `parse_command(cmd.encode()) == cmd`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

CRLF = b"\r\n"


@dataclass(frozen=True, slots=True)
class Command:
    """Base of all commands; `keyword` is the RFC name, upper-case."""

    keyword: ClassVar[str] = ""

    def arguments(self) -> tuple[str, ...]:
        """The arguments as they go on the wire, in order."""
        return ()

    def encode(self) -> bytes:
        """The command line a client sends, CRLF included."""
        line = " ".join((self.keyword, *self.arguments()))
        return line.encode("utf-8") + CRLF


@dataclass(frozen=True, slots=True)
class User(Command):
    """USER name (RFC 1939 §7): the first half of the plaintext login."""

    keyword: ClassVar[str] = "USER"
    name: str

    def arguments(self) -> tuple[str, ...]:
        return (self.name,)


@dataclass(frozen=True, slots=True)
class Pass(Command):
    """PASS string (RFC 1939 §7): the rest of the line, spaces included, is the password."""

    keyword: ClassVar[str] = "PASS"
    password: str

    def arguments(self) -> tuple[str, ...]:
        return (self.password,)

    def __repr__(self) -> str:
        # Commands end up in logs and tracebacks; the password must not.
        return "Pass(password=<hidden>)"


@dataclass(frozen=True, slots=True)
class Auth(Command):
    """AUTH [mechanism [initial-response]] (RFC 5034 §4).

    Without a mechanism it asks for the list of mechanisms (the RFC 1734 era probe that
    Outlook still sends; Dovecot answers it too). `initial_response` is the base64 text as
    sent, "=" for an empty one (RFC 5034 §4).
    """

    keyword: ClassVar[str] = "AUTH"
    mechanism: str | None = None
    initial_response: str | None = None

    def arguments(self) -> tuple[str, ...]:
        if self.mechanism is None:
            return ()
        if self.initial_response is None:
            return (self.mechanism,)
        return (self.mechanism, self.initial_response)

    def __repr__(self) -> str:
        shown = "<hidden>" if self.initial_response is not None else None
        return f"Auth(mechanism={self.mechanism!r}, initial_response={shown})"


@dataclass(frozen=True, slots=True)
class Stls(Command):
    """STLS (RFC 2595 §4): start TLS in the AUTHORIZATION state."""

    keyword: ClassVar[str] = "STLS"


@dataclass(frozen=True, slots=True)
class Capa(Command):
    """CAPA (RFC 2449 §5): list the capabilities."""

    keyword: ClassVar[str] = "CAPA"


@dataclass(frozen=True, slots=True)
class Quit(Command):
    """QUIT (RFC 1939 §4, §6): end the session, entering UPDATE when logged in."""

    keyword: ClassVar[str] = "QUIT"


@dataclass(frozen=True, slots=True)
class Stat(Command):
    """STAT (RFC 1939 §5): message count and total size."""

    keyword: ClassVar[str] = "STAT"


@dataclass(frozen=True, slots=True)
class Noop(Command):
    """NOOP (RFC 1939 §5)."""

    keyword: ClassVar[str] = "NOOP"


@dataclass(frozen=True, slots=True)
class Rset(Command):
    """RSET (RFC 1939 §5): unmark every message marked as deleted."""

    keyword: ClassVar[str] = "RSET"


@dataclass(frozen=True, slots=True)
class List(Command):
    """LIST [msg] (RFC 1939 §5): sizes, of one message or of all."""

    keyword: ClassVar[str] = "LIST"
    message: int | None = None

    def arguments(self) -> tuple[str, ...]:
        return () if self.message is None else (str(self.message),)


@dataclass(frozen=True, slots=True)
class Uidl(Command):
    """UIDL [msg] (RFC 1939 §7): unique-id listing, of one message or of all."""

    keyword: ClassVar[str] = "UIDL"
    message: int | None = None

    def arguments(self) -> tuple[str, ...]:
        return () if self.message is None else (str(self.message),)


@dataclass(frozen=True, slots=True)
class Retr(Command):
    """RETR msg (RFC 1939 §5): the whole message."""

    keyword: ClassVar[str] = "RETR"
    message: int

    def arguments(self) -> tuple[str, ...]:
        return (str(self.message),)


@dataclass(frozen=True, slots=True)
class Dele(Command):
    """DELE msg (RFC 1939 §5): mark a message to be deleted in the UPDATE state."""

    keyword: ClassVar[str] = "DELE"
    message: int

    def arguments(self) -> tuple[str, ...]:
        return (str(self.message),)


@dataclass(frozen=True, slots=True)
class Top(Command):
    """TOP msg n (RFC 1939 §7): the header and the first `lines` lines of the body."""

    keyword: ClassVar[str] = "TOP"
    message: int
    lines: int

    def arguments(self) -> tuple[str, ...]:
        return (str(self.message), str(self.lines))
