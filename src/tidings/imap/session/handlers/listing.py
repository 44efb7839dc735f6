"""LIST and LSUB (RFC 9051 §6.3.9, RFC 3501 §6.3.9), with LIST-EXTENDED (RFC 5258),
LIST-STATUS (RFC 5819), SPECIAL-USE (RFC 6154) and CHILDREN (RFC 3348) attributes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tidings.core.errors import MailError
from tidings.imap.proto import commands as c
from tidings.imap.session.core import CommandFailed, ImapSession
from tidings.imap.session.handlers.mailboxes import status_items
from tidings.imap.session.registry import handles
from tidings.storage.api import HIERARCHY_DELIMITER, MailboxInfo

_KNOWN_SELECTION = {"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"}
_KNOWN_RETURN = {"SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS"}
# The selection options a descendant can meet, named in CHILDINFO (RFC 5258 §3.5,
# RFC 6154 §3 for SPECIAL-USE).
_CHILDINFO_OPTIONS = frozenset({"SUBSCRIBED", "SPECIAL-USE"})


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """RFC 9051 §6.3.9: `*` matches anything, `%` anything but the delimiter."""
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "%":
            parts.append(f"[^{re.escape(HIERARCHY_DELIMITER)}]*")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def matches(regex: re.Pattern[str], name: str) -> bool:
    """Whether `name` matches; INBOX is matched case-insensitively (RFC 9051 §5.1)."""
    if regex.fullmatch(name):
        return True
    if name == "INBOX" or name.startswith("INBOX" + HIERARCHY_DELIMITER):
        return re.fullmatch(regex.pattern, name, re.IGNORECASE | re.DOTALL) is not None
    return False


@dataclass(slots=True)
class _Entry:
    name: str
    info: MailboxInfo | None  # None: does not exist (subscribed only)
    subscribed: bool
    child_info: bool = False  # RECURSIVEMATCH: a descendant matches the selection
    selected: bool = True  # False: listed only for CHILDINFO (RFC 5258 §3.5)
    placeholder: bool = False  # a level with mailboxes below it but none of its own


def _canonical_pattern(session: ImapSession, reference: str, pattern: str) -> str:
    """RFC 9051 §6.3.9: the reference is prefixed to the pattern (both decoded)."""
    decoded_reference = session.decode_mailbox(reference) if reference else ""
    decoded_pattern = session.decode_mailbox(pattern) if pattern else ""
    return decoded_reference + decoded_pattern


@handles(c.List)
async def list_mailboxes(session: ImapSession, command: c.List) -> None:
    """LIST in its basic and extended forms."""
    unknown = command.selection - _KNOWN_SELECTION
    if unknown:
        raise CommandFailed(f"Unknown LIST selection option {sorted(unknown)[0]}", status="BAD")
    if "RECURSIVEMATCH" in command.selection and command.selection <= {"RECURSIVEMATCH", "REMOTE"}:
        # RFC 5258 §3: RECURSIVEMATCH alone is a syntax error.
        raise CommandFailed("RECURSIVEMATCH needs another selection option.", status="BAD")
    unknown = command.return_options - _KNOWN_RETURN
    if unknown:
        # RFC 5258 §3: an unrecognised return option is a BAD, as Dovecot answers.
        raise CommandFailed(f"Unknown LIST return option {sorted(unknown)[0]}", status="BAD")
    if command.patterns == ("",) and not command.selection:
        # RFC 9051 §6.3.9: an empty pattern asks for the delimiter and root.
        await session.untagged('LIST (\\Noselect) "/" ""')
        await session.complete(command, "List completed.")
        return
    regexes = [
        pattern_regex(_canonical_pattern(session, command.reference, pattern))
        for pattern in command.patterns
    ]
    mailboxes = {info.name: info for info in await session.store.list_mailboxes()}
    subscriptions = set(await session.store.list_subscriptions())
    entries = _select_entries(command, regexes, mailboxes, subscriptions)
    for entry in entries:
        await _send_list_entry(session, command, entry, mailboxes, subscriptions)
    await session.complete(command, "List completed.")


def _select_entries(
    command: c.List,
    regexes: list[re.Pattern[str]],
    mailboxes: dict[str, MailboxInfo],
    subscriptions: set[str],
) -> list[_Entry]:
    def wanted(name: str) -> bool:
        return any(matches(regex, name) for regex in regexes)

    selection = command.selection
    base = set(subscriptions) if "SUBSCRIBED" in selection else set(mailboxes)
    if "SPECIAL-USE" in selection:
        base = {name for name in base if name in mailboxes and mailboxes[name].special_use}
    entries = {
        name: _Entry(name, mailboxes.get(name), name in subscriptions)
        for name in base
        if wanted(name)
    }
    if not selection - {"REMOTE"}:
        # RFC 9051 §6.3.9: a level with mailboxes below it that is no mailbox itself (the
        # shared namespaces' "Other Users", "Other Users/bob@example.org", "Shared") is
        # listed \Noselect, so that "%" can walk down to them (RFC 2342 §6).
        for name in mailboxes:
            for parent in _ancestors(name):
                if parent not in mailboxes and parent not in entries and wanted(parent):
                    entries[parent] = _Entry(parent, None, False, placeholder=True)
    if "RECURSIVEMATCH" in selection:
        # RFC 5258 §3.5: a name that matches the patterns gets CHILDINFO when one of its
        # descendants meets the selection but is not listed itself (a pattern like "%" cut
        # it off); a descendant that is listed needs no hint (Dovecot does the same).
        for name in base:
            if wanted(name):
                continue
            parts = name.split(HIERARCHY_DELIMITER)
            for depth in range(1, len(parts)):
                parent = HIERARCHY_DELIMITER.join(parts[:depth])
                if wanted(parent):
                    entry = entries.setdefault(
                        parent,
                        _Entry(
                            parent, mailboxes.get(parent), parent in subscriptions, selected=False
                        ),
                    )
                    entry.child_info = True
    ordered = sorted(entries.values(), key=lambda entry: (entry.name != "INBOX", entry.name))
    return ordered


async def _send_list_entry(
    session: ImapSession,
    command: c.List,
    entry: _Entry,
    mailboxes: dict[str, MailboxInfo],
    subscriptions: set[str],
) -> None:
    attributes: list[str] = []
    if entry.placeholder:
        attributes += ["\\Noselect", "\\HasChildren"]
    elif entry.info is None:
        attributes.append("\\NonExistent")
    else:
        prefix = entry.name + HIERARCHY_DELIMITER
        has_children = any(name.startswith(prefix) for name in mailboxes)
        attributes.append("\\HasChildren" if has_children else "\\HasNoChildren")
    if entry.subscribed and (
        "SUBSCRIBED" in command.selection or "SUBSCRIBED" in command.return_options
    ):
        attributes.append("\\Subscribed")
    if entry.info is not None and entry.info.special_use:
        attributes.append(entry.info.special_use)
    extended = ""
    if entry.child_info:
        # RFC 5258 §3.5: the selection options (RECURSIVEMATCH aside) that descendants meet.
        # childinfo-extended-item = "CHILDINFO" SP "(" list-select-base-opt-quoted ... ")":
        # the label is an atom in the ABNF (the RFC's examples quote it); Dovecot sends it so.
        met = sorted(command.selection & _CHILDINFO_OPTIONS)
        extended = " (CHILDINFO (" + " ".join(f'"{option}"' for option in met) + "))"
    line = (
        f'LIST ({" ".join(attributes)}) "{HIERARCHY_DELIMITER}" '.encode()
        + session.encode_mailbox(entry.name)
        + extended.encode()
    )
    await session.untagged(line)
    if command.return_status and entry.info is not None and entry.selected:
        # RFC 5819 §2: STATUS right after the LIST line of each selectable mailbox that
        # meets the selection (not one listed only for CHILDINFO, as Dovecot).
        try:
            counters = await session.store.status(entry.name)
        except MailError:
            return
        await session.untagged(
            b"STATUS "
            + session.encode_mailbox(entry.name)
            + b" ("
            + status_items(
                counters, command.return_status, session.context.limits.max_message_size
            ).encode()
            + b")"
        )


@handles(c.Lsub)
async def lsub(session: ImapSession, command: c.Lsub) -> None:
    """RFC 3501 §6.3.9: subscribed names matching the pattern; a "%" that stops above a
    subscribed name lists the unsubscribed parent it stops at with \\Noselect ("foo" for a
    subscribed "foo/bar"), as that section requires."""
    regex = pattern_regex(_canonical_pattern(session, command.reference, command.pattern))
    mailboxes = {info.name for info in await session.store.list_mailboxes()}
    subscribed = set(await session.store.list_subscriptions())
    listed: dict[str, bool] = {}  # name -> selectable
    for name in subscribed:
        if matches(regex, name):
            listed[name] = name in mailboxes
            continue
        for parent in _ancestors(name):
            if parent not in subscribed and matches(regex, parent):
                listed.setdefault(parent, False)
    for name in sorted(listed, key=lambda name: (name != "INBOX", name)):
        attributes = "" if listed[name] else "\\Noselect"
        await session.untagged(
            f'LSUB ({attributes}) "{HIERARCHY_DELIMITER}" '.encode() + session.encode_mailbox(name)
        )
    await session.complete(command, "Lsub completed.")


def _ancestors(name: str) -> list[str]:
    parts = name.split(HIERARCHY_DELIMITER)
    return [HIERARCHY_DELIMITER.join(parts[:depth]) for depth in range(1, len(parts))]
