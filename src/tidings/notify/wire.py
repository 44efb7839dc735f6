"""The relay's datagram: a batch of change notices for one receiving relay (no I/O here).

    {"v": 1, "token": "<the receiver's token>", "notices": [[account, mailbox_id, modseq], ...]}

`mailbox_id` is null for a change of the mailbox list. A notice carries no mail data (the
change log is the truth), so the format only needs to say who should look where.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from typing import Any

from tidings.notify.api import ChangeNotice

WIRE_VERSION = 1
# Longest account name a datagram may carry: RFC 5321 §4.5.3.1.3 limits a path to 256
# octets; 1024 leaves room for UTF-8 addresses without letting one datagram carry junk.
MAX_ACCOUNT_CHARS = 1024


def _item(notice: ChangeNotice) -> str:
    return json.dumps([notice.account, notice.mailbox_id, notice.modseq], ensure_ascii=False)


def encode_batches(notices: Iterable[ChangeNotice], token: str, max_bytes: int) -> list[bytes]:
    """Datagrams of at most `max_bytes` (a single oversized notice gets one of its own)
    carrying every notice, addressed to the relay holding `token`."""
    head = json.dumps({"v": WIRE_VERSION, "token": token})[:-1] + ', "notices": ['
    batches: list[bytes] = []
    items: list[str] = []
    size = len(head) + 2
    for notice in notices:
        item = _item(notice)
        item_size = len(item.encode()) + 2  # the item and its ", " separator
        if items and size + item_size > max_bytes:
            batches.append(f"{head}{', '.join(items)}]}}".encode())
            items, size = [], len(head) + 2
        items.append(item)
        size += item_size
    if items:
        batches.append(f"{head}{', '.join(items)}]}}".encode())
    return batches


def decode(datagram: bytes, token: str) -> list[ChangeNotice]:
    """The notices of a datagram addressed to the relay holding `token`.

    Raises ValueError for anything else: another version, a wrong token, a malformed item.
    """
    try:
        document = json.loads(datagram)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"not JSON: {error}") from error
    if not isinstance(document, dict) or document.get("v") != WIRE_VERSION:
        raise ValueError("not a version 1 notice batch")
    got = document.get("token")
    if not isinstance(got, str) or not hmac.compare_digest(got.encode(), token.encode()):
        raise ValueError("wrong token")
    items = document.get("notices")
    if not isinstance(items, list):
        raise ValueError("no notices list")
    return [notice_from_item(item) for item in items]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def notice_from_item(item: Any) -> ChangeNotice:
    """The notice of one `[account, mailbox_id, modseq]` item; ValueError if malformed."""
    if not isinstance(item, list) or len(item) != 3:
        raise ValueError(f"bad notice {item!r}")
    account, mailbox_id, modseq = item
    if not isinstance(account, str) or not 0 < len(account) <= MAX_ACCOUNT_CHARS:
        raise ValueError(f"bad account in {item!r}")
    if not (mailbox_id is None or _is_int(mailbox_id)) or not _is_int(modseq):
        raise ValueError(f"bad numbers in {item!r}")
    return ChangeNotice(account, mailbox_id, modseq)
