"""A command that a client writes in pieces is answered at once, not after a delayed ACK.

imaplib (and offlineimap, whose imaplib2 does the same) writes an APPEND's literal and the
CRLF that ends the command with two separate writes. With Nagle's algorithm on the client
(the default) the CRLF waits until the literal is ACKed, and a server that leaves ACKs to the
delayed-ACK timer made every such APPEND take 40 ms or more: seeding the 200-message mailbox
of tests/clients/test_mbsync_sync.py took 9 s on Tidings against 1 s on Dovecot. Dovecot
acknowledges at once (TCP_QUICKACK); so does Tidings now (net/stream.py).
"""

from __future__ import annotations

import socket
import statistics
import time

import pytest

from .helpers import ImapTarget, make_message

APPENDS = 15
# Far below the 40 ms minimum delayed-ACK time (Linux TCP_DELACK_MIN); an APPEND here takes
# a few ms, so a loaded machine still passes.
MEDIAN_LIMIT = 0.030


@pytest.mark.skipif(not hasattr(socket, "TCP_QUICKACK"), reason="no delayed-ACK control here")
def test_imaplib_appends_are_not_held_by_delayed_acks(imap: ImapTarget, mailbox: str) -> None:
    client = imap.login()
    durations = []
    for number in range(APPENDS):
        started = time.perf_counter()
        typ, data = client.append(mailbox, None, None, make_message(f"piece {number}"))
        durations.append(time.perf_counter() - started)
        assert typ == "OK", data
    assert statistics.median(durations) < MEDIAN_LIMIT, sorted(durations)
