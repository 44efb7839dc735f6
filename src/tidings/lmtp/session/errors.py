"""MailError kinds to LMTP replies: the one place where storage failures become codes.

DESIGN.md: each protocol maps `MailErrorKind` in one function, as Dovecot's LMTP maps its
`enum mail_error`. The text starts with the recipient in brackets, as Dovecot's replies do,
so a bounce names who failed.

    NOTFOUND  550 5.1.1  RFC 3463 §3.2 "Bad destination mailbox address"
    PARSE     501 5.1.3  RFC 3463 §3.2 "Bad destination mailbox address syntax"
    OVERQUOTA 552 5.2.2  RFC 3463 §3.3 "Mailbox full"; 452 4.2.2 with quota_full_tempfail
    TOOBIG    552 5.3.4  RFC 3463 §3.4 "Message too big for system" (RFC 1870 §6.1: 552)
    others    451 4.3.0  RFC 3463 §3.4 "Other or undefined mail system status": temporary,
                         so the MTA keeps the message and retries instead of bouncing it
"""

from __future__ import annotations

from tidings.core.errors import OVERQUOTA_REASON, MailError, MailErrorKind
from tidings.lmtp.proto.replies import Reply, reply


def reply_for_error(error: MailError, address: str, *, quota_full_tempfail: bool) -> Reply:
    """The reply for recipient `address` when resolving or delivering failed with `error`."""
    who = f"<{address}>"
    kind = error.kind
    if kind is MailErrorKind.NOTFOUND:
        return reply(550, "5.1.1", f"{who} User doesn't exist: {address}")
    if kind is MailErrorKind.PARSE:
        return reply(501, "5.1.3", f"{who} Invalid recipient address")
    if kind is MailErrorKind.OVERQUOTA:
        text = f"{who} {OVERQUOTA_REASON}"
        return reply(452, "4.2.2", text) if quota_full_tempfail else reply(552, "5.2.2", text)
    if kind is MailErrorKind.TOOBIG:
        return message_too_big(address)
    return temporary_failure(address)


def message_too_big(address: str) -> Reply:
    """552 5.3.4 for one recipient of a message past max_message_size (RFC 1870 §6.1)."""
    return reply(552, "5.3.4", f"<{address}> Message too big")


def temporary_failure(address: str) -> Reply:
    """451 4.3.0 for one recipient: the store failed in a way a retry may fix."""
    return reply(451, "4.3.0", f"<{address}> Temporary internal error")
