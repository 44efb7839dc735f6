"""Contract: quotas (limits, exact usage, OVERQUOTA on append and copy, never on move) and
account settings."""

from __future__ import annotations

import asyncio

import pytest
from tests.storage.storage_support import OTHER_USER, USER, Harness, message

from tidings.core.errors import MailError, MailErrorKind
from tidings.storage.api import AccountSettings, FlagOperation, MailStore, Quota

OVERQUOTA_REASON = "Quota exceeded (mailbox for user is full)"


def sized(subject: str, total: int) -> bytes:
    """A message of exactly `total` octets."""
    head = f"Subject: {subject}\r\n\r\n".encode()
    assert len(head) + 2 <= total
    return head + b"x" * (total - len(head) - 2) + b"\r\n"


def usage(harness: Harness, store: MailStore) -> tuple[int, int]:
    quota = harness.run(store.quota())
    return quota.storage_used, quota.messages_used


def expect_overquota(harness: Harness, awaitable: object) -> MailError:
    with pytest.raises(MailError) as caught:
        harness.run(awaitable)  # type: ignore[arg-type]
    assert caught.value.kind is MailErrorKind.OVERQUOTA
    assert caught.value.reason == OVERQUOTA_REASON
    return caught.value


def test_new_account_has_no_limits_and_no_usage(harness: Harness) -> None:
    store = harness.store()
    assert harness.run(store.quota()) == Quota(None, None, 0, 0)
    assert harness.run(store.settings()) == AccountSettings(junk_routing=None)


def test_usage_counts_octets_and_messages_of_every_mailbox(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.append("INBOX", sized("a", 300)))
    harness.run(store.append("Sent", sized("b", 500)))
    harness.run(store.create_mailbox("Work/Deep"))
    harness.run(store.append("Work/Deep", sized("c", 1000)))
    assert usage(harness, store) == (1800, 3)


def test_deleted_messages_count_until_expunged(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.append("INBOX", sized("a", 400)))
    harness.run(store.append("INBOX", sized("b", 600)))
    inbox = harness.run(store.get_mailbox("INBOX")).id
    harness.run(store.store_flags(inbox, [2], FlagOperation.ADD, ["\\Deleted"]))
    assert usage(harness, store) == (1000, 2)
    assert harness.run(store.expunge(inbox)) == [2]
    assert usage(harness, store) == (400, 1)


def test_set_quota_round_trips_and_ignores_address_case(harness: Harness) -> None:
    harness.run(harness.backend.set_quota(USER.upper(), 10_000, 50))
    store = harness.store()
    assert harness.run(store.quota()) == Quota(10_000, 50, 0, 0)
    harness.run(harness.backend.set_quota(USER, None, 7))
    assert harness.run(store.quota()) == Quota(None, 7, 0, 0)
    harness.run(harness.backend.set_quota(USER, None, None))
    assert harness.run(store.quota()) == Quota(None, None, 0, 0)


def test_set_quota_of_unknown_account_is_notfound(harness: Harness) -> None:
    with pytest.raises(MailError) as caught:
        harness.run(harness.backend.set_quota("nobody@example.test", 1, 1))
    assert caught.value.kind is MailErrorKind.NOTFOUND


@pytest.mark.parametrize(
    ("storage_limit", "message_limit"), [(-1, None), (None, -5), (2**63, None), (None, 2**70)]
)
def test_set_quota_refuses_limits_out_of_range(
    harness: Harness, storage_limit: int | None, message_limit: int | None
) -> None:
    with pytest.raises(MailError) as caught:
        harness.run(harness.backend.set_quota(USER, storage_limit, message_limit))
    assert caught.value.kind is MailErrorKind.CANNOT
    assert "limit must be between 0 and" in caught.value.reason
    assert harness.run(harness.store().quota()) == Quota(None, None, 0, 0)


def test_largest_limit_is_accepted(harness: Harness) -> None:
    harness.run(harness.backend.set_quota(USER, 2**63 - 1, 2**63 - 1))
    assert harness.run(harness.store().quota()).storage_limit == 2**63 - 1


def test_append_up_to_the_storage_limit_then_overquota(harness: Harness) -> None:
    harness.run(harness.backend.set_quota(USER, 1000, None))
    store = harness.store()
    harness.run(store.append("INBOX", sized("a", 600)))
    expect_overquota(harness, store.append("INBOX", sized("b", 401)))
    harness.run(store.append("INBOX", sized("c", 400)))  # exactly at the limit: allowed
    expect_overquota(harness, store.append("Sent", sized("d", 100)))
    assert usage(harness, store) == (1000, 2)
    status = harness.run(store.status("INBOX"))
    assert (status.messages, status.uidnext) == (2, 3)  # the refused one left no trace


def test_append_over_the_message_limit_is_overquota(harness: Harness) -> None:
    harness.run(harness.backend.set_quota(USER, None, 2))
    store = harness.store()
    harness.run(store.append("INBOX", message("a")))
    harness.run(store.append("Drafts", message("b")))
    expect_overquota(harness, store.append("INBOX", message("c")))
    assert usage(harness, store)[1] == 2


def test_zero_limit_takes_nothing(harness: Harness) -> None:
    harness.run(harness.backend.set_quota(USER, 0, None))
    expect_overquota(harness, harness.store().append("INBOX", b"x"))


def test_copy_over_quota_copies_nothing(harness: Harness) -> None:
    store = harness.store()
    for subject in ("a", "b", "c"):
        harness.run(store.append("INBOX", sized(subject, 300)))
    harness.run(harness.backend.set_quota(USER, 1500, None))
    inbox = harness.run(store.get_mailbox("INBOX")).id
    expect_overquota(harness, store.copy(inbox, [1, 2, 3], "Archive"))
    archive = harness.run(store.status("Archive"))
    assert (archive.messages, archive.uidnext) == (0, 1)
    assert usage(harness, store) == (900, 3)
    result = harness.run(store.copy(inbox, [1, 2], "Archive"))  # 1500: exactly the limit
    assert result.dest_uids == (1, 2)
    assert usage(harness, store) == (1500, 5)


def test_copy_over_the_message_limit_is_overquota(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.append("INBOX", message("a")))
    harness.run(store.append("INBOX", message("b")))
    harness.run(harness.backend.set_quota(USER, None, 3))
    inbox = harness.run(store.get_mailbox("INBOX")).id
    expect_overquota(harness, store.copy(inbox, [1, 2], "Trash"))
    assert harness.run(store.copy(inbox, [2], "Trash")).dest_uids == (1,)


def test_copy_of_nothing_is_not_overquota(harness: Harness) -> None:
    store = harness.store()
    harness.run(harness.backend.set_quota(USER, 0, 0))
    inbox = harness.run(store.get_mailbox("INBOX")).id
    assert harness.run(store.copy(inbox, [7], "Trash")).source_uids == ()


def test_move_at_the_limit_is_allowed_and_changes_no_usage(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.append("INBOX", sized("a", 500)))
    harness.run(store.append("INBOX", sized("b", 500)))
    harness.run(harness.backend.set_quota(USER, 1000, 2))
    inbox = harness.run(store.get_mailbox("INBOX")).id
    assert harness.run(store.move(inbox, [1, 2], "Archive")).dest_uids == (1, 2)
    assert usage(harness, store) == (1000, 2)


def test_move_when_already_over_a_lowered_limit_is_allowed(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.append("INBOX", sized("a", 500)))
    harness.run(harness.backend.set_quota(USER, 100, 0))
    inbox = harness.run(store.get_mailbox("INBOX")).id
    harness.run(store.move(inbox, [1], "Archive"))
    assert usage(harness, store) == (500, 1)


def test_lowered_limit_refuses_additions_but_allows_expunge(harness: Harness) -> None:
    store = harness.store()
    for subject in ("a", "b"):
        harness.run(store.append("INBOX", sized(subject, 700)))
    harness.run(harness.backend.set_quota(USER, 1000, None))
    expect_overquota(harness, store.append("INBOX", b"x"))
    inbox = harness.run(store.get_mailbox("INBOX")).id
    harness.run(store.store_flags(inbox, [1], FlagOperation.ADD, ["\\Deleted"]))
    harness.run(store.expunge(inbox))
    assert usage(harness, store) == (700, 1)
    harness.run(store.append("INBOX", sized("c", 300)))


def test_rename_inbox_keeps_usage_and_delete_mailbox_frees_it(harness: Harness) -> None:
    store = harness.store()
    harness.run(store.append("INBOX", sized("a", 200)))
    harness.run(store.append("INBOX", sized("b", 300)))
    harness.run(harness.backend.set_quota(USER, 500, 2))  # full: a rename must still work
    harness.run(store.rename_mailbox("INBOX", "Old"))
    assert usage(harness, store) == (500, 2)
    harness.run(store.delete_mailbox("Old"))
    assert usage(harness, store) == (0, 0)


def test_usage_is_per_account(harness: Harness) -> None:
    harness.run(harness.backend.add_account(OTHER_USER, "h"))
    alice, bob = harness.store(), harness.store(OTHER_USER)
    harness.run(harness.backend.set_quota(OTHER_USER, None, 1))
    harness.run(alice.append("INBOX", sized("a", 300)))
    harness.run(bob.append("INBOX", sized("b", 200)))
    expect_overquota(harness, bob.append("INBOX", b"x"))
    harness.run(alice.append("INBOX", b"x"))
    assert usage(harness, alice) == (301, 2)
    assert usage(harness, bob) == (200, 1)


def test_removed_and_recreated_account_starts_empty(harness: Harness) -> None:
    store = harness.store()
    harness.run(harness.backend.set_quota(USER, 5000, 5))
    harness.run(store.append("INBOX", sized("a", 300)))
    harness.run(harness.backend.remove_account(USER))
    harness.run(harness.backend.add_account(USER, "h"))
    assert harness.run(harness.store().quota()) == Quota(None, None, 0, 0)


def test_quota_survives_reopen(harness: Harness) -> None:
    harness.run(harness.backend.set_quota(USER, 4096, 9))
    harness.run(harness.store().append("INBOX", sized("a", 100)))
    harness.reopen()
    assert harness.run(harness.store().quota()) == Quota(4096, 9, 100, 1)


def test_concurrent_appends_never_exceed_the_message_limit(harness: Harness) -> None:
    harness.run(harness.backend.set_quota(USER, None, 10))
    stores = [harness.store() for _ in range(4)]

    async def race() -> list[object]:
        appends = [stores[i % len(stores)].append("INBOX", message(f"m{i}")) for i in range(40)]
        return await asyncio.gather(*appends, return_exceptions=True)

    results = harness.run(race())
    refused = [r for r in results if isinstance(r, MailError)]
    assert all(r.kind is MailErrorKind.OVERQUOTA for r in refused)
    assert len(results) - len(refused) == 10
    assert usage(harness, stores[0])[1] == 10
    assert harness.run(stores[0].status("INBOX")).messages == 10


def test_concurrent_appends_never_exceed_the_storage_limit(harness: Harness) -> None:
    harness.run(harness.backend.set_quota(USER, 10_000, None))
    store = harness.store()

    async def race() -> list[object]:
        appends = [store.append("Sent", sized(f"m{i}", 700 + i)) for i in range(30)]
        return await asyncio.gather(*appends, return_exceptions=True)

    results = harness.run(race())
    stored = [r for r in results if not isinstance(r, BaseException)]
    used, count = usage(harness, store)
    assert count == len(stored) and used <= 10_000
    # Greedy in commit order: no refused message would have fitted when it was refused,
    # so at most one message's worth is left free.
    assert 10_000 - used < 730


def test_settings_round_trip(harness: Harness) -> None:
    backend = harness.backend
    harness.run(backend.set_settings(USER.upper(), AccountSettings(junk_routing=True)))
    assert harness.run(harness.store().settings()) == AccountSettings(junk_routing=True)
    harness.run(backend.set_settings(USER, AccountSettings(junk_routing=False)))
    assert harness.run(harness.store().settings()) == AccountSettings(junk_routing=False)
    harness.run(backend.set_settings(USER, AccountSettings()))
    assert harness.run(harness.store().settings()) == AccountSettings(junk_routing=None)


def test_set_settings_of_unknown_account_is_notfound(harness: Harness) -> None:
    with pytest.raises(MailError) as caught:
        harness.run(harness.backend.set_settings("nobody@example.test", AccountSettings()))
    assert caught.value.kind is MailErrorKind.NOTFOUND
