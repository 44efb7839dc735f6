"""Where a connection is in its mail transaction, and which commands each phase refuses.

    ready --MAIL--> sender --RCPT--> recipients --DATA + message--> ready
                                        |  ^ RCPT
                                        +--BDAT--> chunking --BDAT LAST--> ready
    RSET and LHLO go back to ready from anywhere (RFC 5321 §4.1.1.5, §4.1.4).

One table, `REFUSALS`, holds every sequence rule (RFC 5321 §4.1.4, RFC 3030 §2); the
session consults nothing else. The replies are Dovecot's: like Dovecot, Tidings accepts MAIL
before LHLO, and RCPT between BDAT chunks. A failed BDAT makes later BDAT and DATA commands
fail until RSET (RFC 3030 §2: the transaction "should be considered failed").
"""

from __future__ import annotations

import enum

from tidings.lmtp.proto import catalog
from tidings.lmtp.proto import commands as c
from tidings.lmtp.proto.replies import Reply


class Phase(enum.Enum):
    """The transaction's progress."""

    READY = "no transaction"
    SENDER = "sender given"
    RECIPIENTS = "recipients given"
    CHUNKING = "receiving BDAT chunks"


_IN_TRANSACTION = (Phase.SENDER, Phase.RECIPIENTS, Phase.CHUNKING)

# Command -> {phase: the reply that refuses it there}. A phase not listed allows it; a
# command not listed is allowed in every phase.
REFUSALS: dict[type[c.Command], dict[Phase, Reply]] = {
    c.Mail: dict.fromkeys(_IN_TRANSACTION, catalog.MAIL_ALREADY_GIVEN),
    c.Rcpt: {Phase.READY: catalog.MAIL_NEEDED},
    c.Data: {
        Phase.READY: catalog.MAIL_NEEDED,
        Phase.SENDER: catalog.NO_VALID_RECIPIENTS,
        Phase.CHUNKING: catalog.BAD_SEQUENCE,  # RFC 3030 §2: no DATA once BDAT began
    },
    c.Bdat: {Phase.READY: catalog.MAIL_NEEDED, Phase.SENDER: catalog.NO_VALID_RECIPIENTS},
}

# Commands refused while a failed BDAT has not been cleared by RSET.
_REFUSED_AFTER_FAILED_CHUNK = (c.Bdat, c.Data)


# Commands whose sequence rules are checked before their arguments: MAIL with broken
# parameters inside a transaction is "503 MAIL already given", not 501 (as in Dovecot).
SEQUENCE_BEFORE_SYNTAX: tuple[type[c.Command], ...] = (c.Mail, c.Rcpt)


def refusal(command: type[c.Command], phase: Phase, chunk_failed: bool) -> Reply | None:
    """The reply that refuses a `command` in `phase`, or None when it may run."""
    if chunk_failed and issubclass(command, _REFUSED_AFTER_FAILED_CHUNK):
        return catalog.CHUNK_FAILED
    return REFUSALS.get(command, {}).get(phase)
