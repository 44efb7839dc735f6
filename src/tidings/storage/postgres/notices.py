"""Change notices between nodes over PostgreSQL's LISTEN/NOTIFY (no I/O here).

A write queues `pg_notify(CHANNEL, payload)` inside its own transaction, so the notice is
sent exactly when, and only if, the change commits. The payload says who should look where
and nothing more (the change log is the truth, DESIGN.md "Notifications"):

    {"node": "<sender's node id>", "n": [[account, mailbox_id, modseq], ...]}

`mailbox_id` is null for a change of the mailbox list. A node skips its own notices: it has
published them to its hub already.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tidings.notify.api import ChangeNotice
from tidings.notify.wire import notice_from_item

CHANNEL = "tidings_changes"
# PostgreSQL refuses payloads of 8000 bytes or more; a larger batch is split.
MAX_PAYLOAD_BYTES = 7000


def encode(node: str, notices: Sequence[ChangeNotice]) -> list[str]:
    """Payloads of at most MAX_PAYLOAD_BYTES carrying every notice."""
    payloads: list[str] = []
    batch: list[list[Any]] = []
    size = 0
    for notice in notices:
        item = [notice.account, notice.mailbox_id, notice.modseq]
        item_size = len(json.dumps(item, ensure_ascii=False).encode()) + 2
        if batch and size + item_size > MAX_PAYLOAD_BYTES - 64:
            payloads.append(_payload(node, batch))
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        payloads.append(_payload(node, batch))
    return payloads


def _payload(node: str, batch: list[list[Any]]) -> str:
    return json.dumps({"node": node, "n": batch}, ensure_ascii=False, separators=(",", ":"))


def decode(payload: str) -> tuple[str, list[ChangeNotice]]:
    """The sending node and the notices of `payload`; ValueError if it is not one."""
    try:
        document = json.loads(payload)
    except ValueError as error:
        raise ValueError(f"not JSON: {error}") from error
    if not isinstance(document, dict):
        raise ValueError("not a notice batch")
    node, items = document.get("node"), document.get("n")
    if not isinstance(node, str) or not isinstance(items, list):
        raise ValueError("not a notice batch")
    return node, [notice_from_item(item) for item in items]
