"""Command handlers register here, one module per command group or extension."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tidings.imap.proto import commands as c

if TYPE_CHECKING:
    from tidings.imap.session.core import ImapSession

Handler = Callable[["ImapSession", Any], Awaitable[None]]

HANDLERS: dict[type[c.Command], Handler] = {}


def handles(*command_types: type[c.Command]) -> Callable[[Handler], Handler]:
    """Register the decorated coroutine as the handler of `command_types`."""

    def register(handler: Handler) -> Handler:
        for command_type in command_types:
            HANDLERS[command_type] = handler
        return handler

    return register
