"""The in-process notification hub: storage publishes, sessions wait.

Each subscription holds a bounded set of pending notices. Because a notice only says "read
the log", notices for the same mailbox coalesce, and overflow just means "resync everything"
(`Subscription.overflowed`), never lost data.

Other processes writing the same store (`tidings deliver`, `tidings user remove`, later
`serve --workers N`) reach the hub through a relay (`tidings.notify.relay`): the relay is a
*forwarder* that receives every notice committed here (`publish`) and hands notices committed
elsewhere to `publish_external`, which never forwards, so no notice travels in a loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable

from tidings.notify.api import ChangeNotice, MetadataNotice

Forwarder = Callable[[ChangeNotice], None]


class Subscription:
    """One session's view of the hub for one account."""

    def __init__(self, hub: NotificationHub, account: str, max_pending: int) -> None:
        self._hub = hub
        self.account = account
        self.accounts = {account}  # `account`, and those `also` added
        self._max_pending = max_pending
        self._pending: dict[int | None, ChangeNotice] = {}
        self._metadata: list[MetadataNotice] = []  # in order; they do not coalesce
        # Whether a notice is pending, and who waits for one: a flag and a list rather than
        # an asyncio.Event, whose deque alone is most of a kilobyte per idle connection.
        self._notified = False
        self._waiters: list[asyncio.Future[None]] = []  # from `waiter`, not yet done
        self.overflowed = False

    def _deliver(self, notice: ChangeNotice | MetadataNotice) -> None:
        if isinstance(notice, MetadataNotice):
            if len(self._metadata) >= self._max_pending:
                self.overflowed = True
            else:
                self._metadata.append(notice)
        elif notice.mailbox_id not in self._pending and len(self._pending) >= self._max_pending:
            self.overflowed = True
        else:
            self._pending[notice.mailbox_id] = notice
        self._notified = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self) -> None:
        """Return once at least one notice is pending (at once if one already is)."""
        waiter = self.waiter()
        try:
            await waiter
        finally:
            waiter.cancel()  # if we were cancelled: not left among the waiters

    def waiter(self) -> asyncio.Future[None]:
        """A future done once a notice is pending (at once if one already is): what an IDLE
        connection waits on beside its socket. A plain future, not a task around `wait`:
        ten thousand idle connections hold one each (issue 5: memory per connection).
        Cancel it when no longer waiting."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._notified:
            future.set_result(None)
        else:
            self._waiters.append(future)
            future.add_done_callback(self._forget_waiter)
        return future

    def _forget_waiter(self, future: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):  # not there: woken by _deliver
            self._waiters.remove(future)

    def drain(self) -> list[ChangeNotice]:
        """Take the pending notices (one per mailbox, the newest) and reset the overflow."""
        notices = list(self._pending.values())
        self._pending.clear()
        self._metadata.clear()
        self.overflowed = False
        self._notified = False
        return notices

    def drain_all(self) -> tuple[list[ChangeNotice], list[MetadataNotice]]:
        """Like `drain`, and also the metadata notices, oldest first."""
        metadata = list(self._metadata)
        return self.drain(), metadata

    @property
    def has_pending(self) -> bool:
        """Whether a notice (or an overflow) is waiting to be drained."""
        return self._notified

    def also(self, account: str) -> None:
        """Receive the notices of `account` as well (the owner of a shared mailbox the
        session works in, RFC 4314)."""
        account = account.lower()
        if account not in self.accounts:
            self.accounts.add(account)
            self._hub._subscriptions[account].add(self)

    def close(self) -> None:
        """Stop receiving notices."""
        self._hub._unsubscribe(self)


class NotificationHub:
    """Fan-out of change notices to the subscriptions of each account."""

    def __init__(self, max_pending: int = 1024) -> None:
        self._max_pending = max_pending
        self._subscriptions: defaultdict[str, set[Subscription]] = defaultdict(set)
        self._forwarders: list[Forwarder] = []

    def subscribe(self, account: str, max_pending: int | None = None) -> Subscription:
        """A new subscription to every notice of `account`, holding at most `max_pending`
        (default: the hub's) mailboxes' notices before it overflows."""
        limit = self._max_pending if max_pending is None else max_pending
        subscription = Subscription(self, account.lower(), limit)
        self._subscriptions[subscription.account].add(subscription)
        return subscription

    def publish(self, notice: ChangeNotice | MetadataNotice) -> None:
        """A change committed by this process: hand `notice` to every subscription of its
        account, then (a ChangeNotice) to every forwarder. Call from the event loop."""
        self._fan_out(notice)
        if isinstance(notice, MetadataNotice):
            return
        for forward in tuple(self._forwarders):
            forward(notice)

    def publish_external(self, notice: ChangeNotice) -> None:
        """A change committed by another process (a relay received it): local subscriptions
        only. Never forwarded, so two relays cannot echo a notice back and forth."""
        self._fan_out(notice)

    def resync_all(self) -> None:
        """Notices may have been missed (another node's were not heard for a while): wake
        every subscription with a mailbox-list notice of each of its accounts, which makes
        its session re-read the list and the selected mailbox's change log."""
        for account, subscriptions in tuple(self._subscriptions.items()):
            for subscription in tuple(subscriptions):
                subscription._deliver(ChangeNotice(account, None, 0))

    def add_forwarder(self, forward: Forwarder) -> None:
        """Call `forward(notice)` for every notice `publish` gets from now on."""
        self._forwarders.append(forward)

    def remove_forwarder(self, forward: Forwarder) -> None:
        """Stop calling `forward` (no error if it was not added)."""
        if forward in self._forwarders:
            self._forwarders.remove(forward)

    def _fan_out(self, notice: ChangeNotice | MetadataNotice) -> None:
        for subscription in tuple(self._subscriptions.get(notice.account.lower(), ())):
            subscription._deliver(notice)

    def _unsubscribe(self, subscription: Subscription) -> None:
        for account in subscription.accounts:
            subscribers = self._subscriptions.get(account)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscriptions[account]
