"""LMTP on a Unix socket (smtplib.LMTP with a path) and from swaks, a command-line client."""

from __future__ import annotations

import smtplib
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

from tests.conftest import TidingsServer
from tests.lmtp.lmtp_support import (
    SENDER,
    TIMEOUT,
    Reconfigure,
    find_message,
    make_message,
    trace_prefix,
    unique_subject,
)
from tests.support.apt import ensure_command

ALICE = "alice@example.test"


def test_unix_socket(reconfigure: Reconfigure) -> None:
    # AF_UNIX paths are limited to ~107 bytes: pytest's tmp_path can be longer.
    with tempfile.TemporaryDirectory(prefix="tidings-lmtp-") as directory:
        socket_path = Path(directory) / "lmtp.sock"
        server = reconfigure(listen={"lmtp_socket": str(socket_path)})
        # The fixture waits for the TCP ports; the socket may be bound a moment later.
        # The file appears at bind(), a moment before listen(): wait until it accepts.
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                with socket.socket(socket.AF_UNIX) as probe:
                    probe.connect(str(socket_path))
                break
            except OSError:
                time.sleep(0.05)
        assert stat.S_ISSOCK(socket_path.stat().st_mode)
        subject = unique_subject()
        message = make_message(subject)
        with smtplib.LMTP(str(socket_path), timeout=TIMEOUT) as client:
            assert client.ehlo()[0] == 250
            assert client.has_extn("pipelining")
            assert client.sendmail(SENDER, [ALICE], message) == {}
        # TCP still works beside the socket.
        with smtplib.LMTP("127.0.0.1", server.lmtp_port, timeout=TIMEOUT) as client:
            assert client.noop()[0] == 250
        stored = find_message(server.imap_port, ALICE, server.password, subject)
        assert stored == trace_prefix(SENDER, ALICE) + message
        server.stop()


def test_swaks_delivers_over_lmtp(lmtp_server: TidingsServer, tmp_path: Path) -> None:
    swaks = ensure_command("swaks", "swaks")
    subject = unique_subject("swaks")
    message = make_message(subject, b"Sent by swaks.\r\n..dot line\r\n")
    data_file = tmp_path / "message.eml"
    data_file.write_bytes(message)
    result = subprocess.run(
        [
            swaks,
            "--protocol",
            "LMTP",
            "--server",
            "127.0.0.1",
            "--port",
            str(lmtp_server.lmtp_port),
            "--from",
            SENDER,
            "--to",
            ALICE,
            "--helo",
            "swaks.example",
            "--data",
            f"@{data_file}",
            "--timeout",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    transcript = result.stdout
    assert "-> LHLO swaks.example" in transcript
    assert "<-  250 2.0.0 <alice@example.test>" in transcript
    stored = find_message(lmtp_server.imap_port, ALICE, lmtp_server.password, subject)
    assert stored is not None
    # swaks stuffs the dots and ends the data with an empty line of its own before the
    # "." (Dovecot stores that line too); everything else arrives unchanged.
    assert stored == trace_prefix(SENDER, ALICE) + message + b"\r\n"
