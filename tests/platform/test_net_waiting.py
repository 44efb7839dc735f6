"""`first_done`: the first of a few futures, or a timeout, without asyncio.wait's extra
frames; nothing is cancelled and no callback is left on the futures."""

from __future__ import annotations

import asyncio
import time

from tidings.net.waiting import first_done


def test_returns_what_is_done_first_and_leaves_no_callback() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        read, notice = loop.create_future(), loop.create_future()
        loop.call_later(0.05, notice.set_result, None)
        started = time.monotonic()
        done = await first_done((read, notice), 5)
        assert done == {notice} and time.monotonic() - started < 2
        assert not read.done() and not read.cancelled()  # still pending, still usable
        read.set_result(b"x")  # no stale callback of ours runs into a finished wait
        assert await first_done((read, loop.create_future()), 5) == {read}  # at once

    asyncio.run(scenario())


def test_times_out_with_nothing_done() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        pending = loop.create_future()
        started = time.monotonic()
        assert await first_done((pending,), 0.05) == set()
        assert 0.04 <= time.monotonic() - started < 2
        assert not pending.done()
        pending.cancel()

    asyncio.run(scenario())


def test_a_cancelled_waiter_cancels_nothing_it_waited_on() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        pending = loop.create_future()
        waiter = asyncio.ensure_future(first_done((pending,), 60))
        await asyncio.sleep(0.01)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        assert waiter.cancelled() and not pending.done()
        pending.set_result(1)  # the removed callback does not fire into the cancelled wait
        await asyncio.sleep(0)

    asyncio.run(scenario())
