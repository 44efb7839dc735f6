"""The in-process NotificationHub: fan-out per account, coalescing, overflow."""

from __future__ import annotations

import asyncio

from tidings.notify.api import ChangeNotice
from tidings.notify.hub import NotificationHub


def test_publish_reaches_subscribers_of_the_account_only() -> None:
    hub = NotificationHub()
    alice, alice2, bob = hub.subscribe("alice@x"), hub.subscribe("ALICE@x"), hub.subscribe("bob@x")
    notice = ChangeNotice("Alice@X", 1, 5)
    hub.publish(notice)
    assert alice.drain() == [notice]
    assert alice2.drain() == [notice]
    assert not bob.has_pending and bob.drain() == []


def test_notices_coalesce_per_mailbox_keeping_the_newest() -> None:
    hub = NotificationHub()
    sub = hub.subscribe("a@x")
    for mailbox_id, modseq in ((1, 2), (1, 3), (None, 0)):
        hub.publish(ChangeNotice("a@x", mailbox_id, modseq))
    assert sorted(sub.drain(), key=lambda n: n.modseq) == [
        ChangeNotice("a@x", None, 0),
        ChangeNotice("a@x", 1, 3),
    ]
    assert not sub.has_pending


def test_overflow_is_flagged_and_reset_by_drain() -> None:
    hub = NotificationHub(max_pending=2)
    sub = hub.subscribe("a@x")
    for mailbox in (1, 2, 3):
        hub.publish(ChangeNotice("a@x", mailbox, 1))
    assert sub.overflowed and sub.has_pending
    assert {n.mailbox_id for n in sub.drain()} == {1, 2}
    assert not sub.overflowed


def test_wait_wakes_on_publish_and_close_unsubscribes() -> None:
    async def scenario() -> None:
        hub = NotificationHub()
        sub = hub.subscribe("a@x")
        waiter = asyncio.create_task(sub.wait())
        await asyncio.sleep(0)
        assert not waiter.done()
        hub.publish(ChangeNotice("a@x", 7, 9))
        await asyncio.wait_for(waiter, 1)
        sub.drain()
        sub.close()
        hub.publish(ChangeNotice("a@x", 7, 10))
        assert not sub.has_pending

    asyncio.run(scenario())


def test_waiter_is_a_future_done_on_publish_and_a_cancelled_one_is_forgotten() -> None:
    async def scenario() -> None:
        hub = NotificationHub()
        sub = hub.subscribe("a@x")
        for _ in range(100):  # an IDLE connection's ticks: wait, time out, cancel
            sub.waiter().cancel()
        await asyncio.sleep(0)
        assert sub._waiters == []  # the cancelled ones are not kept
        waiter = sub.waiter()
        assert not asyncio.iscoroutine(waiter) and not isinstance(waiter, asyncio.Task)
        await asyncio.sleep(0)
        assert not waiter.done()
        hub.publish(ChangeNotice("a@x", 7, 9))
        assert waiter.done() and sub.has_pending
        assert sub.waiter().done()  # a notice is pending: done at once
        sub.drain()
        assert not sub.waiter().done()

    asyncio.run(scenario())


def test_local_notices_go_to_forwarders_external_ones_do_not() -> None:
    hub = NotificationHub()
    forwarded: list[ChangeNotice] = []
    hub.add_forwarder(forwarded.append)
    sub = hub.subscribe("a@x")
    local, external = ChangeNotice("a@x", 1, 2), ChangeNotice("a@x", 2, 3)
    hub.publish(local)
    hub.publish_external(external)
    assert forwarded == [local]  # an external notice is never sent on: no echo loops
    assert sorted(sub.drain(), key=lambda n: n.modseq) == [local, external]
    hub.publish(ChangeNotice("nobody@x", None, 0))  # forwarded even without subscribers
    assert len(forwarded) == 2
    hub.remove_forwarder(forwarded.append)
    hub.remove_forwarder(forwarded.append)  # twice is harmless
    hub.publish(local)
    assert len(forwarded) == 2
