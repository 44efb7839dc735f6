"""Change notices: how one session learns that another changed a mailbox.

Storage publishes a `ChangeNotice` after each commit; sessions subscribe per account and
mailbox and then read the change log since their last modseq (DESIGN.md "Notifications").
A notice carries no data of its own: the log is the truth, the notice only says "look".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChangeNotice:
    """Something changed in `account`: in mailbox `mailbox_id`, or in the mailbox list when
    `mailbox_id` is None (create, delete, rename, subscribe)."""

    account: str
    mailbox_id: int | None
    modseq: int


@dataclass(frozen=True, slots=True)
class MetadataNotice:
    """RFC 5464 annotations of `account` changed: `entries` of the mailbox named `mailbox`,
    or server annotations when `mailbox` is None. Unlike a ChangeNotice it carries what
    changed, because NOTIFY's metadata events (RFC 5465 §5.6, §5.7) name the entries and no
    log records them. It stays in this process (the relay carries only ChangeNotices)."""

    account: str
    mailbox: str | None
    entries: tuple[str, ...]
