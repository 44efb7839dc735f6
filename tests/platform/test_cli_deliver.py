"""`tidings deliver` as an MTA runs it: a real process, the message on stdin, sysexits codes.

Exit codes as dovecot-lda uses them (tests/delivery/test_dovecot_parity.py compares):
0 delivered, 64 usage, 65 empty input, 67 unknown user, 73 store cannot be opened,
74 input unreadable, 75 try again later, 77 permanent (over quota, too large).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from tests.conftest import TEST_PASSWORD, TEST_USER, TidingsServer, run_cli, tidings_command
from tests.support.mail import fetch_bodies

MESSAGE = b"From: Carol <carol@example.test>\nSubject: piped\n\nHello,\nAlice.\n"
SPAM = b"X-Spam-Status: Yes, score=12.0\n\trequired=5.0\n" + MESSAGE


def deliver(
    data_dir: Path, *args: str, stdin: bytes | None = MESSAGE, shell_prefix: str = ""
) -> subprocess.CompletedProcess[bytes]:
    """Run `tidings deliver ARGS` with `stdin` (None: stdin closed) against `data_dir`."""
    env = {**os.environ, "TIDINGS_DATA": str(data_dir)}
    env.pop("TIDINGS_CONFIG", None)
    command = tidings_command("deliver", *args)
    if stdin is None:  # like an MTA that forgot to give us stdin: descriptor 0 closed
        command = ["sh", "-c", 'exec "$@" <&-', "sh", *command]
    return subprocess.run(
        command, input=stdin, capture_output=True, timeout=60, env=env, check=False
    )


def outcome(result: subprocess.CompletedProcess[bytes]) -> tuple[int, str]:
    return result.returncode, result.stderr.decode()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with alice (no quota) for tests that do not change it."""
    directory = tmp_path_factory.mktemp("deliver")
    added = run_cli(directory, "user", "add", TEST_USER, "--password-stdin", stdin="pw\n")
    assert added.returncode == 0, added.stderr
    return directory


def fetch_all(server: TidingsServer, mailbox: str) -> list[bytes]:
    return fetch_bodies(server.host, server.imap_port, TEST_USER, TEST_PASSWORD, mailbox)


def test_delivered_message_over_imap(server: TidingsServer) -> None:
    piped = b"From carol@example.test  Mon Jan  1 00:00:00 2024\n" + MESSAGE
    result = deliver(
        server.data_dir, "Alice+News@Example.TEST", "--from", "carol@example.test", stdin=piped
    )
    assert outcome(result) == (0, "")
    assert result.stdout == b""
    assert fetch_all(server, "INBOX") == [
        b"Return-Path: <carol@example.test>\r\nDelivered-To: Alice+News@Example.TEST\r\n"
        + MESSAGE.replace(b"\n", b"\r\n")
    ]


def test_without_from_nothing_is_prepended_and_spam_goes_to_junk(server: TidingsServer) -> None:
    assert outcome(deliver(server.data_dir, TEST_USER, stdin=SPAM)) == (0, "")
    assert fetch_all(server, "Junk") == [SPAM.replace(b"\n", b"\r\n")]
    assert outcome(deliver(server.data_dir, TEST_USER, "--mailbox", "Archive")) == (0, "")
    assert outcome(deliver(server.data_dir, TEST_USER, "--mailbox", "Nope", "--from", "")) == (
        0,
        "",
    )
    assert len(fetch_all(server, "Archive")) == 1
    (inbox,) = fetch_all(server, "INBOX")
    assert inbox.startswith(b"Return-Path: <>\r\nDelivered-To: alice@example.test\r\n")


def test_unknown_user_is_67(data_dir: Path) -> None:
    result = deliver(data_dir, "nobody@example.test")
    assert outcome(result) == (67, "No such user: nobody@example.test\n")


@pytest.mark.parametrize("args", [("not-an-address",), ("a b@example.test",)])
def test_a_bad_address_is_64(data_dir: Path, args: tuple[str, ...]) -> None:
    code, stderr = outcome(deliver(data_dir, *args))
    assert code == 64
    assert stderr.startswith("not an email address") and stderr.count("\n") == 1


@pytest.mark.parametrize("args", [(), (TEST_USER, "--no-such-option"), (TEST_USER, "extra")])
def test_usage_errors_are_64_not_clicks_2(data_dir: Path, args: tuple[str, ...]) -> None:
    code, stderr = outcome(deliver(data_dir, *args))
    assert code == 64
    assert "Usage:" in stderr


def test_empty_input_is_65(data_dir: Path) -> None:
    assert outcome(deliver(data_dir, TEST_USER, stdin=b"")) == (
        65,
        "Empty message on standard input\n",
    )
    assert outcome(deliver(data_dir, TEST_USER, stdin=b"From sender Mon Jan 1\n"))[0] == 65


def test_closed_stdin_is_74(data_dir: Path) -> None:
    assert outcome(deliver(data_dir, TEST_USER, stdin=None)) == (
        74,
        "Cannot read the message: standard input is closed\n",
    )


def test_a_terminal_on_stdin_is_a_usage_error_not_a_hang(data_dir: Path) -> None:
    controller, terminal = os.openpty()
    try:
        env = {**os.environ, "TIDINGS_DATA": str(data_dir)}
        result = subprocess.run(
            tidings_command("deliver", TEST_USER),
            stdin=terminal,
            capture_output=True,
            timeout=60,
            env=env,
            check=False,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    assert outcome(result) == (64, "The message must come on standard input, not a terminal\n")


def test_over_quota_is_77_or_75_with_quota_full_tempfail(tmp_path: Path) -> None:
    assert (
        run_cli(tmp_path, "user", "add", TEST_USER, "--password-stdin", stdin="pw\n").returncode
        == 0
    )
    assert run_cli(tmp_path, "user", "quota", TEST_USER, "--storage", "100").returncode == 0
    full = "Quota exceeded (mailbox for user is full)\n"
    assert outcome(deliver(tmp_path, TEST_USER, stdin=b"Subject: small\n\nx\n")) == (0, "")
    large = MESSAGE + b"x" * 100 + b"\n"
    assert outcome(deliver(tmp_path, TEST_USER, stdin=large)) == (77, full)
    config = tmp_path / "tempfail.toml"
    config.write_text("[delivery]\nquota_full_tempfail = true\n")
    assert outcome(deliver(tmp_path, TEST_USER, "--config", str(config), stdin=large)) == (75, full)
    assert run_cli(tmp_path, "user", "quota", TEST_USER, "--storage", "unlimited").returncode == 0
    assert outcome(deliver(tmp_path, TEST_USER, stdin=large))[0] == 0


def test_too_large_is_77_and_stops_reading(data_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "small.toml"
    config.write_text("[limits]\nmax_message_size = 1000\n")
    huge = b"Subject: big\n\n" + b"x" * 5_000_000
    assert outcome(deliver(data_dir, TEST_USER, "--config", str(config), stdin=huge)) == (
        77,
        "Mail size is larger than the maximum size allowed by server configuration\n",
    )
    # Fits before LF -> CRLF, not after: the limit is on the message as it would be stored.
    near = b"Subject: near\n\n" + b"x\n" * 480
    assert (
        outcome(deliver(data_dir, TEST_USER, "--config", str(config), "--from", "s@x", stdin=near))[
            0
        ]
        == 77
    )


def test_a_bad_config_is_75(data_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[delivery]\nnope = 1\n")
    code, stderr = outcome(deliver(data_dir, TEST_USER, "--config", str(config)))
    assert code == 75
    assert stderr.startswith("Configuration error: unknown configuration key delivery.nope")
    assert stderr.count("\n") == 1


def test_a_store_that_cannot_be_created_is_73(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    code, stderr = outcome(deliver(not_a_directory, TEST_USER))
    assert code == 73
    assert (
        stderr.startswith(f"Cannot open the store in {not_a_directory}") and stderr.count("\n") == 1
    )


def test_a_damaged_store_is_75(tmp_path: Path) -> None:
    (tmp_path / "mail.db").write_bytes(b"this is not an SQLite database" * 100)
    code, stderr = outcome(deliver(tmp_path, TEST_USER))
    assert code == 75
    assert stderr.startswith("Temporary failure: ") and stderr.count("\n") == 1


@pytest.mark.slow
def test_a_locked_store_is_75(tmp_path: Path) -> None:
    assert (
        run_cli(tmp_path, "user", "add", TEST_USER, "--password-stdin", stdin="pw\n").returncode
        == 0
    )
    holder = sqlite3.connect(tmp_path / "mail.db", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # every writer now waits, then gives up (SQLITE_BUSY)
        code, stderr = outcome(deliver(tmp_path, TEST_USER))
        holder.execute("ROLLBACK")
    finally:
        holder.close()
    assert code == 75
    assert stderr.startswith("Temporary failure: database busy") and stderr.count("\n") == 1
