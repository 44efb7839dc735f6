"""Mailbox commands: SELECT/EXAMINE, CREATE, DELETE, RENAME, (UN)SUBSCRIBE, STATUS,
NAMESPACE (RFC 9051 §6.3; SPECIAL-USE RFC 6154 §3). APPEND is in handlers/append.py."""

from __future__ import annotations

from tidings.core.mime import attachment_keyword_pair
from tidings.imap.proto import commands as c
from tidings.imap.proto import responses as r
from tidings.imap.session import condstore
from tidings.imap.session.core import CommandFailed, ImapSession
from tidings.imap.session.flags import SYSTEM_FLAGS
from tidings.imap.session.registry import handles
from tidings.imap.session.selected import SelectedMailbox
from tidings.imap.session.state import SessionState
from tidings.storage.api import HIERARCHY_DELIMITER, MailboxStatus
from tidings.storage.namespaces import OTHER_USERS, SHARED, NamespacedStore

# RFC 6154 §2 uses a CREATE may give. \All and \Flagged are left out: they promise a
# mailbox that shows every (flagged) message of the account, which a stored mailbox is not,
# so CREATE ... (USE (\All)) gets NO [USEATTR] (§3), as Dovecot without virtual folders.
SPECIAL_USES = ("\\Archive", "\\Drafts", "\\Junk", "\\Sent", "\\Trash")


@handles(c.Select)
async def select(session: ImapSession, command: c.Select) -> None:
    """RFC 9051 §6.3.2 SELECT and §6.3.3 EXAMINE (RFC 3501 §6.3.1 for rev1 extras)."""
    name = session.decode_mailbox(command.mailbox)
    if session.selected is not None:
        session.deselect()
        if session.rev2 or session.qresync:  # RFC 7162 §3.2.11 for QRESYNC clients
            await session.untagged("OK [CLOSED] Previous mailbox closed.")
    # RFC 7162 CONDSTORE / QRESYNC parameters; a BAD one leaves no mailbox selected, as any
    # failed SELECT does (RFC 3501 §6.3.1) and as Dovecot does.
    options = condstore.select_options(session, command)
    snapshot = await session.store.open_mailbox(name, claim_recent=not command.read_only)
    view = SelectedMailbox(snapshot, read_only=command.read_only)
    keywords = sorted(
        attachment_keyword_pair({flag for meta in snapshot.messages for flag in meta.flags})
        - SYSTEM_FLAGS
    )
    flags = r.flag_list([*SYSTEM_FLAGS_ORDERED, *keywords])
    await session.untagged(b"FLAGS " + flags)
    if command.read_only:
        await session.untagged("OK [PERMANENTFLAGS ()] Read-only mailbox.")
    else:
        permanent = r.flag_list([*SYSTEM_FLAGS_ORDERED, *keywords, "\\*"])
        await session.untagged(b"OK [PERMANENTFLAGS " + permanent + b"] Flags permitted.")
    await session.untagged(f"{view.exists} EXISTS")
    if not session.rev2:
        await session.untagged(f"{len(view.recent)} RECENT")
        first_unseen = next(
            (
                seq
                for seq, uid in enumerate(view.uids, 1)
                if "\\Seen" not in view.messages[uid].flags
            ),
            None,
        )
        if first_unseen is not None:
            await session.untagged(f"OK [UNSEEN {first_unseen}] First unseen.")
    await session.untagged(f"OK [UIDVALIDITY {view.uidvalidity}] UIDs valid")
    await session.untagged(f"OK [UIDNEXT {view.uidnext}] Predicted next UID")
    await condstore.after_select_data(session, view, options)
    await session.untagged(f"OK [MAILBOXID ({snapshot.info.mailboxid})] Ok")  # RFC 8474 §4.2
    if session.rev2:
        # RFC 9051 §6.3.2: a LIST response with the mailbox name is required.
        await session.untagged(b'LIST () "/" ' + session.encode_mailbox(view.name))
    session.selected = view
    session.state = SessionState.SELECTED
    await condstore.qresync(session, view, options)
    mode = "READ-ONLY" if command.read_only else "READ-WRITE"
    verb = "Examine" if command.read_only else "Select"
    await session.tagged(command.tag, "OK", f"{verb} completed.", mode)


SYSTEM_FLAGS_ORDERED = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")


@handles(c.Create)
async def create(session: ImapSession, command: c.Create) -> None:
    """RFC 9051 §6.3.4: a trailing delimiter only says children are intended."""
    name = session.decode_mailbox(command.mailbox).rstrip(HIERARCHY_DELIMITER)
    if name.upper() == "INBOX":
        raise CommandFailed("Mailbox already exists.", "ALREADYEXISTS")
    special_use = None
    if command.special_use:
        # RFC 6154 §3: CREATE-SPECIAL-USE; we keep one special use per mailbox.
        if len(command.special_use) > 1:
            raise CommandFailed("Only one special use per mailbox.", "USEATTR")
        wanted = command.special_use[0]
        special_use = next((use for use in SPECIAL_USES if use.lower() == wanted.lower()), None)
        if special_use is None:
            raise CommandFailed(f"Unsupported special use {wanted}.", "USEATTR")
    created = await session.store.create_mailbox(name, special_use)
    # RFC 8474 §4.1: the tagged OK of CREATE carries the new mailbox's MAILBOXID.
    await session.complete(command, "Create completed.", f"MAILBOXID ({created.mailboxid})")


@handles(c.Delete)
async def delete(session: ImapSession, command: c.Delete) -> None:
    """RFC 9051 §6.3.5."""
    name = session.decode_mailbox(command.mailbox)
    await session.store.delete_mailbox(name)
    if session.selected is not None and session.selected.name == name:
        session.deselect()
        await session.untagged("OK [CLOSED] Mailbox deleted.")
    await session.complete(command, "Delete completed.")


@handles(c.Rename)
async def rename(session: ImapSession, command: c.Rename) -> None:
    """RFC 9051 §6.3.6 (renaming INBOX moves its messages; storage does that)."""
    old = session.decode_mailbox(command.old)
    new = session.decode_mailbox(command.new).rstrip(HIERARCHY_DELIMITER)
    if new == "INBOX":
        raise CommandFailed("Mailbox already exists.", "ALREADYEXISTS")
    await session.store.rename_mailbox(old, new)
    if session.selected is not None and session.selected.name == old and old != "INBOX":
        session.selected.name = new
    await session.complete(command, "Rename completed.")


@handles(c.Subscribe)
async def subscribe(session: ImapSession, command: c.Subscribe) -> None:
    """RFC 9051 §6.3.7 and §6.3.8."""
    name = session.decode_mailbox(command.mailbox)
    if command.subscribe:
        await session.store.get_mailbox(name)  # Dovecot: no subscribing to nothing
    await session.store.set_subscribed(name, command.subscribe)
    verb = "Subscribe" if command.subscribe else "Unsubscribe"
    await session.complete(command, f"{verb} completed.")


@handles(c.Namespace)
async def namespace(session: ImapSession, command: c.Namespace) -> None:
    """RFC 9051 §6.3.10 (RFC 2342 §5): the personal namespace, other users' mailboxes
    shared with this user, and team mailboxes (tidings.storage.namespaces)."""
    if isinstance(session.store, NamespacedStore):
        await session.untagged(f'NAMESPACE (("" "/")) (("{OTHER_USERS}/" "/")) (("{SHARED}/" "/"))')
    else:
        await session.untagged('NAMESPACE (("" "/")) NIL NIL')
    await session.complete(command, "Namespace completed.")


def status_items(
    status: MailboxStatus, items: tuple[c.StatusItem, ...], append_limit: int | None = None
) -> str:
    """The parenthesised STATUS data (RFC 9051 §7.3.5), in the order asked; `append_limit`
    is the mailbox's APPENDLIMIT (RFC 7889 §3, None: no limit)."""
    values: dict[c.StatusItem, int | str] = {
        c.StatusItem.MESSAGES: status.messages,
        c.StatusItem.UIDNEXT: status.uidnext,
        c.StatusItem.UIDVALIDITY: status.uidvalidity,
        c.StatusItem.UNSEEN: status.unseen,
        c.StatusItem.DELETED: status.deleted,
        c.StatusItem.SIZE: status.size,
        c.StatusItem.RECENT: status.recent,
        c.StatusItem.HIGHESTMODSEQ: status.highestmodseq,
        # RFC 9208 §4.1.4: the storage EXPUNGE would free, in octets like SIZE (the "sum of
        # RFC822.SIZEs" it allows as an estimate is the exact value here).
        c.StatusItem.DELETED_STORAGE: status.deleted_storage,
        c.StatusItem.MAILBOXID: f"({status.mailboxid})",  # RFC 8474 §4.3
        # RFC 7889 §3: status-att-val =/ "APPENDLIMIT" SP (number / nil)
        c.StatusItem.APPENDLIMIT: "NIL" if append_limit is None else append_limit,
    }
    return " ".join(f"{item.value} {values[item]}" for item in items)


@handles(c.Status)
async def status(session: ImapSession, command: c.Status) -> None:
    """RFC 9051 §6.3.11."""
    name = session.decode_mailbox(command.mailbox)
    counters = await session.store.status(name)
    if c.StatusItem.HIGHESTMODSEQ in command.items:
        await condstore.enable_condstore(session)  # RFC 7162 §3.1: an enabling command
    await session.untagged(
        b"STATUS "
        + session.encode_mailbox(name)
        + b" ("
        + status_items(counters, command.items, session.context.limits.max_message_size).encode()
        + b")"
    )
    await session.complete(command, "Status completed.")
