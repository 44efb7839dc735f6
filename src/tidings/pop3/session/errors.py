"""How a POP3 command fails, and MailError kinds to POP3 replies in one place."""

from __future__ import annotations

from tidings.core.errors import MailError, MailErrorKind
from tidings.pop3.proto.responses import ResponseCode


class CommandFailed(Exception):
    """Raised by handlers to answer `-ERR [code] text` and stop the command."""

    def __init__(self, text: str, code: ResponseCode | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.code = code


# RFC 3206 §4: SYS/TEMP "a temporary failure ... may be resolved by trying again later";
# SYS/PERM needs an administrator. RFC 2449 §8.1.2: IN-USE for a lock held by someone else.
_RESPONSE_CODES: dict[MailErrorKind, ResponseCode | None] = {
    MailErrorKind.INUSE: ResponseCode.IN_USE,
    MailErrorKind.TEMP: ResponseCode.SYS_TEMP,
    MailErrorKind.NOTFOUND: ResponseCode.SYS_PERM,
    MailErrorKind.NOPERM: ResponseCode.SYS_PERM,
    MailErrorKind.CANNOT: ResponseCode.SYS_PERM,
    MailErrorKind.PARSE: ResponseCode.SYS_PERM,
    MailErrorKind.TOOBIG: ResponseCode.SYS_PERM,
    MailErrorKind.OVERQUOTA: ResponseCode.SYS_PERM,
    MailErrorKind.LIMIT: ResponseCode.SYS_PERM,
    MailErrorKind.EXISTS: ResponseCode.SYS_PERM,
    # A message expunged by another session since login: retrying will not bring it back,
    # and it is no system fault (Dovecot: "-ERR Message 1 expunged.", no code).
    MailErrorKind.EXPUNGED: None,
}


def failure_for(error: MailError) -> CommandFailed:
    """The `-ERR` for a storage error."""
    return CommandFailed(error.reason, _RESPONSE_CODES[error.kind])
