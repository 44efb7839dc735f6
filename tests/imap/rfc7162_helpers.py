"""Helpers for the RFC 7162 (CONDSTORE, QRESYNC) tests: a transcript player that tolerates
the untagged OK codes other extensions add to SELECT, and a mailbox filler."""

from __future__ import annotations

import re

from tests.imap.harness import InProcessServer, LineClient, play_transcript

# Untagged `* OK [CODE ...]` lines other extensions add to SELECT (RFC 8474 MAILBOXID);
# these transcripts are about RFC 7162 and skip them.
_FOREIGN_CODES = re.compile(r"\* OK \[(MAILBOXID) ")


def play(server: InProcessServer, script: str, **values: object) -> None:
    """harness.run_transcript (`C<n>:` sends, `S<n>:` expects, `…` matches anything),
    skipping untagged OK lines with a code of another extension. `{name}` is replaced by
    `values[name]` (e.g. a UIDVALIDITY learnt beforehand)."""
    play_transcript(server, script, values, skip=_FOREIGN_CODES)


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


def login(connection: str, tag: str) -> str:
    """Transcript lines: connection `connection` logs in with `tag` (values filled by play)."""
    return f'C{connection}: {tag} LOGIN {{user}} "{{password}}"\nS{connection}: {tag} OK …'


def opened(connection: str, tag: str, command: str, *, exists: int, uidnext: int) -> str:
    """Transcript lines: `command` (SELECT or EXAMINE without parameters) on connection
    `connection`, its untagged replies for a mailbox of `exists` messages none of them
    recent and the first unseen, and the tagged OK with READ-WRITE or READ-ONLY."""
    access = "READ-ONLY" if command.startswith("EXAMINE") else "READ-WRITE"
    return "\n".join(
        f"S{connection}: {line}" if index else f"C{connection}: {tag} {command}"
        for index, line in enumerate(
            (
                "",
                "* FLAGS …",
                "* OK [PERMANENTFLAGS …",
                f"* {exists} EXISTS",
                "* 0 RECENT",
                "* OK [UNSEEN 1] …",
                "* OK [UIDVALIDITY …",
                f"* OK [UIDNEXT {uidnext}] …",
                f"{tag} OK [{access}] …",
            )
        )
    )
