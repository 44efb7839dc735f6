"""`tidings deliver` exit codes: sysexits(3), as dovecot-lda uses them (no I/O here).

An MTA reads the exit status of a mailbox command: Postfix (local(8), pipe(8)) bounces the
message for EX_NOUSER, EX_USAGE, EX_DATAERR and EX_NOPERM, and retries it later for
EX_TEMPFAIL, EX_IOERR, EX_CANTCREAT (and any status that is not a sysexits code). The
one-line reason on stderr goes into the bounce or the log.

Compared with dovecot-lda 2.3.19 run with `-e` (reasons on stderr instead of a bounce
mail; tests/delivery/test_dovecot_parity.py):
- unknown user: 67, both;
- over quota: 77 with "Quota exceeded (mailbox for user is full)", or 75 with
  quota_full_tempfail, both;
- too large: Dovecot fails temporarily (75, its quota_max_mail_size is a temporary
  MAIL_ERROR_LIMIT), so the MTA would retry a message that can never fit until the queue
  lifetime runs out. Tidings fails permanently (77, same text), as LMTP does with 552.
- empty input: Dovecot stores an empty message; Tidings refuses it (65), since no MTA sends
  one and a mail command that passes nothing is a mistake better reported.
- unreadable input: Dovecot fails with 75 (or aborts when stdin is closed); Tidings 74.
"""

from __future__ import annotations

from tidings.core.errors import OVERQUOTA_REASON, MailError, MailErrorKind

EX_OK = 0
EX_USAGE = 64  # command line usage error (a bad ADDRESS, an unknown option)
EX_DATAERR = 65  # the input is not a message (empty)
EX_NOUSER = 67  # addressee unknown
EX_CANTCREAT = 73  # cannot create or open the store
EX_IOERR = 74  # cannot read the message
EX_TEMPFAIL = 75  # try again later
EX_NOPERM = 77  # permanent failure: over quota, too large

# Dovecot's texts, so a bounce reads the same whichever server delivered.
OVERQUOTA_TEXT = OVERQUOTA_REASON
TOOBIG_TEXT = "Mail size is larger than the maximum size allowed by server configuration"


def exit_status(error: MailError, *, quota_full_tempfail: bool) -> tuple[int, str]:
    """The exit code and the one-line stderr reason for a failed delivery."""
    kind = error.kind
    if kind is MailErrorKind.NOTFOUND:
        return EX_NOUSER, _one_line(error.reason)
    if kind is MailErrorKind.PARSE:
        return EX_USAGE, _one_line(error.reason)
    if kind is MailErrorKind.OVERQUOTA:
        return (EX_TEMPFAIL if quota_full_tempfail else EX_NOPERM), OVERQUOTA_TEXT
    if kind is MailErrorKind.TOOBIG:
        return EX_NOPERM, TOOBIG_TEXT
    # INUSE (database locked or busy), TEMP, and every kind a delivery should never meet:
    # keep the message queued rather than lose or bounce it.
    return EX_TEMPFAIL, f"Temporary failure: {_one_line(error.reason)}"


def _one_line(text: str) -> str:
    return " ".join(text.split())
