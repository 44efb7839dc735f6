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
