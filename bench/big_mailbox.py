"""Scenario: one big mailbox (100,000 messages in the full run) and what a client does in it.

`prepare_big()` fills the mailbox `Big` of one account, the same way on both servers: pipelined
APPENDs with non-synchronizing literals (LITERAL+) over a few connections, each with a
window of commands in flight. The messages are corpus messages (those up to 256 KiB) whose
Message-ID and Subject are replaced by unique ones (`message_id(n)`, "Bench big n"); every
RARE_EVERY-th (n = 0, 1000, 2000, ...) is a plain-text one whose body starts with
RARE_WORD, so a body search has a known answer.

`run_big()` then measures, each the median of 3 runs:
    "select ms"         SELECT Big ("select first ms": the first of them, colder)
    "fetch flags s"     UID FETCH 1:* (FLAGS), and "fetch flags bytes" of response
    "search header ms"  UID SEARCH HEADER Message-ID of the middle message
    "search body ms"    UID SEARCH BODY RARE_WORD
    "sort date ms"      UID SORT (DATE) UTF-8 ALL (None when SORT is not advertised)
    "new mail seen ms"  a second client IDLEs in Big; from the first client's APPEND OK to
                        the watcher's EXISTS (0 when the EXISTS came first: counted in
                        "new mail early"). The message
                        is expunged again, so the mailbox keeps its size.
plus the counts that tell the answers were right ("search header hits", "search body
hits", "sort count", "fetch flags count", "messages"). Every command has a timeout.
"""

from __future__ import annotations

import asyncio
import email
import os
import re
import statistics
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from bench.common import PASSWORD, corpus_messages
from bench.imap import BenchImap, ImapError
from bench.servers import Server

BIG_MAILBOX = "Big"
RARE_WORD = "quokkafandango"
RARE_EVERY = 1000
# Corpus messages larger than this are left out (a few of over a megabyte would dominate).
MAX_TEMPLATE_SIZE = 256 * 1024
# No reply within this long is a failure (a body search of 100,000 messages takes a while).
RESPONSE_TIMEOUT = 600.0
# The watcher's EXISTS after the APPEND OK, at most.
EXISTS_TIMEOUT = 10.0

_EXISTS = re.compile(rb"^\* (\d+) EXISTS")
_APPENDUID = re.compile(rb"APPENDUID \d+ (\d+)")
_DROPPED = {b"message-id", b"subject"}
T = TypeVar("T")


def message_id(number: int) -> str:
    """The Message-ID of big-mailbox message `number` (0-based)."""
    return f"<bench-big-{number:06d}@example.test>"


def rare_count(messages: int) -> int:
    """How many of the first `messages` carry RARE_WORD."""
    return len(range(0, messages, RARE_EVERY))


def _without_fields(message: bytes, names: set[bytes]) -> tuple[bytes, bytes]:
    """(header without the fields `names`, folded lines included; body)."""
    head, separator, body = message.partition(b"\r\n\r\n")
    if not separator:
        head, body = message, b""
    kept: list[bytes] = []
    dropping = False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = line.split(b":", 1)[0].strip().lower() in names
        if not dropping:
            kept.append(line)
    return b"".join(part + b"\r\n" for part in kept if part), body


@dataclass(frozen=True)
class Messages:
    """The templates the big mailbox's messages are made from."""

    plain: Sequence[tuple[bytes, bytes]]  # (header, body) of each corpus message
    rare: tuple[bytes, bytes]  # a text/plain one, for the RARE_WORD messages

    @classmethod
    def from_corpus(cls) -> Messages:
        plain = [
            _without_fields(m, _DROPPED) for m in corpus_messages() if len(m) <= MAX_TEMPLATE_SIZE
        ]
        for head, body in plain:
            parsed = email.message_from_bytes(head + b"\r\n")
            encoding = str(parsed.get("Content-Transfer-Encoding", "7bit")).strip().lower()
            if parsed.get_content_type() == "text/plain" and encoding in ("7bit", "8bit"):
                return cls(plain, (head, body))
        raise RuntimeError("no text/plain corpus message for the rare-word messages")

    def build(self, number: int) -> bytes:
        """Message `number`: unique Message-ID and Subject; RARE_WORD in every RARE_EVERY-th."""
        fields = f"Message-ID: {message_id(number)}\r\nSubject: Bench big {number:06d}\r\n"
        if number % RARE_EVERY == 0:
            head, body = self.rare
            body = f"{RARE_WORD} is the rare word of message {number}.\r\n".encode() + body
        else:
            head, body = self.plain[number % len(self.plain)]
        return fields.encode() + head + b"\r\n" + body


async def _within(awaitable: Awaitable[T], seconds: float = RESPONSE_TIMEOUT) -> T:
    return await asyncio.wait_for(awaitable, seconds)


async def _logged_in(server: Server, address: str) -> BenchImap:
    client = await _within(BenchImap.connect(server.imap_port), 60)
    await _within(client.login(address, PASSWORD), 60)
    return client


async def _log_out(client: BenchImap) -> None:
    try:
        await asyncio.wait_for(client.logout(), 10)
    except (TimeoutError, OSError):
        client.writer.transport.abort()


# ---------------------------------------------------------------------- filling
async def _fill_connection(
    server: Server, address: str, numbers: Sequence[int], messages: Messages, window: int
) -> int:
    """APPEND messages `numbers` with up to `window` in flight; how many were stored."""
    client = await _logged_in(server, address)
    room = asyncio.Semaphore(window)
    stored = 0

    async def read_replies() -> None:
        nonlocal stored
        try:
            while stored < len(numbers):
                line = await _within(client.read_response())
                if line.startswith(b"A"):
                    if line.split(b" ", 2)[1:2] != [b"OK"]:
                        raise ImapError(f"APPEND: {line[:200]!r}")
                    stored += 1
                    room.release()
        finally:
            for _ in range(window):  # wake the writer, whatever happened
                room.release()

    replies = asyncio.create_task(read_replies())
    mailbox = BIG_MAILBOX.encode()
    try:
        for number in numbers:
            await _within(room.acquire())
            if replies.done():
                break
            message = messages.build(number)
            client.writer.write(
                b"A%d APPEND %s () {%d+}\r\n%s\r\n" % (number, mailbox, len(message), message)
            )
            await _within(client.writer.drain())
        await replies
    finally:
        replies.cancel()
        await _log_out(client)
    return stored


def _write_maildir(folder: Path, count: int, messages: Messages) -> list[int]:
    """Messages 0..count-1 as files in the Maildir folder's cur/ (what `doveadm import` or
    a delivery agent leaves), owned as the folder is; dated a second apart, in order."""
    owner = folder.stat()
    cur = folder / "cur"
    start = int(time.time()) - count
    for number in range(count):
        path = cur / f"{start + number}.M{number}P1.bench:2,"
        path.write_bytes(messages.build(number))
        os.utime(path, (start + number, start + number))
        os.chown(path, owner.st_uid, owner.st_gid)
    return [count]


async def _prepare(
    server: Server,
    address: str,
    count: int,
    connections: int,
    window: int,
    *,
    maildir: Path | None = None,
) -> tuple[int, float]:
    messages = Messages.from_corpus()
    client = await _logged_in(server, address)
    await _within(client.command(f"DELETE {BIG_MAILBOX}", check=False))
    await _within(client.command(f"CREATE {BIG_MAILBOX}"))
    started = time.monotonic()
    if maildir is not None:
        folder = maildir / f".{BIG_MAILBOX}"
        stored = await asyncio.to_thread(_write_maildir, folder, count, messages)
    else:
        stored = await asyncio.gather(
            *(
                _fill_connection(server, address, range(n, count, connections), messages, window)
                for n in range(min(connections, count))
            )
        )
    elapsed = time.monotonic() - started
    untagged, _ = await _within(client.command(f"STATUS {BIG_MAILBOX} (MESSAGES)"))
    await client.logout()
    found = re.search(rb"MESSAGES (\d+)", b"".join(untagged))
    if sum(stored) != count or not found or int(found.group(1)) != count:
        raise RuntimeError(
            f"{server.name}: {sum(stored)} of {count} APPENDs stored, STATUS says"
            f" {found.group(1).decode() if found else '?'}"
        )
    return count, elapsed


def prepare_big(
    server: Server,
    address: str,
    messages: int,
    *,
    connections: int = 4,
    window: int = 32,
    maildir: Path | None = None,
) -> dict[str, float | None]:
    """(Re)create mailbox Big of `address` holding `messages` messages; {"fill msg/s",
    "fill s"}. `connections` connections each keep `window` APPENDs in flight. With
    `maildir` (Dovecot's Maildir of `address`), the messages are written there as files
    instead (Dovecot's APPEND takes over ten minutes for 100,000), and the fill rate is
    not reported: Dovecot reads the files in at the first SELECT ("select first ms")."""
    count, elapsed = asyncio.run(
        _prepare(server, address, messages, connections, window, maildir=maildir)
    )
    if maildir is not None:
        return {"fill msg/s": None, "fill s": None}
    return {"fill msg/s": count / elapsed if elapsed > 0 else float("nan"), "fill s": elapsed}


# ---------------------------------------------------------------------- measuring
async def _timed(client: BenchImap, command: str, runs: int) -> tuple[float, list[bytes], bytes]:
    """Median milliseconds of `runs` runs of `command`; the last run's response."""
    times = []
    untagged: list[bytes] = []
    tagged = b""
    for _ in range(runs):
        started = time.monotonic()
        untagged, tagged = await _within(client.command(command))
        times.append((time.monotonic() - started) * 1000)
    return statistics.median(times), untagged, tagged


def _numbers(untagged: Sequence[bytes], keyword: bytes) -> list[int]:
    """The numbers of the `* SEARCH` / `* SORT` responses."""
    found: list[int] = []
    for line in untagged:
        words = line.split()
        if words[:2] == [b"*", keyword]:
            found += [int(word) for word in words[2:] if word.isdigit()]
    return found


async def _next_exists(client: BenchImap) -> float:
    """When the next `* n EXISTS` arrives (monotonic)."""
    while True:
        line = await client.reader.readline()
        if not line:
            raise ImapError("watcher: connection closed")
        if _EXISTS.match(line):
            return time.monotonic()


async def _new_mail(
    writer: BenchImap, watcher: BenchImap, messages: Messages, runs: int
) -> tuple[list[float], int, int]:
    """(APPEND OK -> watcher's EXISTS in ms per run, misses, EXISTS before the OK); each
    message is expunged after."""
    seen: list[float] = []
    misses = early = 0
    for run in range(runs):
        await _within(watcher.idle(), 60)
        arrival = asyncio.create_task(_next_exists(watcher))
        await asyncio.sleep(0.05)  # the watcher is waiting
        tagged = await _within(writer.append(BIG_MAILBOX, messages.build(900_000 + run)))
        appended = time.monotonic()
        try:
            seen.append((await asyncio.wait_for(arrival, EXISTS_TIMEOUT) - appended) * 1000)
            early += seen[-1] < 0
            seen[-1] = max(0.0, seen[-1])
        except TimeoutError:
            misses += 1
        await _within(watcher.done(), 60)
        if match := _APPENDUID.search(tagged):
            uid = match.group(1).decode()
            await _within(writer.command(f"UID STORE {uid} +FLAGS.SILENT (\\Deleted)"))
            await _within(writer.command(f"UID EXPUNGE {uid}"))
        await _within(watcher.command("NOOP"), 60)
    return seen, misses, early


async def _measure(server: Server, address: str, runs: int) -> dict[str, float | None]:
    messages = Messages.from_corpus()
    client = await _logged_in(server, address)
    watcher = await _logged_in(server, address)
    result: dict[str, float | None] = {}
    try:
        untagged, _ = await _within(client.command("CAPABILITY"))
        capabilities = b" ".join(untagged).upper().split()
        started = time.monotonic()
        untagged, _ = await _within(client.command(f"SELECT {BIG_MAILBOX}"))
        result["select first ms"] = (time.monotonic() - started) * 1000
        result["select ms"], untagged, _ = await _timed(client, f"SELECT {BIG_MAILBOX}", runs)
        exists = next(int(m.group(1)) for line in untagged if (m := _EXISTS.match(line)))
        result["messages"] = float(exists)

        ms, untagged, tagged = await _timed(client, "UID FETCH 1:* (FLAGS)", runs)
        result["fetch flags s"] = ms / 1000
        result["fetch flags bytes"] = float(sum(map(len, untagged)) + len(tagged))
        result["fetch flags count"] = float(sum(b" FETCH " in line for line in untagged))

        target = message_id(exists // 2)
        command = f'UID SEARCH HEADER Message-ID "{target}"'
        result["search header ms"], untagged, _ = await _timed(client, command, runs)
        result["search header hits"] = float(len(_numbers(untagged, b"SEARCH")))

        command = f"UID SEARCH BODY {RARE_WORD}"
        result["search body ms"], untagged, _ = await _timed(client, command, runs)
        result["search body hits"] = float(len(_numbers(untagged, b"SEARCH")))

        result["sort date ms"] = result["sort count"] = None
        if b"SORT" in capabilities:
            command = "UID SORT (DATE) UTF-8 ALL"
            result["sort date ms"], untagged, _ = await _timed(client, command, runs)
            result["sort count"] = float(len(_numbers(untagged, b"SORT")))

        await _within(watcher.command(f"SELECT {BIG_MAILBOX}"))
        seen, misses, early = await _new_mail(client, watcher, messages, runs)
        result["new mail early"] = float(early)
        result["new mail seen ms"] = statistics.median(seen) if seen else None
        result["new mail misses"] = float(misses)
    finally:
        await _log_out(watcher)
        await _log_out(client)
    return result


def run_big(server: Server, address: str, *, runs: int = 3) -> dict[str, float | None]:
    """The figures of the module docstring for mailbox Big of `address` (prepare_big first)."""
    return asyncio.run(_measure(server, address, runs))
