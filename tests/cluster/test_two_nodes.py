"""Two `tidings serve` nodes on one PostgreSQL database (issue 7, "scale out").

Everything goes over real sockets to two real server processes sharing one real database:
a change notice crossing nodes (IDLE on A, LMTP on B), UIDs and quotas under concurrent
APPEND and COPY on both nodes, a node killed mid-APPEND and a client resyncing on the
other node (RFC 7162 QRESYNC), and the database restarted under load.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import re
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from tests.cluster.cluster_support import (
    COMMAND_TIMEOUT,
    ConnectionLost,
    ImapClient,
    LmtpClient,
    Message,
    Node,
    compact_uid_set,
    make_message,
    parse_fetch,
    parse_fetches,
    response_code,
    server_side_pids,
    uid_set,
)
from tests.conftest import TEST_USER
from tests.support.postgres import PostgresServer

Nodes = tuple[Node, Node]


def run(coroutine: Awaitable[None], timeout: float) -> None:
    """Run one test's client side with an overall bound."""

    async def bounded() -> None:
        async with asyncio.timeout(timeout):
            await coroutine

    asyncio.run(bounded())


_EXISTS = re.compile(rb"^\* (\d+) EXISTS\r\n$")


@dataclass
class IdleWatch:
    """A client in IDLE and the time each `* n EXISTS` arrived."""

    client: ImapClient
    tag: bytes
    exists: dict[int, float]
    changed: asyncio.Event
    task: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, port: int, mailbox: str = "INBOX") -> tuple[IdleWatch, int]:
        """IDLE on `mailbox` of the node on `port`; the watch and the EXISTS at SELECT."""
        client = await ImapClient.connect(port)
        count = 0
        for response in await client.ok(f"SELECT {mailbox}"):
            found = _EXISTS.match(response.data)
            if found:
                count = int(found.group(1))
        tag = client.next_tag().encode()
        await client.send(tag + b" IDLE\r\n")
        continuation = await client.read_response()
        assert continuation.data.startswith(b"+"), continuation.data
        watch = cls(client, tag, {}, asyncio.Event())
        watch.task = asyncio.create_task(watch._read())
        return watch, count

    async def _read(self) -> None:
        while True:
            response = await self.client.read_response(seconds=3600)
            if response.data.startswith(self.tag + b" "):
                assert response.tagged_ok, response.data
                return
            found = _EXISTS.match(response.data)
            if found:
                self.exists.setdefault(int(found.group(1)), response.at)
                self.changed.set()

    async def seen(self, count: int, seconds: float) -> float:
        """When `* count EXISTS` (or a later count) arrived, waiting up to `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            arrived = [at for number, at in self.exists.items() if number >= count]
            if arrived:
                return min(arrived)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no * {count} EXISTS within {seconds} s")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)

    async def stop(self) -> None:
        assert self.task is not None
        await self.client.send(b"DONE\r\n")
        await asyncio.wait_for(self.task, COMMAND_TIMEOUT)
        await self.client.logout()


# --- 1. a notice crosses nodes ------------------------------------------------------------------


def test_idle_on_one_node_hears_lmtp_delivery_on_the_other(nodes: Nodes) -> None:
    """IDLE on A, LMTP on B: each `* n EXISTS` reaches A within 200 ms (median) of B's 250."""
    node_a, node_b = nodes
    latencies: list[float] = []

    async def scenario() -> None:
        watch, count = await IdleWatch.start(node_a.imap_port)
        lmtp = await LmtpClient.connect(node_b.lmtp_port)
        try:
            for number in range(1, 6):
                accepted = await lmtp.deliver(make_message(f"<idle-{number}@cluster.test>"))
                arrived = await watch.seen(count + number, seconds=10)
                latencies.append(arrived - accepted)
                await asyncio.sleep(0.3)  # each delivery on its own, not one coalesced notice
        finally:
            await lmtp.close()
        await watch.stop()

    run(scenario(), timeout=120)
    median = statistics.median(latencies)
    print(
        "IDLE notice latency A<-B (s, EXISTS arrival minus LMTP 250; negative: EXISTS first): "
        + ", ".join(f"{latency:+.4f}" for latency in latencies)
        + f"; median {median:+.4f}, max {max(latencies):+.4f}"
    )
    assert median <= 0.2, latencies
    assert max(latencies) <= 1.0, latencies


# --- 2. concurrent APPEND and COPY on both nodes --------------------------------------------


@dataclass(frozen=True)
class Appended:
    """One acknowledged APPEND: who sent it, when, and the UID it got."""

    connection: int
    message_id: str
    sent: float
    acknowledged: float
    uidvalidity: int
    uid: int


def check_commit_order(appends: list[Appended]) -> int:
    """Assert uid(X) < uid(Y) whenever X's OK arrived before Y's APPEND was sent; return how
    many such pairs there were."""
    by_ack = sorted(appends, key=lambda append: append.acknowledged)
    ack_times = [append.acknowledged for append in by_ack]
    prefix_max: list[Appended] = []
    for append in by_ack:
        best = prefix_max[-1] if prefix_max else append
        prefix_max.append(append if append.uid >= best.uid else best)
    pairs = 0
    for later in appends:
        earlier_count = bisect.bisect_left(ack_times, later.sent)
        if earlier_count:
            highest = prefix_max[earlier_count - 1]
            assert highest.uid < later.uid, (
                f"{highest.message_id} (UID {highest.uid}) was acknowledged before "
                f"{later.message_id} was sent, yet got UID {later.uid}"
            )
            pairs += earlier_count
    return pairs


async def select(client: ImapClient, mailbox: str) -> tuple[int, int | None]:
    """SELECT `mailbox`; its UIDVALIDITY and HIGHESTMODSEQ (None without CONDSTORE)."""
    uidvalidity, highest = None, None
    for response in await client.ok(f"SELECT {mailbox}"):
        uidvalidity = uidvalidity or response_code(response, "UIDVALIDITY")
        highest = highest or response_code(response, "HIGHESTMODSEQ")
    assert uidvalidity is not None
    return int(uidvalidity[0]), int(highest[0]) if highest else None


async def status_sizes(client: ImapClient) -> dict[str, tuple[int, int]]:
    """(MESSAGES, SIZE) of every mailbox of the account (RFC 8438 STATUS=SIZE)."""
    names = []
    for response in await client.ok('LIST "" "*"'):
        found = re.match(rb'^\* LIST \([^)]*\) (?:"[^"]*"|NIL) "?([^"\r\n]*)"?\r\n$', response.data)
        assert found, response.data
        names.append(found.group(1).decode())
    sizes = {}
    for name in names:
        (response,) = [
            r for r in await client.ok(f'STATUS "{name}" (MESSAGES SIZE)') if b"STATUS" in r.data
        ]
        messages = re.search(rb"MESSAGES (\d+)", response.data)
        size = re.search(rb"SIZE (\d+)", response.data)
        assert messages and size, response.data
        sizes[name] = (int(messages.group(1)), int(size.group(1)))
    return sizes


CONNECTIONS_PER_NODE = 10
APPENDS_PER_CONNECTION = 10
COPY_CHUNK = 20


async def append_from(index: int, client: ImapClient, appends: list[Appended]) -> None:
    """APPENDS_PER_CONNECTION appends to Concurrent, one after the other, recorded."""
    for number in range(APPENDS_PER_CONNECTION):
        message_id = f"<c{index}-{number}@cluster.test>"
        tagged, sent = await client.append("Concurrent", make_message(message_id, 300))
        assert tagged.tagged_ok, tagged.data
        code = response_code(tagged, "APPENDUID")
        assert code is not None, tagged.data
        appends.append(Appended(index, message_id, sent, tagged.at, int(code[0]), int(code[1])))


def check_appends(appends: list[Appended], connections: int) -> int:
    """UIDs unique, one UIDVALIDITY, increasing per connection and in commit order; the
    number of ordered pairs checked."""
    assert len({append.message_id for append in appends}) == len(appends)
    assert len(appends) == connections * APPENDS_PER_CONNECTION
    assert len({append.uidvalidity for append in appends}) == 1
    uids = [append.uid for append in appends]
    assert len(set(uids)) == len(uids), Counter(uids).most_common(3)
    for index in range(connections):
        own = [append.uid for append in appends if append.connection == index]
        assert own == sorted(own) and len(set(own)) == len(own), (index, own)
    return check_commit_order(appends)


async def copy_chunks(client: ImapClient, chunks: list[list[int]], copies: dict[int, int]) -> None:
    """UID COPY each chunk from Concurrent to Copies; record source -> destination UID from
    each COPYUID (RFC 4315 §3: the sets correspond in order)."""
    await select(client, "Concurrent")
    for chunk in chunks:
        tagged, _, _ = await client.command(f"UID COPY {compact_uid_set(chunk)} Copies")
        assert tagged.tagged_ok, tagged.data
        code = response_code(tagged, "COPYUID")
        assert code is not None, tagged.data
        sources, destinations = uid_set(code[1]), uid_set(code[2])
        assert sorted(sources) == sorted(chunk), (chunk, code)
        assert len(sources) == len(destinations), code
        for source, destination in zip(sources, destinations, strict=True):
            assert source not in copies, f"UID {source} copied twice"
            copies[source] = destination


async def check_copies(
    client: ImapClient, source_view: dict[int, Message], copies: dict[int, int]
) -> dict[int, Message]:
    """Copies holds exactly the COPYUID destinations, each with its source's Message-ID."""
    await select(client, "Copies")
    copied = await client.fetch_all()  # parse_fetches: no UID twice
    assert sorted(copied) == sorted(copies.values())
    for source, destination in copies.items():
        assert copied[destination].message_id == source_view[source].message_id
    return copied


async def check_quota(client: ImapClient, views: list[dict[int, Message]]) -> tuple[int, int]:
    """STATUS SIZE of each mailbox and the QUOTA usage (RFC 9208) against the messages in
    `views` (Concurrent, Copies; every other mailbox must be empty); (messages, octets)."""
    sizes = await status_sizes(client)
    for name, view in zip(("Concurrent", "Copies"), views, strict=True):
        assert sizes[name] == (len(view), sum(m.size or 0 for m in view.values())), name
    total_messages = sum(messages for messages, _ in sizes.values())
    total_octets = sum(octets for _, octets in sizes.values())
    assert total_messages == sum(len(view) for view in views), sizes
    quota = b"".join(r.data for r in await client.ok("GETQUOTAROOT INBOX"))
    storage = re.search(rb"STORAGE (\d+) \d+", quota)
    message_count = re.search(rb"MESSAGE (\d+) \d+", quota)
    assert storage and message_count, quota
    assert int(storage.group(1)) == -(-total_octets // 1024), (quota, total_octets)
    assert int(message_count.group(1)) == total_messages, quota
    return total_messages, total_octets


async def concurrent_appends_and_copies(node_a: Node, node_b: Node) -> tuple[int, int]:
    """The scenario of test 2; the account's (messages, octets) at the end."""
    setup = await ImapClient.connect(node_a.imap_port)
    await setup.ok("CREATE Concurrent")
    await setup.ok("CREATE Copies")
    ports = [node_a.imap_port] * CONNECTIONS_PER_NODE + [node_b.imap_port] * CONNECTIONS_PER_NODE
    clients = await asyncio.gather(*(ImapClient.connect(port) for port in ports))
    appends: list[Appended] = []
    started = time.monotonic()
    await asyncio.gather(*(append_from(i, c, appends) for i, c in enumerate(clients)))
    append_seconds = time.monotonic() - started
    pairs = check_appends(appends, len(clients))

    expected = {append.message_id: append.uid for append in appends}
    views = []
    for client in (clients[0], clients[-1]):  # one connection on each node
        assert (await select(client, "Concurrent"))[0] == appends[0].uidvalidity
        view = await client.fetch_all()
        ids = [message.message_id for message in view.values()]
        assert Counter(ids) == Counter(list(expected)), "a message missing or there twice"
        assert {message.message_id: uid for uid, message in view.items()} == expected
        views.append(view)

    ordered = sorted(views[0])
    chunks = [ordered[i : i + COPY_CHUNK] for i in range(0, len(ordered), COPY_CHUNK)]
    copies: dict[int, int] = {}  # source UID -> destination UID
    await asyncio.gather(
        copy_chunks(clients[1], chunks[0::2], copies),  # on A
        copy_chunks(clients[-2], chunks[1::2], copies),  # on B
    )
    assert sorted(copies) == ordered
    assert len(set(copies.values())) == len(copies), "a destination UID in two COPYUIDs"
    for client in (clients[1], clients[-2]):
        copied = await check_copies(client, views[0], copies)
        totals = await check_quota(client, [views[0], copied])
    print(
        f"{len(appends)} APPENDs from {len(clients)} connections in {append_seconds:.2f} s"
        f" ({len(appends) / append_seconds:.0f}/s), {pairs} ordered pairs checked; "
        f"{len(copies)} messages copied by 2 connections; quota {totals}"
    )
    for client in (setup, *clients):
        await client.logout()
    return totals


def test_concurrent_append_and_copy_on_both_nodes(nodes: Nodes) -> None:
    """20 connections (10 per node) APPEND to one mailbox at once: every message once, UIDs
    unique and in commit order, APPENDUID/COPYUID true, quota exact."""
    node_a, node_b = nodes
    node_a.cli("user", "quota", TEST_USER, "--storage", "1G", "--messages", "1000000")
    totals: list[tuple[int, int]] = []

    async def scenario() -> None:
        totals.append(await concurrent_appends_and_copies(node_a, node_b))

    run(scenario(), timeout=300)
    messages, octets = totals[0]
    listed = node_b.cli("user", "list")
    assert f"{TEST_USER} storage={octets}/1073741824 messages={messages}/" in listed, listed


# --- 3. a node killed mid-APPEND, the client resyncs on the other ---------------------------


BIG_LITERAL = 2 * 1024 * 1024


def apply_resync(
    known: dict[int, frozenset[str]], responses: list[bytes]
) -> tuple[dict[int, frozenset[str]], set[int], set[int]]:
    """Apply a QRESYNC SELECT's VANISHED (EARLIER) and FETCH responses to the saved
    UID -> flags; the new state, the UIDs vanished and the UIDs fetched."""
    state = dict(known)
    vanished: set[int] = set()
    fetched: set[int] = set()
    for data in responses:
        found = re.match(rb"^\* VANISHED \(EARLIER\) ([0-9:,]+)\r\n$", data)
        if found:
            vanished.update(uid_set(found.group(1).decode()))
            continue
        assert not data.startswith(b"* VANISHED"), data  # only EARLIER during SELECT
        assert not re.match(rb"^\* \d+ EXPUNGE", data), data  # QRESYNC: VANISHED instead
        message = parse_fetch(data)
        if message is not None:
            assert message.flags is not None, data
            fetched.add(message.uid)
            state[message.uid] = message.flags
    for uid in vanished:
        state.pop(uid, None)
    return state, vanished, fetched


def flags_of(view: dict[int, Message]) -> dict[int, frozenset[str]]:
    return {uid: message.flags or frozenset() for uid, message in view.items()}


@dataclass(frozen=True)
class SyncedState:
    """What a QRESYNC client keeps of a mailbox between sessions."""

    uidvalidity: int
    highestmodseq: int
    flags: dict[int, frozenset[str]]


async def append_acknowledged(
    client: ImapClient, number: int, acknowledged: dict[str, int], flags: str = ""
) -> None:
    """APPEND <kill-NUMBER@cluster.test> to INBOX, which must succeed; record its UID."""
    message_id = f"<kill-{number}@cluster.test>"
    tagged, _ = await client.append("INBOX", make_message(message_id), flags)
    code = response_code(tagged, "APPENDUID")
    assert tagged.tagged_ok and code, tagged.data
    acknowledged[message_id] = int(code[1])


async def sync_then_kill_mid_append(node_a: Node, acknowledged: dict[str, int]) -> SyncedState:
    """On A: appends, a client's sync, more appends and a flag change, then half of a big
    APPEND literal and SIGKILL of the process holding that connection."""
    writer = await ImapClient.connect(node_a.imap_port)
    await writer.ok("SELECT INBOX")
    for number in range(6):
        await append_acknowledged(writer, number, acknowledged, r"\Seen" if number % 2 else "")

    synced = await ImapClient.connect(node_a.imap_port)
    await synced.ok("ENABLE QRESYNC")
    uidvalidity, highest = await select(synced, "INBOX")
    assert highest is not None
    state = SyncedState(uidvalidity, highest, flags_of(await synced.fetch_all()))
    assert len(state.flags) == 6

    for number in range(6, 9):
        await append_acknowledged(writer, number, acknowledged)
    await writer.ok(f"UID STORE {acknowledged['<kill-0@cluster.test>']} +FLAGS (\\Answered)")
    big = make_message("<kill-big@cluster.test>", BIG_LITERAL)
    cut = await ImapClient.connect(node_a.imap_port)
    await cut.send(f"{cut.next_tag()} APPEND INBOX {{{len(big)}+}}\r\n".encode())
    await cut.send(big[: len(big) // 2])
    await asyncio.sleep(1.0)  # let A read what it can (a 2-core machine may be slow)
    holders = server_side_pids(node_a.imap_port, cut.local_port)
    assert holders == {node_a.pid}, (holders, node_a.pid)
    node_a.kill()
    with pytest.raises((ConnectionLost, TimeoutError)):
        await cut.read_response(seconds=10)
    for client in (writer, synced, cut):
        await client.close()
    return state


async def check_survivors(node_b: Node, state: SyncedState, acknowledged: dict[str, int]) -> int:
    """On B: every acknowledged message with its UID, nothing of the cut APPEND; the octets
    of the mailbox."""
    client = await ImapClient.connect(node_b.imap_port)
    assert (await select(client, "INBOX"))[0] == state.uidvalidity
    view = await client.fetch_all()
    await client.logout()
    assert {m.message_id: uid for uid, m in view.items()} == acknowledged
    assert all((m.size or 0) < BIG_LITERAL // 4 for m in view.values())
    return sum(m.size or 0 for m in view.values())


async def resync(node: Node, state: SyncedState, known_uids: bool) -> tuple[set[int], set[int]]:
    """Reconnect to `node`, SELECT with QRESYNC, apply what it reports to `state` and compare
    with a full `UID FETCH 1:* (FLAGS)`; the UIDs vanished and fetched.

    With known-uids the server reports changes to the known messages only (RFC 7162
    §3.2.5.1: "should only report flag changes and expunges for the specified messages"),
    so the client fetches the UIDs above the ones it knew, as QRESYNC clients do; without,
    the changes since the modseq alone (new messages included) bring it up to date."""
    client = await ImapClient.connect(node.imap_port)
    await client.ok("ENABLE QRESYNC")
    argument = f"{state.uidvalidity} {state.highestmodseq}"
    if known_uids:
        argument += f" {compact_uid_set(state.flags)}"
    tagged, untagged, _ = await client.command(f"SELECT INBOX (QRESYNC ({argument}))")
    assert tagged.tagged_ok, tagged.data
    resynced, vanished, fetched = apply_resync(state.flags, [r.data for r in untagged])
    if known_uids:
        last = max(state.flags)
        newer = flags_of(parse_fetches(await client.ok(f"UID FETCH {last + 1}:* (FLAGS)")))
        resynced.update({uid: flags for uid, flags in newer.items() if uid > last})
    fresh = flags_of(await client.fetch_all())
    await client.logout()
    print(
        f"QRESYNC on B after A's death (known-uids: {known_uids}): vanished "
        f"{sorted(vanished)}, fetched {sorted(fetched)}; {len(fresh)} messages"
    )
    assert resynced == fresh
    return vanished, fetched


def test_node_killed_mid_append_then_qresync_on_the_other(nodes: Nodes) -> None:
    """SIGKILL node A in the middle of a 2 MB APPEND literal: node B shows every
    acknowledged message and no partial one, and a client that had synced on A is brought
    exactly up to date by a QRESYNC SELECT on B."""
    node_a, node_b = nodes
    acknowledged: dict[str, int] = {}
    flagged, expunged = 2, 3  # <kill-1@...> and <kill-2@...>, known to the synced client

    async def scenario() -> None:
        state = await sync_then_kill_mid_append(node_a, acknowledged)
        assert acknowledged["<kill-1@cluster.test>"] == flagged
        assert acknowledged["<kill-2@cluster.test>"] == expunged
        octets = await check_survivors(node_b, state, acknowledged)
        listed = await asyncio.to_thread(node_b.cli, "user", "list")  # quota: no partial one
        assert f"{TEST_USER} storage={octets}/" in listed, (listed, octets)

        # On B, before the client comes back: a flag change and an expunge.
        other = await ImapClient.connect(node_b.imap_port)
        await other.ok("SELECT INBOX")
        await other.ok(f"UID STORE {flagged} +FLAGS (\\Flagged)")
        await other.ok(f"UID STORE {expunged} +FLAGS (\\Deleted)")
        await other.ok("EXPUNGE")
        await other.logout()

        for known_uids in (True, False):
            vanished, fetched = await resync(node_b, state, known_uids)
            assert vanished == {expunged}
            assert {1, flagged} <= fetched  # \Answered on A, \Flagged on B

    run(scenario(), timeout=180)


# --- 4. the database restarts under load ----------------------------------------------------


LOAD_SECONDS = 15.0
RESTART_AFTER = 5.0


@dataclass
class LoadLog:
    """What the load produced: each APPEND's outcome by Message-ID ("sent" while it has no
    answer, then "ok" or "no"), the acknowledged UIDs, and counters."""

    outcomes: dict[str, str] = field(default_factory=dict)
    uids: dict[str, int] = field(default_factory=dict)
    restarted: float | None = None  # when `pg_ctl restart` returned
    acknowledged_after_restart: int = 0
    fetches: int = 0
    refusals: list[bytes] = field(default_factory=list)  # tagged NO of any command
    reconnects: int = 0


async def keep_connected(
    port: int, log: LoadLog, deadline: float, body: Callable[[ImapClient], Awaitable[None]]
) -> None:
    """Run `body` on a connection to `port` until `deadline`, reconnecting (bounded) when
    the connection is lost or a command times out."""
    for _ in range(50):
        if time.monotonic() >= deadline:
            return
        try:
            client = await ImapClient.connect(port)
        except (ConnectionLost, OSError, TimeoutError, AssertionError):
            log.reconnects += 1
            await asyncio.sleep(0.5)
            continue
        try:
            await body(client)
            await client.logout()
            return
        except (ConnectionLost, TimeoutError):
            log.reconnects += 1
            await client.close()
            await asyncio.sleep(0.2)


async def load_appends(client: ImapClient, name: str, deadline: float, log: LoadLog) -> None:
    """APPEND to Load one after the other until `deadline`, logging each outcome."""
    for number in range(5000):
        if time.monotonic() >= deadline:
            return
        message_id = f"<load-{name}-{number}-{time.monotonic_ns()}@cluster.test>"
        log.outcomes[message_id] = "sent"  # stays so if the connection is lost
        tagged, _ = await client.append("Load", make_message(message_id))
        if tagged.tagged_ok:
            code = response_code(tagged, "APPENDUID")
            assert code is not None, tagged.data
            log.outcomes[message_id] = "ok"
            log.uids[message_id] = int(code[1])
            if log.restarted is not None and tagged.at > log.restarted:
                log.acknowledged_after_restart += 1
        else:
            assert tagged.data.split()[1] == b"NO", tagged.data
            log.outcomes[message_id] = "no"
            log.refusals.append(tagged.data)


async def load_fetches(client: ImapClient, deadline: float, log: LoadLog) -> None:
    """SELECT Load and FETCH all of it again and again until `deadline`."""
    selected = False
    for _ in range(5000):
        if time.monotonic() >= deadline:
            return
        command = "UID FETCH 1:* (FLAGS)" if selected else "SELECT Load"
        tagged, _, _ = await client.command(command)
        log.fetches += selected
        selected = selected or tagged.tagged_ok
        if not tagged.tagged_ok:
            log.refusals.append(tagged.data)
            await asyncio.sleep(0.1)


async def restart_database(postgres_server: PostgresServer, start: float, log: LoadLog) -> None:
    await asyncio.sleep(RESTART_AFTER)
    began = time.monotonic()
    await asyncio.to_thread(postgres_server.restart)
    log.restarted = time.monotonic()
    print(f"pg_ctl restart at +{began - start:.1f} s took {log.restarted - began:.1f} s")


async def check_after_load(nodes: Nodes, log: LoadLog) -> None:
    """Both nodes show the same Load; every acknowledged APPEND once, nothing twice."""
    views = []
    for node in nodes:
        client = await ImapClient.connect(node.imap_port)
        await select(client, "Load")
        views.append(await client.fetch_all())
        await client.logout()
    # \Recent goes to the first session that sees a message: compare the rest.
    contents = [{u: (m.message_id, m.size) for u, m in view.items()} for view in views]
    assert contents[0] == contents[1]
    present = Counter(message.message_id for message in views[0].values())
    twice = {
        mid: (
            log.outcomes.get(mid),
            log.uids.get(mid),
            [u for u, m in views[0].items() if m.message_id == mid],
        )
        for mid, count in present.items()
        if count > 1
    }
    assert not twice, f"present twice (outcome, APPENDUID, UIDs): {twice}"
    for message_id, uid in log.uids.items():
        assert present[message_id] == 1, f"acknowledged {message_id} is missing"
        assert views[0][uid].message_id == message_id
    assert set(present) <= set(log.outcomes)
    counts = Counter(log.outcomes.values())
    unacknowledged_present = sum(1 for m in present if log.outcomes[m] != "ok")
    print(
        f"load: {counts['ok']} APPENDs acknowledged ({log.acknowledged_after_restart} after "
        f"the restart), {counts['no']} NO, {counts['sent']} unanswered (connection lost), "
        f"{unacknowledged_present} of the unacknowledged present; {log.fetches} FETCHes; "
        f"{log.reconnects} reconnects; refusals: {log.refusals[:5]}"
    )


async def idle_hears_other_node(node_a: Node, node_b: Node, deliveries: int) -> list[float]:
    """IDLE on A, deliveries by LMTP on B; each EXISTS must come within 5 s. Latencies."""
    watch, count = await IdleWatch.start(node_a.imap_port)
    lmtp = await LmtpClient.connect(node_b.lmtp_port)
    latencies = []
    try:
        for number in range(1, deliveries + 1):
            accepted = await lmtp.deliver(make_message(f"<after-{number}@cluster.test>"))
            latencies.append(await watch.seen(count + number, seconds=5) - accepted)
            await asyncio.sleep(0.3)
    finally:
        await lmtp.close()
    await watch.stop()
    return latencies


@pytest.mark.slow  # LOAD_SECONDS of load, then the checks: 25 s to a minute
def test_database_restart_under_load(nodes: Nodes, postgres_server: PostgresServer) -> None:
    """`pg_ctl restart -m fast` while both nodes APPEND and FETCH: the nodes live on, every
    acknowledged APPEND is there once, and cross-node IDLE works again afterwards."""
    node_a, node_b = nodes
    pids = (node_a.pid, node_b.pid)
    log = LoadLog()

    async def scenario() -> None:
        setup = await ImapClient.connect(node_a.imap_port)
        await setup.ok("CREATE Load")
        await setup.logout()
        start = time.monotonic()
        deadline = start + LOAD_SECONDS
        workers = [restart_database(postgres_server, start, log)]
        for node in nodes:
            for index in range(2):
                name = f"{node.name}-{index}"
                workers.append(
                    keep_connected(
                        node.imap_port,
                        log,
                        deadline,
                        lambda client, name=name: load_appends(client, name, deadline, log),
                    )
                )
            workers.append(
                keep_connected(
                    node.imap_port, log, deadline, lambda c: load_fetches(c, deadline, log)
                )
            )
        await asyncio.gather(*workers)
        assert log.restarted is not None, "the database was not restarted"

        assert (node_a.pid, node_b.pid) == pids and node_a.alive() and node_b.alive()
        await check_after_load(nodes, log)
        assert log.acknowledged_after_restart > 0, "the load did not go on after the restart"
        latencies = await idle_hears_other_node(node_a, node_b, deliveries=2)
        print("IDLE latency after the restart (s): " + ", ".join(f"{x:+.4f}" for x in latencies))

    run(scenario(), timeout=LOAD_SECONDS + 240)
