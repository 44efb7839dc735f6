"""SCRAM-SHA-256 (RFC 7677) with real client stacks: stdlib imaplib's AUTHENTICATE framing and
mbsync through Cyrus SASL's SCRAM plugin, against a `tidings serve` whose accounts were made
by `tidings user add` (so they have SCRAM secrets and SCRAM is advertised).

Tidings only: the interop Dovecot offers no SCRAM; the same client is run against a Dovecot
with SCRAM in tests/differential/test_rfc7677_scram_vs_dovecot.py."""

from __future__ import annotations

import fcntl
import glob
import imaplib
import os
import ssl
import subprocess
from pathlib import Path

import pytest
from tests.conftest import TidingsServer
from tests.support.apt import ensure_command
from tests.support.scram_client import ScramClient, server_end_point


def _authenticate(client: imaplib.IMAP4, scram: ScramClient, mechanism: str) -> None:
    """imaplib.authenticate with `scram` answering each challenge."""
    steps = iter(("first", "final", "verify"))
    server_final: list[bytes] = []

    def answer(challenge: bytes) -> bytes:
        step = next(steps)
        if step == "first":
            return scram.first()
        if step == "final":
            return scram.final(challenge)
        server_final.append(challenge)
        return b""  # the empty response to the server-final message

    typ, _ = client.authenticate(mechanism, answer)
    assert typ == "OK"
    assert server_final and scram.verify(server_final[0])


def test_imaplib_authenticate_scram(shared_server: TidingsServer) -> None:
    client = imaplib.IMAP4("127.0.0.1", shared_server.imap_port, timeout=30)
    try:
        assert "AUTH=SCRAM-SHA-256" in client.capabilities
        _authenticate(
            client, ScramClient(shared_server.user, shared_server.password), "SCRAM-SHA-256"
        )
        assert client.select("INBOX")[0] == "OK"
    finally:
        client.logout()


def test_imaplib_authenticate_scram_plus_over_imaps(shared_server: TidingsServer) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    client = imaplib.IMAP4_SSL(
        "127.0.0.1", shared_server.imaps_port, ssl_context=context, timeout=30
    )
    try:
        assert "AUTH=SCRAM-SHA-256-PLUS" in client.capabilities
        assert isinstance(client.sock, ssl.SSLSocket)
        scram = ScramClient(
            shared_server.user,
            shared_server.password,
            cbind_flag="p",
            cb_name="tls-server-end-point",
            cb_data=server_end_point(client.sock),
        )
        _authenticate(client, scram, "SCRAM-SHA-256-PLUS")
    finally:
        client.logout()


def test_imaplib_wrong_password_is_refused(shared_server: TidingsServer) -> None:
    client = imaplib.IMAP4("127.0.0.1", shared_server.imap_port, timeout=30)
    try:
        with pytest.raises(imaplib.IMAP4.error, match="invalid-proof"):
            _authenticate(client, ScramClient(shared_server.user, "wrong"), "SCRAM-SHA-256")
    finally:
        client.shutdown()


def _ensure_cyrus_scram() -> None:
    """mbsync does SASL through Cyrus SASL; its SCRAM plugin is in libsasl2-modules (a
    Recommends of libsasl2-2, so missing after a --no-install-recommends install)."""
    if glob.glob("/usr/lib/*/sasl2/libscram.so*"):
        return
    if os.environ.get("TIDINGS_SKIP_APT") == "1":
        pytest.skip("Cyrus SASL's SCRAM plugin is not installed and TIDINGS_SKIP_APT=1")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with open("/tmp/tidings-tests-apt.lock", "w") as lock:  # the lock tests/support/apt uses
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", "libsasl2-modules"],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize(("password", "succeeds"), [(None, True), ("wrong", False)])
def test_mbsync_logs_in_with_scram(
    shared_server: TidingsServer, tmp_path: Path, password: str | None, succeeds: bool
) -> None:
    mbsync = ensure_command("mbsync", "isync")
    _ensure_cyrus_scram()
    (tmp_path / "mail").mkdir()
    config = tmp_path / "mbsyncrc"
    config.write_text(
        f"""\
IMAPAccount t
Host 127.0.0.1
Port {shared_server.imaps_port}
User {shared_server.user}
Pass "{password or shared_server.password}"
SSLType IMAPS
CertificateFile {shared_server.data_dir / "tls" / "cert.pem"}
AuthMechs SCRAM-SHA-256

IMAPStore remote
Account t

MaildirStore local
Path {tmp_path}/mail/
Inbox {tmp_path}/mail/INBOX

Channel t
Far :remote:
Near :local:
Patterns INBOX
Create Near
"""
    )
    result = subprocess.run(
        [mbsync, "-D", "-c", str(config), "t"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    output = result.stdout + result.stderr
    assert "Authenticating with SASL mechanism SCRAM-SHA-256" in output, output[-3000:]
    if succeeds:
        assert result.returncode == 0, output[-3000:]
        assert "Logged in" in output
    else:
        assert result.returncode != 0
        assert "NO [AUTHENTICATIONFAILED] Authentication failed (invalid-proof)." in output
