"""A QRESYNC client that goes offline and comes back (RFC 7162 §3.2.5, §6), over real sockets.

Client A keeps only UIDVALIDITY, HIGHESTMODSEQ and each UID's flags. While it is away,
client B (imapclient, an independent implementation) appends, changes flags, expunges and
moves. A comes back with SELECT (QRESYNC ...), applies exactly what the server sent (plus
the RFC §6 step of fetching UIDs above the ones it knew) and must then hold the server's
state, compared with a fresh full FETCH. The same with the change log pruned under A
(`prune_change_log(0)`, and `[imap] vanished_retention_days = 0` in a real `tidings serve`).
"""

from __future__ import annotations

import random
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import imapclient
import pytest
from tests.conftest import TEST_PASSWORD, TEST_USER, TidingsServer
from tests.imap.harness import PASSWORD, USER, InProcessServer, LineClient
from tests.imap.rfc7162_helpers import fill

from tidings.core.seqset import SequenceSet

_FETCH = re.compile(r"\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\)(?: MODSEQ \((\d+)\))?\)")
_CODE = re.compile(r"\* OK \[(UIDVALIDITY|HIGHESTMODSEQ) (\d+)\]")
_VANISHED = re.compile(r"\* VANISHED \(EARLIER\) ([0-9:,]+)")
ROUNDS = 4


@dataclass
class OfflineCache:
    """What client A keeps between sessions."""

    uidvalidity: int = 0
    modseq: int = 0
    flags: dict[int, frozenset[str]] = field(default_factory=dict)


def _uids(text: str) -> set[int]:
    numbers: set[int] = set()
    for low, high in SequenceSet.parse(text).resolve(0):
        numbers.update(range(low, high + 1))
    return numbers


def _flags(text: str) -> frozenset[str]:
    return frozenset(flag for flag in text.split() if flag != "\\Recent")


def resync(port: int, cache: OfflineCache, user: str = USER, password: str = PASSWORD) -> int:
    """Bring `cache` up to date with SELECT (QRESYNC ...) and the new-UID fetch; return
    how many untagged responses the server needed."""
    client = LineClient(port)
    try:
        assert client.command("r1", f'LOGIN {user} "{password}"')[-1].startswith("r1 OK")
        assert client.command("r2", "ENABLE QRESYNC")[0] == "* ENABLED QRESYNC"
        known = f" {SequenceSet.of(cache.flags)}" if cache.flags else ""
        reply = client.command(
            "r3", f"SELECT INBOX (QRESYNC ({cache.uidvalidity} {cache.modseq}{known}))"
        )
        assert reply[-1].startswith("r3 OK"), reply
        for line in reply:
            if code := _CODE.match(line):
                if code[1] == "UIDVALIDITY":
                    assert int(code[2]) == cache.uidvalidity, "UIDVALIDITY changed"
                else:
                    cache.modseq = int(code[2])
            elif vanished := _VANISHED.match(line):
                for uid in _uids(vanished[1]):
                    cache.flags.pop(uid, None)
            elif fetch := _FETCH.match(line):
                uid = int(fetch[1])
                assert uid in cache.flags, f"FETCH of a UID the client did not name: {line}"
                cache.flags[uid] = _flags(fetch[2])
                assert fetch[3] is not None and int(fetch[3]) <= cache.modseq
        # RFC 7162 §6: the messages above the last UID the client knew.
        above = max(cache.flags, default=0) + 1
        for line in client.command("r4", f"UID FETCH {above}:* (FLAGS)")[:-1]:
            fetch = _FETCH.match(line)
            assert fetch, line
            if int(fetch[1]) >= above:
                cache.flags[int(fetch[1])] = _flags(fetch[2])
        client.command("r5", "LOGOUT")
        return len(reply) + 1
    finally:
        client.close()


def server_state(port: int, user: str = USER, password: str = PASSWORD) -> OfflineCache:
    """The truth: a fresh connection's EXAMINE (CONDSTORE) and UID FETCH 1:* (FLAGS)."""
    client = LineClient(port)
    try:
        client.command("s1", f'LOGIN {user} "{password}"')
        state = OfflineCache()
        for line in client.command("s2", "EXAMINE INBOX (CONDSTORE)"):
            if code := _CODE.match(line):
                if code[1] == "UIDVALIDITY":
                    state.uidvalidity = int(code[2])
                else:
                    state.modseq = int(code[2])
        for line in client.command("s3", "UID FETCH 1:* (FLAGS)")[:-1]:
            fetch = _FETCH.match(line)
            assert fetch, line
            state.flags[int(fetch[1])] = _flags(fetch[2])
        return state
    finally:
        client.close()


def other_client_changes(
    port: int, rng: random.Random, user: str = USER, password: str = PASSWORD
) -> None:
    """Client B (imapclient): appends, flag changes, expunges and a move."""
    b = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False, timeout=10)
    try:
        b.login(user, password)
        b.select_folder("INBOX")
        for index in range(rng.randint(1, 4)):
            b.append("INBOX", f"Subject: new {index}\r\n\r\nx\r\n".encode(), flags=[b"$New"])
        uids = b.search(["ALL"])
        for flag in (b"\\Seen", b"\\Flagged", b"$Work"):
            b.add_flags(rng.sample(uids, min(len(uids), rng.randint(0, 4))), [flag])
        b.remove_flags(rng.sample(uids, min(len(uids), 2)), [b"$New"])
        doomed = rng.sample(uids, min(len(uids), rng.randint(1, 3)))
        b.add_flags(doomed, [b"\\Deleted"])
        b.expunge()
        remaining = b.search(["ALL"])
        if remaining:
            b.move(rng.sample(remaining, 1), "Archive")
    finally:
        b.logout()


def _start_cache(port: int, user: str = USER, password: str = PASSWORD) -> OfflineCache:
    return server_state(port, user, password)


@pytest.mark.parametrize("pruned", [False, True], ids=["with-history", "pruned-history"])
def test_offline_client_resyncs_exactly(imap_server: InProcessServer, pruned: bool) -> None:
    """Several offline rounds: after each, A's cache equals the server's state exactly."""
    fill(imap_server, 12)
    cache = _start_cache(imap_server.port)
    assert len(cache.flags) == 12
    rng = random.Random(7162)
    assert imap_server.context is not None
    backend = imap_server.context.backend
    for _ in range(ROUNDS):
        other_client_changes(imap_server.port, rng)
        if pruned:
            assert imap_server.run_in_server(backend.prune_change_log(0)) > 0  # type: ignore[attr-defined]
        resync(imap_server.port, cache)
        truth = server_state(imap_server.port)
        assert cache == truth


def test_resync_is_cheap_when_nothing_changed(imap_server: InProcessServer) -> None:
    """A client that is up to date hears nothing but the SELECT data."""
    fill(imap_server, 5)
    cache = _start_cache(imap_server.port)
    count = resync(imap_server.port, cache)
    assert count <= 12  # the SELECT lines and the tagged OK, no FETCH or VANISHED
    assert cache == server_state(imap_server.port)


def test_real_server_with_zero_retention(server: TidingsServer, tmp_path: Path) -> None:
    """`tidings serve` with `[imap] vanished_retention_days = 0`: every expunge prunes the
    log, so A always comes back below the floor, and still ends exact."""
    config = tmp_path / "tidings.toml"
    config.write_text("[imap]\nvanished_retention_days = 0\n")
    server.stop()
    server.start("--config", str(config))
    b = imapclient.IMAPClient("127.0.0.1", port=server.imap_port, ssl=False, timeout=10)
    b.login(TEST_USER, TEST_PASSWORD)
    for index in range(8):
        b.append("INBOX", f"Subject: {index}\r\n\r\nx\r\n".encode())
    b.logout()
    cache = _start_cache(server.imap_port, TEST_USER, TEST_PASSWORD)
    rng = random.Random(5162)
    for _ in range(2):
        other_client_changes(server.imap_port, rng, TEST_USER, TEST_PASSWORD)
        resync(server.imap_port, cache, TEST_USER, TEST_PASSWORD)
        assert cache == server_state(server.imap_port, TEST_USER, TEST_PASSWORD)
    with sqlite3.connect(f"file:{server.data_dir / 'mail.db'}?mode=ro", uri=True) as db:
        (floor,) = db.execute("SELECT max(vanished_floor) FROM mailboxes").fetchone()
    assert floor > 0  # the log was pruned: A came back below the floor
