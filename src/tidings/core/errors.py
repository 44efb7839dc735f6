"""Protocol-neutral mail errors.

Storage raises exactly one exception type, `MailError`, carrying a `MailErrorKind`. Each
protocol maps kinds to its own replies in one function (IMAP: `NO [NONEXISTENT]`, LMTP:
`452 4.2.2`, POP3: `-ERR`), as Dovecot's `enum mail_error` does (lib-storage/mail-error.h).
"""

from __future__ import annotations

import enum


class MailErrorKind(enum.Enum):
    """Why a storage operation failed, independent of the protocol that asked."""

    NOTFOUND = "notfound"  # mailbox or message does not exist
    EXISTS = "exists"  # mailbox already exists
    OVERQUOTA = "overquota"  # the change would exceed a quota
    EXPUNGED = "expunged"  # message was expunged meanwhile
    INUSE = "inuse"  # resource is locked or busy (retry later)
    TOOBIG = "toobig"  # message larger than the configured limit
    TEMP = "temp"  # temporary failure of the backend
    NOPERM = "noperm"  # operation not permitted (e.g. deleting INBOX)
    CANNOT = "cannot"  # operation not possible (e.g. invalid mailbox name)
    LIMIT = "limit"  # a configured limit other than size was hit
    PARSE = "parse"  # input could not be understood


# The reason every protocol gives for OVERQUOTA: Dovecot's text, so a bounce or a client's
# message reads the same whichever server refused.
OVERQUOTA_REASON = "Quota exceeded (mailbox for user is full)"


class MailError(Exception):
    """A failed storage operation: a `kind` for protocols, a `reason` for humans."""

    def __init__(self, kind: MailErrorKind, reason: str) -> None:
        super().__init__(f"{kind.value}: {reason}")
        self.kind = kind
        self.reason = reason
