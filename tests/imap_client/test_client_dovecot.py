"""The asyncio ImapClient against a real Dovecot: login, SELECT, IDLE."""

from __future__ import annotations

import asyncio
import imaplib
import ssl
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from tests.support.dovecot import start_dovecot

from tidings.imap.client import Endpoint, ImapClient
from tidings.imap.proto.client_responses import Exists


@pytest.mark.dovecot
def test_dovecot_login_select_idle(tmp_path: Path) -> None:
    dovecot = start_dovecot(tmp_path / "dovecot")
    try:
        cert = x509.load_pem_x509_certificate((dovecot.base_dir / "cert.pem").read_bytes())
        pin = cert.fingerprint(hashes.SHA256()).hex()

        def append() -> None:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            with imaplib.IMAP4("127.0.0.1", dovecot.imap_port) as other:
                other.starttls(context)
                other.login(dovecot.user, dovecot.password)
                other.append("INBOX", None, None, b"Subject: x\r\n\r\nbody\r\n")
                other.logout()

        async def main() -> None:
            endpoint = Endpoint("127.0.0.1", dovecot.imap_port, "starttls", fingerprint=pin)
            client = await ImapClient.connect(endpoint)
            await client.login(dovecot.user, dovecot.password)
            assert "IDLE" in client.capabilities
            result = await client.command("SELECT", "INBOX")
            assert result.tagged.code is not None
            async with client.idle() as idle:
                await asyncio.to_thread(append)
                seen = None
                deadline = time.monotonic() + 10
                while seen is None and time.monotonic() < deadline:
                    item = await idle.next(1)
                    if isinstance(item, Exists):
                        seen = item
            assert seen is not None and seen.count >= 1
            await client.logout()

        asyncio.run(main())
    finally:
        dovecot.stop()
