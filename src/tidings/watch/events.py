"""The events `tidings watch` reports, and the Sink protocol every output implements.

An event is a kind (`new`, `flags`, `expunge`, `mailbox`, `error`, `connected`,
`disconnected`), the account and mailbox it concerns, and fields that depend on the kind. Its
`id` is stable: the same message reported again (after a crash between "accepted" and "state
written") carries the same id, so a receiver can drop the duplicate.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

STATE_EVENTS = frozenset({"new", "flags", "expunge", "mailbox"})
"""Events that describe the mailbox: retried until accepted, and the state waits for them.
The others (error, connected, disconnected) are news about the watcher: one attempt each."""

ALL_EVENTS = STATE_EVENTS | {"error", "connected", "disconnected"}

IDENTITY_FIELDS = {"new": ("uidvalidity", "uid")}
"""For `new`, the message is the identity: its flags may change between two reports."""


def utc_now() -> str:
    """The time of an event: ISO 8601, UTC, seconds."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Event:
    """One change to report."""

    kind: str
    account: str
    mailbox: str | None
    fields: dict[str, Any]
    time: str = field(default_factory=utc_now)

    @property
    def id(self) -> str:
        """A hex SHA-256 of what the event is about (not when it was seen, for mailbox
        events), so a repeated report has the same id."""
        if self.kind in STATE_EVENTS:
            names = IDENTITY_FIELDS.get(self.kind)
            about = {n: self.fields.get(n) for n in names} if names else self.fields
        else:
            about = {**self.fields, "time": self.time}
        identity = [self.kind, self.account, self.mailbox, about]
        encoded = json.dumps(identity, sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(encoded.encode("utf-8")).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """The JSON object of the event (stdout line, webhook body, exec stdin)."""
        return {
            "event": self.kind,
            "id": self.id,
            "account": self.account,
            "mailbox": self.mailbox,
            "time": self.time,
            **self.fields,
        }

    def to_bytes(self) -> bytes:
        """The JSON object as UTF-8 bytes, one line."""
        return json.dumps(self.to_json(), ensure_ascii=False, default=str).encode("utf-8")

    def environment(self) -> dict[str, str]:
        """The event as TIDINGS_* environment variables for an exec hook (lists joined by
        spaces; None as the empty string)."""
        env = {
            "TIDINGS_EVENT": self.kind,
            "TIDINGS_ID": self.id,
            "TIDINGS_ACCOUNT": self.account,
            "TIDINGS_MAILBOX": self.mailbox or "",
            "TIDINGS_TIME": self.time,
        }
        for name, value in self.fields.items():
            env["TIDINGS_" + name.upper().replace("-", "_")] = _env_text(value)
        return env


def _env_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return " ".join(_env_text(v) for v in value)
    text = str(value)
    return text.replace("\0", "")  # an environment string cannot hold NUL


class Sink(Protocol):
    """An output of events. `deliver` returns once the sink accepted the event; for state
    events it retries (raising SinkGaveUp only after a configured number of attempts)."""

    name: str
    kinds: frozenset[str]

    async def deliver(self, event: Event) -> None:
        """Hand `event` on; return when accepted."""

    async def close(self) -> None:
        """Release resources (HTTP connections, running hooks)."""
