"""Typed LMTP commands: what the sans-IO reader produces and the session consumes.

One frozen, slotted dataclass per command of RFC 2033 §4 (LMTP is SMTP, RFC 5321 §4.1, with
LHLO for EHLO) and the extensions Tidings announces: SIZE (RFC 1870), 8BITMIME (RFC 6152),
SMTPUTF8 (RFC 6531), CHUNKING (RFC 3030). `encode()` gives the command line a client would
send; the grammar parses it back to an equal command (`parse_command(c.encode()) == c`).

Addresses are kept as text without angle brackets: "" is the null reverse-path `<>`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class BodyType(enum.Enum):
    """MAIL FROM's BODY= parameter (RFC 6152 §2; BINARYMIME, RFC 3030 §3, is refused)."""

    SEVEN_BIT = "7BIT"
    EIGHT_BIT_MIME = "8BITMIME"


@dataclass(frozen=True, slots=True)
class Command:
    """Base of all commands."""

    def encode(self) -> bytes:
        """The command line with its CRLF."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Lhlo(Command):
    """LHLO domain (RFC 2033 §4.1): LMTP's EHLO."""

    domain: str

    def encode(self) -> bytes:
        return f"LHLO {self.domain}\r\n".encode()


@dataclass(frozen=True, slots=True)
class Mail(Command):
    """MAIL FROM:<reverse-path> [SIZE=n] [BODY=...] [SMTPUTF8] (RFC 5321 §4.1.1.2)."""

    sender: str  # "" for the null reverse-path <>
    size: int | None = None  # RFC 1870 §5: the client's estimate of the message size
    body: BodyType | None = None
    smtputf8: bool = False  # RFC 6531 §3.4

    def encode(self) -> bytes:
        params = []
        if self.size is not None:
            params.append(f"SIZE={self.size}")
        if self.body is not None:
            params.append(f"BODY={self.body.value}")
        if self.smtputf8:
            params.append("SMTPUTF8")
        return " ".join([f"MAIL FROM:<{self.sender}>", *params]).encode() + b"\r\n"


@dataclass(frozen=True, slots=True)
class Rcpt(Command):
    """RCPT TO:<forward-path> [ORCPT=...] (RFC 5321 §4.1.1.3; ORCPT is RFC 3461 §4.2,
    accepted and ignored as Dovecot does)."""

    recipient: str
    orcpt: str | None = None

    def encode(self) -> bytes:
        orcpt = f" ORCPT={self.orcpt}" if self.orcpt is not None else ""
        return f"RCPT TO:<{self.recipient}>{orcpt}\r\n".encode()


@dataclass(frozen=True, slots=True)
class Data(Command):
    """DATA (RFC 5321 §4.1.1.4): the message follows the 354 reply, ended by CRLF.CRLF."""

    def encode(self) -> bytes:
        return b"DATA\r\n"


@dataclass(frozen=True, slots=True)
class Bdat(Command):
    """BDAT size [LAST] (RFC 3030 §2): exactly `size` octets follow the command line."""

    size: int
    last: bool = False

    def encode(self) -> bytes:
        return f"BDAT {self.size}{' LAST' if self.last else ''}\r\n".encode()


@dataclass(frozen=True, slots=True)
class Rset(Command):
    """RSET (RFC 5321 §4.1.1.5): abort the transaction."""

    def encode(self) -> bytes:
        return b"RSET\r\n"


@dataclass(frozen=True, slots=True)
class Noop(Command):
    """NOOP [string] (RFC 5321 §4.1.1.9): the argument is ignored."""

    def encode(self) -> bytes:
        return b"NOOP\r\n"


@dataclass(frozen=True, slots=True)
class Quit(Command):
    """QUIT (RFC 5321 §4.1.1.10)."""

    def encode(self) -> bytes:
        return b"QUIT\r\n"


@dataclass(frozen=True, slots=True)
class Vrfy(Command):
    """VRFY string (RFC 5321 §4.1.1.6), answered 252 (§3.5.3) without looking anything up."""

    argument: str

    def encode(self) -> bytes:
        return f"VRFY {self.argument}\r\n".encode()
