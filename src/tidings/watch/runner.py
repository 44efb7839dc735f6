"""One account of `tidings watch`: connect, resolve mailboxes, watch via NOTIFY, IDLE or
polling, and reconnect forever with exponential backoff and jitter."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import sys
from collections.abc import Callable, Sequence
from datetime import date

from tidings.imap.client import (
    AuthenticationFailed,
    CertificateProblem,
    CommandFailed,
    ImapClient,
    ImapError,
)
from tidings.imap.proto.client_responses import ListItem, Status, encode_mailbox
from tidings.watch.config import AccountConfig
from tidings.watch.dispatcher import Dispatcher
from tidings.watch.errors import ConfigError
from tidings.watch.events import Event
from tidings.watch.mailbox_sync import MailboxSync
from tidings.watch.state import MailboxState, WatchState

log = logging.getLogger("tidings.watch")

FATAL = (CertificateProblem, AuthenticationFailed, ConfigError)
"""Errors that end the watcher (exit 2) when they happen before the first success."""

MECHANISM_WORDS = {"notify": "NOTIFY", "idle": "IDLE", "poll": "polling"}


class FatalError(Exception):
    """A configuration problem on the first connection: one line, exit status 2."""


class AccountRunner:
    """Watches one account until cancelled (or, with `once`, until one pass is done)."""

    def __init__(
        self,
        account: AccountConfig,
        dispatcher: Dispatcher,
        state: WatchState | None,
        *,
        once: bool = False,
        since: date | None = None,
        backoff_base: float = 1.0,
        backoff_max: float = 300.0,
        status_line: Callable[[str], None] | None = None,
    ) -> None:
        self.account = account
        self.dispatcher = dispatcher
        self.state = state
        self.once = once
        self.since = since
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.status_line = status_line or (lambda line: print(line, file=sys.stderr, flush=True))
        self.succeeded = False
        self._clients: list[ImapClient] = []

    async def run(self) -> int:
        """Run until cancelled; 0 after a `once` pass; raises FatalError on a first failure."""
        attempt = 0
        while True:
            try:
                await self._session()
                return 0
            except FATAL as exc:
                if not self.succeeded:
                    raise FatalError(_describe(exc)) from None
                reason = _describe(exc)
                await self._event(None, "error", message=reason)
            except (ImapError, OSError, TimeoutError, EOFError) as exc:
                reason = _describe(exc)
            finally:
                self._close_all()
            if self._was_connected:
                attempt = 0  # the connection worked: start the backoff from the beginning
            delay = min(self.backoff_max, self.backoff_base * 2**attempt)
            delay = round(delay * random.uniform(0.5, 1.0), 2)
            attempt += 1
            log.warning("%s: %s; reconnecting in %.1fs", self.account.key, reason, delay)
            await self._event(None, "disconnected", reason=reason, retry_in=delay)
            await asyncio.sleep(delay)

    _was_connected = False

    async def _event(self, mailbox: str | None, kind: str, **fields: object) -> None:
        event = Event(kind=kind, account=self.account.key, mailbox=mailbox, fields=fields)
        await self.dispatcher.dispatch(self.account.key, mailbox or "", event, None)

    def close(self) -> None:
        """Drop every connection (on shutdown)."""
        self._close_all()

    def _close_all(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()

    async def _connect(self) -> ImapClient:
        account = self.account
        client = await ImapClient.connect(account.endpoint, timeout=account.connect_timeout)
        self._clients.append(client)
        if account.auth in ("xoauth2", "oauthbearer"):
            assert account.token is not None
            token = await account.token.read()
            await client.authenticate_oauth(account.auth.upper(), account.user, token)
        else:
            if account.password is None:
                raise ConfigError(f"{account.key}: no password source")
            password = await account.password.read()
            await client.login(account.user, password)
        return client

    async def _session(self) -> None:
        self._was_connected = False
        client = await self._connect()
        mailboxes = await resolve_mailboxes(client, self.account.mailboxes)
        mechanism = self._mechanism(client.capabilities)
        word = MECHANISM_WORDS[mechanism]
        if not self.succeeded:
            self.status_line(
                f"tidings watch: {self.account.key}: {', '.join(mailboxes)} via {word}"
            )
        self.succeeded = True
        self._was_connected = True
        log.info("%s: connected, %s via %s", self.account.key, ", ".join(mailboxes), word)
        fields = {"server": self.account.endpoint.host, "mechanism": word}
        self._pending = len(mailboxes)
        self._announce_fields = {**fields, "mailboxes": list(mailboxes)}
        # `connected` goes out once every mailbox is synced and watched: a message delivered
        # after it cannot be taken for an old one.
        if self.once:
            for name in mailboxes:
                sync = self._sync(client, name)
                await sync.select()
                await _unselect(client)
            await self._ready()
            await client.logout()
            return
        if mechanism == "notify":
            await self._notify(client, mailboxes)
        elif mechanism == "idle":
            async with asyncio.TaskGroup() as group:
                for index, name in enumerate(mailboxes):
                    conn = client if index == 0 else None
                    group.create_task(self._idle(conn, name))
        else:
            await self._poll(client, mailboxes)

    _pending = 0
    _announce_fields: dict[str, object] | None = None

    async def _ready(self, count: int | None = None) -> None:
        """One mailbox (or `count`) is watched; the last one announces `connected`."""
        self._pending -= self._pending if count is None else count
        if self._pending <= 0 and self._announce_fields is not None:
            fields, self._announce_fields = self._announce_fields, None
            await self._event(None, "connected", **fields)

    def _mechanism(self, caps: frozenset[str]) -> str:
        mode = self.account.mode
        if mode == "notify" or (mode == "auto" and "NOTIFY" in caps):
            if "NOTIFY" in caps:
                return "notify"
            log.warning("%s: the server lacks NOTIFY; using IDLE or polling", self.account.key)
        if mode in ("auto", "notify", "idle") and "IDLE" in caps:
            return "idle"
        return "poll"

    def _sync(self, client: ImapClient, name: str) -> MailboxSync:
        stored = self.state.get(self.account.key, name) if self.state is not None else None
        key, filters = self.account.key, self.account.filters

        async def emit(event: Event | None, new_state: MailboxState | None) -> None:
            await self.dispatcher.dispatch(key, name, event, new_state, filters)

        return MailboxSync(
            client=client, account=key, mailbox=name, emit=emit,
            include=self.account.include, stored=stored, since=self.since,
        )  # fmt: skip

    async def _idle(self, client: ImapClient | None, name: str) -> None:
        """RFC 2177 IDLE on one mailbox, re-issued every idle_restart with a NOOP between."""
        if client is None:
            client = await self._connect()
        account = self.account
        sync = self._sync(client, name)
        await sync.select()
        loop = asyncio.get_running_loop()
        announce = True
        while True:
            fetch = False
            async with client.idle() as idle:
                if announce:
                    announce = False
                    await self._ready(1)
                deadline = loop.time() + account.idle_restart
                while (remaining := deadline - loop.time()) > 0:
                    response = await idle.next(remaining)
                    if response is None:
                        break
                    if await sync.handle(response):
                        fetch = True
                        break
            if fetch:
                await sync.fetch_new()
            # A NOOP between IDLEs checks that the connection is alive (dead peers do not EOF).
            result = await client.command("NOOP", timeout=account.noop_timeout)
            for response in result.untagged:
                if await sync.handle(response):
                    fetch = True
            if fetch:
                await sync.fetch_new()

    async def _poll(self, client: ImapClient, mailboxes: Sequence[str]) -> None:
        """STATUS every poll_interval; sync a mailbox when its status changed."""
        items = "UIDNEXT UIDVALIDITY MESSAGES"
        if "CONDSTORE" in client.capabilities or "QRESYNC" in client.capabilities:
            items += " HIGHESTMODSEQ"  # RFC 7162 §3.1.9
        syncs = {name: self._sync(client, name) for name in mailboxes}
        last: dict[str, dict[str, int]] = {}
        while True:
            for name, sync in syncs.items():
                result = await client.command(
                    "STATUS", encode_mailbox(name), f"({items})".encode(),
                    timeout=self.account.noop_timeout,
                )  # fmt: skip
                status = next((u.items for u in result.untagged if isinstance(u, Status)), {})
                if last.get(name) != status:
                    await sync.select()
                    await _unselect(client)
                    last[name] = status
            await self._ready()
            await asyncio.sleep(self.account.poll_interval)

    async def _notify(self, client: ImapClient, mailboxes: Sequence[str]) -> None:
        """RFC 5465 NOTIFY: one connection, STATUS events for every watched mailbox."""
        names = b" ".join(encode_mailbox(name) for name in mailboxes)
        # RFC 5465 §5.1: an event group per filter; MessageNew needs MessageExpunge.
        events = b"(MessageNew MessageExpunge FlagChange)"
        groups = b"(mailboxes (" + names + b") " + events + b") (personal (MailboxName))"
        await client.command("NOTIFY", b"SET STATUS " + groups)
        syncs = {name: self._sync(client, name) for name in mailboxes}
        for name in mailboxes:
            await self._notify_sync(client, syncs[name])
        await self._ready()
        keepalive = min(self.account.idle_restart, 300.0)
        while True:
            response = await client.next_unsolicited(keepalive)
            if response is None:
                await client.command("NOOP", timeout=self.account.noop_timeout)
                continue
            if isinstance(response, Status) and response.mailbox in syncs:
                await self._notify_sync(client, syncs[response.mailbox])
            elif isinstance(response, ListItem):
                await self._mailbox_event(response)

    async def _notify_sync(self, client: ImapClient, sync: MailboxSync) -> None:
        for _ in range(10):
            await sync.select()
            await _unselect(client)
            # STATUS after leaving the mailbox closes the race with a delivery during the sync.
            result = await client.command("STATUS", encode_mailbox(sync.mailbox), b"(UIDNEXT)")
            status = next((u.items for u in result.untagged if isinstance(u, Status)), {})
            last = sync.stored.last_uid if sync.stored is not None else 0
            if status.get("UIDNEXT", 0) - 1 <= last:
                return

    async def _mailbox_event(self, item: ListItem) -> None:
        attributes = {a.lower() for a in item.attributes}
        if "\\nonexistent" in attributes:
            change = "deleted"
        elif item.old_name is not None:
            change = "renamed"
        else:
            change = "created"
        await self._event(
            item.mailbox, "mailbox", change=change, name=item.mailbox, old_name=item.old_name
        )


async def _unselect(client: ImapClient) -> None:
    """UNSELECT (RFC 3691) or CLOSE: leave the mailbox (EXAMINE made CLOSE expunge-free)."""
    name = "UNSELECT" if "UNSELECT" in client.capabilities else "CLOSE"
    await client.command(name)


async def resolve_mailboxes(client: ImapClient, wanted: Sequence[str]) -> list[str]:
    """Names, patterns (`*`, `%`) and special-use names (RFC 6154 `\\Junk`) to mailbox names;
    ConfigError for one that matches nothing."""
    if "SPECIAL-USE" in client.capabilities:
        result = await client.command("LIST", b'""', b'"*"', b"RETURN", b"(SPECIAL-USE)")
    else:
        result = await client.command("LIST", b'""', b'"*"')
    items = [u for u in result.untagged if isinstance(u, ListItem)]
    selectable = [
        i for i in items
        if not {a.lower() for a in i.attributes} & {"\\noselect", "\\nonexistent"}
    ]  # fmt: skip
    found: list[str] = []
    for want in wanted:
        if want.startswith("\\"):
            matches = [
                i.mailbox for i in selectable if want.lower() in {a.lower() for a in i.attributes}
            ]
        elif "*" in want or "%" in want:
            matches = [
                i.mailbox for i in selectable if _pattern(want, i.delimiter).fullmatch(i.mailbox)
            ]
        else:
            canon = want.upper() if want.upper() == "INBOX" else want
            matches = [i.mailbox for i in selectable if _canon(i.mailbox) == canon][:1]
        if not matches:
            raise ConfigError(f"unknown mailbox {want!r} on {client_host(client)}")
        for name in matches:
            if name not in found:
                found.append(name)
    return found


def _canon(name: str) -> str:
    return "INBOX" if name.upper() == "INBOX" else name


def client_host(client: ImapClient) -> str:
    """The server's name for messages (best effort)."""
    return getattr(getattr(client, "endpoint", None), "host", "the server")


def _pattern(pattern: str, delimiter: str | None) -> re.Pattern[str]:
    """RFC 9051 §6.3.9: `*` matches anything, `%` anything but the hierarchy delimiter."""
    other = f"[^{re.escape(delimiter)}]*" if delimiter else ".*"
    parts = [".*" if c == "*" else other if c == "%" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.IGNORECASE if pattern.upper().startswith("INBOX") else 0)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, CommandFailed):
        return f"{exc.tagged.status} {exc.tagged.text}".strip()
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
