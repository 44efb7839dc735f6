"""The QUOTA extension's syntax (RFC 9208 §7): its three commands and its two responses.

    getquota        = "GETQUOTA" SP quota-root-name
    getquotaroot    = "GETQUOTAROOT" SP mailbox
    setquota        = "SETQUOTA" SP quota-root-name SP setquota-list
    setquota-list   = "(" [setquota-resource *(SP setquota-resource)] ")"
    setquota-resource = resource-name SP resource-limit
    quota-root-name = astring
    resource-name   = "STORAGE" / "MESSAGE" / "MAILBOX" / "ANNOTATION-STORAGE" /
                      resource-name-ext
    resource-name-ext = atom
    resource-limit  = number64
    resource-usage  = number64

    quota-response  = "QUOTA" SP quota-root-name SP quota-list
    quota-list      = "(" quota-resource *(SP quota-resource) ")"
    quota-resource  = resource-name SP resource-usage SP resource-limit
    quotaroot-response = "QUOTAROOT" SP mailbox *(SP quota-root-name)

Note that a quota-list holds at least one resource: a root without limits cannot be
reported with QUOTA at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tidings.imap.proto.commands import GetQuota, GetQuotaRoot, SetQuota
from tidings.imap.proto.lexer import Cursor
from tidings.imap.proto.responses import astring

# RFC 9208 §5.1: STORAGE is counted in units of 1024 octets.
STORAGE_UNIT = 1024


def parse_getquota(cursor: Cursor, tag: str) -> GetQuota:
    """The argument of GETQUOTA, the cursor after the command name."""
    cursor.sp()
    root = cursor.astring()
    cursor.end()
    return GetQuota(tag, root)


def parse_getquotaroot(cursor: Cursor, tag: str) -> GetQuotaRoot:
    """The argument of GETQUOTAROOT, the cursor after the command name."""
    cursor.sp()
    mailbox = cursor.mailbox()
    cursor.end()
    return GetQuotaRoot(tag, mailbox)


def parse_setquota(cursor: Cursor, tag: str) -> SetQuota:
    """The arguments of SETQUOTA, the cursor after the command name."""
    cursor.sp()
    root = cursor.astring()
    cursor.sp()

    def resource() -> tuple[str, int]:
        name = cursor.keyword("resource name")
        cursor.sp()
        return name, cursor.number("resource limit", bits64=True)

    limits = cursor.paren_list(resource, allow_empty=True)
    cursor.end()
    return SetQuota(tag, root, limits)


def storage_units(octets: int) -> int:
    """Octets as STORAGE units, rounded up (as Dovecot does: one octet over a unit is
    reported as a whole unit, so usage never looks lower than it is)."""
    return -(-octets // STORAGE_UNIT)


def quota_response(root: str, resources: Sequence[tuple[str, int, int]]) -> bytes:
    """quota-response for `root` with (resource-name, usage, limit) triples (at least one)."""
    if not resources:
        raise ValueError("a QUOTA response needs at least one resource (RFC 9208 §7)")
    listed = b" ".join(
        b"%s %d %d" % (name.encode("ascii"), used, limit) for name, used, limit in resources
    )
    return b"QUOTA " + quota_root_name(root) + b" (" + listed + b")"


def quotaroot_response(mailbox: bytes, roots: Iterable[str]) -> bytes:
    """quotaroot-response: `mailbox` already encoded for the client, then each root."""
    return b"QUOTAROOT " + b"".join([mailbox, *(b" " + quota_root_name(root) for root in roots)])


def quota_root_name(root: str) -> bytes:
    """quota-root-name = astring (the empty root is `""`)."""
    return astring(root)
