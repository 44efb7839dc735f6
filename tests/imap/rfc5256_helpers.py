"""Helpers for the SORT / THREAD transcripts: build small messages and APPEND them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.imap.harness import InProcessServer, LineClient, run_transcript


def message(
    subject: str | None = None,
    *,
    date: str | None = None,
    sender: str | None = None,
    to: str | None = None,
    cc: str | None = None,
    message_id: str | None = None,
    references: str | None = None,
    in_reply_to: str | None = None,
    body: str = "text",
) -> bytes:
    """A message with the given header fields (a field left None is not written)."""
    fields = [
        ("From", sender),
        ("To", to),
        ("Cc", cc),
        ("Subject", subject),
        ("Date", date),
        ("Message-ID", message_id),
        ("In-Reply-To", in_reply_to),
        ("References", references),
    ]
    header = "".join(f"{name}: {value}\r\n" for name, value in fields if value is not None)
    return (header + "\r\n" + body + "\r\n").encode()


def append_all(
    server: InProcessServer, messages: list[bytes], mailbox: str = "INBOX", day: int = 1
) -> None:
    """APPEND `messages` in order, the n-th with internal date `day + n` January 2024 at noon
    (UTC), one day later for each message."""
    client = LineClient(server.port)
    client.login()
    for index, raw in enumerate(messages):
        moment = datetime(2024, 1, day, 12, tzinfo=UTC) + timedelta(days=index)
        date = moment.strftime("%d-%b-%Y %H:%M:%S +0000")
        client.send(
            f'p{index} APPEND {mailbox} "{date}" {{{len(raw)}+}}\r\n'.encode() + raw + b"\r\n"
        )
        reply = client.read_until_tagged(f"p{index}")
        assert reply[-1].startswith(f"p{index} OK"), reply
    client.close()


def selected_client(server: InProcessServer, mailbox: str = "INBOX") -> LineClient:
    """A connection logged in with `mailbox` selected (its SELECT responses consumed)."""
    client = LineClient(server.port)
    client.login()
    reply = client.command("s0", f"SELECT {mailbox}")
    assert reply[-1].startswith("s0 OK"), reply
    return client


def play(server: InProcessServer, script: str, mailbox: str = "INBOX") -> None:
    """A golden transcript as in harness.run_transcript (`C<n>:` sends, `S<n>:` expects the
    next line, `…` matches anything), where each connection starts logged in with `mailbox`
    selected, so the script shows only the commands under test."""
    run_transcript(server, script, connect=lambda: selected_client(server, mailbox))


def assert_sorts(server: InProcessServer, orders: dict[str, str]) -> None:
    """Play `SORT (criteria) UTF-8 ALL` for each of `orders` (criteria -> the expected
    `* SORT` numbers), one after the other on one connection with INBOX selected."""
    script = "\n".join(
        f"C1: s{n} SORT ({criteria}) UTF-8 ALL\nS1: * SORT {expected}\nS1: s{n} OK Sort completed."
        for n, (criteria, expected) in enumerate(orders.items(), 1)
    )
    play(server, script)
