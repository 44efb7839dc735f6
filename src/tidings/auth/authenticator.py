"""Checking a user name and password, with failure delays and per-host throttling.

Protocol drivers call `Authenticator.verify` for LOGIN, AUTHENTICATE, USER/PASS and AUTH; it
is the one place that touches password hashes. Defences, after Dovecot's auth_failure_delay
and auth_penalty:
- every failure is answered only after `Limits.auth_failure_delay`, so guessing is slow;
- a host that keeps failing waits longer and longer (capped at `Limits.auth_max_delay`);
- an unknown account costs the same Argon2 work as a known one (no user enumeration by timing).

A successful check is remembered for `Limits.auth_cache_ttl` seconds (`LoginCache`, after
Dovecot's auth cache), so that a client logging in again and again pays one Argon2 run per TTL
rather than one per login. Only successes are remembered, each under an HMAC of address,
password and the stored hash, and every login still reads the stored hash.

For SCRAM (tidings.auth.scram) it hands out the stored secrets, or decoys derived from the
store's auth key for an unknown account or one without secrets, so the server-first message
looks the same either way. An account made before SCRAM secrets were stored gets them at its
next successful password login (LOGIN, PLAIN, USER/PASS), the only moment the server sees the
password. Until every account has them, SCRAM is not advertised (`scram_offered`): clients
such as mbsync pick SCRAM whenever it is offered and would never make that password login.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable

from tidings.auth.passwords import hash_password, needs_rehash, verify_password
from tidings.auth.sasl_steps import SaslMechanism, SaslNeedSecrets, SaslStep, ScramAccount
from tidings.auth.scram_secrets import ScramSecrets, decoy_secrets, derive_secrets
from tidings.core.errors import MailError
from tidings.core.limits import Limits
from tidings.storage.api import AccountStore

logger = logging.getLogger(__name__)

# Failure timestamps kept per host: enough to reach the delay cap many times over, bounded so
# a flood from one address cannot grow memory.
_MAX_FAILURES_REMEMBERED = 1024
# Hosts remembered before expired entries are swept; a sweep keeps the table proportional to
# the hosts that failed within one window.
_SWEEP_THRESHOLD = 4096
# Successful logins remembered at once (Dovecot's auth_cache_size is in bytes; this is
# entries). An entry is a 32-byte digest and an expiry time, some 200 bytes with the
# dictionary's overhead, so a full cache is about 2 MB; beyond it the oldest entries go.
AUTH_CACHE_ENTRIES = 10_000


class LoginCache:
    """Recently verified credentials, as keyed digests with an expiry time.

    The key is HMAC-SHA256(key, address NUL password NUL stored hash) with a key made at
    random for this process: it names one password of one account *as stored now*, so after
    a password change (a new hash, even of the same password) the old entry misses by itself.
    Nothing kept here gives the password back; a memory dump holding the key and digests
    still allows guessing at HMAC speed rather than Argon2 speed for the accounts with an
    entry held (expired ones are dropped lazily, at the next success or lookup), which is
    why the TTL is short. Entries are not refreshed by a hit: a password is checked with
    Argon2 at least once per TTL. All entries live equally long, so insertion order is
    expiry order and eviction is oldest-first.
    """

    def __init__(self, ttl: float, max_entries: int, clock: Callable[[], float]) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._expiry: OrderedDict[bytes, float] = OrderedDict()

    @property
    def enabled(self) -> bool:
        """Whether anything is remembered at all (TTL and size above zero)."""
        return self._ttl > 0 and self._max_entries > 0

    def __len__(self) -> int:
        return len(self._expiry)

    def contains(self, address: str, password: str, stored_hash: str) -> bool:
        """Whether this password of this account, with this stored hash, was verified
        within the TTL."""
        if not self.enabled:
            return False
        digest = self._digest(address, password, stored_hash)
        expiry = self._expiry.get(digest)
        if expiry is None:
            return False
        if expiry <= self._clock():
            del self._expiry[digest]
            return False
        return True

    def remember(self, address: str, password: str, stored_hash: str) -> None:
        """Record a successful check against `stored_hash`."""
        if not self.enabled:
            return
        now = self._clock()
        digest = self._digest(address, password, stored_hash)
        self._expiry.pop(digest, None)  # re-inserted at the end, in expiry order
        self._expiry[digest] = now + self._ttl
        while self._expiry:
            oldest, expiry = next(iter(self._expiry.items()))
            if len(self._expiry) <= self._max_entries and expiry > now:
                break
            del self._expiry[oldest]

    def key(self, address: str, password: str, stored_hash: str) -> bytes:
        """The keyed digest the credentials are known by (never the password itself)."""
        return self._digest(address, password, stored_hash)

    def _digest(self, address: str, password: str, stored_hash: str) -> bytes:
        # surrogatepass: a password decoded with surrogateescape must hash, not raise (it
        # can never have been verified, so it never matches).
        message = "\0".join((address, password, stored_hash)).encode("utf-8", "surrogatepass")
        return hmac.digest(self._key, message, hashlib.sha256)


class Authenticator:
    """Verifies credentials against an `AccountStore`."""

    def __init__(
        self,
        accounts: AccountStore,
        limits: Limits,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        *,
        cache_entries: int = AUTH_CACHE_ENTRIES,
    ) -> None:
        self._accounts = accounts
        self._limits = limits
        self._sleep = sleep
        self._clock = clock
        self._cache = LoginCache(limits.auth_cache_ttl, cache_entries, clock)
        self._failures: dict[str, deque[float]] = {}
        self._checking: dict[bytes, asyncio.Future[bool]] = {}  # Argon2 runs in progress
        self._dummy_hash: str | None = None
        self._decoy_key: bytes | None = None
        self._scram_offered = False
        self._scram_counted = False

    async def verify(self, username: str, password: str, peer_host: str) -> str | None:
        """The canonical (lower-case) account address if `password` is right, else None.

        A failure returns only after the failure delay for `peer_host`. The stored hash is
        read on every call, so a cached success (`LoginCache`) ends with the account or its
        password.
        """
        address = username.strip().lower()
        stored = await self._accounts.password_hash(address) if address else None
        if stored is not None and self._cache.contains(address, password, stored):
            self._failures.pop(peer_host, None)
            logger.info("authenticated %s from %s (cached)", address, peer_host)
            return address
        # Always run Argon2, against a dummy hash when there is no account, so that the
        # answer takes as long for "no such user" as for "wrong password".
        if stored is not None:
            matches = await self._check_shared(address, password, stored)
        else:
            dummy = await self._get_dummy_hash()
            matches = await asyncio.to_thread(verify_password, dummy, password)
        if stored is not None and matches:
            self._failures.pop(peer_host, None)  # as Dovecot clears auth_penalty on success
            current = await self._upgrade_hash(address, stored, password)
            self._cache.remember(address, password, current)
            logger.info("authenticated %s from %s", address, peer_host)
            return address
        delay = self._record_failure(peer_host)
        logger.info("authentication failed for %r from %s", username[:256], peer_host)
        await self._sleep(delay)
        return None

    async def _check_shared(self, address: str, password: str, stored: str) -> bool:
        """Argon2 for `password` against `stored`, shared by every identical check already
        running: a hundred clients of one account logging in at once (a restart, an expired
        cache entry) cost one hash, not a hundred. Keyed like the cache, by an HMAC."""
        key = self._cache.key(address, password, stored)
        running = self._checking.get(key)
        if running is None:
            running = asyncio.ensure_future(asyncio.to_thread(verify_password, stored, password))
            self._checking[key] = running
            running.add_done_callback(lambda done: self._forget_check(key, done))
        return await asyncio.shield(running)

    def _forget_check(self, key: bytes, done: asyncio.Future[bool]) -> None:
        if self._checking.get(key) is done:
            del self._checking[key]

    async def reject(self, peer_host: str, username: str = "") -> None:
        """Count a failure that needed no password check (a garbled SASL exchange, a wrong
        SCRAM proof) and wait its delay, so it costs a client as much as a wrong password."""
        if username:
            logger.info("authentication failed for %r from %s", username[:256], peer_host)
        await self._sleep(self._record_failure(peer_host))

    async def scram_secrets(self, username: str) -> ScramAccount:
        """The SCRAM-SHA-256 secrets of `username`, or decoys (`genuine=False`) when there
        is no such account or it has none yet: same salt on every attempt, the configured
        iteration count, and a proof that can never match."""
        address = username.strip().lower()
        stored = ScramSecrets.parse(await self._accounts.scram_sha256(address)) if address else None
        if stored is not None:
            return ScramAccount(stored, genuine=True)
        if self._decoy_key is None:
            self._decoy_key = await self._accounts.auth_secret()
        decoy = decoy_secrets(self._decoy_key, address, self._limits.scram_iterations)
        return ScramAccount(decoy, genuine=False)

    async def advance(self, mechanism: SaslMechanism, step: SaslStep) -> SaslStep:
        """`step`, or, while the mechanism asks for an account's secrets (SCRAM's
        `SaslNeedSecrets`), what it answers once given them."""
        while isinstance(step, SaslNeedSecrets):
            step = mechanism.supply(await self.scram_secrets(step.username))
        return step

    @property
    def scram_offered(self) -> bool:
        """Whether to advertise SCRAM-SHA-256[-PLUS]: every account has SCRAM secrets (as of
        the last `refresh_scram_offer`). SCRAM is accepted either way."""
        return self._scram_offered

    async def refresh_scram_offer(self) -> bool:
        """Count the accounts without SCRAM secrets again (at start, and after a password
        login stored some); return `scram_offered`."""
        missing = await self._accounts.count_accounts_without_scram()
        if missing and not self._scram_counted:
            logger.info(
                "SCRAM-SHA-256 is not advertised yet: %d account(s) have no SCRAM secrets;"
                " each gets them at its next password login",
                missing,
            )
        elif not missing and self._scram_counted and not self._scram_offered:
            logger.info("every account has SCRAM secrets now: SCRAM-SHA-256 is advertised")
        self._scram_counted = True
        self._scram_offered = missing == 0
        return self._scram_offered

    def scram_succeeded(self, username: str, peer_host: str) -> str:
        """Record a SCRAM login that proved the password; the canonical account address."""
        address = username.strip().lower()
        self._failures.pop(peer_host, None)
        logger.info("authenticated %s from %s (SCRAM-SHA-256)", address, peer_host)
        return address

    def failure_count(self, peer_host: str) -> int:
        """Failures from `peer_host` within the current window."""
        failures = self._failures.get(peer_host)
        if failures is None:
            return 0
        self._expire(failures, self._clock())
        return len(failures)

    def _record_failure(self, peer_host: str) -> float:
        """Count a failure and return how long to wait before answering it."""
        now = self._clock()
        if len(self._failures) >= _SWEEP_THRESHOLD:
            self._sweep(now)
        failures = self._failures.setdefault(peer_host, deque(maxlen=_MAX_FAILURES_REMEMBERED))
        self._expire(failures, now)
        failures.append(now)
        return self.delay_for(len(failures))

    def delay_for(self, failures: int) -> float:
        """The wait after the `failures`-th failure within one window from one host."""
        base = self._limits.auth_failure_delay
        excess = failures - self._limits.auth_failures_before_throttle
        if excess <= 0:
            return base
        return max(base, min(self._limits.auth_max_delay, base * (1 + excess)))

    def _expire(self, failures: deque[float], now: float) -> None:
        horizon = now - self._limits.auth_failure_window
        while failures and failures[0] <= horizon:
            failures.popleft()

    def _sweep(self, now: float) -> None:
        for host in list(self._failures):
            failures = self._failures[host]
            self._expire(failures, now)
            if not failures:
                del self._failures[host]

    async def _get_dummy_hash(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await asyncio.to_thread(hash_password, secrets.token_urlsafe(16))
        return self._dummy_hash

    async def _upgrade_hash(self, address: str, stored: str, password: str) -> str:
        """Re-hash with current parameters after a success (the only time we see the
        password), and make the SCRAM secrets an older account lacks; a failure here must
        not fail the login. The password hash stored afterwards."""
        try:
            if needs_rehash(stored):
                new_hash, scram = await asyncio.to_thread(self._password_records, password)
                await self._accounts.set_password_hash(address, new_hash, scram_sha256=scram)
                stored = new_hash
            elif await self._accounts.scram_sha256(address) is None:
                secrets_ = await asyncio.to_thread(
                    derive_secrets, password, self._limits.scram_iterations
                )
                await self._accounts.set_scram_sha256(address, secrets_.encode(), stored)
            else:
                return stored
            if not self._scram_offered:
                await self.refresh_scram_offer()
        except MailError as error:
            logger.warning("could not upgrade the credentials of %s: %s", address, error)
        return stored

    def _password_records(self, password: str) -> tuple[str, str]:
        return password_records(password, self._limits.scram_iterations)


def password_records(password: str, scram_iterations: int) -> tuple[str, str]:
    """What the store keeps for a new password: its Argon2id hash and its SCRAM-SHA-256
    secrets (RFC 5803 text), for `AccountStore.add_account` / `set_password_hash`. CPU-bound
    (Argon2 and PBKDF2): run it in a thread from async code."""
    return hash_password(password), derive_secrets(password, scram_iterations).encode()
