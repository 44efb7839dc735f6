"""Every command the parser can produce has a row in the state table and a handler, so a new
extension (QUOTA's three commands, say) cannot be parsed and then answered "not
implemented" or allowed in a state nobody decided on."""

from __future__ import annotations

import tidings.imap.driver  # noqa: F401  (importing the driver registers every handler)
from tidings.imap.proto import commands as c
from tidings.imap.session.registry import HANDLERS
from tidings.imap.session.state import ALLOWED_STATES, SessionState

COMMAND_TYPES = [
    value
    for value in vars(c).values()
    if isinstance(value, type) and issubclass(value, c.Command) and value is not c.Command
]


def test_every_command_has_a_state_rule_and_a_handler() -> None:
    assert c.GetQuota in COMMAND_TYPES and c.SetQuota in COMMAND_TYPES
    assert [t.__name__ for t in COMMAND_TYPES if t not in ALLOWED_STATES] == []
    assert [t.__name__ for t in COMMAND_TYPES if t not in HANDLERS] == []


def test_rfc9208_commands_need_authentication_only() -> None:
    for command in (c.GetQuota, c.GetQuotaRoot, c.SetQuota):
        assert ALLOWED_STATES[command] == {SessionState.AUTHENTICATED, SessionState.SELECTED}
