"""Authenticator: success, failure delay, per-host throttling, no user enumeration."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from argon2 import PasswordHasher

from tidings.auth import authenticator as authenticator_module
from tidings.auth.authenticator import Authenticator
from tidings.auth.passwords import hash_password, needs_rehash, verify_password
from tidings.core.errors import MailError, MailErrorKind
from tidings.core.limits import Limits

LIMITS = Limits(
    auth_failure_delay=2.0,
    auth_failures_before_throttle=3,
    auth_failure_window=300.0,
    auth_max_delay=15.0,
)
# Cheap parameters keep these tests fast; the real cost is tested in test_auth_passwords.
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
ALICE_HASH = CHEAP.hash("right")


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    def verify(password_hash: str, password: str) -> bool:
        try:
            return CHEAP.verify(password_hash, password)
        except Exception:
            return False

    monkeypatch.setattr(authenticator_module, "verify_password", verify)
    monkeypatch.setattr(authenticator_module, "hash_password", CHEAP.hash)
    monkeypatch.setattr(authenticator_module, "needs_rehash", CHEAP.check_needs_rehash)


@dataclass
class FakeAccounts:
    """Only the AccountStore methods the authenticator uses."""

    hashes: dict[str, str] = field(default_factory=lambda: {"alice@example.test": ALICE_HASH})
    lookups: list[str] = field(default_factory=list)
    scram: dict[str, str | None] = field(default_factory=dict)

    async def password_hash(self, address: str) -> str | None:
        self.lookups.append(address)
        return self.hashes.get(address.lower())

    async def set_password_hash(
        self, address: str, password_hash: str, *, scram_sha256: str | None = None
    ) -> None:
        if address not in self.hashes:
            raise MailError(MailErrorKind.NOTFOUND, address)
        self.hashes[address] = password_hash
        self.scram[address] = scram_sha256

    async def scram_sha256(self, address: str) -> str | None:
        return self.scram.get(address)

    async def set_scram_sha256(self, address: str, scram_sha256: str, password_hash: str) -> bool:
        if self.hashes.get(address) != password_hash:
            return False
        self.scram[address] = scram_sha256
        return True

    async def auth_secret(self) -> bytes:
        return b"k" * 32

    async def count_accounts_without_scram(self) -> int:
        return sum(1 for address in self.hashes if not self.scram.get(address))


@dataclass
class FakeTime:
    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def make(accounts: FakeAccounts | None = None) -> tuple[Authenticator, FakeTime, FakeAccounts]:
    fake_time = FakeTime()
    store = accounts or FakeAccounts()
    auth = Authenticator(store, LIMITS, sleep=fake_time.sleep, clock=fake_time.clock)  # type: ignore[arg-type]
    return auth, fake_time, store


def test_success_returns_canonical_address_without_delay() -> None:
    auth, fake_time, _ = make()
    assert asyncio.run(auth.verify("Alice@Example.TEST", "right", "192.0.2.1")) == (
        "alice@example.test"
    )
    assert fake_time.sleeps == []


def test_wrong_password_waits_failure_delay() -> None:
    auth, fake_time, _ = make()
    assert asyncio.run(auth.verify("alice@example.test", "wrong", "192.0.2.1")) is None
    assert fake_time.sleeps == [2.0]
    assert auth.failure_count("192.0.2.1") == 1


def test_unknown_user_costs_the_same_argon2_work(monkeypatch: pytest.MonkeyPatch) -> None:
    verified: list[str] = []
    real_verify = authenticator_module.verify_password  # the cheap one from the fixture

    def spy(password_hash: str, password: str) -> bool:
        verified.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(authenticator_module, "verify_password", spy)
    auth, fake_time, _ = make()
    assert asyncio.run(auth.verify("nobody@example.test", "right", "192.0.2.1")) is None
    assert len(verified) == 1 and verified[0].startswith("$argon2id$")
    assert fake_time.sleeps == [2.0]


def test_empty_username_fails_with_delay() -> None:
    auth, fake_time, _ = make()
    assert asyncio.run(auth.verify("", "right", "192.0.2.1")) is None
    assert fake_time.sleeps == [2.0]


def test_throttling_grows_and_is_capped() -> None:
    auth, fake_time, _ = make()

    async def fail_many(count: int) -> None:
        for _ in range(count):
            assert await auth.verify("alice@example.test", "wrong", "192.0.2.9") is None

    asyncio.run(fail_many(10))
    assert fake_time.sleeps[:3] == [2.0, 2.0, 2.0]
    assert fake_time.sleeps[3:] == [4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 15.0]
    assert auth.failure_count("192.0.2.9") == 10


def test_throttling_is_per_host_and_success_elsewhere_does_not_reset() -> None:
    auth, fake_time, _ = make()

    async def scenario() -> None:
        for _ in range(4):
            await auth.verify("alice@example.test", "wrong", "192.0.2.1")
        assert await auth.verify("alice@example.test", "right", "192.0.2.2") is not None
        fake_time.sleeps.clear()
        await auth.verify("alice@example.test", "wrong", "192.0.2.1")
        await auth.verify("alice@example.test", "wrong", "192.0.2.3")

    asyncio.run(scenario())
    assert fake_time.sleeps == [6.0, 2.0]
    assert auth.failure_count("192.0.2.1") == 5
    assert auth.failure_count("192.0.2.2") == 0


def test_success_from_the_same_host_clears_its_count() -> None:
    auth, _, _ = make()

    async def scenario() -> None:
        for _ in range(4):
            await auth.verify("alice@example.test", "wrong", "192.0.2.1")
        await auth.verify("alice@example.test", "right", "192.0.2.1")

    asyncio.run(scenario())
    assert auth.failure_count("192.0.2.1") == 0


def test_failures_expire_after_the_window() -> None:
    auth, fake_time, _ = make()

    async def scenario() -> None:
        for _ in range(5):
            await auth.verify("alice@example.test", "wrong", "192.0.2.1")
        fake_time.now += LIMITS.auth_failure_window + 1
        assert auth.failure_count("192.0.2.1") == 0
        fake_time.sleeps.clear()
        await auth.verify("alice@example.test", "wrong", "192.0.2.1")

    asyncio.run(scenario())
    assert fake_time.sleeps == [2.0]


def test_outdated_hash_is_upgraded_on_success(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(authenticator_module, "verify_password", verify_password)
    monkeypatch.setattr(authenticator_module, "hash_password", hash_password)
    monkeypatch.setattr(authenticator_module, "needs_rehash", needs_rehash)
    weak = CHEAP.hash("right")
    store = FakeAccounts(hashes={"alice@example.test": weak})
    auth, _, _ = make(store)
    assert asyncio.run(auth.verify("alice@example.test", "right", "::1")) == "alice@example.test"
    assert store.hashes["alice@example.test"] != weak
    assert store.scram["alice@example.test"]  # the new hash comes with SCRAM secrets
    assert asyncio.run(auth.verify("alice@example.test", "right", "::1")) is not None


def test_passwords_are_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    auth, _, _ = make()
    with caplog.at_level("DEBUG"):
        asyncio.run(auth.verify("alice@example.test", "hunter2-wrong", "192.0.2.1"))
        asyncio.run(auth.verify("alice@example.test", "right", "192.0.2.1"))
    assert "hunter2" not in caplog.text
    assert "right" not in caplog.text.replace("alice", "")
