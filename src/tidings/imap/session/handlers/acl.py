"""SETACL, DELETEACL, GETACL, LISTRIGHTS and MYRIGHTS (RFC 4314 §3).

Rights are kept and checked by the storage view (tidings.storage.namespaces): this module
parses the rights arguments and formats the answers. Every command but MYRIGHTS needs the
"a" right; a missing right is NO [NOPERM], a mailbox the user may not see is NO
[NONEXISTENT] (§6), a rights string with an unknown letter is BAD (§3.1).
"""

from __future__ import annotations

from tidings.core.acl import RightsChange, RightsError, rights_text, valid_identifier
from tidings.imap.proto import commands as c
from tidings.imap.proto.acl import acl_response, listrights_response, myrights_response
from tidings.imap.session.core import CommandFailed, ImapSession
from tidings.imap.session.registry import handles
from tidings.storage.namespaces import NamespacedStore


def _view(session: ImapSession) -> NamespacedStore:
    store = session.store
    if not isinstance(store, NamespacedStore):
        raise CommandFailed("This server's storage keeps no access control lists.", "CANNOT")
    return store


def _identifier(identifier: str) -> str:
    if not valid_identifier(identifier):
        raise CommandFailed(
            f"Invalid identifier {identifier!r}: use an account address or anyone"
            " (negative rights are not supported)",
            "CANNOT",
        )
    return identifier


@handles(c.SetAcl)
async def setacl(session: ImapSession, command: c.SetAcl) -> None:
    """§3.1: "+r" adds, "-r" removes, "r" replaces; an empty result removes the entry."""
    try:
        change = RightsChange.parse(command.rights)
    except RightsError as error:
        raise CommandFailed(str(error), status="BAD") from None
    name = session.decode_mailbox(command.mailbox)
    await _view(session).set_acl(name, _identifier(command.identifier), change)
    await session.complete(command, "Setacl complete.")


@handles(c.DeleteAcl)
async def deleteacl(session: ImapSession, command: c.DeleteAcl) -> None:
    """§3.2."""
    name = session.decode_mailbox(command.mailbox)
    await _view(session).delete_acl(name, _identifier(command.identifier))
    await session.complete(command, "Deleteacl complete.")


@handles(c.GetAcl)
async def getacl(session: ImapSession, command: c.GetAcl) -> None:
    """§3.3: `* ACL mailbox identifier rights ...`."""
    name = session.decode_mailbox(command.mailbox)
    entries = await _view(session).get_acl(name)
    await session.untagged(acl_response(session.encode_mailbox(name), entries))
    await session.complete(command, "Getacl complete.")


@handles(c.ListRights)
async def listrights(session: ImapSession, command: c.ListRights) -> None:
    """§3.4: what is always granted to the identifier, then each right it may be given."""
    name = session.decode_mailbox(command.mailbox)
    required, optional = await _view(session).list_rights(name, command.identifier)
    encoded = session.encode_mailbox(name)
    await session.untagged(listrights_response(encoded, command.identifier, required, optional))
    await session.complete(command, "Listrights complete.")


@handles(c.MyRights)
async def myrights(session: ImapSession, command: c.MyRights) -> None:
    """§3.5: the user's own rights."""
    name = session.decode_mailbox(command.mailbox)
    rights = await _view(session).rights_on(name)
    await session.untagged(myrights_response(session.encode_mailbox(name), rights_text(rights)))
    await session.complete(command, "Myrights complete.")
