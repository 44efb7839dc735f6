"""Contract: quota usage stays exact under any mix of operations.

A seeded random sequence of append, copy, move, flag+expunge, delete_messages,
delete/create/rename mailbox (INBOX included) runs against a backend with limits that the
sequence keeps hitting. After every step the account's usage must equal the sum of SIZE and
MESSAGES over its mailboxes (STATUS), and no successful append or copy may leave usage above
a limit. Seeds are fixed so a failure replays exactly.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

import pytest
from tests.storage.storage_support import Harness

from tidings.core.errors import MailError, MailErrorKind
from tidings.storage.api import FlagOperation, MailStore

STEPS = 200
NAMES = ("INBOX", "Sent", "Work", "Work/Sub", "Later")


def random_message(rng: random.Random, serial: int) -> bytes:
    body = b"x" * rng.randrange(0, 600)
    line_end = rng.choice([b"\r\n", b"\n"])
    return b"Subject: m%d" % serial + line_end + line_end + body + line_end


class Sequence:
    """One random run against one MailStore."""

    def __init__(self, harness: Harness, seed: int) -> None:
        self.harness = harness
        self.store: MailStore = harness.store()
        self.rng = random.Random(seed)
        self.serial = 0

    def run(self, awaitable: Awaitable[object]) -> object:
        return self.harness.run(awaitable)

    def existing(self) -> list[str]:
        return [info.name for info in self.harness.run(self.store.list_mailboxes())]

    def pick(self) -> str:
        return self.rng.choice(self.existing())

    def uids(self, name: str) -> list[int]:
        snapshot = self.harness.run(self.store.open_mailbox(name, False))
        return [meta.uid for meta in snapshot.messages]

    def some_uids(self, name: str) -> list[int]:
        uids = self.uids(name)
        return self.rng.sample(uids, self.rng.randint(0, len(uids))) if uids else []

    def mailbox_id(self, name: str) -> int:
        return self.harness.run(self.store.get_mailbox(name)).id

    # --------------------------------------------------------------- operations
    def append(self) -> None:
        self.serial += 1
        self.run(self.store.append(self.pick(), random_message(self.rng, self.serial)))

    def copy(self) -> None:
        source = self.pick()
        self.run(self.store.copy(self.mailbox_id(source), self.some_uids(source), self.pick()))

    def move(self) -> None:
        source = self.pick()
        self.run(self.store.move(self.mailbox_id(source), self.some_uids(source), self.pick()))

    def expunge(self) -> None:
        name = self.pick()
        mailbox = self.mailbox_id(name)
        flagged = self.some_uids(name)
        self.run(self.store.store_flags(mailbox, flagged, FlagOperation.ADD, ["\\Deleted"]))
        chosen = self.some_uids(name) if self.rng.random() < 0.5 else None
        self.run(self.store.expunge(mailbox, chosen))

    def delete_messages(self) -> None:
        name = self.pick()
        self.run(self.store.delete_messages(self.mailbox_id(name), self.some_uids(name)))

    def delete_mailbox(self) -> None:
        names = self.existing()
        leaves = [
            name
            for name in names
            if name != "INBOX" and not any(other.startswith(name + "/") for other in names)
        ]
        if leaves:
            self.run(self.store.delete_mailbox(self.rng.choice(leaves)))

    def create_mailbox(self) -> None:
        missing = [name for name in NAMES if name not in self.existing()]
        if missing:
            self.run(self.store.create_mailbox(self.rng.choice(missing)))

    def rename(self) -> None:
        missing = [name for name in NAMES if name not in self.existing() and "/" not in name]
        if missing:
            self.run(self.store.rename_mailbox(self.pick(), self.rng.choice(missing)))

    def set_limits(self) -> None:
        storage = self.rng.choice([None, 2_000, 5_000, 20_000])
        messages = self.rng.choice([None, 5, 15, 40])
        self.run(self.harness.backend.set_quota(self.store.account, storage, messages))

    # ----------------------------------------------------------------- checks
    def check_usage(self) -> None:
        quota = self.harness.run(self.store.quota())
        statuses = [self.harness.run(self.store.status(name)) for name in self.existing()]
        assert quota.storage_used == sum(status.size for status in statuses)
        assert quota.messages_used == sum(status.messages for status in statuses)


WEIGHTED: list[tuple[Callable[[Sequence], None], int]] = [
    (Sequence.append, 8),
    (Sequence.copy, 4),
    (Sequence.move, 3),
    (Sequence.expunge, 3),
    (Sequence.delete_messages, 2),
    (Sequence.delete_mailbox, 1),
    (Sequence.create_mailbox, 2),
    (Sequence.rename, 1),
    (Sequence.set_limits, 1),
]
ADDING = {Sequence.append, Sequence.copy}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_usage_equals_mailbox_sums_after_random_operations(harness: Harness, seed: int) -> None:
    run = Sequence(harness, seed)
    operations = [operation for operation, _ in WEIGHTED]
    weights = [weight for _, weight in WEIGHTED]
    refused = 0
    for _ in range(STEPS):
        operation = run.rng.choices(operations, weights)[0]
        before = harness.run(run.store.quota())
        try:
            operation(run)
        except MailError as error:
            assert error.kind is MailErrorKind.OVERQUOTA, error
            assert operation in ADDING
            refused += 1
            assert harness.run(run.store.quota()) == before  # a refusal changes nothing
        else:
            after = harness.run(run.store.quota())
            if operation in ADDING and after.messages_used > before.messages_used:
                if after.storage_limit is not None:
                    assert after.storage_used <= after.storage_limit
                if after.message_limit is not None:
                    assert after.messages_used <= after.message_limit
        run.check_usage()
    assert refused, "the limits never bit: the sequence did not test OVERQUOTA"
