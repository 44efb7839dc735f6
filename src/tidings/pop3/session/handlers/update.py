"""QUIT (RFC 1939 §4, §6) and the UPDATE state.

Only a QUIT in TRANSACTION applies anything: the messages RETR sent get \\Seen (as Dovecot
does unless pop3_no_flag_updates), then the DELE marks are expunged in one transaction. +OK
is written after both have committed (DESIGN.md: acknowledged means durable); if storage fails
the reply is `-ERR [SYS/TEMP]` (RFC 1939 §6: "-ERR some deleted messages not removed"). A
connection that ends any other way applies nothing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from tidings.core.errors import MailError
from tidings.pop3.proto import commands as c
from tidings.pop3.proto.responses import ResponseCode
from tidings.pop3.session.state import Pop3State
from tidings.storage.api import FlagOperation

if TYPE_CHECKING:
    from tidings.pop3.session.core import Pop3Session

log = logging.getLogger(__name__)


async def quit_(session: Pop3Session, command: c.Quit) -> None:
    """QUIT: close from AUTHORIZATION; enter UPDATE from TRANSACTION."""
    if session.state is Pop3State.TRANSACTION:
        await _update(session)
    else:
        await session.ok("Logging out.")
    session.close()


async def _update(session: Pop3Session) -> None:
    session.state = Pop3State.UPDATE
    snapshot = session.snapshot
    seen = snapshot.uids_to_mark_seen()
    doomed = snapshot.uids_to_delete()
    try:
        if seen:
            await session.store.store_flags(
                snapshot.mailbox_id, seen, FlagOperation.ADD, ["\\Seen"]
            )
        if doomed:
            await session.store.delete_messages(snapshot.mailbox_id, doomed)
    except MailError as error:
        log.warning("POP3 UPDATE for %s failed: %s", session.account, error)
        await session.err(
            f"Some deleted messages not removed: {error.reason}", ResponseCode.SYS_TEMP
        )
        return
    log.info(
        "pop3 logout %s: retr=%d del=%d", session.account, len(snapshot.retrieved), len(doomed)
    )
    await session.ok("Logging out, messages deleted." if doomed else "Logging out.")
