"""Differential: what Tidings stores and how `tidings deliver` exits, against Dovecot 2.3.

- Header bytes: the same message to the same recipient through Dovecot's LMTP and through
  Tidings; Dovecot's stored message, minus its Received field (which Tidings deliberately
  does not add, see tidings.delivery.trace), must equal Tidings' byte for byte.
- Exit codes: dovecot-lda (with -e, so reasons go to stderr instead of a bounce mail) and
  `tidings deliver` on the same cases. Where they differ on purpose, the test pins both
  values, so a change on either side shows up here.
"""

from __future__ import annotations

import re
import shutil
import smtplib
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import make_server, run_cli, tidings_command
from tests.support.dovecot import DovecotServer, skip_requested, start_dovecot
from tests.support.mail import fetch_bodies

pytestmark = pytest.mark.dovecot

LDA = "/usr/lib/dovecot/dovecot-lda"
USER = "alice@example.test"
SECOND = "bob@example.test"
SENDER = "Sender@Remote.Example"
MESSAGE = b"From: Carol <carol@example.test>\r\nSubject: parity\r\n\r\nHello.\r\n"
QUOTA_PLUGIN = """
mail_plugins = $mail_plugins quota
plugin {
  quota_vsizes = yes
  quota = count:User quota
  quota_rule = *:storage=1K
  quota_max_mail_size = 2K
}
"""


@pytest.fixture(scope="module")
def dovecot() -> Iterator[DovecotServer]:
    """A private Dovecot whose LMTP can write mail.

    Dovecot's LMTP serves many users from one process, so it does not chroot into
    mail_chroot as imap and dovecot-lda do: the unprivileged mail user must traverse the whole
    path to the mail dirs, and pytest's temp dirs (/tmp/pytest-of-root is 0700) forbid that.
    So this instance lives in a directory of its own under /tmp, traversable (0711)."""
    if skip_requested():
        pytest.skip("TIDINGS_SKIP_DOVECOT=1: differential tests against Dovecot skipped")
    base = Path(tempfile.mkdtemp(prefix="tidings-dovecot-delivery-"))
    base.chmod(0o711)
    try:
        server = start_dovecot(base)
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def without_received(message: bytes) -> bytes:
    """`message` without its first Received field (folded lines included)."""
    return re.sub(rb"Received: [^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*", b"", message, count=1)


# (envelope sender, recipient as given): plus address with odd case, null sender, quoted.
TRACE_CASES = [
    (SENDER, "Alice+Tag@example.test"),
    ("", USER),
    ('"odd sender"@remote.example', USER),
]


def test_return_path_and_delivered_to_bytes_match_dovecot_lmtp(
    dovecot: DovecotServer, tmp_path: Path
) -> None:
    server = make_server(tmp_path / "tidings")
    for number, (sender, recipient) in enumerate(TRACE_CASES):
        message = f"X-Case: {number}\r\n".encode() + MESSAGE
        with smtplib.LMTP(dovecot.host, dovecot.lmtp_port) as lmtp:
            lmtp.sendmail(sender, [recipient], message)
        result = subprocess.run(
            tidings_command("deliver", recipient, "--from", sender, "--data", str(server.data_dir)),
            input=message,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    references = fetch_bodies(
        dovecot.host, dovecot.imap_port, dovecot.user, dovecot.password, "INBOX"
    )
    server.start()
    try:
        ours = fetch_bodies(server.host, server.imap_port, server.user, server.password, "INBOX")
    finally:
        server.stop()
    assert len(ours) == len(references) == len(TRACE_CASES)
    for mine, reference in zip(ours, references, strict=True):
        assert b"\r\nReceived: " in reference
        assert mine == without_received(reference)


def lda(dovecot: DovecotServer, config: Path, *args: str, stdin: bytes) -> tuple[int, str]:
    result = subprocess.run(
        [LDA, "-c", str(config), "-e", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return result.returncode, result.stderr.decode().strip()


def tidings_deliver(data_dir: Path, *args: str, stdin: bytes) -> tuple[int, str]:
    result = subprocess.run(
        tidings_command("deliver", *args, "--data", str(data_dir)),
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return result.returncode, result.stderr.decode().strip()


@pytest.fixture
def configs(dovecot: DovecotServer, tmp_path: Path) -> tuple[Path, Path]:
    """Dovecot configs with a 1 KiB quota: bouncing when full, and with quota_full_tempfail."""
    base = dovecot.config_path.read_text()
    bounce, tempfail = tmp_path / "quota.conf", tmp_path / "quota-tempfail.conf"
    bounce.write_text(base + QUOTA_PLUGIN)
    tempfail.write_text(base + QUOTA_PLUGIN + "quota_full_tempfail = yes\n")
    return bounce, tempfail


@pytest.fixture
def tidings_store(tmp_path: Path) -> Path:
    """A Tidings store with bob and a 1 KiB storage quota, like Dovecot's config above."""
    store = tmp_path / "tidings-store"
    assert run_cli(store, "user", "add", SECOND, "--password-stdin", stdin="pw\n").returncode == 0
    assert run_cli(store, "user", "quota", SECOND, "--storage", "1K").returncode == 0
    (store / "tempfail.toml").write_text("[delivery]\nquota_full_tempfail = true\n")
    return store


def test_exit_codes_match_dovecot_lda(
    dovecot: DovecotServer, configs: tuple[Path, Path], tidings_store: Path
) -> None:
    bounce, tempfail = configs
    tempfail_toml = str(tidings_store / "tempfail.toml")
    chunk = b"Subject: chunk\n\n" + b"x" * 600 + b"\n"

    # Delivered, then over quota (permanent), then over quota with quota_full_tempfail.
    assert lda(dovecot, bounce, "-d", SECOND, "-f", SENDER, stdin=chunk) == (0, "")
    assert tidings_deliver(tidings_store, SECOND, stdin=chunk) == (0, "")
    dovecot_full = lda(dovecot, bounce, "-d", SECOND, "-f", SENDER, stdin=chunk)
    assert dovecot_full == (77, "Quota exceeded (mailbox for user is full)")
    assert tidings_deliver(tidings_store, SECOND, stdin=chunk) == dovecot_full
    dovecot_tempfail = lda(dovecot, tempfail, "-d", SECOND, "-f", SENDER, stdin=chunk)
    assert dovecot_tempfail == (75, "Quota exceeded (mailbox for user is full)")
    assert tidings_deliver(tidings_store, SECOND, "--config", tempfail_toml, stdin=chunk) == (
        dovecot_tempfail
    )

    # Unknown user: 67 on both (Dovecot says nothing on stderr, Tidings names the address).
    assert lda(dovecot, bounce, "-d", "nobody@example.test", stdin=chunk)[0] == 67
    assert tidings_deliver(tidings_store, "nobody@example.test", stdin=chunk)[0] == 67

    # Not an address: 64 on both.
    assert lda(dovecot, bounce, "-d", USER, "-a", "not an address", stdin=chunk)[0] == 64
    assert tidings_deliver(tidings_store, "not an address", stdin=chunk)[0] == 64


def test_deliberate_exit_code_deviations_from_dovecot_lda(
    dovecot: DovecotServer, configs: tuple[Path, Path], tidings_store: Path
) -> None:
    bounce, _ = configs
    small = tidings_store / "small.toml"
    small.write_text("[limits]\nmax_message_size = 2048\n")
    big = b"Subject: big\n\n" + b"y" * 3000 + b"\n"
    too_large = "Mail size is larger than the maximum size allowed by server configuration"
    # Too large: Dovecot retries (75) what can never fit; Tidings bounces it (77), as LMTP does.
    assert lda(dovecot, bounce, "-d", USER, stdin=big) == (75, too_large)
    assert tidings_deliver(tidings_store, SECOND, "--config", str(small), stdin=big) == (
        77,
        too_large,
    )
    # Empty input: Dovecot stores an empty message; Tidings refuses it (65).
    assert lda(dovecot, dovecot.config_path, "-d", USER, stdin=b"") == (0, "")
    assert tidings_deliver(tidings_store, SECOND, stdin=b"") == (
        65,
        "Empty message on standard input",
    )
