"""MailError kinds to IMAP response codes, in one place (RFC 5530 response codes)."""

from __future__ import annotations

from tidings.core.errors import MailError, MailErrorKind

_RESPONSE_CODES: dict[MailErrorKind, str] = {
    MailErrorKind.NOTFOUND: "NONEXISTENT",
    MailErrorKind.EXISTS: "ALREADYEXISTS",
    MailErrorKind.OVERQUOTA: "OVERQUOTA",
    MailErrorKind.EXPUNGED: "EXPUNGEISSUED",
    MailErrorKind.INUSE: "INUSE",
    MailErrorKind.TOOBIG: "TOOBIG",
    MailErrorKind.TEMP: "UNAVAILABLE",
    MailErrorKind.NOPERM: "NOPERM",
    MailErrorKind.CANNOT: "CANNOT",
    MailErrorKind.LIMIT: "LIMIT",
    MailErrorKind.PARSE: "PARSE",
}


def response_code(error: MailError) -> str:
    """The RFC 5530 code for `error` (NO [code] reason)."""
    return _RESPONSE_CODES[error.kind]
