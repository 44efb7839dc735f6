"""The notify relay over real loopback UDP: forwarding, no echo, tokens, the registry."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tidings.notify.api import ChangeNotice
from tidings.notify.hub import NotificationHub, Subscription
from tidings.notify.registry import PeerRegistry, registry_dir
from tidings.notify.relay import NotifyRelay
from tidings.notify.wire import decode, encode_batches

WAIT = 2.0  # seconds a notice may take on loopback before the test fails


async def next_notices(subscription: Subscription) -> list[ChangeNotice]:
    await asyncio.wait_for(subscription.wait(), WAIT)
    return subscription.drain()


async def nothing_more(subscription: Subscription, settle: float = 0.05) -> bool:
    await asyncio.sleep(settle)
    return not subscription.has_pending


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_notices_cross_between_relays_without_echo(tmp_path: Path) -> None:
    async def scenario() -> None:
        server_hub, worker_hub, cli_hub = NotificationHub(), NotificationHub(), NotificationHub()
        server = await NotifyRelay.start(server_hub, tmp_path, listen=True)
        worker = await NotifyRelay.start(worker_hub, tmp_path, listen=True)
        cli = await NotifyRelay.start(cli_hub, tmp_path, listen=False)
        at_server, at_worker = server_hub.subscribe("a@x"), worker_hub.subscribe("A@X")
        try:
            cli_hub.publish(ChangeNotice("a@x", 3, 7))
            assert await next_notices(at_server) == [ChangeNotice("a@x", 3, 7)]
            assert await next_notices(at_worker) == [ChangeNotice("a@x", 3, 7)]
            # A notice committed by the server reaches the worker once, and never returns.
            server_hub.publish(ChangeNotice("a@x", None, 0))
            assert await next_notices(at_server) == [ChangeNotice("a@x", None, 0)]
            assert await next_notices(at_worker) == [ChangeNotice("a@x", None, 0)]
            assert await nothing_more(at_server)
            assert await nothing_more(at_worker)
        finally:
            at_server.close()
            at_worker.close()
            for relay in (cli, worker, server):
                await relay.close()
        assert os.listdir(registry_dir(tmp_path)) == []

    asyncio.run(scenario())


def test_a_burst_is_coalesced_and_split_into_small_datagrams(tmp_path: Path) -> None:
    async def scenario() -> None:
        receiver_hub, sender_hub = NotificationHub(max_pending=10_000), NotificationHub()
        receiver = await NotifyRelay.start(receiver_hub, tmp_path, listen=True)
        sender = await NotifyRelay.start(sender_hub, tmp_path, listen=False, max_datagram_bytes=512)
        subscription = receiver_hub.subscribe("a@x")
        try:
            for modseq in range(1, 4):  # same mailbox three times: one notice, the newest
                sender_hub.publish(ChangeNotice("a@x", 1, modseq))
            for mailbox in range(2, 302):
                sender_hub.publish(ChangeNotice("a@x", mailbox, 1))
            await sender.close()
            received: dict[int | None, int] = {}
            while len(received) < 301:
                for notice in await next_notices(subscription):
                    received[notice.mailbox_id] = notice.modseq
            assert received[1] == 3
        finally:
            subscription.close()
            await receiver.close()

    asyncio.run(scenario())


def test_datagrams_without_the_token_or_malformed_are_ignored(tmp_path: Path) -> None:
    async def scenario() -> None:
        hub = NotificationHub()
        relay = await NotifyRelay.start(hub, tmp_path, listen=True)
        subscription = hub.subscribe("a@x")
        try:
            assert relay.port is not None
            good = encode_batches([ChangeNotice("a@x", 1, 2)], "wrong-token", 8192)[0]
            bad = [good, b"\xff\xfe", b"[]", b'{"v": 2}', b"x" * 9000]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                for datagram in bad:
                    probe.sendto(datagram, ("127.0.0.1", relay.port))
            assert await nothing_more(subscription, settle=0.2)
        finally:
            subscription.close()
            await relay.close()

    asyncio.run(scenario())


def test_wire_round_trip_and_validation() -> None:
    notices = [ChangeNotice("ü@x", None, 0), ChangeNotice("a@x", 5, 2**40)]
    (datagram,) = encode_batches(notices, "t0k", 8192)
    assert decode(datagram, "t0k") == notices
    with pytest.raises(ValueError, match="wrong token"):
        decode(datagram, "other")
    for item in ('["a", 1]', '["", 1, 1]', '["a", -1, 1]', '["a", true, 1]', '["a", 1, "1"]'):
        text = '{"v": 1, "token": "t", "notices": [' + item + "]}"
        with pytest.raises(ValueError, match="bad"):
            decode(text.encode(), "t")
    one_each = encode_batches(notices, "t", 10)  # too small for two: one per datagram
    assert [decode(d, "t") for d in one_each] == [[notices[0]], [notices[1]]]


def test_registry_files_are_private_and_stale_entries_are_removed(tmp_path: Path) -> None:
    directory = registry_dir(tmp_path)
    mine, other = PeerRegistry(directory), PeerRegistry(directory)
    mine.register(40000, "secret")
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / mine.name).stat().st_mode) == 0o600
    assert json.loads((directory / mine.name).read_text()) == {"port": 40000, "token": "secret"}
    stale = directory / f"{dead_pid()}-0000"
    stale.write_text('{"port": 40001, "token": "old"}')
    (directory / "garbage").write_text("not a registration")
    (directory / f"{os.getpid()}-broken").write_text("{")
    assert [peer.port for peer in other.peers()] == [40000]
    assert not stale.exists()
    assert mine.peers() == []  # itself excluded
    mine.unregister()
    assert other.peers() == []


def test_a_registration_made_just_after_a_listing_is_seen(tmp_path: Path) -> None:
    directory = registry_dir(tmp_path)
    reader = PeerRegistry(directory)
    first = PeerRegistry(directory)
    first.register(40000, "a")
    assert len(reader.peers()) == 1
    second = PeerRegistry(directory)
    second.register(40001, "b")  # probably within the same mtime tick as the listing
    assert sorted(peer.port for peer in reader.peers()) == [40000, 40001]


def test_a_missing_registry_means_no_peers(tmp_path: Path) -> None:
    assert PeerRegistry(tmp_path / "nowhere").peers() == []
