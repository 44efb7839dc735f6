"""The ACL extension's syntax (RFC 4314 §3 and §9): five commands and three responses.

setacl          = "SETACL" SP mailbox SP identifier SP mod-rights
deleteacl       = "DELETEACL" SP mailbox SP identifier
getacl          = "GETACL" SP mailbox
listrights      = "LISTRIGHTS" SP mailbox SP identifier
myrights        = "MYRIGHTS" SP mailbox
identifier      = astring
mod-rights      = astring      ; +rights to add, -rights to remove, rights to replace

acl-data        = "ACL" SP mailbox *(SP identifier SP rights)
listrights-data = "LISTRIGHTS" SP mailbox SP identifier SP rights *(SP rights)
myrights-data   = "MYRIGHTS" SP mailbox SP rights
rights          = astring
"""

from __future__ import annotations

from collections.abc import Iterable

from tidings.imap.proto.commands import DeleteAcl, GetAcl, ListRights, MyRights, SetAcl
from tidings.imap.proto.lexer import Cursor
from tidings.imap.proto.responses import astring


def parse_acl_command(
    cursor: Cursor, tag: str, name: str
) -> SetAcl | DeleteAcl | GetAcl | ListRights | MyRights:
    """The arguments of the ACL command `name`, the cursor after the command name."""
    cursor.sp()
    mailbox = cursor.mailbox()
    if name in ("GETACL", "MYRIGHTS"):
        cursor.end()
        return GetAcl(tag, mailbox) if name == "GETACL" else MyRights(tag, mailbox)
    cursor.sp()
    identifier = cursor.astring()
    if name == "SETACL":
        cursor.sp()
        rights = cursor.astring()
        cursor.end()
        return SetAcl(tag, mailbox, identifier, rights)
    cursor.end()
    if name == "DELETEACL":
        return DeleteAcl(tag, mailbox, identifier)
    return ListRights(tag, mailbox, identifier)


def acl_response(mailbox: bytes, entries: Iterable[tuple[str, str]]) -> bytes:
    """acl-data: `mailbox` already encoded for the client."""
    return (
        b"ACL "
        + mailbox
        + b"".join(
            b" " + astring(identifier) + b" " + astring(rights) for identifier, rights in entries
        )
    )


def listrights_response(
    mailbox: bytes, identifier: str, required: str, optional: Iterable[str]
) -> bytes:
    """listrights-data: the rights always granted, then each group that may be granted."""
    groups = b"".join(b" " + astring(group) for group in optional)
    return b"LISTRIGHTS " + mailbox + b" " + astring(identifier) + b" " + astring(required) + groups


def myrights_response(mailbox: bytes, rights: str) -> bytes:
    """myrights-data."""
    return b"MYRIGHTS " + mailbox + b" " + astring(rights)
