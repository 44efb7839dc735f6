"""Command handlers, one module per RFC 1939 state, and the table that dispatches to them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tidings.pop3.proto import commands as c
from tidings.pop3.session.handlers import any_state, authorization, transaction, update

if TYPE_CHECKING:
    from tidings.pop3.session.core import Pop3Session

Handler = Callable[["Pop3Session", Any], Awaitable[None]]

HANDLERS: dict[type[c.Command], Handler] = {
    c.User: authorization.user,
    c.Pass: authorization.pass_,
    c.Auth: authorization.auth,
    c.Stls: authorization.stls,
    c.Capa: any_state.capa,
    c.Quit: update.quit_,
    c.Stat: transaction.stat,
    c.List: transaction.list_,
    c.Uidl: transaction.uidl,
    c.Retr: transaction.retr,
    c.Top: transaction.top,
    c.Dele: transaction.dele,
    c.Noop: transaction.noop,
    c.Rset: transaction.rset,
}
