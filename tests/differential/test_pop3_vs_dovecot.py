"""POP3 replies of Tidings and Dovecot 2.3 for the same scripted sessions (DESIGN.md: where an
RFC leaves room, do what Dovecot does).

Both servers get the same messages, byte for byte, through IMAP APPEND. Each script runs on
both; for every command the status (+OK/-ERR) and response code must match, multi-line
bodies must be identical (UIDLs compared with the UIDVALIDITY part masked, CAPA as a set), and
the status lines clients parse (STAT, LIST n, UIDL n, RETR's octet count) must be identical
too. Other human-readable texts may differ. The differences allowed are listed in
DEVIATION_RULES, each described in DEVIATIONS.md ("POP3" section).
"""

from __future__ import annotations

import base64
import contextlib
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import TidingsServer, make_server
from tests.pop3.helpers import BARE_LF, DOTS, PLAIN, imap_append, imap_login, large_message
from tests.support.dovecot import DovecotServer, skip_requested, start_dovecot

pytestmark = pytest.mark.dovecot

USER = "alice@example.test"
PASSWORD = "correct horse battery staple"
MESSAGES = [PLAIN, BARE_LF, DOTS, large_message(300 * 1024)]
PLAIN_IR = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()


@dataclass
class Target:
    """One server under comparison: where its POP3 and IMAP listen."""

    name: str
    pop3_port: int
    pop3s_port: int
    imap_port: int


@dataclass
class Exchange:
    """One command and what came back: the status line and any multi-line body."""

    command: str
    status: str
    body: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status.startswith("+OK")

    @property
    def code(self) -> str | None:
        match = re.match(r"^(?:\+OK|-ERR) \[([^\]]+)\]", self.status)
        return match.group(1) if match else None


_MULTILINE = re.compile(r"^(CAPA|LIST|UIDL|AUTH)$|^(RETR|TOP) ", re.IGNORECASE)


def _is_multiline(command: str, status: str) -> bool:
    return status.startswith("+OK") and bool(_MULTILINE.match(command))


class Pop3Script:
    """A raw POP3 connection that records each exchange."""

    def __init__(self, port: int, tls: bool = False) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock, server_hostname="localhost")
        self.sock = sock
        self.buffer = b""
        self.greeting = self._line()
        self.exchanges: list[Exchange] = []

    def _line(self) -> str:
        while b"\r\n" not in self.buffer:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionError:
                chunk = b""
            if not chunk:
                return "<closed>"
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line.decode("utf-8", "replace")

    def run(self, command: str) -> Exchange:
        """Send `command`, read its full reply (a SASL challenge counts as one line)."""
        with contextlib.suppress(ConnectionError):  # a hang-up shows as "<closed>"
            self.sock.sendall(command.encode() + b"\r\n")
        status = self._line()
        exchange = Exchange(command, status)
        if _is_multiline(command, status):
            while (line := self._line()) not in (".", "<closed>"):
                exchange.body.append(line)
        self.exchanges.append(exchange)
        return exchange

    def close(self) -> None:
        self.sock.close()


Script = list[str]


def run_script(port: int, script: Script, tls: bool = False) -> list[Exchange]:
    client = Pop3Script(port, tls)
    try:
        for command in script:
            client.run(command)
    finally:
        client.close()
    return client.exchanges


# ------------------------------------------------------------------ normalisation


def _mask_uidl(line: str) -> str:
    """ "n uid8validity8" → "n uid8<v>": UIDVALIDITY differs between servers by nature, but
    its form must not (lower-case hex is "<v>", anything else "<V>")."""

    def mask(match: re.Match[str]) -> str:
        lower = re.fullmatch(r"[0-9a-f]{8}", match.group(2)) is not None
        return match.group(1) + ("<v>" if lower else "<V>")

    return re.sub(r"\b([0-9a-fA-F]{8})([0-9a-fA-F]{8})$", mask, line)


# S3 (DEVIATIONS.md): Tidings offers SCRAM-SHA-256 (and -PLUS over TLS) beside PLAIN and
# LOGIN; the fixture's Dovecot runs with its default `auth_mechanisms = plain`.
_SCRAM = re.compile(r" ?\bSCRAM-SHA-256(-PLUS)?\b")


def _without_scram(line: str) -> str:
    return _SCRAM.sub("", line)


_PARSED_STATUS = re.compile(r"^(STAT|LIST \S+|UIDL \S+|RETR \S+)$", re.IGNORECASE)


def comparable(exchange: Exchange) -> tuple[Any, ...]:
    """What must be equal between the servers for this exchange."""
    command = exchange.command.upper()
    status: Any = ("+OK" if exchange.ok else "-ERR", exchange.code)
    if exchange.ok and _PARSED_STATUS.match(command):
        status = _mask_uidl(exchange.status)
    body: Any = exchange.body
    if command == "CAPA":
        body = sorted(
            _without_scram(line) for line in exchange.body if not line.startswith("IMPLEMENTATION")
        )
    elif command == "AUTH":
        body = [line for line in exchange.body if not _SCRAM.fullmatch(line)]
    elif command.startswith("UIDL"):
        body = [_mask_uidl(line) for line in exchange.body]
    return status, body


# ------------------------------------------------------------------ deviations (DEVIATIONS.md)

Rule = Callable[[Exchange, Exchange], bool]


def p1_missing_argument(tidings: Exchange, dovecot: Exchange) -> bool:
    """P1: USER without a name: Dovecot says +OK, Tidings -ERR with the reason."""
    return tidings.command.upper() == "USER" and not tidings.ok and dovecot.ok


DEVIATION_RULES: dict[str, Rule] = {"P1": p1_missing_argument}


def assert_same(
    scripts: dict[str, Script], tidings: Target, dovecot: Target, tls: bool = False
) -> None:
    """Run each script on both servers and compare exchange by exchange."""
    problems = []
    for name, script in scripts.items():
        ours = run_script(tidings.pop3s_port if tls else tidings.pop3_port, script, tls)
        theirs = run_script(dovecot.pop3s_port if tls else dovecot.pop3_port, script, tls)
        assert len(ours) == len(theirs) == len(script), (name, ours, theirs)
        for mine, reference in zip(ours, theirs, strict=True):
            if comparable(mine) == comparable(reference):
                continue
            if any(rule(mine, reference) for rule in DEVIATION_RULES.values()):
                continue
            problems.append(f"{name}: {mine.command!r}\n  tidings: {mine}\n  dovecot: {reference}")
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Target, Target]]:
    """A fresh Tidings and a fresh Dovecot, each with MESSAGES in alice's INBOX."""
    if skip_requested():
        pytest.skip("TIDINGS_SKIP_DOVECOT=1: differential tests against Dovecot skipped")
    base = tmp_path_factory.mktemp("pop3-differential")
    config = base / "tidings.toml"
    config.write_text("[limits]\nauth_failure_delay = 0.1\n")
    tidings_server: TidingsServer = make_server(base / "tidings")
    tidings_server.start("--config", str(config))
    dovecot_server: DovecotServer | None = None
    try:
        dovecot_server = start_dovecot(base / "dovecot")
        tidings = Target(
            "tidings", tidings_server.pop3_port, tidings_server.pop3s_port, tidings_server.imap_port
        )
        dovecot = Target(
            "dovecot", dovecot_server.pop3_port, dovecot_server.pop3s_port, dovecot_server.imap_port
        )
        for target in (tidings, dovecot):
            imap_append(target.imap_port, USER, PASSWORD, *MESSAGES)
        yield tidings, dovecot
    finally:
        tidings_server.stop()
        if dovecot_server is not None:
            dovecot_server.stop()


LOGIN = [f"USER {USER}", f"PASS {PASSWORD}"]


def test_authorization_state_replies(servers: tuple[Target, Target]) -> None:
    assert_same(
        {
            # Dovecot closes a connection after 3 bad commands before login (P2): at most
            # two per script here.
            "capa": ["CAPA", "QUIT"],
            "too-early": ["STAT", "LIST", "QUIT"],
            "too-early-2": ["RETR 1", "NOOP", "QUIT"],
            "pass-first": ["PASS x", "FOO", "QUIT"],
            "empty-line": ["", "AUTH", "QUIT"],
            "unknown-mechanism": ["AUTH X-UNKNOWN", "QUIT"],
            "user-without-name": ["USER", "QUIT"],
            "wrong-password": [
                f"USER {USER}",
                "PASS wrong",
                f"PASS {PASSWORD}",
                *LOGIN,
                "STAT",
                "QUIT",
            ],
        },
        *servers,
    )


def test_sasl_replies(servers: tuple[Target, Target]) -> None:
    user64 = base64.b64encode(USER.encode()).decode()
    password64 = base64.b64encode(PASSWORD.encode()).decode()
    assert_same(
        {
            "sasl-ir": [f"AUTH PLAIN {PLAIN_IR}", "STAT", "AUTH PLAIN", "QUIT"],
            "plain-continuation": ["AUTH PLAIN", "*", "AUTH PLAIN", PLAIN_IR, "STAT", "QUIT"],
            "login": ["AUTH LOGIN", user64, password64, "STAT", "QUIT"],
            "bad-base64": ["AUTH PLAIN !!!", *LOGIN, "QUIT"],
        },
        *servers,
    )


def test_transaction_state_replies(servers: tuple[Target, Target]) -> None:
    assert_same(
        {
            "read-only": [
                *LOGIN,
                "STAT",
                "LIST",
                "LIST 1",
                "LIST 4",
                "LIST 9",
                "LIST 0",
                "LIST x",
                "LIST 1 2",
                "UIDL",
                "UIDL 2",
                "UIDL 9",
                "UIDL 0",
                "RETR 1",
                "RETR 2",
                "RETR 3",
                "RETR 4",
                "RETR 01",
                "RETR 9",
                "RETR",
                "RETR +1",
                "RETR 4294967297",
                "TOP 1 0",
                "TOP 3 1",
                "TOP 2 2",
                "TOP 4 3",
                "TOP 2 99999999999",
                "TOP 9 1",
                "TOP 1 x",
                "TOP 1 -1",
                "TOP 1",
                "NOOP",
                "NOOP extra",
                "STAT x",
                "CAPA",
                "USER x",
                "PASS y",
                "AUTH PLAIN",
                "STLS",
                "FOO",
                "",
                "QUIT",
            ],
            "dele-rset": [
                *LOGIN,
                "DELE 1",
                "DELE 1",
                "RETR 1",
                "TOP 1 0",
                "LIST 1",
                "UIDL 1",
                "STAT",
                "LIST",
                "UIDL",
                "DELE 9",
                "DELE",
                "RSET",
                "STAT",
                "LIST",
                "RSET",
                "QUIT",
            ],
        },
        *servers,
    )


def test_pop3s_replies(servers: tuple[Target, Target]) -> None:
    assert_same(
        {"pop3s": ["CAPA", "STLS", *LOGIN, "CAPA", "STAT", "RETR 3", "QUIT"]}, *servers, tls=True
    )


def test_stls_replies(servers: tuple[Target, Target]) -> None:
    transcripts = {}
    for target in servers:
        client = Pop3Script(target.pop3_port)
        try:
            client.run("STLS")
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            client.sock = context.wrap_socket(client.sock, server_hostname="localhost")
            for command in ["CAPA", "STLS", *LOGIN, "STAT", "QUIT"]:
                client.run(command)
        finally:
            client.close()
        transcripts[target.name] = [comparable(exchange) for exchange in client.exchanges]
    assert transcripts["tidings"] == transcripts["dovecot"]


# ------------------------------------------------------------------ documented deviations
# Each test below runs the same session on both servers and asserts the difference that
# DEVIATIONS.md describes, so that a change on either side is noticed.


def _imap_seen_uids(port: int) -> set[int]:
    client = imap_login(port, USER, PASSWORD)
    try:
        client.select("INBOX", readonly=True)
        _, data = client.uid("SEARCH", "SEEN")
        return {int(uid) for uid in (data[0] or b"").split()}
    finally:
        client.logout()


def test_deviation_p2_bad_commands_before_login(servers: tuple[Target, Target]) -> None:
    tidings, dovecot = servers
    script = ["FOO", "FOO", "FOO", "CAPA"]
    ours = run_script(tidings.pop3_port, script)
    theirs = run_script(dovecot.pop3_port, script)
    assert [e.ok for e in ours] == [False, False, False, True]
    # Dovecot: the third bad command is followed by an extra line, then the connection ends.
    assert theirs[2].status == "-ERR Unknown command." and not theirs[3].ok


def test_deviation_p4_second_session_is_in_use(servers: tuple[Target, Target]) -> None:
    replies = {}
    for target in servers:
        first = Pop3Script(target.pop3_port)
        try:
            for command in LOGIN:
                first.run(command)
            second = run_script(target.pop3_port, [*LOGIN, "QUIT"])
            first.run("QUIT")
        finally:
            first.close()
        replies[target.name] = second[1]
    assert replies["dovecot"].ok  # pop3_lock_session = no, Dovecot's default
    assert replies["tidings"].status.startswith("-ERR [IN-USE]")


def _imap_clear_seen(port: int) -> None:
    client = imap_login(port, USER, PASSWORD)
    try:
        client.select("INBOX")
        client.store("1:*", "-FLAGS", "\\Seen")
    finally:
        client.logout()


def test_deviation_p5_dropped_connection_sets_no_seen(servers: tuple[Target, Target]) -> None:
    tidings, dovecot = servers
    for target in servers:
        _imap_clear_seen(target.imap_port)
        run_script(target.pop3_port, [*LOGIN, "RETR 2"])  # and the connection drops
    deadline = time.monotonic() + 10
    while 2 not in _imap_seen_uids(dovecot.imap_port):  # Dovecot updates on disconnect
        assert time.monotonic() < deadline, "Dovecot did not set \\Seen"
        time.sleep(0.05)
    time.sleep(0.2)
    assert 2 not in _imap_seen_uids(tidings.imap_port)


def test_deviation_p6_over_long_line(servers: tuple[Target, Target]) -> None:
    tidings, dovecot = servers
    script = ["USER " + "x" * 9000, "CAPA"]
    ours = run_script(tidings.pop3_port, script)
    theirs = run_script(dovecot.pop3_port, script)
    assert ours[0].status.startswith("-ERR Line too long") and ours[1].ok
    assert not theirs[0].ok and theirs[1].status == "<closed>"


def test_deviation_p8_commands_pipelined_after_stls(servers: tuple[Target, Target]) -> None:
    outcomes = {}
    for target in servers:
        client = Pop3Script(target.pop3_port)
        try:
            client.sock.sendall(b"STLS\r\nCAPA\r\n")
            assert client._line().startswith("+OK")
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            try:
                client.sock = context.wrap_socket(client.sock, server_hostname="localhost")
                outcomes[target.name] = client.run("CAPA").status
            except (ssl.SSLError, OSError) as error:
                outcomes[target.name] = type(error).__name__
        finally:
            client.close()
    assert outcomes["tidings"].startswith("+OK")
    assert not outcomes["dovecot"].startswith("+OK")


def test_quit_applies_deletions_like_dovecot(servers: tuple[Target, Target]) -> None:
    """Last in the module: it changes both INBOXes the same way."""
    assert_same(
        {
            "delete": [*LOGIN, "DELE 2", "DELE 4", "QUIT"],
            "after": [*LOGIN, "STAT", "LIST", "UIDL", "RETR 2", "QUIT"],
        },
        *servers,
    )


def test_deviation_rules_are_documented() -> None:
    text = (Path(__file__).parent / "DEVIATIONS.md").read_text()
    section = text[text.index("# POP3") :] if "# POP3" in text else ""
    for name, rule in DEVIATION_RULES.items():
        assert f"{name} " in section and rule.__name__ in section, name
