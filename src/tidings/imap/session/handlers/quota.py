"""GETQUOTA, GETQUOTAROOT and SETQUOTA (RFC 9208 §4.1).

Each account has one quota root, named "" as Dovecot names a `quota = count` root given no
name, covering every mailbox of the account. It exists while the account has a limit: with
none, GETQUOTAROOT lists no root (`* QUOTAROOT INBOX`) and GETQUOTA "" answers NO
[NONEXISTENT], since RFC 9208 §7's quota-list cannot be empty. Limits are set by the
administrator (`tidings user quota`), never over IMAP: SETQUOTA is refused with NOPERM and
QUOTASET is not advertised (§4.1.3). tests/differential/DEVIATIONS.md "QUOTA" lists where
this differs from Dovecot 2.3.
"""

from __future__ import annotations

from tidings.core.errors import MailError
from tidings.imap.proto import commands as c
from tidings.imap.proto.append import literal_sizes_before
from tidings.imap.proto.quota import quota_response, quotaroot_response, storage_units
from tidings.imap.session.core import CommandFailed, ImapSession
from tidings.imap.session.registry import handles
from tidings.imap.session.state import SessionState
from tidings.storage.api import Quota

QUOTA_ROOT = ""
# The storage's OVERQUOTA reason (Dovecot's default quota_exceeded_message), for the one
# refusal made here before storage is asked.


def resources(quota: Quota) -> list[tuple[str, int, int]]:
    """The (resource-name, usage, limit) triples of the limits the account has, STORAGE in
    units of 1024 octets (RFC 9208 §5.1), MESSAGE in messages (§5.2)."""
    listed = []
    if quota.storage_limit is not None:
        listed.append(
            ("STORAGE", storage_units(quota.storage_used), storage_units(quota.storage_limit))
        )
    if quota.message_limit is not None:
        listed.append(("MESSAGE", quota.messages_used, quota.message_limit))
    return listed


@handles(c.GetQuotaRoot)
async def getquotaroot(session: ImapSession, command: c.GetQuotaRoot) -> None:
    """RFC 9208 §4.1.2: the roots of a mailbox, then each root's QUOTA. The mailbox need not
    exist ("handy in order to determine which quota root would apply")."""
    name = session.decode_mailbox(command.mailbox)
    listed = resources(await session.store.quota())
    roots = [QUOTA_ROOT] if listed else []
    await session.untagged(quotaroot_response(session.encode_mailbox(name), roots))
    if listed:
        await session.untagged(quota_response(QUOTA_ROOT, listed))
    await session.complete(command, "Getquotaroot completed.")


@handles(c.GetQuota)
async def getquota(session: ImapSession, command: c.GetQuota) -> None:
    """RFC 9208 §4.1.1: the usage and limits of one root; NO if there is no such root."""
    listed = resources(await session.store.quota())
    if command.root != QUOTA_ROOT or not listed:
        raise CommandFailed("Quota root doesn't exist.", "NONEXISTENT")
    await session.untagged(quota_response(QUOTA_ROOT, listed))
    await session.complete(command, "Getquota completed.")


@handles(c.SetQuota)
async def setquota(session: ImapSession, command: c.SetQuota) -> None:
    """RFC 9208 §4.1.3: only the administrator sets limits here (Dovecot's wording)."""
    raise CommandFailed("Quota can be changed only by admin.", "NOPERM")


async def append_cannot_fit(session: ImapSession, pending: bytes, size: int) -> bool:
    """Whether a synchronizing literal of `size` octets that `pending` announces is an APPEND
    message that cannot fit in the quota as it stands. The driver then answers NO
    [OVERQUOTA] instead of `+`, as it answers NO [TOOBIG] to a literal over APPENDLIMIT
    (RFC 7889 §4) and as Dovecot does for quota, so the client does not upload the message
    in vain. Advisory only: the append itself checks again, inside its transaction, and
    any doubt (a storage error here) lets the literal through to that check."""
    if session.state not in (SessionState.AUTHENTICATED, SessionState.SELECTED):
        return False
    earlier = literal_sizes_before(pending)
    if earlier is None:
        return False
    try:
        quota = await session.store.quota()
    except MailError:
        return False
    # RFC 3502 §3: a MULTIAPPEND is stored whole or not at all, so the messages sent
    # before this one in the same command count too.
    return not quota.fits(sum(earlier) + size, len(earlier) + 1)
