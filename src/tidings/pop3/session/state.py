"""The POP3 session states and which commands each allows (RFC 1939 §3, §§4-7).

    AUTHORIZATION --USER/PASS, AUTH--> TRANSACTION --QUIT--> UPDATE --> CLOSED
          \\---------------------QUIT, or too many errors-------------^

One table, `ALLOWED_STATES`, holds every rule; the dispatcher consults nothing else. CLOSED
is where the driver stops reading: after QUIT, a fatal error or the bad-command budget.
"""

from __future__ import annotations

import enum

from tidings.pop3.proto import commands as c


class Pop3State(enum.Enum):
    """Where a session is in RFC 1939 §3."""

    AUTHORIZATION = "AUTHORIZATION"
    TRANSACTION = "TRANSACTION"
    UPDATE = "UPDATE"
    CLOSED = "CLOSED"


_AUTHORIZATION = frozenset({Pop3State.AUTHORIZATION})
_TRANSACTION = frozenset({Pop3State.TRANSACTION})
_BOTH = _AUTHORIZATION | _TRANSACTION

# RFC 1939 §4 (USER, PASS, QUIT in AUTHORIZATION), §5 (TRANSACTION), §6 (QUIT → UPDATE),
# §7 (TOP, UIDL); RFC 2449 §5: CAPA "in both the AUTHORIZATION and TRANSACTION states";
# RFC 2595 §4: STLS "only permitted in AUTHORIZATION state"; RFC 5034 §4: AUTH likewise.
ALLOWED_STATES: dict[type[c.Command], frozenset[Pop3State]] = {
    c.User: _AUTHORIZATION,
    c.Pass: _AUTHORIZATION,
    c.Auth: _AUTHORIZATION,
    c.Stls: _AUTHORIZATION,
    c.Capa: _BOTH,
    c.Quit: _BOTH,
    c.Stat: _TRANSACTION,
    c.List: _TRANSACTION,
    c.Uidl: _TRANSACTION,
    c.Retr: _TRANSACTION,
    c.Top: _TRANSACTION,
    c.Dele: _TRANSACTION,
    c.Noop: _TRANSACTION,
    c.Rset: _TRANSACTION,
}


def refusal_reason(command: c.Command, state: Pop3State) -> str | None:
    """Why `command` may not run in `state`, or None when it may."""
    if state in ALLOWED_STATES.get(type(command), frozenset()):
        return None
    if state is Pop3State.AUTHORIZATION:
        return f"Log in first: {command.keyword} is valid only in the TRANSACTION state."
    if state is Pop3State.TRANSACTION:
        return f"Already logged in: {command.keyword} is valid only before login."
    return "The session is ending."
