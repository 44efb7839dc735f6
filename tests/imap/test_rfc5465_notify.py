"""RFC 5465 NOTIFY: two (or more) connections, one watching, the others changing things.

The watcher gets its events between commands (§3) or in IDLE (§4): untagged EXISTS /
EXPUNGE / FETCH for the selected mailbox, STATUS for the other watched mailboxes, LIST for
mailbox names and subscriptions. Transcripts read the watcher's next line, so an event
that should not come shows up as a mismatch before the tagged reply of a later command.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.imap.harness import USER, InProcessServer, LineClient, run_transcript, server_with_limits

from tidings.imap.session.notify import publish_metadata_change
from tidings.notify.api import ChangeNotice

LOGIN = """
C1: a1 LOGIN {user} "{password}"
S1: a1 OK …
C2: b1 LOGIN {user} "{password}"
S2: b1 OK …
"""

SELECT_INBOX_EMPTY = """
C1: a2 SELECT INBOX
W1: * 0 EXISTS
W1: a2 OK [READ-WRITE] …
"""


def test_rfc5465_3_1_example_status_then_new_messages_with_fetch_attributes(
    imap_server: InProcessServer,
) -> None:
    """§3.1's example: NOTIFY SET STATUS sends a STATUS per watched mailbox before the OK;
    a new message in the selected mailbox comes as EXISTS plus a FETCH of the requested
    attributes (§5.2), one in a watched mailbox as STATUS, one elsewhere not at all."""
    run_transcript(
        imap_server,
        LOGIN
        + """
        C2: b2 CREATE Lists/Lemonade
        S2: b2 OK …
        C2: b3 CREATE Lists/Im2000
        S2: b3 OK …
        """
        + SELECT_INBOX_EMPTY
        + """
        C1: a3 {example}
        S1: * STATUS Lists (MESSAGES 0 UIDNEXT 1 UIDVALIDITY … UNSEEN 0)
        S1: * STATUS Lists/Im2000 (MESSAGES 0 UIDNEXT 1 UIDVALIDITY … UNSEEN 0)
        S1: * STATUS Lists/Lemonade (MESSAGES 0 UIDNEXT 1 UIDVALIDITY … UNSEEN 0)
        S1: a3 OK NOTIFY completed.
        C2: b4 APPEND INBOX {77+}
        C2: Subject: Re: good morning
        C2: From: alice@example.com
        C2: To: bob@example.com
        C2: X: y
        C2:
        S2: b4 OK [APPENDUID … 1] Append completed.
        S1: * 1 EXISTS
        S1: * 1 RECENT
        S1: * 1 FETCH (UID 1 BODY[HEADER.FIELDS (FROM TO SUBJECT)] {75}
        S1: Subject: Re: good morning
        S1: From: alice@example.com
        S1: To: bob@example.com
        S1: …
        S1: )
        C2: b5 APPEND Lists/Lemonade {5+}
        C2: hello
        S2: b5 OK …
        S1: * STATUS Lists/Lemonade (MESSAGES 1 UIDNEXT 2 UIDVALIDITY … UNSEEN 1)
        C2: b6 APPEND Drafts {5+}
        C2: hello
        S2: b6 OK …
        C1: a4 NOOP
        S1: a4 OK Noop completed.
        """,
        example=(
            "NOTIFY SET STATUS (selected (MessageNew (uid body.peek[header.fields (from to"
            " subject)]) MessageExpunge)) (subtree Lists (MessageNew MessageExpunge))"
        ),
    )


def test_rfc5465_5_4_and_5_5_mailbox_names_and_subscriptions(
    imap_server: InProcessServer,
) -> None:
    """§5.4: LIST for a created mailbox (and its new parent), a renamed one with OLDNAME, a
    deleted one with \\NonExistent; §5.5: LIST with or without \\Subscribed."""
    run_transcript(
        imap_server,
        LOGIN
        + """
        C1: a2 NOTIFY SET (personal (MailboxName SubscriptionChange))
        S1: a2 OK NOTIFY completed.
        C2: b2 CREATE work/2026
        S2: b2 OK …
        S1: * LIST (\\HasChildren) "/" work
        S1: * LIST (\\HasNoChildren) "/" work/2026
        C2: b3 SUBSCRIBE work/2026
        S2: b3 OK …
        S1: * LIST (\\HasNoChildren \\Subscribed) "/" work/2026
        C2: b4 RENAME work/2026 work/2025
        S2: b4 OK …
        S1: * LIST (\\HasNoChildren \\Subscribed) "/" work/2025 ("OLDNAME" (work/2026))
        C2: b5 DELETE work/2025
        S2: b5 OK …
        S1: * LIST (\\NonExistent \\Subscribed) "/" work/2025
        C2: b6 UNSUBSCRIBE work/2025
        S2: b6 OK …
        S1: * LIST (\\NonExistent) "/" work/2025
        C2: b8 RENAME work Gr&APwA3w-e
        S2: b8 OK …
        S1: * LIST (\\HasNoChildren) "/" Gr&APwA3w-e ("OLDNAME" (work))
        C1: a3 NOOP
        S1: a3 OK Noop completed.
        """,
    )


def test_rfc5465_5_1_to_5_3_status_of_a_non_selected_mailbox(
    imap_server: InProcessServer,
) -> None:
    """New, flagged and expunged messages in a watched mailbox that is not selected: STATUS
    when its counters move; a flag change only when FlagChange was asked for."""
    run_transcript(
        imap_server,
        LOGIN
        + """
        C1: a2 {notify}
        S1: a2 OK NOTIFY completed.
        C2: b2 APPEND Drafts {5+}
        C2: hello
        S2: b2 OK …
        S1: * STATUS Drafts (MESSAGES 1 UIDNEXT 2 UIDVALIDITY … UNSEEN 1)
        C2: b3 APPEND Sent {5+}
        C2: hello
        S2: b3 OK …
        S1: * STATUS Sent (MESSAGES 1 UIDNEXT 2 UIDVALIDITY … UNSEEN 1)
        C2: b4 SELECT Sent
        W2: * 1 EXISTS
        W2: b4 OK [READ-WRITE] …
        C2: b5 STORE 1 +FLAGS (\\Seen)
        S2: * 1 FETCH (FLAGS (\\Seen $HasNoAttachment \\Recent))
        S2: b5 OK …
        C2: b6 SELECT Drafts
        W2: * 1 EXISTS
        W2: b6 OK [READ-WRITE] …
        C2: b7 STORE 1 +FLAGS (\\Seen \\Deleted)
        S2: * 1 FETCH (FLAGS (\\Deleted \\Seen $HasNoAttachment \\Recent))
        S2: b7 OK …
        S1: * STATUS Drafts (MESSAGES 1 UIDNEXT 2 UIDVALIDITY … UNSEEN 0)
        C2: b8 EXPUNGE
        S2: * 1 EXPUNGE
        S2: b8 OK …
        S1: * STATUS Drafts (MESSAGES 0 UIDNEXT 2 UIDVALIDITY … UNSEEN 0)
        C1: a3 NOOP
        S1: a3 OK Noop completed.
        """,
        notify="NOTIFY SET (mailboxes Drafts (MessageNew MessageExpunge FlagChange))"
        " (mailboxes Sent (MessageNew MessageExpunge))",
    )


def test_rfc5465_selected_events_arrive_between_commands(imap_server: InProcessServer) -> None:
    """(selected ...) without IDLE: EXISTS, FETCH FLAGS and EXPUNGE as they happen (§3)."""
    run_transcript(
        imap_server,
        LOGIN
        + SELECT_INBOX_EMPTY
        + """
        C1: a3 NOTIFY SET (selected (MessageNew MessageExpunge FlagChange))
        S1: a3 OK NOTIFY completed.
        C2: b2 APPEND INBOX {5+}
        C2: hello
        S2: b2 OK …
        S1: * 1 EXISTS
        S1: * 1 RECENT
        C2: b3 SELECT INBOX
        W2: * 1 EXISTS
        W2: b3 OK [READ-WRITE] …
        C2: b4 STORE 1 +FLAGS (\\Deleted)
        S2: * 1 FETCH (FLAGS (\\Deleted $HasNoAttachment))
        S2: b4 OK …
        S1: * 1 FETCH (FLAGS (\\Deleted $HasNoAttachment \\Recent))
        C2: b5 EXPUNGE
        S2: * 1 EXPUNGE
        S2: b5 OK …
        S1: * 1 EXPUNGE
        C1: a4 NOOP
        S1: a4 OK Noop completed.
        """,
    )


def test_rfc5465_6_1_selected_delayed_holds_expunges_until_a_command_or_idle(
    imap_server: InProcessServer,
) -> None:
    """SELECTED-DELAYED: no EXPUNGE between commands (the client may still use sequence
    numbers); the next NOOP reports it, and so does IDLE at once."""
    run_transcript(
        imap_server,
        LOGIN
        + """
        C2: b2 APPEND INBOX {5+}
        C2: hello
        S2: b2 OK …
        C2: b3 APPEND INBOX {5+}
        C2: world
        S2: b3 OK …
        C1: a2 EXAMINE INBOX
        W1: * 2 EXISTS
        W1: a2 OK [READ-ONLY] …
        C1: a3 {notify}
        S1: a3 OK NOTIFY completed.
        C2: b4 SELECT INBOX
        W2: * 2 EXISTS
        W2: b4 OK [READ-WRITE] …
        C2: b5 UID STORE 1:2 +FLAGS.SILENT (\\Deleted)
        S2: b5 OK …
        C2: b51 UID EXPUNGE 1
        S2: * 1 EXPUNGE
        S2: b51 OK …
        C2: b6 APPEND Drafts {5+}
        C2: hello
        S2: b6 OK …
        S1: * STATUS Drafts (MESSAGES 1 UIDNEXT 2 UIDVALIDITY … UNSEEN 1)
        C1: a4 NOOP
        S1: * 1 EXPUNGE
        S1: a4 OK Noop completed.
        C1: a5 IDLE
        S1: + idling
        C2: b7 UID EXPUNGE 2
        S2: * 1 EXPUNGE
        S2: b7 OK …
        S1: * 1 EXPUNGE
        C1: DONE
        S1: a5 OK Idle completed.
        """,
        notify="NOTIFY SET (selected-delayed (MessageNew MessageExpunge))"
        " (personal (MessageNew MessageExpunge))",
    )


def test_rfc5465_3_1_without_selected_the_selected_mailbox_is_quiet_until_a_command(
    imap_server: InProcessServer,
) -> None:
    """No SELECTED group means SELECTED NONE: a new message in the selected mailbox is not
    pushed (the STATUS of Drafts comes first), but NOOP reports it as RFC 9051 requires."""
    run_transcript(
        imap_server,
        LOGIN
        + SELECT_INBOX_EMPTY
        + """
        C1: a3 NOTIFY SET (personal (MessageNew MessageExpunge))
        S1: a3 OK NOTIFY completed.
        C2: b2 APPEND INBOX {5+}
        C2: hello
        S2: b2 OK …
        C2: b3 APPEND Drafts {5+}
        C2: hello
        S2: b3 OK …
        S1: * STATUS Drafts (MESSAGES 1 UIDNEXT 2 UIDVALIDITY … UNSEEN 1)
        C1: a4 NOOP
        S1: * 1 EXISTS
        S1: * 1 RECENT
        S1: a4 OK Noop completed.
        """,
    )


def test_rfc5465_4_one_idle_connection_watches_every_folder(
    imap_server: InProcessServer,
) -> None:
    """§4: IDLE sends what NOTIFY asked for: the selected mailbox's EXISTS, other folders'
    STATUS and new folders' LIST, all within one IDLE."""
    run_transcript(
        imap_server,
        LOGIN
        + SELECT_INBOX_EMPTY
        + """
        C1: a3 {notify}
        S1: a3 OK NOTIFY completed.
        C1: a4 IDLE
        S1: + idling
        C2: b2 APPEND Sent {5+}
        C2: hello
        S2: b2 OK …
        S1: * STATUS Sent (MESSAGES 1 UIDNEXT 2 UIDVALIDITY … UNSEEN 1)
        C2: b3 CREATE Projects
        S2: b3 OK …
        S1: * LIST (\\HasNoChildren) "/" Projects
        C2: b4 APPEND Projects {5+}
        C2: hello
        S2: b4 OK …
        S1: * STATUS Projects (MESSAGES 1 UIDNEXT 2 UIDVALIDITY … UNSEEN 1)
        C2: b5 APPEND INBOX (\\Flagged) {5+}
        C2: hello
        S2: b5 OK …
        S1: * 1 EXISTS
        S1: * 1 RECENT
        S1: * 1 FETCH (UID 1 FLAGS (\\Flagged $HasNoAttachment \\Recent))
        C1: DONE
        S1: a4 OK Idle completed.
        """,
        notify="NOTIFY SET (selected (MessageNew (UID FLAGS) MessageExpunge))"
        " (personal (MessageNew MessageExpunge MailboxName))",
    )


def test_rfc5465_3_1_notify_none_stops_every_event(imap_server: InProcessServer) -> None:
    run_transcript(
        imap_server,
        LOGIN
        + """
        C1: a2 NOTIFY SET (personal (MessageNew MessageExpunge MailboxName))
        S1: a2 OK NOTIFY completed.
        C1: a3 NOTIFY NONE
        S1: a3 OK NOTIFY completed.
        C2: b2 APPEND Drafts {5+}
        C2: hello
        S2: b2 OK …
        C2: b3 CREATE Elsewhere
        S2: b3 OK …
        C1: a4 NOOP
        S1: a4 OK Noop completed.
        C1: a5 LOGOUT
        S1: * BYE …
        S1: a5 OK …
        """,
    )


def test_rfc5465_errors(imap_server: InProcessServer) -> None:
    """§3.1: NO [BADEVENT (every supported event)] for an unsupported event (not BAD);
    §5 / §6.1: BAD for the forbidden combinations; NOTIFY needs authentication; a failed
    NOTIFY SET leaves the previous one in force."""
    badevent = (
        "[BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange"
        " MailboxMetadataChange ServerMetadataChange)]"
    )
    run_transcript(
        imap_server,
        f"""
        C1: a0 NOTIFY NONE
        S1: a0 BAD Log in first.
        C1: a1 LOGIN {{user}} "{{password}}"
        S1: a1 OK …
        C1: a2 NOTIFY SET (personal (MessageNew MessageExpunge))
        S1: a2 OK NOTIFY completed.
        C1: a3 NOTIFY SET (personal (XFutureEvent))
        S1: a3 NO {badevent} Unsupported NOTIFY event XFutureEvent.
        C1: a4 NOTIFY SET (selected (MessageNew MessageExpunge FlagChange AnnotationChange))
        S1: a4 NO {badevent} Unsupported NOTIFY event AnnotationChange.
        C1: a5 NOTIFY SET (selected (MessageNew))
        S1: a5 BAD MessageNew and MessageExpunge must be given together
        C1: a6 NOTIFY SET (personal (FlagChange))
        S1: a6 BAD FlagChange and AnnotationChange need MessageNew and MessageExpunge
        C1: a7 NOTIFY SET (selected (MailboxName))
        S1: a7 BAD Only message events are allowed with SELECTED
        C1: a8 NOTIFY SET (selected NONE) (selected-delayed NONE)
        S1: a8 BAD Only one of SELECTED and SELECTED-DELAYED may be given
        C1: a9 NOTIFY SET (bogus NONE)
        S1: a9 BAD Unknown mailbox filter BOGUS
        C1: a10 NOTIFY SET (mailboxes "&Jjo" (MailboxName))
        S1: a10 NO [CANNOT] Mailbox name is not valid mUTF-7
        C2: b1 LOGIN {{user}} "{{password}}"
        S2: b1 OK …
        C2: b2 APPEND Drafts {{5+}}
        C2: hello
        S2: b2 OK …
        S1: * STATUS Drafts (MESSAGES 1 UIDNEXT 2 UIDVALIDITY … UNSEEN 1)
        """,
    )


@pytest.fixture
def small_queue_server(tmp_path: Path) -> Iterator[InProcessServer]:
    """A server whose NOTIFY subscriptions hold notices for at most 3 mailboxes."""
    with server_with_limits(tmp_path, notify_queue_size=3) as server:
        yield server


def test_rfc5465_5_8_overflow_says_notificationoverflow_and_stops(
    small_queue_server: InProcessServer,
) -> None:
    """More changed mailboxes than `notify_queue_size` before the session could look: the
    untagged OK [NOTIFICATIONOVERFLOW], then the session behaves as after NOTIFY NONE."""
    server = small_queue_server
    watcher = LineClient(server.port)
    watcher.login()
    assert watcher.command("a2", "NOTIFY SET (personal (MessageNew MessageExpunge))")[-1] == (
        "a2 OK NOTIFY completed."
    )
    assert server.context is not None
    hub = server.context.hub

    async def flood() -> None:  # four mailboxes in one loop turn: the session cannot look
        for mailbox_id in range(1000, 1004):
            hub.publish(ChangeNotice(USER, mailbox_id, 1))

    server.run_in_server(flood())
    assert watcher.read_line().startswith("* OK [NOTIFICATIONOVERFLOW] ")
    other = LineClient(server.port)
    other.login()
    assert other.command("b1", "APPEND Drafts {5+}\r\nhello")[-1].startswith("b1 OK")
    assert watcher.command("a3", "NOOP") == ["a3 OK Noop completed."]


def test_rfc5465_5_6_and_5_7_metadata_changes_through_the_hook(
    imap_server: InProcessServer,
) -> None:
    """`publish_metadata_change` (the hook METADATA calls after SETMETADATA) becomes the
    unsolicited METADATA response of RFC 5464 §4.4.2, for watched mailboxes only."""
    watcher = LineClient(imap_server.port)
    watcher.login()
    reply = watcher.command(
        "a2",
        "NOTIFY SET (mailboxes INBOX (MailboxMetadataChange)) (personal (ServerMetadataChange))",
    )
    assert reply == ["a2 OK NOTIFY completed."]
    assert imap_server.context is not None
    hub = imap_server.context.hub

    async def change() -> None:
        publish_metadata_change(hub, USER, "Drafts", ["/private/comment"])  # not watched
        publish_metadata_change(hub, USER, "INBOX", ["/private/comment", "/shared/x"])
        publish_metadata_change(hub, USER, None, ["/shared/admin"])
        publish_metadata_change(hub, "bob@example.test", None, ["/shared/other"])

    imap_server.run_in_server(change())
    assert watcher.read_line() == "* METADATA INBOX (/private/comment /shared/x)"
    assert watcher.read_line() == '* METADATA "" (/shared/admin)'
    assert watcher.command("a3", "NOOP") == ["a3 OK Noop completed."]


def test_sessions_without_notify_get_nothing_between_commands(
    imap_server: InProcessServer,
) -> None:
    """Without NOTIFY a session behaves as before: changes wait for its next command."""
    run_transcript(
        imap_server,
        LOGIN
        + SELECT_INBOX_EMPTY
        + """
        C2: b2 APPEND INBOX {5+}
        C2: hello
        S2: b2 OK …
        C2: b3 CREATE Elsewhere
        S2: b3 OK …
        C1: a3 NOOP
        S1: * 1 EXISTS
        S1: * 1 RECENT
        S1: a3 OK Noop completed.
        """,
    )


def test_rfc5465_5_no_mailbox_events_for_the_clients_own_changes(
    imap_server: InProcessServer,
) -> None:
    """§5: "The server SHOULD omit notifying the client if the event is caused by this
    client": its own CREATE / RENAME / (UN)SUBSCRIBE / DELETE are not echoed as LIST, while
    another connection's are. (Counters are not told apart: its own APPEND to a watched
    mailbox still gives a STATUS, which is harmless.)"""
    run_transcript(
        imap_server,
        LOGIN
        + """
        C1: a2 NOTIFY SET (personal (MessageNew MessageExpunge MailboxName SubscriptionChange))
        S1: a2 OK NOTIFY completed.
        C1: a3 CREATE mine/sub
        S1: a3 OK …
        C2: b2 CREATE theirs
        S2: b2 OK …
        S1: * LIST (\\HasNoChildren) "/" theirs
        C1: a4 RENAME mine ours
        S1: a4 OK …
        C1: a5 SUBSCRIBE ours/sub
        S1: a5 OK …
        C1: a6 RENAME ours/sub ours/sub2
        S1: a6 OK …
        C1: a7 DELETE ours/sub2
        S1: a7 OK …
        C1: a8 UNSUBSCRIBE ours/sub2
        S1: a8 OK …
        C1: a9 NOOP
        S1: a9 OK Noop completed.
        C2: b3 SUBSCRIBE theirs
        S2: b3 OK …
        S1: * LIST (\\HasNoChildren \\Subscribed) "/" theirs
        C1: a10 APPEND Drafts {5+}
        C1: hello
        S1: a10 OK …
        S1: * STATUS Drafts (MESSAGES 1 UIDNEXT 2 UIDVALIDITY … UNSEEN 1)
        """,
    )


def test_rfc5465_3_notify_is_advertised_once_logged_in(imap_server: InProcessServer) -> None:
    client = LineClient(imap_server.port)
    assert "NOTIFY" not in client.command("c1", "CAPABILITY")[0].split()
    client.login()
    assert "NOTIFY" in client.command("c2", "CAPABILITY")[0].split()


def test_rfc5465_5_8_overflow_in_idle_falls_back_to_plain_idle(
    small_queue_server: InProcessServer,
) -> None:
    """After NOTIFICATIONOVERFLOW in IDLE, IDLE goes on as without NOTIFY: the selected
    mailbox's changes still come."""
    server = small_queue_server
    watcher = LineClient(server.port)
    watcher.login()
    watcher.command("a2", "SELECT INBOX")
    reply = watcher.command("a3", "NOTIFY SET (selected (MessageNew MessageExpunge))")
    assert reply == ["a3 OK NOTIFY completed."]
    watcher.send_line("a4 IDLE")
    assert watcher.read_line() == "+ idling"
    assert server.context is not None
    hub = server.context.hub

    async def flood() -> None:
        for mailbox_id in range(1000, 1004):
            hub.publish(ChangeNotice(USER, mailbox_id, 1))

    server.run_in_server(flood())
    assert watcher.read_line().startswith("* OK [NOTIFICATIONOVERFLOW] ")
    other = LineClient(server.port)
    other.login()
    assert other.command("b1", "APPEND INBOX {5+}\r\nhello")[-1].startswith("b1 OK")
    assert watcher.read_line() == "* 1 EXISTS"
    assert watcher.read_line() == "* 1 RECENT"
    watcher.send_line("DONE")
    assert watcher.read_line() == "a4 OK Idle completed."


def test_rfc5465_5_2_highestmodseq_in_status_once_condstore_is_enabled(
    imap_server: InProcessServer,
) -> None:
    """§5.2: "If the CONDSTORE extension ... is enabled, the HIGHESTMODSEQ status data item
    MUST be included"; with FlagChange a flag change alone moves it, so a STATUS comes."""
    run_transcript(
        imap_server,
        LOGIN
        + """
        C1: a2 ENABLE CONDSTORE
        S1: * ENABLED CONDSTORE
        S1: a2 OK …
        C1: a3 NOTIFY SET STATUS (mailboxes Drafts (MessageNew MessageExpunge FlagChange))
        S1: * STATUS Drafts (MESSAGES 0 UIDNEXT 1 UIDVALIDITY … UNSEEN 0 HIGHESTMODSEQ …)
        S1: a3 OK NOTIFY completed.
        C2: b2 APPEND Drafts (\\Seen) {5+}
        C2: hello
        S2: b2 OK …
        S1: * STATUS Drafts (MESSAGES 1 UIDNEXT 2 UIDVALIDITY … UNSEEN 0 HIGHESTMODSEQ …)
        C2: b3 SELECT Drafts
        W2: b3 OK [READ-WRITE] …
        C2: b4 STORE 1 +FLAGS.SILENT (\\Flagged)
        S2: b4 OK …
        S1: * STATUS Drafts (MESSAGES 1 UIDNEXT 2 UIDVALIDITY … UNSEEN 0 HIGHESTMODSEQ …)
        C1: a4 NOOP
        S1: a4 OK Noop completed.
        """,
    )
