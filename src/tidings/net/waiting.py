"""Waiting for the first of a few futures, for the connections that wait longest.

`asyncio.wait(..., return_when=FIRST_COMPLETED)` keeps two coroutine frames, a future, a
timer and a callback on each future alive for as long as it waits; an IDLE connection
waits for hours, and ten thousand of them wait at once (issue 5: memory per idle
connection). `first_done` waits with one future, one timer and one callback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


async def first_done(
    futures: Iterable[asyncio.Future[Any]], seconds: float
) -> set[asyncio.Future[Any]]:
    """Wait until one of `futures` is done or `seconds` pass; the ones done then
    (none after a timeout). Like asyncio.wait with FIRST_COMPLETED, nothing is cancelled."""
    waiting = list(futures)
    done = {future for future in waiting if future.done()}
    if done:
        return done
    loop = asyncio.get_running_loop()
    woken = loop.create_future()

    def wake(_: object = None) -> None:
        if not woken.done():
            woken.set_result(None)

    for future in waiting:
        future.add_done_callback(wake)
    timer = loop.call_later(max(seconds, 0), wake)
    try:
        await woken
    finally:
        timer.cancel()
        for future in waiting:
            future.remove_done_callback(wake)
    return {future for future in waiting if future.done()}
