"""Decoded MessageFacts, remembered by message digest.

SEARCH, SORT, THREAD and FETCH ENVELOPE/BODYSTRUCTURE read the facts parsed at ingest again
and again; decompressing and decoding them is most of what such a command costs. The decoded
object is kept, keyed by the stored (compressed) column itself: the same bytes always decode
to the same facts, whatever row they come from (a row id may be handed out again once a blob
is deleted, and an upgrade may rewrite a column). Hashing a column of a few hundred bytes
costs far less than inflating and decoding it. Bounded LRU, shared by the reader threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from tidings.core import mime
from tidings.storage.sqlite import blobs

CAPACITY = 20_000
"""Facts kept at most (a few KiB each: about 50 MiB when full)."""

_cache: OrderedDict[bytes, mime.MessageFacts] = OrderedDict()
_lock = threading.Lock()


def facts_for(column: bytes) -> mime.MessageFacts:
    """The facts a stored facts `column` holds (decoded on a miss)."""
    with _lock:
        facts = _cache.get(column)
        if facts is not None:
            _cache.move_to_end(column)
            return facts
    facts = blobs.load_facts(column)
    with _lock:
        _cache[column] = facts
        if len(_cache) > CAPACITY:
            _cache.popitem(last=False)
    return facts


def clear() -> None:
    """Forget everything (tests)."""
    with _lock:
        _cache.clear()
