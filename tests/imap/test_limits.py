"""Every named limit of tidings.core.limits.Limits, enforced over a real socket."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
from tests.imap.harness import FAST_LIMITS, InProcessServer, LineClient


def _server(tmp_path: Path, **limits: float) -> InProcessServer:
    return InProcessServer(tmp_path, limits=replace(FAST_LIMITS, **limits)).start()  # type: ignore[arg-type]


def test_line_too_long_is_bad_and_connection_survives(tmp_path: Path) -> None:
    """max_line_length: BAD, then the next command works (RFC 9051 §4 has no fixed limit)."""
    server = _server(tmp_path, max_line_length=1000)
    try:
        client = LineClient(server.port)
        client.send_line("a1 NOOP " + "x" * 5000)
        reply = client.read_line()
        assert "BAD" in reply and "too long" in reply.lower()
        assert client.command("a2", "NOOP")[-1].startswith("a2 OK")
    finally:
        server.stop()


def test_literal_over_message_size_is_toobig(tmp_path: Path) -> None:
    """max_message_size: a synchronizing literal above it gets NO [TOOBIG], no continuation."""
    server = _server(tmp_path, max_message_size=100)
    try:
        client = LineClient(server.port)
        client.login()
        caps = client.command("c", "CAPABILITY")
        assert "APPENDLIMIT=100" in caps[0]
        client.send_line("a1 APPEND INBOX {101}")
        assert client.read_line().startswith("a1 NO [TOOBIG]")
        # A non-synchronizing one is discarded with the same answer, and the stream stays in step.
        client.send("a2 APPEND INBOX {101+}\r\n" + "y" * 101 + "\r\n")
        assert client.read_line().startswith("a2 NO [TOOBIG]")
        assert client.command("a3", "NOOP")[-1].startswith("a3 OK")
        client.send("a4 APPEND INBOX {10+}\r\n0123456789\r\n")
        assert client.read_until_tagged("a4")[-1].startswith("a4 OK [APPENDUID")
    finally:
        server.stop()


def test_bad_command_budget_ends_with_bye(tmp_path: Path) -> None:
    """max_bad_commands: after that many BADs the server says BYE and closes."""
    server = _server(tmp_path, max_bad_commands=3)
    try:
        client = LineClient(server.port)
        for number in range(2):
            assert client.command(f"b{number}", "FROBNICATE")[-1].startswith(f"b{number} BAD")
        client.send_line("b9 FROBNICATE")
        assert client.read_line().startswith("b9 BAD")
        assert client.read_line().startswith("* BYE")
        with pytest.raises(ConnectionError):
            client.read_line()
    finally:
        server.stop()


def test_autologout_before_login(tmp_path: Path) -> None:
    """idle_timeout_unauthenticated: a silent unauthenticated client is told BYE."""
    server = _server(tmp_path, idle_timeout_unauthenticated=0.5)
    try:
        client = LineClient(server.port)
        started = time.monotonic()
        assert client.read_line().startswith("* BYE")
        assert time.monotonic() - started < 5
    finally:
        server.stop()


def test_idle_longer_than_autologout_ends_with_bye(tmp_path: Path) -> None:
    """idle_timeout_authenticated also bounds IDLE (RFC 9051 §5.4, RFC 2177)."""
    server = _server(tmp_path, idle_timeout_authenticated=1.0)
    try:
        client = LineClient(server.port)
        client.login()
        client.command("s", "SELECT INBOX")
        client.send_line("i1 IDLE")
        assert client.read_line() == "+ idling"
        assert client.read_line().startswith("* BYE")
    finally:
        server.stop()


def test_failed_logins_end_the_connection(tmp_path: Path) -> None:
    """max_auth_failures_per_connection: NO [AUTHENTICATIONFAILED], then BYE."""
    server = _server(tmp_path, max_auth_failures_per_connection=2)
    try:
        client = LineClient(server.port)
        reply = client.command("l1", 'LOGIN alice@example.test "wrong"')
        assert reply[-1].startswith("l1 NO [AUTHENTICATIONFAILED]")
        client.send_line('l2 LOGIN alice@example.test "wrong"')
        assert client.read_line().startswith("l2 NO [AUTHENTICATIONFAILED]")
        assert client.read_line().startswith("* BYE")
    finally:
        server.stop()


def test_failed_login_is_delayed(tmp_path: Path) -> None:
    """auth_failure_delay: the NO comes only after the delay."""
    server = _server(tmp_path, auth_failure_delay=0.4, auth_max_delay=1.0)
    try:
        client = LineClient(server.port)
        started = time.monotonic()
        reply = client.command("l1", 'LOGIN alice@example.test "wrong"')
        assert reply[-1].startswith("l1 NO")
        assert time.monotonic() - started >= 0.35
    finally:
        server.stop()
