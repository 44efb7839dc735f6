"""fetchmail against `tidings serve`: POP3 with and without --keep, POP3S, and IMAP, each
message handed to an MDA and compared byte for byte with what was stored.

fetchmail hands the MDA LF line ends and adds a Received header of its own; everything else
must arrive unchanged, including lines that start with "." (un-stuffed by fetchmail, RFC 1939
§3) and messages stored with bare LFs or without a final line end.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from tests.conftest import TidingsServer
from tests.pop3.helpers import (
    BARE_LF,
    DOTS,
    PLAIN,
    expected_retr,
    imap_append,
    imap_uids_and_flags,
    large_message,
)
from tests.support.apt import ensure_command

MESSAGES = [PLAIN, BARE_LF, DOTS, large_message(1024 * 1024)]
# fetchmail's own trace header: "Received: from ... by ... (fetchmail-6.x) ...", folded.
_RECEIVED = re.compile(rb"\AReceived: [^\n]*\n(?:[ \t][^\n]*\n)*")


class Fetchmail:
    """One fetchmail configuration in a private home: rcfile, UID list, MDA and mail dir."""

    def __init__(
        self, home: Path, server: TidingsServer, protocol: str, port: int, options: str
    ) -> None:
        self.binary = ensure_command("fetchmail", "fetchmail")
        self.home = home
        self.mail = home / "delivered"
        self.mail.mkdir(parents=True)
        mda = home / "deliver.sh"
        # Each message into its own numbered file, in delivery order.
        mda.write_text(
            "#!/bin/sh\n"
            f'n=$(ls "{self.mail}" | wc -l)\n'
            f'exec cat > "{self.mail}/$(printf %04d "$n").eml"\n'
        )
        mda.chmod(0o755)
        self.rcfile = home / "fetchmailrc"
        self.rcfile.write_text(
            "set no bouncemail\n"
            f"poll 127.0.0.1 service {port} protocol {protocol} auth password\n"
            f'  user "{server.user}" there with password "{server.password}" is "tester" here\n'
            f"  options norewrite {options}\n"
            f'  mda "{mda}"\n'
        )
        self.rcfile.chmod(0o600)  # fetchmail refuses a readable rcfile holding a password

    def run(self) -> subprocess.CompletedProcess[str]:
        """One poll; exit 0 means mail was delivered, 1 means there was none (fetchmail(1))."""
        result = subprocess.run(
            [
                self.binary,
                "-f",
                str(self.rcfile),
                "-i",
                str(self.home / "fetchids"),
                "--pidfile",
                str(self.home / "fetchmail.pid"),
                "--nosyslog",
                "-v",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "FETCHMAILHOME": str(self.home), "HOME": str(self.home)},
        )
        assert result.returncode in (0, 1), result.stdout + result.stderr
        return result

    def delivered(self) -> list[bytes]:
        """The messages the MDA received, in order, without fetchmail's Received header."""
        return [
            _RECEIVED.sub(b"", path.read_bytes(), count=1) for path in sorted(self.mail.iterdir())
        ]


def as_delivered(raw: bytes) -> bytes:
    """What the MDA must get for a stored message: the RETR bytes with LF line ends."""
    return expected_retr(raw).replace(b"\r\n", b"\n")


@pytest.fixture
def filled(server: TidingsServer) -> TidingsServer:
    imap_append(server.imap_port, server.user, server.password, *MESSAGES)
    return server


def test_fetchmail_pop3_keep_fetches_each_message_once(
    filled: TidingsServer, tmp_path: Path
) -> None:
    fetchmail = Fetchmail(tmp_path, filled, "POP3", filled.pop3_port, "keep sslproto ''")
    first = fetchmail.run()
    assert first.returncode == 0, first.stdout + first.stderr
    assert fetchmail.delivered() == [as_delivered(raw) for raw in MESSAGES]
    # --keep: fetchmail remembers the UIDLs and must find nothing new the second time.
    second = fetchmail.run()
    assert second.returncode == 1, second.stdout + second.stderr
    assert len(fetchmail.delivered()) == len(MESSAGES)
    imap_append(filled.imap_port, filled.user, filled.password, b"Subject: new\r\n\r\nnew\r\n")
    assert fetchmail.run().returncode == 0
    assert fetchmail.delivered()[-1] == b"Subject: new\n\nnew\n"
    assert len(imap_uids_and_flags(filled.imap_port, filled.user, filled.password)) == 5


def test_fetchmail_pop3_without_keep_deletes(filled: TidingsServer, tmp_path: Path) -> None:
    fetchmail = Fetchmail(tmp_path, filled, "POP3", filled.pop3_port, "nokeep sslproto ''")
    assert fetchmail.run().returncode == 0
    assert fetchmail.delivered() == [as_delivered(raw) for raw in MESSAGES]
    assert imap_uids_and_flags(filled.imap_port, filled.user, filled.password) == {}


def test_fetchmail_pop3s(filled: TidingsServer, tmp_path: Path) -> None:
    fetchmail = Fetchmail(tmp_path, filled, "POP3", filled.pop3s_port, "keep ssl no sslcertck")
    result = fetchmail.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert fetchmail.delivered() == [as_delivered(raw) for raw in MESSAGES]


def test_fetchmail_imap(filled: TidingsServer, tmp_path: Path) -> None:
    fetchmail = Fetchmail(tmp_path, filled, "IMAP", filled.imap_port, "keep sslproto ''")
    assert fetchmail.run().returncode == 0
    assert fetchmail.delivered() == [as_delivered(raw) for raw in MESSAGES]
    flags = imap_uids_and_flags(filled.imap_port, filled.user, filled.password)
    assert all(b"\\Seen" in value for value in flags.values())  # fetchmail marks them read
    assert fetchmail.run().returncode == 1  # only unseen mail is fetched over IMAP
