"""ACL (RFC 4314), namespaces (RFC 2342) and shared mailboxes over real sockets: the RFC's
commands as transcripts, every right's effect on the command it guards (table-driven),
per-user \\Seen in a team mailbox with three members, live updates between members in
IDLE, and what LIST and NAMESPACE show each user."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.imap.harness import (
    OTHER_USER,
    PASSWORD,
    USER,
    InProcessServer,
    LineClient,
    run_transcript,
)

from tidings.auth.passwords import hash_password
from tidings.core.acl import ALL_RIGHTS
from tidings.storage.sharing import create_team, share_mailbox

CAROL = "carol@example.test"
TEAM = "support@example.test"
OWNER_VIEW = f"Other Users/{USER}"
MESSAGE = "From: a@example.test\r\nSubject: hello\r\n\r\nbody\r\n"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[InProcessServer]:
    """alice and bob (the harness's), carol, alice's mailbox Work with one message."""
    running = InProcessServer(tmp_path).start()
    assert running.context is not None
    backend = running.context.backend
    running.run_in_server(backend.add_account(CAROL, hash_password(PASSWORD)))
    alice = LineClient(running.port)
    alice.login()
    assert alice.command("c", "CREATE Work")[-1].startswith("c OK")
    assert alice.command("d", "CREATE Work/Old")[-1].startswith("d OK")
    append(alice, "Work")
    alice.close()
    yield running
    running.stop()


def append(client: LineClient, mailbox: str, flags: str = "") -> list[str]:
    data = MESSAGE.encode()
    client.send_line(f'a APPEND "{mailbox}" ({flags}) {{{len(data)}+}}')
    client.send(data + b"\r\n")
    return client.read_until_tagged("a")


def share(server: InProcessServer, mailbox: str, who: str, rights: str) -> None:
    assert server.context is not None
    backend = server.context.backend
    server.run_in_server(share_mailbox(backend, USER, mailbox, who, rights))  # type: ignore[arg-type]


def team(server: InProcessServer, members: list[str]) -> None:
    assert server.context is not None
    backend = server.context.backend
    server.run_in_server(create_team(backend, TEAM, members, "lrswipkxte"))  # type: ignore[arg-type]


def logged_in(server: InProcessServer, user: str) -> LineClient:
    client = LineClient(server.port)
    client.login(user, PASSWORD)
    return client


def tagged(lines: list[str]) -> str:
    return lines[-1]


# ---------------------------------------------------------------------- RFC 4314 §3
def test_rfc4314_commands_transcript(server: InProcessServer) -> None:
    """§3.1-§3.5 on the owner's own mailbox: the owner has every right (shown, never
    changed), entries are added, changed with + and -, listed and deleted; c and d are
    RFC 2086's, expanded (§2.1.1); an unknown right is BAD."""
    run_transcript(
        server,
        f"""
        C: a LOGIN {{user}} {{password}}
        S: a OK …
        C: b CAPABILITY
        S: * CAPABILITY … ACL RIGHTS=texk …
        S: b OK …
        C: A001 GETACL Work
        S: * ACL Work {USER} lrswipkxtea
        S: A001 OK Getacl complete.
        C: A002 SETACL Work {OTHER_USER} +lr
        S: A002 OK Setacl complete.
        C: A003 SETACL Work anyone l
        S: A003 OK Setacl complete.
        C: A004 GETACL Work
        S: * ACL Work {USER} lrswipkxtea anyone l {OTHER_USER} lr
        S: A004 OK Getacl complete.
        C: A005 SETACL Work {OTHER_USER} -r
        S: A005 OK Setacl complete.
        C: A006 SETACL Work {OTHER_USER} +cd
        S: A006 OK Setacl complete.
        C: A007 GETACL Work
        S: * ACL Work {USER} lrswipkxtea anyone l {OTHER_USER} lkxte
        S: A007 OK Getacl complete.
        C: A008 LISTRIGHTS Work {OTHER_USER}
        S: * LISTRIGHTS Work {OTHER_USER} "" l r s w i p k x t e a
        S: A008 OK Listrights complete.
        C: A009 LISTRIGHTS Work {USER}
        S: * LISTRIGHTS Work {USER} lrswipkxtea
        S: A009 OK Listrights complete.
        C: A010 MYRIGHTS Work
        S: * MYRIGHTS Work lrswipkxtea
        S: A010 OK Myrights complete.
        C: A011 DELETEACL Work anyone
        S: A011 OK Deleteacl complete.
        C: A012 SETACL Work {OTHER_USER} ""
        S: A012 OK Setacl complete.
        C: A013 GETACL Work
        S: * ACL Work {USER} lrswipkxtea
        S: A013 OK Getacl complete.
        C: A014 SETACL Work {OTHER_USER} +lz
        S: A014 BAD Invalid rights: 'z' is not a right
        C: A015 SETACL Work {USER} -a
        S: A015 NO [CANNOT] The owner's rights can't be changed
        C: A016 SETACL Work -{OTHER_USER} r
        S: A016 NO [CANNOT] Invalid identifier …negative rights are not supported)
        C: A017 GETACL Nowhere
        S: A017 NO [NONEXISTENT] …
        C: A018 SETACL Work
        S: A018 BAD …
        """,
    )


# ---------------------------------------------------------------------- rights, one by one
WORK = f'"{OWNER_VIEW}/Work"'
RIGHT_CASES = [
    # (right, commands before (must succeed), the command it guards)
    ("r", [], f"SELECT {WORK}"),
    ("r", [], f"STATUS {WORK} (MESSAGES)"),
    ("s", [f"SELECT {WORK}"], "STORE 1 +FLAGS (\\Seen)"),
    ("w", [f"SELECT {WORK}"], "STORE 1 +FLAGS ($Label1)"),
    ("t", [f"SELECT {WORK}"], "STORE 1 +FLAGS (\\Deleted)"),
    ("e", [f"SELECT {WORK}", "STORE 1 +FLAGS (\\Deleted)"], "EXPUNGE"),
    ("i", [], "COPY-IN"),
    ("i", [f"SELECT {WORK}"], f'COPY 1 "{OWNER_VIEW}/Work"'),
    ("k", [], f'CREATE "{OWNER_VIEW}/Work/Child"'),
    ("x", [], f'DELETE "{OWNER_VIEW}/Work/Old"'),
    ("x", [], f'RENAME "{OWNER_VIEW}/Work/Old" "{OWNER_VIEW}/Work/New"'),
    ("a", [], f"GETACL {WORK}"),
    ("a", [], f"SETACL {WORK} {CAROL} r"),
    ("a", [], f"LISTRIGHTS {WORK} {CAROL}"),
    ("te", [f"SELECT {WORK}"], "MOVE 1 INBOX"),
]


def run_as_bob(server: InProcessServer, before: list[str], guarded: str) -> str:
    bob = logged_in(server, OTHER_USER)
    try:
        for index, command in enumerate(before):
            reply = tagged(bob.command(f"p{index}", command))
            assert " OK " in reply, (command, reply)
        if guarded == "COPY-IN":
            bob.command("s", "SELECT INBOX")
            append(bob, "INBOX")
            return tagged(bob.command("g", f"COPY 1 {WORK}"))
        return tagged(bob.command("g", guarded))
    finally:
        bob.close()


@pytest.mark.parametrize(("right", "before", "guarded"), RIGHT_CASES)
def test_each_right_guards_its_command(
    server: InProcessServer, right: str, before: list[str], guarded: str
) -> None:
    without = "".join(r for r in ALL_RIGHTS if r not in right or r in "l")
    share(server, "Work", OTHER_USER, without)
    refused = run_as_bob(server, before, guarded)
    assert refused.startswith("g NO [NOPERM] Permission denied"), refused
    share(server, "Work", OTHER_USER, ALL_RIGHTS)
    allowed = run_as_bob(server, before, guarded)
    assert allowed.startswith("g OK"), allowed


def test_without_lookup_and_read_a_mailbox_does_not_exist(server: InProcessServer) -> None:
    """RFC 4314 §6: no "l" and no "r": the same answer as for a missing mailbox; with
    "r" alone it can be selected but is not listed."""
    bob = logged_in(server, OTHER_USER)
    assert tagged(bob.command("a", f"SELECT {WORK}")).startswith("a NO [NONEXISTENT]")
    share(server, "Work", OTHER_USER, "r")
    assert not [line for line in bob.command("b", 'LIST "" "*"') if "Work" in line]
    assert tagged(bob.command("c", f"EXAMINE {WORK}")).startswith("c OK")
    share(server, "Work", OTHER_USER, "lr")
    listed = bob.command("d", 'LIST "" "*"')
    assert f'* LIST (\\HasChildren) "/" "{OWNER_VIEW}/Work"' in listed, listed
    bob.close()


def test_close_without_expunge_right_closes_and_keeps_the_messages(
    server: InProcessServer,
) -> None:
    """RFC 4314 §4: CLOSE expunges only with "e"; without it the mailbox is just closed."""
    share(server, "Work", OTHER_USER, "lrswt")
    bob = logged_in(server, OTHER_USER)
    bob.command("s", f"SELECT {WORK}")
    assert tagged(bob.command("f", "STORE 1 +FLAGS (\\Deleted)")).startswith("f OK")
    assert tagged(bob.command("c", "CLOSE")).startswith("c OK")
    status = bob.command("t", f"STATUS {WORK} (MESSAGES)")
    assert "(MESSAGES 1)" in status[0], status
    bob.close()


# ---------------------------------------------------------------------- team mailboxes
def fetch_flags(client: LineClient, mailbox: str) -> str:
    client.command("s", f'SELECT "{mailbox}"')
    lines = client.command("f", "FETCH 1 (FLAGS)")
    assert tagged(lines).startswith("f OK"), lines
    return lines[0]


def test_team_members_each_have_their_own_seen(server: InProcessServer) -> None:
    team(server, [USER, OTHER_USER, CAROL])
    alice, bob, carol = (logged_in(server, user) for user in (USER, OTHER_USER, CAROL))
    assert " OK " in tagged(append(alice, "Shared/support"))
    alice.command("s", 'SELECT "Shared/support"')
    assert tagged(alice.command("a", "STORE 1 +FLAGS (\\Seen \\Flagged)")).startswith("a OK")
    assert "\\Seen" in fetch_flags(alice, "Shared/support")
    for other in (bob, carol):
        flags = fetch_flags(other, "Shared/support")
        assert "\\Flagged" in flags, flags  # shared
        assert "\\Seen" not in flags, flags  # alice's own
    status = bob.command("u", 'STATUS "Shared/support" (UNSEEN MESSAGES)')[0]
    assert "MESSAGES 1" in status and "UNSEEN 1" in status, status
    bob.command("b", "STORE 1 +FLAGS (\\Seen)")
    assert "\\Seen" not in fetch_flags(carol, "Shared/support")
    alice.command("r", "STORE 1 -FLAGS (\\Seen)")
    assert "\\Seen" in fetch_flags(bob, "Shared/support")
    status = alice.command("u", 'STATUS "Shared/support" (UNSEEN)')[0]
    assert "UNSEEN 1" in status, status
    # Filing the message keeps each member's own state.
    alice.command("c", 'CREATE "Shared/support/Done"')
    alice.command("s", 'SELECT "Shared/support"')
    assert tagged(alice.command("m", 'MOVE 1 "Shared/support/Done"')).startswith("m OK")
    assert "\\Seen" in fetch_flags(bob, "Shared/support/Done")
    assert "\\Seen" not in fetch_flags(carol, "Shared/support/Done")
    assert "\\Seen" not in fetch_flags(alice, "Shared/support/Done")
    for client in (alice, bob, carol):
        client.close()


def next_update(client: LineClient) -> str:
    """The next untagged line that is not a RECENT count."""
    line = client.read_line()
    while line.endswith(" RECENT"):
        line = client.read_line()
    return line


def test_a_member_in_idle_sees_the_others_work_live(server: InProcessServer) -> None:
    team(server, [USER, OTHER_USER])
    alice, bob = logged_in(server, USER), logged_in(server, OTHER_USER)
    append(alice, "Shared/support")
    assert tagged(alice.command("c", 'CREATE "Shared/support/Done"')).startswith("c OK")
    bob.command("s", 'SELECT "Shared/support"')
    bob.send_line("i IDLE")
    assert bob.read_line().startswith("+ ")

    append(alice, "Shared/support")
    assert next_update(bob) == "* 2 EXISTS"
    alice.command("s", 'SELECT "Shared/support"')
    alice.command("f", "STORE 1 +FLAGS (\\Flagged)")
    assert re.fullmatch(r"\* 1 FETCH \(FLAGS \(.*\\Flagged.*\)\)", next_update(bob))
    alice.command("m", 'MOVE 2 "Shared/support/Done"')
    assert next_update(bob) == "* 2 EXPUNGE"
    bob.send_line("DONE")
    assert tagged(bob.read_until_tagged("i")).startswith("i OK")
    status = bob.command("t", 'STATUS "Shared/support/Done" (MESSAGES)')
    assert "(MESSAGES 1)" in status[0], status
    alice.close()
    bob.close()


def test_list_and_namespace_show_what_each_user_may_see(server: InProcessServer) -> None:
    team(server, [OTHER_USER])
    share(server, "Work", OTHER_USER, "lr")
    bob = logged_in(server, OTHER_USER)
    namespace = bob.command("n", "NAMESPACE")[0]
    assert namespace == '* NAMESPACE (("" "/")) (("Other Users/" "/")) (("Shared/" "/"))'
    listed = bob.command("l", 'LIST "" "*"')
    names = [line.rsplit('"/" ', 1)[1] for line in listed if line.startswith("* LIST")]
    assert f'"{OWNER_VIEW}/Work"' in names, names
    assert "Shared/support" in names, names
    assert f'"{OWNER_VIEW}/INBOX"' not in names  # not shared
    # The levels above them are \Noselect, so that "%" walks down (RFC 2342 §6).
    top = bob.command("t", 'LIST "" "%"')
    assert '* LIST (\\Noselect \\HasChildren) "/" "Other Users"' in top, top
    assert '* LIST (\\Noselect \\HasChildren) "/" Shared' in top, top
    level = bob.command("u", 'LIST "" "Other Users/%"')
    assert level[0] == f'* LIST (\\Noselect \\HasChildren) "/" "{OWNER_VIEW}"', level
    carol = logged_in(server, CAROL)
    carol_list = " ".join(carol.command("l", 'LIST "" "*"'))
    assert "Shared" not in carol_list and "Other Users" not in carol_list, carol_list
    assert tagged(carol.command("s", 'SELECT "Shared/support"')).startswith("s NO [NONEXISTENT]")
    rights = bob.command("m", 'MYRIGHTS "Shared/support"')[0]
    assert rights == "* MYRIGHTS Shared/support lrswipkxte", rights
    bob.close()
    carol.close()


def test_notify_reports_another_members_new_mail(server: InProcessServer) -> None:
    """RFC 5465: NOTIFY's selected-mailbox events cross users like IDLE's."""
    team(server, [USER, OTHER_USER])
    alice, bob = logged_in(server, USER), logged_in(server, OTHER_USER)
    append(alice, "Shared/support")
    notify = bob.command("n", "NOTIFY SET (SELECTED (MessageNew (UID) MessageExpunge FlagChange))")
    assert tagged(notify).startswith("n OK"), notify
    assert tagged(bob.command("s", 'SELECT "Shared/support"')).startswith("s OK")
    append(alice, "Shared/support")
    assert next_update(bob) == "* 2 EXISTS"
    assert next_update(bob).startswith("* 2 FETCH (UID 2")
    alice.close()
    bob.close()


def test_fetch_body_sets_seen_only_with_the_seen_right(server: InProcessServer) -> None:
    """RFC 4314 §4: FETCH BODY[] sets \\Seen only for a user holding "s"."""
    share(server, "Work", OTHER_USER, "lr")
    bob = logged_in(server, OTHER_USER)
    bob.command("s", f"SELECT {WORK}")
    lines = bob.command("f", "FETCH 1 (BODY[])")
    assert tagged(lines).startswith("f OK"), lines
    assert "\\Seen" not in fetch_flags(bob, f"{OWNER_VIEW}/Work")
    share(server, "Work", OTHER_USER, "lrs")
    bob.command("s", f"SELECT {WORK}")
    bob.command("g", "FETCH 1 (BODY[])")
    assert "\\Seen" in fetch_flags(bob, f"{OWNER_VIEW}/Work")
    bob.close()
    alice = logged_in(server, USER)
    assert "\\Seen" not in fetch_flags(alice, "Work")  # bob's \Seen is his own
    alice.close()
