"""The login cache (Limits.auth_cache_ttl): a success skips Argon2 for one TTL, failures are
never remembered, and a password change or a removed account takes effect at once."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field

import pytest
from argon2 import PasswordHasher

from tidings.auth import authenticator as authenticator_module
from tidings.auth.authenticator import Authenticator, LoginCache
from tidings.core.limits import Limits

ALICE = "alice@example.test"
HOST = "192.0.2.1"
LIMITS = Limits(auth_failure_delay=2.0, auth_cache_ttl=60.0)
# Cheap parameters keep these tests fast; the real cost is tested in test_auth_passwords.
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@dataclass
class FakeAccounts:
    """Only the AccountStore methods the authenticator uses; every account has SCRAM
    secrets, so a success writes nothing."""

    hashes: dict[str, str] = field(default_factory=lambda: {ALICE: CHEAP.hash("right")})
    lookups: list[str] = field(default_factory=list)

    async def password_hash(self, address: str) -> str | None:
        self.lookups.append(address)
        return self.hashes.get(address)

    async def set_password_hash(
        self, address: str, password_hash: str, *, scram_sha256: str | None = None
    ) -> None:
        self.hashes[address] = password_hash

    async def scram_sha256(self, address: str) -> str | None:
        return "SCRAM-SHA-256$4096:c2FsdA==$a2V5:a2V5" if address in self.hashes else None

    async def auth_secret(self) -> bytes:
        return b"k" * 32

    async def count_accounts_without_scram(self) -> int:
        return 0


@dataclass
class FakeTime:
    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def argon2_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hashes the authenticator runs (cheap) Argon2 against, in order."""
    runs: list[str] = []

    def verify(password_hash: str, password: str) -> bool:
        runs.append(password_hash)
        try:
            return CHEAP.verify(password_hash, password)
        except Exception:
            return False

    monkeypatch.setattr(authenticator_module, "verify_password", verify)
    monkeypatch.setattr(authenticator_module, "hash_password", CHEAP.hash)
    monkeypatch.setattr(authenticator_module, "needs_rehash", CHEAP.check_needs_rehash)
    return runs


def make(
    limits: Limits = LIMITS, cache_entries: int = 10_000
) -> tuple[Authenticator, FakeTime, FakeAccounts]:
    fake_time = FakeTime()
    store = FakeAccounts()
    auth = Authenticator(
        store,  # type: ignore[arg-type]
        limits,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        cache_entries=cache_entries,
    )
    return auth, fake_time, store


def login(auth: Authenticator, password: str, username: str = ALICE) -> str | None:
    return asyncio.run(auth.verify(username, password, HOST))


def test_second_login_within_ttl_skips_argon2_but_reads_the_hash(argon2_runs: list[str]) -> None:
    auth, fake_time, store = make()
    assert login(auth, "right") == ALICE
    fake_time.now += 59
    assert login(auth, "right") == ALICE
    assert login(auth, "right", username="ALICE@Example.Test") == ALICE
    assert len(argon2_runs) == 1
    assert store.lookups == [ALICE, ALICE, ALICE]  # the stored hash is read every time
    assert fake_time.sleeps == []


def test_after_the_ttl_argon2_runs_again(argon2_runs: list[str]) -> None:
    auth, fake_time, _ = make()
    assert login(auth, "right") == ALICE
    fake_time.now += 60
    assert login(auth, "right") == ALICE
    assert len(argon2_runs) == 2
    # Remembered again from that second check, and hits do not extend an entry.
    fake_time.now += 30
    assert login(auth, "right") == ALICE
    fake_time.now += 30
    assert login(auth, "right") == ALICE
    assert len(argon2_runs) == 3


def test_a_wrong_password_is_never_cached(argon2_runs: list[str]) -> None:
    auth, fake_time, _ = make()
    assert login(auth, "wrong") is None
    assert login(auth, "wrong") is None
    assert login(auth, "right") == ALICE
    assert login(auth, "wrong") is None  # a cached success does not help another password
    assert len(argon2_runs) == 4
    assert fake_time.sleeps == [2.0, 2.0, 2.0]  # each failure keeps its delay
    assert auth.failure_count(HOST) == 1


def test_a_password_change_invalidates(argon2_runs: list[str]) -> None:
    auth, _, store = make()
    assert login(auth, "right") == ALICE
    store.hashes[ALICE] = CHEAP.hash("new")  # as `tidings user passwd` would
    assert login(auth, "right") is None
    assert login(auth, "new") == ALICE
    assert len(argon2_runs) == 3


def test_the_same_password_set_again_invalidates(argon2_runs: list[str]) -> None:
    # A new hash of the same password has a new salt: the entry names the old hash.
    auth, _, store = make()
    assert login(auth, "right") == ALICE
    asyncio.run(store.set_password_hash(ALICE, CHEAP.hash("right")))
    assert login(auth, "right") == ALICE
    assert len(argon2_runs) == 2


def test_a_removed_account_fails_at_once(argon2_runs: list[str]) -> None:
    auth, fake_time, store = make()
    assert login(auth, "right") == ALICE
    del store.hashes[ALICE]
    assert login(auth, "right") is None
    assert fake_time.sleeps == [2.0]
    # An unknown account still costs one Argon2 run, against the dummy hash.
    assert len(argon2_runs) == 2 and argon2_runs[1] != argon2_runs[0]


def test_ttl_zero_disables(argon2_runs: list[str]) -> None:
    auth, _, _ = make(dataclasses.replace(LIMITS, auth_cache_ttl=0.0))
    for _ in range(3):
        assert login(auth, "right") == ALICE
    assert len(argon2_runs) == 3


def test_a_rehashed_password_is_cached_under_its_new_hash(
    argon2_runs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A success that upgrades an outdated hash stores a new one; the next login must hit.
    monkeypatch.setattr(authenticator_module, "needs_rehash", lambda stored: True)
    auth, _, store = make()
    old = store.hashes[ALICE]
    assert login(auth, "right") == ALICE
    assert store.hashes[ALICE] != old
    assert login(auth, "right") == ALICE
    assert len(argon2_runs) == 1


def test_the_cache_is_bounded_oldest_first(argon2_runs: list[str]) -> None:
    auth, _, store = make(cache_entries=3)
    users = [f"user{n}@example.test" for n in range(5)]
    for user in users:
        store.hashes[user] = CHEAP.hash("pw")

    async def scenario() -> None:
        for user in users:
            assert await auth.verify(user, "pw", HOST) == user
        assert len(auth._cache) == 3
        argon2_runs.clear()
        for user in reversed(users):  # the three newest hit, the two oldest were evicted
            assert await auth.verify(user, "pw", HOST) == user

    asyncio.run(scenario())
    assert argon2_runs == [store.hashes[users[1]], store.hashes[users[0]]]


def test_expired_entries_make_room_first() -> None:
    fake_time = FakeTime()
    cache = LoginCache(ttl=10.0, max_entries=100, clock=fake_time.clock)
    for n in range(50):
        cache.remember(f"u{n}", "pw", "hash")
    fake_time.now += 10
    cache.remember("late", "pw", "hash")
    assert len(cache) == 1
    assert cache.contains("late", "pw", "hash")
    assert not cache.contains("u0", "pw", "hash")


def test_keys_separate_address_password_and_hash() -> None:
    cache = LoginCache(ttl=10.0, max_entries=100, clock=FakeTime().clock)
    cache.remember("a@x", "pw", "h1")
    assert cache.contains("a@x", "pw", "h1")
    assert not cache.contains("b@x", "pw", "h1")
    assert not cache.contains("a@x", "pW", "h1")
    assert not cache.contains("a@x", "pw", "h2")
    assert not cache.contains("a@x", "\udcff", "h1")  # surrogates hash, never raise


def test_nothing_kept_reveals_the_password() -> None:
    cache = LoginCache(ttl=10.0, max_entries=100, clock=FakeTime().clock)
    cache.remember("a@x", "hunter2-secret", "h1")
    kept = b"".join(cache._expiry) + cache._key
    assert b"hunter2" not in kept
    assert all(len(digest) == 32 for digest in cache._expiry)  # HMAC-SHA256 digests only
    # The key is per process (per cache): the same credentials give another digest elsewhere.
    other = LoginCache(ttl=10.0, max_entries=100, clock=FakeTime().clock)
    other.remember("a@x", "hunter2-secret", "h1")
    assert set(other._expiry).isdisjoint(cache._expiry)


def test_simultaneous_first_logins_share_one_argon2_run(argon2_runs: list[str]) -> None:
    """Fifty clients of one account logging in at once (after a restart, or when the
    cache entry expired) cost one Argon2 run; a wrong password among them still fails."""
    auth, fake_time, _ = make(dataclasses.replace(LIMITS, auth_cache_ttl=0.0))

    async def many() -> list[str | None]:
        right = [auth.verify(ALICE, "right", HOST) for _ in range(50)]
        wrong = [auth.verify(ALICE, "wrong", HOST) for _ in range(3)]
        return await asyncio.gather(*right, *wrong)

    results = asyncio.run(many())
    assert results == [ALICE] * 50 + [None] * 3
    assert len(argon2_runs) == 2  # one for the right password, one for the wrong one
    assert len(fake_time.sleeps) == 3  # each failure still waits its delay
    assert login(auth, "right") == ALICE  # nothing in flight is kept afterwards
    assert len(argon2_runs) == 3
