"""Command handlers register here, one module per command group or extension."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from tidings.imap.proto import commands as c

if TYPE_CHECKING:
    from tidings.imap.session.core import ImapSession

CommandT = TypeVar("CommandT", bound=c.Command)
Handler = Callable[["ImapSession", Any], Awaitable[None]]

HANDLERS: dict[type[c.Command], Handler] = {}


def handles(
    *command_types: type[CommandT],
) -> Callable[[Callable[[ImapSession, CommandT], Awaitable[None]]], Handler]:
    """Register the decorated coroutine as the handler of `command_types`."""

    def register(handler: Callable[[ImapSession, CommandT], Awaitable[None]]) -> Handler:
        for command_type in command_types:
            HANDLERS[command_type] = handler
        return handler

    return register
