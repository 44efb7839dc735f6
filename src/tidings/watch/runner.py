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
from tidings.imap.proto.client_responses import Condition, ListItem, Status, encode_mailbox
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
        try:
            await log_in(client, account)
        except ConfigError as error:
            raise ConfigError(f"{account.key}: {error}") from None
        return client

    async def _session(self) -> None:
        self._was_connected = False
        client = await self._connect()
        mechanism = self._mechanism(client.capabilities)
        mailboxes = await resolve_mailboxes(
            client, self.account.mailboxes, patterns_may_be_empty=mechanism == "notify"
        )
        word = MECHANISM_WORDS[mechanism]
        listed = (
            ", ".join(mailboxes) or f"no mailbox yet matching {', '.join(self.account.mailboxes)}"
        )
        if not self.succeeded:
            self.status_line(f"tidings watch: {self.account.key}: {listed} via {word}")
        self.succeeded = True
        self._was_connected = True
        log.info("%s: connected, %s via %s", self.account.key, listed, word)
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

    def _sync(self, client: ImapClient, name: str, *, from_start: bool = False) -> MailboxSync:
        stored = self.state.get(self.account.key, name) if self.state is not None else None
        since = self.since
        if from_start and stored is None:
            since = date(1970, 1, 1)  # a mailbox created while watching: all of it is new
        key, filters = self.account.key, self.account.filters

        async def emit(event: Event | None, new_state: MailboxState | None) -> None:
            await self.dispatcher.dispatch(key, name, event, new_state, filters)

        return MailboxSync(
            client=client, account=key, mailbox=name, emit=emit,
            include=self.account.include, stored=stored, since=since,
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
        """RFC 5465 NOTIFY: one connection, STATUS events for every watched mailbox, and
        mailbox names for the whole personal namespace, so that a mailbox created (or renamed)
        later that the account's names or patterns match is watched from its first message."""
        watch = NotifyWatch(self, client)
        for name in mailboxes:
            watch.add(name, self._sync(client, name))
        client.forward_during_command = forward_notify_events
        await watch.set_notify()
        for name in mailboxes:
            await watch.sync(name)
        await self._ready()
        keepalive = min(self.account.idle_restart, 300.0)
        while True:
            response = await client.next_unsolicited(keepalive)
            if response is None:
                await client.command("NOOP", timeout=self.account.noop_timeout)
            elif isinstance(response, Status):
                await watch.on_status(response)
            elif isinstance(response, ListItem):
                await self._mailbox_event(response)
                await watch.on_mailbox_change(response)
            elif isinstance(response, Condition) and _code(response) == "NOTIFICATIONOVERFLOW":
                # RFC 5465 §5.8: NOTIFY is off; a new connection starts again from the state.
                raise ImapError("the server ended NOTIFY (NOTIFICATIONOVERFLOW)")

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


async def log_in(client: ImapClient, account: AccountConfig) -> None:
    """Authenticate as `account` says: XOAUTH2/OAUTHBEARER with a token from its command, else
    LOGIN with the password from its source (ConfigError if it has none)."""
    if account.auth in ("xoauth2", "oauthbearer"):
        assert account.token is not None
        token = await account.token.read()
        await client.authenticate_oauth(account.auth.upper(), account.user, token)
        return
    if account.password is None:
        raise ConfigError("no password source")
    await client.login(account.user, await account.password.read())


def forward_notify_events(command: str, response: object) -> bool:
    """NOTIFY events that arrive during another command are news too (RFC 5465 §5): a STATUS
    is (our own STATUS answers are recognised as unchanged later), a LIST unless we asked."""
    if isinstance(response, Status):
        return True
    return isinstance(response, ListItem) and command not in ("LIST", "LSUB")


def _moved_since_select(sync: MailboxSync, status: dict[str, int]) -> bool:
    """Whether a STATUS taken after the sync shows changes the sync did not see: new
    messages, a different count (an expunge) or a higher HIGHESTMODSEQ (flags)."""
    stored = sync.stored
    last = stored.last_uid if stored is not None else 0
    if status.get("UIDNEXT", 0) - 1 > last:
        return True
    if "MESSAGES" in status and status["MESSAGES"] != len(sync.uids):
        return True
    modseq = stored.highestmodseq if stored is not None else None
    return "HIGHESTMODSEQ" in status and modseq is not None and status["HIGHESTMODSEQ"] > modseq


def _code(condition: Condition) -> str:
    return condition.code.name.upper() if condition.code is not None else ""


class NotifyWatch:
    """The mailboxes one NOTIFY connection watches, and what each last looked like."""

    def __init__(self, runner: AccountRunner, client: ImapClient) -> None:
        self.runner = runner
        self.client = client
        self.syncs: dict[str, MailboxSync] = {}
        self.seen: dict[str, dict[str, int]] = {}
        self._status_items = b"(UIDNEXT MESSAGES UIDVALIDITY)"
        if {"CONDSTORE", "QRESYNC"} & client.capabilities:
            self._status_items = b"(UIDNEXT MESSAGES UIDVALIDITY HIGHESTMODSEQ)"

    def add(self, name: str, sync: MailboxSync) -> None:
        """Watch `name` with `sync`."""
        self.syncs[name] = sync

    async def set_notify(self) -> None:
        """NOTIFY SET for the current mailbox set (RFC 5465 §3)."""
        # §5.1: MessageNew needs MessageExpunge; FlagChange for the flags events.
        events = b"(MessageNew MessageExpunge FlagChange)"
        groups = b"(personal (MailboxName))"
        if self.syncs:
            names = b" ".join(encode_mailbox(name) for name in self.syncs)
            groups = b"(mailboxes (" + names + b") " + events + b") " + groups
        await self.client.command("NOTIFY", b"SET STATUS " + groups)

    async def sync(self, name: str) -> None:
        """Report what is new in `name`, then STATUS it (after leaving it, which closes the
        race with a delivery during the sync) until nothing more arrived."""
        sync = self.syncs[name]
        for _ in range(10):
            await sync.select()
            await _unselect(self.client)
            result = await self.client.command("STATUS", encode_mailbox(name), self._status_items)
            status = next(
                (u.items for u in result.untagged if isinstance(u, Status) and u.mailbox == name),
                {},
            )
            self.seen[name] = dict(status)
            if not _moved_since_select(sync, status):
                return

    async def on_status(self, status: Status) -> None:
        """A STATUS event: sync the mailbox unless it says nothing new."""
        if status.mailbox not in self.syncs:
            return
        seen = self.seen.get(status.mailbox, {})
        if status.items and all(seen.get(k) == v for k, v in status.items.items()):
            return  # our own STATUS, or a change already synced
        await self.sync(status.mailbox)

    async def on_mailbox_change(self, item: ListItem) -> None:
        """RFC 5465 §5.4 MailboxName: follow renames, drop deleted mailboxes, and watch new
        ones the account's names or patterns match."""
        attributes = {a.lower() for a in item.attributes}
        state, key = self.runner.state, self.runner.account.key
        if "\\nonexistent" in attributes:
            if self.syncs.pop(item.mailbox, None) is not None:
                self.seen.pop(item.mailbox, None)
                if state is not None:
                    state.remove(key, item.mailbox)
                await self.set_notify()
            return
        old = item.old_name
        if old is not None and old in self.syncs:
            self.syncs.pop(old)
            self.seen.pop(old, None)
            stored = state.get(key, old) if state is not None else None
            if state is not None:
                if stored is not None:
                    state.set(key, item.mailbox, stored)
                state.remove(key, old)
            self.syncs[item.mailbox] = self.runner._sync(self.client, item.mailbox)
        elif item.mailbox not in self.syncs and wanted_by(
            self.runner.account.mailboxes, item.mailbox, item.delimiter
        ):
            # A new mailbox: every message in it is new (its first UID included).
            self.syncs[item.mailbox] = self.runner._sync(self.client, item.mailbox, from_start=True)
        else:
            return
        await self.set_notify()
        try:
            await self.sync(item.mailbox)
        except CommandFailed as exc:
            # Renamed or deleted again before we looked: its own MailboxName event follows.
            log.info("%s: %s went away: %s", key, item.mailbox, _describe(exc))
            self.syncs.pop(item.mailbox, None)
            self.seen.pop(item.mailbox, None)
            await self.set_notify()


async def _unselect(client: ImapClient) -> None:
    """UNSELECT (RFC 3691) or CLOSE: leave the mailbox (EXAMINE made CLOSE expunge-free)."""
    name = "UNSELECT" if "UNSELECT" in client.capabilities else "CLOSE"
    await client.command(name)


async def resolve_mailboxes(
    client: ImapClient, wanted: Sequence[str], *, patterns_may_be_empty: bool = False
) -> list[str]:
    """Names, patterns (`*`, `%`) and special-use names (RFC 6154 `\\Junk`) to mailbox names;
    ConfigError for a name that matches nothing (and for a pattern, unless
    `patterns_may_be_empty`: with NOTIFY, mailboxes created later are watched)."""
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
        matches = [i.mailbox for i in selectable if _matches(want, i.mailbox, i.delimiter, i)]
        if not _is_pattern(want):
            matches = matches[:1]
        if not matches and not (patterns_may_be_empty and _is_pattern(want)):
            raise ConfigError(f"unknown mailbox {want!r} on {client_host(client)}")
        for name in matches:
            if name not in found:
                found.append(name)
    if not found and not patterns_may_be_empty:
        raise ConfigError(f"no mailbox on {client_host(client)} matches {', '.join(wanted)}")
    return found


def wanted_by(wanted: Sequence[str], name: str, delimiter: str | None) -> bool:
    """Whether a mailbox `name` (just created or renamed) is one the account watches (names
    and patterns; special-use attributes are not known for it yet)."""
    return any(_matches(want, name, delimiter, None) for want in wanted)


def _is_pattern(want: str) -> bool:
    return "*" in want or "%" in want


def _matches(want: str, name: str, delimiter: str | None, item: ListItem | None) -> bool:
    if want.startswith("\\"):
        return item is not None and want.lower() in {a.lower() for a in item.attributes}
    if _is_pattern(want):
        return _pattern(want, delimiter).fullmatch(name) is not None
    return _canon(name) == (want.upper() if want.upper() == "INBOX" else want)


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
