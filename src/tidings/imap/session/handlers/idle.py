"""IDLE (RFC 9051 §6.3.13, RFC 2177): push changes until the client says DONE."""

from __future__ import annotations

import enum

from tidings.imap.proto import commands as c
from tidings.imap.proto import responses as r
from tidings.imap.session.core import ImapSession
from tidings.imap.session.registry import handles
from tidings.imap.session.state import SessionState

# Dovecot's imap_idle_notify_interval: keeps NAT mappings alive and shows the link works.
IDLE_KEEPALIVE_SECONDS = 120.0


class IdleEvent(enum.Enum):
    """What ended one wait during IDLE (see SessionIO.wait_idle)."""

    DONE = "done"  # the client sent DONE
    NOTICE = "notice"  # the mailbox (or the account) changed
    TICK = "tick"  # the keepalive interval passed
    TIMEOUT = "timeout"  # the autologout timer ran out
    CLOSED = "closed"  # the connection ended
    BAD = "bad"  # the client sent something other than DONE


@handles(c.Idle)
async def idle(session: ImapSession, command: c.Idle) -> None:
    """Send `+ idling`, then every change as it is committed, then OK on DONE."""
    # Subscribe before the first sync, so no commit can fall between the two. With NOTIFY
    # (RFC 5465 §4) IDLE sends what NOTIFY asked for, so it waits on NOTIFY's subscription.
    watch = session.notify
    subscription = watch.subscription if watch else session.subscribe_notices()
    try:
        await session.io.send(r.continuation("idling"))
        await session.send_updates(command)
        await session.io.flush()
        while True:
            event = await session.io.wait_idle(subscription, IDLE_KEEPALIVE_SECONDS)
            if event is IdleEvent.NOTICE and watch is not None:
                await watch.deliver(session, expunge_allowed=True)
                if session.notify is not watch:  # NOTIFICATIONOVERFLOW: plain IDLE from now
                    watch, subscription = None, session.subscribe_notices()
                    await session.send_updates(command)
            elif event is IdleEvent.NOTICE:
                subscription.drain()
                await session.send_updates(command)
            elif event is IdleEvent.TICK:
                await session.untagged("OK Still here")
            elif event is IdleEvent.TIMEOUT:
                await session.untagged("BYE Disconnected for inactivity.")
                session.state = SessionState.LOGOUT
                return
            elif event is IdleEvent.CLOSED:
                session.state = SessionState.LOGOUT
                return
            else:
                break
            if session.state is SessionState.LOGOUT:
                return
            await session.io.flush()
    finally:
        if watch is None:
            subscription.close()
    if event is IdleEvent.BAD:
        await session.tagged(command.tag, "BAD", "Expected DONE.")
        return
    await session.complete(command, "Idle completed.")
