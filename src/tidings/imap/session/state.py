"""The IMAP connection states and which commands each allows (RFC 9051 §3, §6).

     not authenticated --LOGIN/AUTHENTICATE--> authenticated --SELECT--> selected
             \\                                   ^       <--CLOSE/UNSELECT--/
              \\--------------------------------- LOGOUT ---------------------> logout

One table, `ALLOWED_STATES`, holds every rule; the dispatcher consults nothing else.
"""

from __future__ import annotations

import enum

from tidings.imap.proto import commands as c
from tidings.imap.proto.metadata import GetMetadata, SetMetadata
from tidings.imap.proto.notify import Notify


class SessionState(enum.Enum):
    """Where a connection is in RFC 9051 §3."""

    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


_ANY = frozenset(
    {SessionState.NOT_AUTHENTICATED, SessionState.AUTHENTICATED, SessionState.SELECTED}
)
_NOT_AUTHENTICATED = frozenset({SessionState.NOT_AUTHENTICATED})
_AUTHENTICATED = frozenset({SessionState.AUTHENTICATED, SessionState.SELECTED})
_SELECTED = frozenset({SessionState.SELECTED})

# RFC 9051 §6.1 (any state), §6.2 (not authenticated), §6.3 (authenticated; also valid when
# selected), §6.4 (selected). ENABLE is RFC 5161 §3.1 "authenticated state"; like Dovecot we
# also accept it once selected, where it is harmless.
ALLOWED_STATES: dict[type[c.Command], frozenset[SessionState]] = {
    c.Capability: _ANY,
    c.Noop: _ANY,
    c.Logout: _ANY,
    c.Id: _ANY,
    c.StartTLS: _NOT_AUTHENTICATED,
    c.Authenticate: _NOT_AUTHENTICATED,
    c.Login: _NOT_AUTHENTICATED,
    c.Enable: _AUTHENTICATED,
    c.Select: _AUTHENTICATED,
    c.Create: _AUTHENTICATED,
    c.Delete: _AUTHENTICATED,
    c.Rename: _AUTHENTICATED,
    c.Subscribe: _AUTHENTICATED,
    c.List: _AUTHENTICATED,
    c.Lsub: _AUTHENTICATED,
    c.Namespace: _AUTHENTICATED,
    c.Status: _AUTHENTICATED,
    c.Append: _AUTHENTICATED,
    c.Idle: _AUTHENTICATED,
    c.Compress: _AUTHENTICATED,  # RFC 4978 §5: command-auth (Dovecot: after login only)
    c.SetAcl: _AUTHENTICATED,  # RFC 4314 §3: authenticated and selected states
    c.DeleteAcl: _AUTHENTICATED,
    c.GetAcl: _AUTHENTICATED,
    c.ListRights: _AUTHENTICATED,
    c.MyRights: _AUTHENTICATED,
    c.GetQuota: _AUTHENTICATED,  # RFC 9208 §4.1: authenticated state
    c.GetQuotaRoot: _AUTHENTICATED,
    c.SetQuota: _AUTHENTICATED,
    GetMetadata: _AUTHENTICATED,  # RFC 5464 §4: authenticated and selected states
    SetMetadata: _AUTHENTICATED,
    Notify: _AUTHENTICATED,  # RFC 5465 §3.1: authenticated or selected state
    c.Check: _SELECTED,
    c.Close: _SELECTED,
    c.Unselect: _SELECTED,
    c.Expunge: _SELECTED,
    c.Search: _SELECTED,
    c.Sort: _SELECTED,  # RFC 5256 §3: selected state
    c.Thread: _SELECTED,
    c.Fetch: _SELECTED,
    c.Store: _SELECTED,
    c.Copy: _SELECTED,
}


def refusal_reason(command: c.Command, state: SessionState) -> str | None:
    """Why `command` may not run in `state`, or None when it may."""
    allowed = ALLOWED_STATES.get(type(command), frozenset())
    if state in allowed:
        return None
    if state is SessionState.NOT_AUTHENTICATED:
        return "Log in first."
    if allowed == _NOT_AUTHENTICATED:
        return "Already authenticated."
    if allowed == _SELECTED:
        return "No mailbox selected."
    return "Command not valid in this state."
