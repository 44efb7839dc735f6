"""Golden transcripts of the QUOTA extension (RFC 9208) and OVERQUOTA on APPEND and COPY,
for IMAP4rev1 and IMAP4rev2 clients, several connections where it matters."""

from __future__ import annotations

from tests.imap.harness import InProcessServer, LineClient, run_transcript


def test_capabilities_name_quota_resources_once_authenticated(
    imap_server: InProcessServer,
) -> None:
    """RFC 9208 §3.1: QUOTA=RES-* for each limited resource; no QUOTASET (§4.1.3)."""
    run_transcript(
        imap_server,
        """
        C1: a1 CAPABILITY
        S1: * CAPABILITY IMAP4rev1 IMAP4rev2 …
        S1: a1 OK Capability completed.
        C1: a2 GETQUOTAROOT INBOX
        S1: a2 BAD Log in first.
        C1: a3 LOGIN {user} "{password}"
        S1: a3 OK [CAPABILITY …STATUS=SIZE …QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE …] Logged in
    """,
    )
    client = LineClient(imap_server.port)
    before = client.command("c1", "CAPABILITY")[0]
    client.login()
    after = client.command("c2", "CAPABILITY")[0].split()
    assert "QUOTA" not in before
    assert {"QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE"} <= set(after)
    assert "QUOTASET" not in after


def test_account_without_limits_has_no_quota_root(imap_server: InProcessServer) -> None:
    """A QUOTA response needs at least one resource (RFC 9208 §7), so an unlimited account
    lists no root, and GETQUOTA "" is NO [NONEXISTENT] (§4.1.1)."""
    run_transcript(
        imap_server,
        """
        C1: a1 LOGIN {user} "{password}"
        S1: a1 OK …
        C1: a2 GETQUOTAROOT INBOX
        S1: * QUOTAROOT INBOX
        S1: a2 OK Getquotaroot completed.
        C1: a3 GETQUOTA ""
        S1: a3 NO [NONEXISTENT] Quota root doesn't exist.
    """,
    )


def test_usage_follows_append_and_expunge(imap_server: InProcessServer) -> None:
    """RFC 9208 §4.1.1, §4.1.2, §5.1 (STORAGE in KiB, rounded up), §5.2."""
    imap_server.set_quota(3000, 10)
    run_transcript(
        imap_server,
        """
        C1: a1 LOGIN {user} "{password}"
        S1: a1 OK …
        C1: a2 GETQUOTAROOT INBOX
        S1: * QUOTAROOT INBOX ""
        S1: * QUOTA "" (STORAGE 0 3 MESSAGE 0 10)
        S1: a2 OK Getquotaroot completed.
        C1: a3 APPEND INBOX {5+}
        C1: hello
        S1: a3 OK [APPENDUID … 1] Append completed.
        C1: a4 GETQUOTA ""
        S1: * QUOTA "" (STORAGE 1 3 MESSAGE 1 10)
        S1: a4 OK Getquota completed.
        C1: a5 SELECT INBOX
        S1: * FLAGS …
        S1: * OK [PERMANENTFLAGS …
        S1: * 1 EXISTS
        S1: * 1 RECENT
        S1: * OK [UNSEEN 1] …
        S1: * OK [UIDVALIDITY …
        S1: * OK [UIDNEXT 2] …
        S1: * OK [MAILBOXID (F…)] Ok
        S1: a5 OK [READ-WRITE] Select completed.
        C1: a6 STORE 1 +FLAGS.SILENT (\\Deleted)
        S1: a6 OK Store completed.
        C1: a7 GETQUOTA ""
        S1: * QUOTA "" (STORAGE 1 3 MESSAGE 1 10)
        S1: a7 OK Getquota completed.
        C1: a8 EXPUNGE
        S1: * 1 EXPUNGE
        S1: a8 OK Expunge completed.
        C1: a9 GETQUOTAROOT Archive
        S1: * QUOTAROOT Archive ""
        S1: * QUOTA "" (STORAGE 0 3 MESSAGE 0 10)
        S1: a9 OK Getquotaroot completed.
    """,
    )


def test_append_over_quota_is_overquota_in_rev1_and_rev2(imap_server: InProcessServer) -> None:
    """RFC 9208 §4.3.1: NO [OVERQUOTA], whichever revision the client enabled."""
    imap_server.set_quota(None, 1)
    run_transcript(
        imap_server,
        """
        C1: a1 LOGIN {user} "{password}"
        S1: a1 OK …
        C1: a2 APPEND INBOX {5+}
        C1: hello
        S1: a2 OK [APPENDUID … 1] Append completed.
        C1: a3 APPEND Drafts {5+}
        C1: world
        S1: a3 NO [OVERQUOTA] Quota exceeded (mailbox for user is full)
        C1: a4 ENABLE IMAP4rev2
        S1: * ENABLED IMAP4rev2
        S1: a4 OK Enabled.
        C1: a5 APPEND INBOX {5+}
        C1: again
        S1: a5 NO [OVERQUOTA] Quota exceeded (mailbox for user is full)
        C1: a6 STATUS INBOX (MESSAGES UIDNEXT)
        S1: * STATUS INBOX (MESSAGES 1 UIDNEXT 2)
        S1: a6 OK Status completed.
    """,
    )


def test_storage_limit_refuses_the_append_that_would_cross_it(
    imap_server: InProcessServer,
) -> None:
    """RFC 9208 §5.1: the limit is in octets here, reported in KiB; at the limit is allowed."""
    imap_server.set_quota(10, None)
    run_transcript(
        imap_server,
        """
        C1: a1 LOGIN {user} "{password}"
        S1: a1 OK …
        C1: a2 APPEND INBOX {6+}
        C1: hello!
        S1: a2 OK [APPENDUID … 1] Append completed.
        C1: a3 APPEND INBOX {5+}
        C1: world
        S1: a3 NO [OVERQUOTA] Quota exceeded (mailbox for user is full)
        C1: a4 APPEND INBOX {4+}
        C1: four
        S1: a4 OK [APPENDUID … 2] Append completed.
        C1: a5 GETQUOTA ""
        S1: * QUOTA "" (STORAGE 1 1)
        S1: a5 OK Getquota completed.
    """,
    )


def test_copy_over_quota_copies_nothing_and_move_still_works(
    imap_server: InProcessServer,
) -> None:
    """RFC 9208 §4.3.1 for COPY; MOVE (RFC 6851) frees what it takes, so it is allowed."""
    imap_server.set_quota(None, 2)
    run_transcript(
        imap_server,
        """
        C1: a1 LOGIN {user} "{password}"
        S1: a1 OK …
        C1: a2 APPEND INBOX {3+}
        C1: one
        S1: a2 OK …
        C1: a3 APPEND INBOX {3+}
        C1: two
        S1: a3 OK …
        C1: a4 SELECT INBOX
        S1: * FLAGS …
        S1: * OK [PERMANENTFLAGS …
        S1: * 2 EXISTS
        S1: * 2 RECENT
        S1: * OK [UNSEEN 1] …
        S1: * OK [UIDVALIDITY …
        S1: * OK [UIDNEXT 3] …
        S1: * OK [MAILBOXID (F…)] Ok
        S1: a4 OK [READ-WRITE] Select completed.
        C1: a5 COPY 1:2 Archive
        S1: a5 NO [OVERQUOTA] Quota exceeded (mailbox for user is full)
        C1: a6 UID COPY 2 Archive
        S1: a6 NO [OVERQUOTA] Quota exceeded (mailbox for user is full)
        C1: a7 STATUS Archive (MESSAGES UIDNEXT)
        S1: * STATUS Archive (MESSAGES 0 UIDNEXT 1)
        S1: a7 OK Status completed.
        C1: a8 MOVE 1:2 Archive
        S1: * OK [COPYUID … 1:2 1:2] Moved UIDs.
        S1: * 1 EXPUNGE
        S1: * 1 EXPUNGE
        S1: a8 OK Move completed.
        C1: a9 GETQUOTA ""
        S1: * QUOTA "" (MESSAGE 2 2)
        S1: a9 OK Getquota completed.
    """,
    )


def test_setquota_is_refused_with_noperm(imap_server: InProcessServer) -> None:
    """RFC 9208 §4.1.3: no QUOTASET; a well-formed SETQUOTA is NO, a malformed one BAD."""
    imap_server.set_quota(5000, None)
    run_transcript(
        imap_server,
        """
        C1: a1 LOGIN {user} "{password}"
        S1: a1 OK …
        C1: a2 SETQUOTA "" (STORAGE 100000 MESSAGE 5)
        S1: a2 NO [NOPERM] Quota can be changed only by admin.
        C1: a3 SETQUOTA "" ()
        S1: a3 NO [NOPERM] Quota can be changed only by admin.
        C1: a4 SETQUOTA "" (STORAGE)
        S1: a4 BAD …
        C1: a5 GETQUOTA ""
        S1: * QUOTA "" (STORAGE 0 5)
        S1: a5 OK Getquota completed.
        C1: a6 GETQUOTA "User quota"
        S1: a6 NO [NONEXISTENT] Quota root doesn't exist.
    """,
    )


def test_status_deleted_and_deleted_storage(imap_server: InProcessServer) -> None:
    """RFC 9051 §6.3.11 DELETED; RFC 9208 §4.1.4 DELETED-STORAGE, in octets like SIZE."""
    run_transcript(
        imap_server,
        """
        C1: a1 LOGIN {user} "{password}"
        S1: a1 OK …
        C1: a2 APPEND INBOX (\\Deleted) {5+}
        C1: hello
        S1: a2 OK …
        C1: a3 APPEND INBOX (\\Deleted \\Seen) {11+}
        C1: hello world
        S1: a3 OK …
        C1: a4 APPEND INBOX {3+}
        C1: bye
        S1: a4 OK …
        C1: a5 STATUS INBOX (MESSAGES DELETED DELETED-STORAGE SIZE)
        S1: * STATUS INBOX (MESSAGES 3 DELETED 2 DELETED-STORAGE 16 SIZE 19)
        S1: a5 OK Status completed.
        C1: a6 LIST "" INBOX RETURN (STATUS (DELETED-STORAGE))
        S1: * LIST (\\HasNoChildren) "/" INBOX
        S1: * STATUS INBOX (DELETED-STORAGE 16)
        S1: a6 OK List completed.
    """,
    )


def test_quota_root_of_a_mailbox_to_be_is_reported(imap_server: InProcessServer) -> None:
    """RFC 9208 §4.1.2: the mailbox need not exist; names go out as the revision wants."""
    imap_server.set_quota(None, 7)
    run_transcript(
        imap_server,
        """
        C1: a1 LOGIN {user} "{password}"
        S1: a1 OK …
        C1: a2 GETQUOTAROOT "Not yet/&AOk-t&AOk-"
        S1: * QUOTAROOT "Not yet/&AOk-t&AOk-" ""
        S1: * QUOTA "" (MESSAGE 0 7)
        S1: a2 OK Getquotaroot completed.
        C1: a3 GETQUOTAROOT &AOk-t&AOk-
        S1: * QUOTAROOT &AOk-t&AOk- ""
        S1: * QUOTA "" (MESSAGE 0 7)
        S1: a3 OK Getquotaroot completed.
        C1: a4 ENABLE IMAP4rev2
        S1: * ENABLED IMAP4rev2
        S1: a4 OK Enabled.
        C1: a5 GETQUOTAROOT "été"
        S1: * QUOTAROOT "été" ""
        S1: * QUOTA "" (MESSAGE 0 7)
        S1: a5 OK Getquotaroot completed.
        C1: a6 GETQUOTAROOT "&AOk-"
        S1: * QUOTAROOT &AOk- ""
        S1: * QUOTA "" (MESSAGE 0 7)
        S1: a6 OK Getquotaroot completed.
    """,
    )


def test_a_delivery_by_another_connection_shows_in_the_usage(
    imap_server: InProcessServer,
) -> None:
    """The limit is the account's, shared by every session: connection 2 fills it."""
    imap_server.set_quota(None, 1)
    run_transcript(
        imap_server,
        """
        C1: a1 LOGIN {user} "{password}"
        S1: a1 OK …
        C2: b1 LOGIN {user} "{password}"
        S2: b1 OK …
        C2: b2 APPEND Sent {4+}
        C2: sent
        S2: b2 OK …
        C1: a2 GETQUOTA ""
        S1: * QUOTA "" (MESSAGE 1 1)
        S1: a2 OK Getquota completed.
        C1: a3 APPEND INBOX {4+}
        C1: more
        S1: a3 NO [OVERQUOTA] Quota exceeded (mailbox for user is full)
    """,
    )


def test_synchronizing_append_that_cannot_fit_is_refused_before_the_upload(
    imap_server: InProcessServer,
) -> None:
    """As Dovecot does: NO [OVERQUOTA] instead of `+`, so the message is never sent; a
    literal that is the mailbox name, not the message, still gets its `+`."""
    imap_server.set_quota(10, 5)
    run_transcript(
        imap_server,
        """
        C1: a1 LOGIN {user} "{password}"
        S1: a1 OK …
        C1: a2 APPEND INBOX (\\Seen) "01-Jan-2024 10:00:00 +0000" {11}
        S1: a2 NO [OVERQUOTA] Quota exceeded (mailbox for user is full)
        C1: a3 APPEND {5}
        S1: + …
        C1: INBOX {10}
        S1: + …
        C1: 0123456789
        S1: a3 OK [APPENDUID … 1] Append completed.
        C1: a4 APPEND Sent {1}
        S1: a4 NO [OVERQUOTA] Quota exceeded (mailbox for user is full)
        C1: a5 NOOP
        S1: a5 OK Noop completed.
        C1: a6 GETQUOTA ""
        S1: * QUOTA "" (STORAGE 1 1 MESSAGE 1 5)
        S1: a6 OK Getquota completed.
    """,
    )


def test_early_refusal_waits_for_login(imap_server: InProcessServer) -> None:
    """Before LOGIN there is no quota to check: the literal is read, then the command is
    refused for the state, as any other."""
    imap_server.set_quota(0, 0)
    run_transcript(
        imap_server,
        """
        C1: a1 APPEND INBOX {2}
        S1: + …
        C1: hi
        S1: a1 BAD Log in first.
    """,
    )
