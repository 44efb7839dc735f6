"""Helpers for the RFC 7162 (CONDSTORE, QRESYNC) tests: a transcript player that tolerates
the untagged OK codes other extensions add to SELECT, and a mailbox filler."""

from __future__ import annotations

import re

from tests.imap.harness import PASSWORD, USER, InProcessServer, LineClient, _line_pattern

# Untagged `* OK [CODE ...]` lines other extensions add to SELECT (RFC 8474 MAILBOXID);
# these transcripts are about RFC 7162 and skip them.
_FOREIGN_CODES = re.compile(r"\* OK \[(MAILBOXID) ")


def play(server: InProcessServer, script: str, **values: object) -> None:
    """Like harness.run_transcript (`C<n>:` sends, `S<n>:` expects, `…` matches anything),
    skipping untagged OK lines with a code of another extension. `{name}` is replaced by
    `values[name]` (e.g. a UIDVALIDITY learnt beforehand)."""
    clients: dict[str, LineClient] = {}
    try:
        for number, raw in enumerate(script.strip().splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            who, _, text = line.partition(": ")
            kind, connection = who[0], who[1:] or "1"
            client = clients.get(connection)
            if client is None:
                client = clients[connection] = LineClient(server.port)
            text = text.replace("{user}", USER).replace("{password}", PASSWORD)
            for name, value in values.items():
                text = text.replace("{" + name + "}", str(value))
            if kind == "C":
                client.send_line(text)
                continue
            if _FOREIGN_CODES.match(text):
                continue  # wherever the other extension puts it, it is skipped below
            got = client.read_line()
            while _FOREIGN_CODES.match(got):
                got = client.read_line()
            assert _line_pattern(text).fullmatch(got), (
                f"transcript line {number}: expected {text!r}, got {got!r}"
            )
    finally:
        for client in clients.values():
            client.close()


def fill(server: InProcessServer, count: int, mailbox: str = "INBOX") -> None:
    """Append `count` small messages to `mailbox` (each takes one modseq)."""
    client = LineClient(server.port)
    try:
        client.login()
        for index in range(count):
            body = f"Subject: m{index}\r\n\r\nbody {index}\r\n"
            client.send_line(f"f{index} APPEND {mailbox} {{{len(body)}+}}")
            client.send(body.encode() + b"\r\n")
            reply = client.read_until_tagged(f"f{index}")
            assert reply[-1].startswith(f"f{index} OK"), reply
    finally:
        client.close()


def uidvalidity(server: InProcessServer, mailbox: str = "INBOX") -> int:
    """The mailbox's UIDVALIDITY, by STATUS on a connection of its own."""
    client = LineClient(server.port)
    try:
        client.login()
        reply = client.command("u1", f"STATUS {mailbox} (UIDVALIDITY)")
        return int(reply[0].rsplit(" ", 1)[1].rstrip(")"))
    finally:
        client.close()


def select_lines(client: LineClient, tag: str, command: str) -> list[str]:
    """The responses to a SELECT/EXAMINE (or any command), other extensions' codes dropped."""
    return [line for line in client.command(tag, command) if not _FOREIGN_CODES.match(line)]
