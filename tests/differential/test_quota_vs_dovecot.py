"""Differential test: QUOTA (RFC 9208) and OVERQUOTA, Tidings against Dovecot 2.3.

The private Dovecot gets its `count` quota backend (the one that counts messages as they are,
\\Deleted ones included, like Tidings) with a root named "" and the same limits as Tidings:
3000 octets and 4 messages for alice; bob has none. The same command script runs on both
servers; every reply must match, except the differences DEVIATIONS.md lists under "QUOTA",
which the tests assert explicitly (so a note that goes stale fails).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import SECOND_USER, TidingsServer, make_server
from tests.differential.raw_imap import Literal, ProtocolError, RawImap, Reply
from tests.support.dovecot import DOVECOT_BINARY, DovecotServer, skip_requested, start_dovecot

from tidings.storage.sqlite import SqliteBackend

pytestmark = pytest.mark.dovecot

STORAGE_LIMIT = 3000  # octets; Dovecot's rule says 3000B
MESSAGE_LIMIT = 4

QUOTA_CONFIG = f"""
# Added by tests/differential/test_quota_vs_dovecot.py: quotas as Tidings counts them.
mail_plugins = $mail_plugins quota
protocol imap {{
  mail_plugins = $mail_plugins imap_quota
}}
plugin {{
  quota = count
  quota_rule = *:storage={STORAGE_LIMIT}B:messages={MESSAGE_LIMIT}
  quota_vsizes = yes
}}
"""
# Dovecot ends every tagged text with its timing, " (0.001 + 0.000 secs).", dropping the
# text's own final period if it had one; so the texts are compared without either.
_TIMING = re.compile(rb"( \([0-9.]+ (\+ [0-9.]+ )*secs\))?\.?(?=\r\n$)")


def _with_quota(server: DovecotServer) -> DovecotServer:
    """Switch the running Dovecot to quotas: bob unlimited through his userdb fields, the
    config for everyone else, then `dovecot reload` and wait until logins see QUOTA."""
    users = server.base_dir / "users"
    lines = users.read_text().splitlines()
    users.write_text(
        "".join(
            line + (":userdb_quota_rule=*:storage=0" if line.startswith(SECOND_USER) else "") + "\n"
            for line in lines
        )
    )
    server.config_path.write_text(server.config_path.read_text() + QUOTA_CONFIG)
    subprocess.run(
        [str(DOVECOT_BINARY), "-c", str(server.config_path), "reload"],
        capture_output=True,
        timeout=30,
        check=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        # While the master restarts its children, a connection may be dropped: try again.
        with (
            contextlib.suppress(OSError, ProtocolError),
            RawImap(server.host, server.imap_port) as client,
        ):
            client.login(server.user, server.password)
            if b" QUOTA" in client.command(b"CAPABILITY").untagged[0]:
                return server
        time.sleep(0.1)
    raise RuntimeError(f"Dovecot did not enable its quota plugin:\n{server.log_text()}")


@pytest.fixture(scope="module")
def quota_dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    """A private Dovecot with the count quota backend."""
    if skip_requested():
        pytest.skip("TIDINGS_SKIP_DOVECOT=1: differential tests against Dovecot skipped")
    server = start_dovecot(tmp_path_factory.mktemp("dovecot-quota"))
    try:
        yield _with_quota(server)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def quota_tidings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TidingsServer]:
    """A `tidings serve` with the same limits for alice (set as `tidings user quota` does)."""
    server = make_server(tmp_path_factory.mktemp("tidings-quota-diff"))

    async def set_limits() -> None:
        backend = await SqliteBackend.open(server.data_dir / "mail.db")
        try:
            await backend.set_quota(server.user, STORAGE_LIMIT, MESSAGE_LIMIT)
        finally:
            await backend.close()

    asyncio.run(set_limits())
    server.start()
    yield server
    server.stop()


def sized(subject: str, total: int) -> bytes:
    """A CRLF message of exactly `total` octets (Dovecot's vsize is then its size too)."""
    head = f"Subject: {subject}\r\n\r\n".encode()
    return head + b"x" * (total - len(head) - 2) + b"\r\n"


def tagged_text(reply: Reply) -> bytes:
    """The tagged reply without its tag, Dovecot's timing and a final period."""
    return _TIMING.sub(b"", reply.tagged).rstrip(b"\r\n").split(b" ", 1)[1]


def appenduid_free(reply: Reply) -> bytes:
    """The tagged text with APPENDUID/COPYUID values (UIDVALIDITY differs) taken out."""
    return re.sub(rb"\[(APPENDUID|COPYUID) [^\]]*\] ", b"", tagged_text(reply))


# One step: what to send, and how to compare the two replies.
EXACT = "exact"  # same untagged responses, same tagged text (timing and UIDs aside)
STATUS = "status"  # same OK/NO/BAD and response code only
SCRIPT: list[tuple[str, tuple[bytes | Literal, ...], str]] = [
    ("root of INBOX", (b"GETQUOTAROOT INBOX",), EXACT),
    ("root, empty", (b'GETQUOTA ""',), EXACT),
    ("append 1000", (b"APPEND INBOX ", Literal(sized("one", 1000))), EXACT),
    ("append 1500", (b"APPEND Sent ", Literal(sized("two", 1500))), EXACT),
    ("usage 2500", (b'GETQUOTA ""',), EXACT),
    ("append over storage", (b"APPEND INBOX ", Literal(sized("three", 600))), EXACT),
    ("append to 2900", (b"APPEND INBOX ", Literal(sized("four", 400))), EXACT),
    ("append to 4 msgs", (b"APPEND Drafts ", Literal(sized("five", 30))), EXACT),
    ("usage full", (b"GETQUOTAROOT Drafts",), EXACT),
    ("append over count", (b"APPEND INBOX ", Literal(sized("six", 20))), EXACT),
    ("select", (b"SELECT INBOX",), STATUS),
    ("copy over quota", (b"COPY 1 Archive",), EXACT),
    ("nothing copied", (b"STATUS Archive (MESSAGES)",), EXACT),
    ("move at limit", (b"UID MOVE 1 Archive",), STATUS),
    ("usage after move", (b'GETQUOTA ""',), EXACT),
    ("flag deleted", (b"STORE 1 +FLAGS.SILENT (\\Deleted)",), EXACT),
    ("deleted still count", (b'GETQUOTA ""',), EXACT),
    ("expunge", (b"EXPUNGE",), STATUS),
    ("usage after expunge", (b'GETQUOTA ""',), EXACT),
    ("append after expunge", (b"APPEND INBOX ", Literal(sized("seven", 20))), EXACT),
    ("mailbox to be", (b'GETQUOTAROOT "Not/Yet"',), EXACT),
    ("unknown root", (b'GETQUOTA "User quota"',), "no"),
    ("setquota", (b'SETQUOTA "" (STORAGE 99999)',), "no"),
]


def run_script(host: str, port: int, user: str, password: str) -> list[Reply]:
    with RawImap(host, port) as client:
        client.login(user, password)
        return [client.command(*parts) for _, parts, _ in SCRIPT]


def test_quota_replies_match_dovecot(
    quota_dovecot: DovecotServer, quota_tidings: TidingsServer
) -> None:
    ours = run_script(
        quota_tidings.host, quota_tidings.imap_port, quota_tidings.user, quota_tidings.password
    )
    theirs = run_script(
        quota_dovecot.host, quota_dovecot.imap_port, quota_dovecot.user, quota_dovecot.password
    )
    differences = []
    for (name, _, mode), mine, reference in zip(SCRIPT, ours, theirs, strict=True):
        if mode == EXACT:
            same = (mine.untagged, appenduid_free(mine)) == (
                reference.untagged,
                appenduid_free(reference),
            )
        elif mode == STATUS:
            same = mine.status == reference.status
        else:  # both refuse; the response code is a QUOTA deviation (Q3), checked below
            same = mine.status.startswith(b"NO") and reference.status == b"NO"
        if not same:
            differences.append(f"{name}:\n  tidings {mine}\n  dovecot {reference}")
    assert not differences, "\n".join(differences)
    # The script did hit both limits, on both servers.
    assert tagged_text(ours[5]) == b"NO [OVERQUOTA] Quota exceeded (mailbox for user is full)"
    assert tagged_text(ours[9]).startswith(b"NO [OVERQUOTA]")
    assert ours[4].untagged == [b'* QUOTA "" (STORAGE 3 3 MESSAGE 2 4)\r\n']


def test_deviation_q1_capabilities_name_the_resources(
    quota_dovecot: DovecotServer, quota_tidings: TidingsServer
) -> None:
    """DEVIATIONS.md Q1: Dovecot 2.3 advertises RFC 2087's bare QUOTA."""
    capabilities = {}
    for name, server in (("tidings", quota_tidings), ("dovecot", quota_dovecot)):
        with RawImap(server.host, server.imap_port) as client:
            client.login(server.user, server.password)
            capabilities[name] = set(client.command(b"CAPABILITY").untagged[0].split())
    assert b"QUOTA" in capabilities["dovecot"] and b"QUOTA" in capabilities["tidings"]
    resources = {b"QUOTA=RES-STORAGE", b"QUOTA=RES-MESSAGE"}
    assert resources <= capabilities["tidings"]
    assert not resources & capabilities["dovecot"]
    assert b"QUOTASET" not in capabilities["tidings"] | capabilities["dovecot"]


def test_deviation_q2_unlimited_account(
    quota_dovecot: DovecotServer, quota_tidings: TidingsServer
) -> None:
    """DEVIATIONS.md Q2: with no limits Dovecot sends no QUOTAROOT and an empty OK to
    GETQUOTA; Tidings lists no root and says the root does not exist."""
    replies = {}
    for name, server, password in (
        ("tidings", quota_tidings, "bob's password"),
        ("dovecot", quota_dovecot, "bob's password"),
    ):
        with RawImap(server.host, server.imap_port) as client:
            client.login(SECOND_USER, password)
            replies[name] = (
                client.command(b"GETQUOTAROOT INBOX"),
                client.command(b'GETQUOTA ""'),
            )
    (dovecot_root, dovecot_quota) = replies["dovecot"]
    (tidings_root, tidings_quota) = replies["tidings"]
    assert (dovecot_root.untagged, dovecot_root.status) == ([], b"OK")
    assert (dovecot_quota.untagged, dovecot_quota.status) == ([], b"OK")
    assert (tidings_root.untagged, tidings_root.status) == ([b"* QUOTAROOT INBOX\r\n"], b"OK")
    assert (tidings_quota.untagged, tidings_quota.status) == ([], b"NO [NONEXISTENT]")


def test_an_append_that_cannot_fit_is_refused_before_its_literal(
    quota_dovecot: DovecotServer, quota_tidings: TidingsServer
) -> None:
    """Both servers answer NO [OVERQUOTA] instead of `+` when a synchronizing literal's
    announced size cannot fit, so the client never uploads the message."""
    for server in (quota_tidings, quota_dovecot):
        with RawImap(server.host, server.imap_port) as client:
            client.login(server.user, server.password)
            client.sock.sendall(b"q1 APPEND INBOX {100000}\r\n")
            first = client.read_response()
            assert _TIMING.sub(b"", first) == (
                b"q1 NO [OVERQUOTA] Quota exceeded (mailbox for user is full)\r\n"
            ), server


def test_deviation_q3_refusals_carry_response_codes(
    quota_dovecot: DovecotServer, quota_tidings: TidingsServer
) -> None:
    """DEVIATIONS.md Q3: Tidings adds RFC 5530 codes where Dovecot sends a bare NO."""
    commands = (b'GETQUOTA "User quota"', b'SETQUOTA "" (STORAGE 99999)')
    statuses = {}
    for name, server in (("tidings", quota_tidings), ("dovecot", quota_dovecot)):
        with RawImap(server.host, server.imap_port) as client:
            client.login(server.user, server.password)
            statuses[name] = [client.command(command).status for command in commands]
    assert statuses["dovecot"] == [b"NO", b"NO"]
    assert statuses["tidings"] == [b"NO [NONEXISTENT]", b"NO [NOPERM]"]


def test_deviation_q4_status_deleted_storage(
    quota_dovecot: DovecotServer, quota_tidings: TidingsServer
) -> None:
    """DEVIATIONS.md Q4: Dovecot 2.3 knows neither STATUS DELETED nor DELETED-STORAGE."""
    for item in (b"DELETED", b"DELETED-STORAGE"):
        with RawImap(quota_dovecot.host, quota_dovecot.imap_port) as client:
            client.login(quota_dovecot.user, quota_dovecot.password)
            assert client.command(b"STATUS INBOX (" + item + b")").status == b"BAD"
        with RawImap(quota_tidings.host, quota_tidings.imap_port) as client:
            client.login(quota_tidings.user, quota_tidings.password)
            reply = client.command(b"STATUS INBOX (" + item + b")")
            assert reply.status == b"OK"
            assert re.fullmatch(rb"\* STATUS INBOX \(" + item + rb" \d+\)\r\n", reply.untagged[0])


def test_the_quota_dovecot_config_file_is_private(quota_dovecot: DovecotServer) -> None:
    """The quota settings went into this test's own Dovecot, never a system config."""
    assert Path(quota_dovecot.config_path).is_relative_to(quota_dovecot.base_dir)
    assert "quota = count" in quota_dovecot.config_path.read_text()
