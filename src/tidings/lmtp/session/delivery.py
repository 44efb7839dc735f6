"""The end of a transaction: one delivery and one reply per accepted recipient.

RFC 2033 §4.2: after the final "." of DATA (and after BDAT LAST, RFC 2033 §4.3 with RFC
3030), "the server returns one reply for each recipient that was successfully specified
with a RCPT command. [...] the replies [...] MUST be in the same order as the RCPT
commands." Deliveries run one after the other, and each reply is produced only after
`Deliverer.deliver` has returned, that is after the message is committed for that
recipient (DESIGN.md: "a 250 to LMTP DATA means the change is durable").
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from tidings.core.errors import MailError
from tidings.core.mime.headers import scan_header
from tidings.delivery.deliverer import Deliverer, DeliveryResult
from tidings.lmtp.proto.replies import Reply, reply
from tidings.lmtp.session.errors import message_too_big, reply_for_error, temporary_failure
from tidings.lmtp.session.transaction import AcceptedRecipient

log = logging.getLogger("tidings.lmtp")


async def deliver_to_recipients(
    deliverer: Deliverer,
    recipients: list[AcceptedRecipient],
    message: bytes | None,
    *,
    sender: str,
    quota_full_tempfail: bool,
) -> AsyncIterator[Reply]:
    """Deliver `message` to each recipient in RCPT order, yielding each one's reply as soon
    as its delivery is committed (or has failed). `message` None means it was too big.
    A repeated recipient gets a copy of the first one's reply, and no second copy."""
    answers: list[Reply] = []
    for accepted in recipients:
        if accepted.duplicate_of is not None:
            answer = answers[accepted.duplicate_of]
        elif message is None:
            answer = message_too_big(accepted.address)
        else:
            answer = await _deliver_one(deliverer, accepted, message, sender, quota_full_tempfail)
        answers.append(answer)
        yield answer


async def _deliver_one(
    deliverer: Deliverer,
    accepted: AcceptedRecipient,
    message: bytes,
    sender: str,
    quota_full_tempfail: bool,
) -> Reply:
    try:
        result = await deliverer.deliver(accepted.recipient, message, sender=sender)
    except MailError as error:
        log.info(
            "lmtp(%s)<%s>: delivery from <%s> failed: %s",
            accepted.recipient.account,
            accepted.delivery_id,
            sender,
            error,
        )
        return reply_for_error(error, accepted.address, quota_full_tempfail=quota_full_tempfail)
    except Exception:
        # A bug or an unexpected backend failure: the client must retry, not bounce, and
        # the other recipients still get their delivery.
        log.exception(
            "lmtp(%s)<%s>: delivery failed", accepted.recipient.account, accepted.delivery_id
        )
        return temporary_failure(accepted.address)
    _log_delivery(accepted, result, message, sender)
    return reply(250, "2.0.0", f"<{accepted.address}> {accepted.delivery_id} Saved")


def _log_delivery(
    accepted: AcceptedRecipient, result: DeliveryResult, message: bytes, sender: str
) -> None:
    """One info line per delivery, like Dovecot's
    `lmtp(user)<session>: msgid=<...>: saved mail to INBOX`."""
    log.info(
        "lmtp(%s)<%s>: msgid=%s: saved mail to %s (from=<%s> to=<%s> size=%d uid=%d)",
        accepted.recipient.account,
        accepted.delivery_id,
        message_id(message) or "unspecified",
        result.mailbox,
        sender,
        accepted.address,
        len(message),
        result.uid,
    )


# Only the start of a message is searched for its Message-ID, and only so much of the value
# is logged: the log line must stay one short line whatever the client sent.
_HEADER_SCAN_LIMIT = 64 * 1024
_LOGGED_ID_LENGTH = 200


def message_id(message: bytes) -> str | None:
    """The Message-ID header's value, for the log (RFC 5322 §3.6.4); None if absent."""
    fields, _, _ = scan_header(message, 0, min(len(message), _HEADER_SCAN_LIMIT))
    for header in fields:
        if header.name.lower() == "message-id" and header.value:
            value = header.value.strip()[:_LOGGED_ID_LENGTH]
            return value.encode("unicode_escape").decode("ascii")
    return None
