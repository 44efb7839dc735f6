"""Reading mail back over IMAP, to compare what a delivery stored byte for byte."""

from __future__ import annotations

import imaplib


def fetch_bodies(host: str, port: int, user: str, password: str, mailbox: str) -> list[bytes]:
    """BODY[] of every message in `mailbox`, in order, without setting \\Seen."""
    client = imaplib.IMAP4(host, port)
    try:
        client.login(user, password)
        client.select(mailbox, readonly=True)
        _, data = client.fetch("1:*", "(BODY.PEEK[])")
        return [item[1] for item in data if isinstance(item, tuple)]
    finally:
        client.logout()
