"""Scenario 1, mixed sessions like a mail client's, with a fixed random seed.

Each simulated client loops sessions until the time is up:
    LOGIN, SELECT INBOX, UID FETCH 1:* (FLAGS), FETCH (ENVELOPE) of the newest 20,
    FETCH (BODY.PEEK[]) of 3 random messages, STORE +FLAGS/-FLAGS (\\Flagged) on one,
    SEARCH (UNSEEN, or a SUBJECT word), APPEND a corpus message, UID STORE +FLAGS
    (\\Deleted) on it, UID EXPUNGE it, LOGOUT.
Clients are spread over several load-generator processes so the generator is not the
bottleneck; the mailbox sizes stay constant (each session removes what it added).
Reported: operations per second (total and per command) and the server's CPU
milliseconds per 1,000 operations (from /proc).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from bench.common import PASSWORD, account, corpus_messages, cpu_seconds
from bench.imap import BenchImap, ImapError
from bench.servers import Server

SUBJECT_WORDS = ("test", "hello", "meeting", "report", "invoice")
_APPENDUID = re.compile(rb"APPENDUID \d+ (\d+)")
_EXISTS = re.compile(rb"^\* (\d+) EXISTS")


async def one_session(
    client_no: int,
    port: int,
    *,
    accounts: int,
    rng: random.Random,
    messages: Sequence[bytes],
    counts: Counter[str],
) -> None:
    """One session of the mix; each completed command counted by name. A NO
    [EXPUNGEISSUED] to a FETCH or SEARCH (another session expunged what it appended) is an
    answer like any other."""
    imap = await BenchImap.connect(port)
    await imap.login(account(client_no % accounts), PASSWORD)
    counts["LOGIN"] += 1
    untagged, _ = await imap.command("SELECT INBOX")
    counts["SELECT"] += 1
    exists = 0
    for line in untagged:
        if match := _EXISTS.match(line):
            exists = int(match.group(1))
    await imap.command("UID FETCH 1:* (FLAGS)", check=False)
    counts["FETCH"] += 1
    if exists:
        first = max(1, exists - 19)
        await imap.command(f"FETCH {first}:{exists} (ENVELOPE)", check=False)
        counts["FETCH"] += 1
        for _ in range(3):
            await imap.command(f"FETCH {rng.randint(1, exists)} (BODY.PEEK[])", check=False)
            counts["FETCH"] += 1
        sign = rng.choice("+-")
        await imap.command(f"STORE {rng.randint(1, exists)} {sign}FLAGS (\\Flagged)", check=False)
        counts["STORE"] += 1
    if rng.random() < 0.5:
        await imap.command("SEARCH UNSEEN", check=False)
    else:
        await imap.command(f"SEARCH SUBJECT {rng.choice(SUBJECT_WORDS)}", check=False)
    counts["SEARCH"] += 1
    tagged = await imap.append("INBOX", rng.choice(messages))
    counts["APPEND"] += 1
    match = _APPENDUID.search(tagged)
    if match:
        uid = int(match.group(1))
        await imap.command(f"UID STORE {uid} +FLAGS.SILENT (\\Deleted)")
        counts["STORE"] += 1
        await imap.command(f"UID EXPUNGE {uid}")
        counts["EXPUNGE"] += 1
    await imap.command("LOGOUT", check=False)
    counts["LOGOUT"] += 1
    imap.close()


async def _clients(
    numbers: Sequence[int], ports: Sequence[int], accounts: int, seconds: float, seed: int
) -> tuple[Counter[str], int]:
    messages = corpus_messages(40)
    counts: Counter[str] = Counter()
    errors = 0
    deadline = time.monotonic() + seconds

    async def client(number: int) -> None:
        nonlocal errors
        rng = random.Random(seed * 100_003 + number)
        while time.monotonic() < deadline:
            try:
                await one_session(
                    number,
                    ports[number % len(ports)],
                    accounts=accounts,
                    rng=rng,
                    messages=messages,
                    counts=counts,
                )
            except (ImapError, OSError, asyncio.IncompleteReadError) as error:
                errors += 1
                if errors <= 3:
                    print(f"mixed client {number}: {error!r}", file=sys.stderr, flush=True)
                await asyncio.sleep(0.05)

    await asyncio.gather(*(client(n) for n in numbers))
    return counts, errors


async def _warm_logins(port: int, accounts: int) -> None:
    async def one(index: int) -> None:
        imap = await BenchImap.connect(port)
        await imap.login(account(index), PASSWORD)
        await imap.logout()

    await asyncio.gather(*(one(index) for index in range(accounts)))


def warm_logins(ports: Sequence[int], accounts: int, rounds: int = 1) -> None:
    """Log in to each of the first `accounts` accounts on every port, `rounds` times."""
    for _ in range(rounds):
        for port in ports:
            asyncio.run(_warm_logins(port, accounts))


def _process_main(
    numbers: list[int], ports: list[int], options: tuple[int, float, int], out: object
) -> None:
    accounts, seconds, seed = options
    counts, errors = asyncio.run(_clients(numbers, ports, accounts, seconds, seed))
    out.put((dict(counts), errors))  # type: ignore[attr-defined]


def run_mixed(
    server: Server,
    clients: int,
    seconds: float,
    *,
    accounts: int,
    seed: int = 1,
    processes: int = 2,
    ports: Sequence[int] = (),
    cpu: Callable[[], float] | None = None,
    extra_cpu: Mapping[str, Callable[[], float]] | None = None,
    warm_rounds: int = 1,
) -> dict[str, float]:
    """Run `clients` clients for `seconds`; {"ops/s", "cpu_ms_per_1000", per command ops/s,
    "errors"}.

    `ports` (default: the server's IMAP port) spreads the clients over several ports, client
    n on ports[n % len(ports)]; `cpu` (default: the server's process tree) gives the CPU
    seconds used so far; each of `extra_cpu` is reported as "NAME cpu_ms_per_1000".
    `warm_rounds` repeats the warm-up logins (several worker processes each cache a login
    only once a connection of that account reached them; 0: the caller warmed them)."""
    ports = list(ports) or [server.imap_port]
    probe = cpu or (lambda: cpu_seconds(server.pid))
    probes = {"cpu_ms_per_1000": probe}
    probes.update({f"{name} cpu_ms_per_1000": p for name, p in (extra_cpu or {}).items()})
    # One login per account first: Tidings keeps a strong hash (Argon2id) and remembers a
    # success for a while, while the bench's Dovecot has plain passwords; the measured part
    # is then steady state for both (the cold first login is in the IDLE set-up figures).
    warm_logins(ports, min(accounts, clients), warm_rounds)
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    groups = [list(range(start, clients, processes)) for start in range(min(processes, clients))]
    cpu_before = {key: read() for key, read in probes.items()}
    started = time.monotonic()
    workers = [
        context.Process(target=_process_main, args=(g, ports, (accounts, seconds, seed), out))
        for g in groups
    ]
    for worker in workers:
        worker.start()
    total: Counter[str] = Counter()
    errors = 0
    for _ in workers:
        counts, failed = out.get(timeout=seconds + 120)
        total.update(counts)
        errors += failed
    for worker in workers:
        worker.join(30)
    elapsed = time.monotonic() - started
    used = {key: read() - cpu_before[key] for key, read in probes.items()}
    operations = sum(total.values())
    result = {f"{name} ops/s": count / elapsed for name, count in sorted(total.items())}
    result["ops/s"] = operations / elapsed
    for key, seconds_used in used.items():
        result[key] = seconds_used * 1000 / operations * 1000 if operations else float("nan")
    result["errors"] = errors
    return result
