"""NOTIFY (RFC 5465 §3.1): NOTIFY NONE and NOTIFY SET [STATUS]; the events themselves are
sent by `tidings.imap.session.notify.NotifyWatch`."""

from __future__ import annotations

from tidings.imap.proto.notify import Notify, badevent_code
from tidings.imap.session.core import CommandFailed, ImapSession
from tidings.imap.session.notify import NotifyWatch
from tidings.imap.session.registry import handles


@handles(Notify)
async def notify(session: ImapSession, command: Notify) -> None:
    """Replace the session's NOTIFY settings; a failed NOTIFY SET keeps the old ones."""
    if command.unsupported:
        # §3.1: "the server MUST refuse the command with a tagged NO response (not a BAD).
        # This response SHOULD contain the BADEVENT response code, which MUST list names
        # of all events supported by the server."
        names = " ".join(command.unsupported)
        raise CommandFailed(f"Unsupported NOTIFY event {names}.", badevent_code())
    if session.notify is not None:
        # What the old settings still owe the client goes out first (§3: events are sent
        # whenever the server can); the new watch then diffs from what was last reported.
        await session.notify.deliver(session, expunge_allowed=True)
    watch = None
    if command.groups is not None:
        # §3.1: the initial STATUS responses (with STATUS) come before the tagged OK.
        watch = await NotifyWatch.start(session, command, previous=session.notify)
    session.stop_notify()
    session.notify = watch
    # §3.1: "a successful NOTIFY SET command implies an implicit NOOP command".
    await session.complete(command, "NOTIFY completed.")
