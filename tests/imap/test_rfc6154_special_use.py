"""SPECIAL-USE and CREATE-SPECIAL-USE (RFC 6154): the attributes in LIST, the SPECIAL-USE
selection and return options, CREATE ... (USE (...)) with USEATTR; the RFC's §5 examples
on this server's default mailboxes (Drafts, Sent, Junk, Trash, Archive)."""

from __future__ import annotations

from tests.imap.harness import InProcessServer, LineClient


def _client(server: InProcessServer) -> LineClient:
    client = LineClient(server.port)
    client.login()
    return client


def test_capabilities(imap_server: InProcessServer) -> None:
    capabilities = _client(imap_server).command("c", "CAPABILITY")[0].split()
    assert {"SPECIAL-USE", "CREATE-SPECIAL-USE"} <= set(capabilities)


def test_rfc6154_example_5_1_return_special_use(imap_server: InProcessServer) -> None:
    """§5.1: LIST "" "%" RETURN (SPECIAL-USE): every mailbox, with its special use."""
    client = _client(imap_server)
    assert client.command("t1", 'LIST "" "%" RETURN (SPECIAL-USE)') == [
        '* LIST (\\HasNoChildren) "/" INBOX',
        '* LIST (\\HasNoChildren \\Archive) "/" Archive',
        '* LIST (\\HasNoChildren \\Drafts) "/" Drafts',
        '* LIST (\\HasNoChildren \\Junk) "/" Junk',
        '* LIST (\\HasNoChildren \\Sent) "/" Sent',
        '* LIST (\\HasNoChildren \\Trash) "/" Trash',
        "t1 OK List completed.",
    ]


def test_rfc6154_example_5_2_select_special_use(imap_server: InProcessServer) -> None:
    """§5.2: LIST (SPECIAL-USE) "" "*": only the mailboxes that have one."""
    client = _client(imap_server)
    client.command("a", "CREATE Lists/Python")
    reply = client.command("t1", 'LIST (SPECIAL-USE) "" "*"')
    assert reply == [
        '* LIST (\\HasNoChildren \\Archive) "/" Archive',
        '* LIST (\\HasNoChildren \\Drafts) "/" Drafts',
        '* LIST (\\HasNoChildren \\Junk) "/" Junk',
        '* LIST (\\HasNoChildren \\Sent) "/" Sent',
        '* LIST (\\HasNoChildren \\Trash) "/" Trash',
        "t1 OK List completed.",
    ]
    # Combined with SUBSCRIBED: both must hold.
    client.command("u", "UNSUBSCRIBE Junk")
    reply = client.command("t2", 'LIST (SPECIAL-USE SUBSCRIBED) "" "*" RETURN (SPECIAL-USE)')
    assert [line for line in reply if "Junk" in line] == []
    assert len(reply) == 5


def test_rfc6154_example_5_3_create_special_use(imap_server: InProcessServer) -> None:
    """§5.3 and §3: CREATE with USE; a use this server cannot give is NO [USEATTR] and no
    mailbox is created."""
    client = _client(imap_server)
    assert client.command("t1", "CREATE MySpecial (USE (\\Drafts \\Sent))") == [
        "t1 NO [USEATTR] Only one special use per mailbox."
    ]
    reply = client.command("t2", "CREATE MySpecial (USE (\\Drafts))")
    assert reply[-1].startswith("t2 OK") and reply[-1].endswith("Create completed.")
    assert client.command("t3", 'LIST "" MySpecial RETURN (SPECIAL-USE)') == [
        '* LIST (\\HasNoChildren \\Drafts) "/" MySpecial',
        "t3 OK List completed.",
    ]
    # \All and \Flagged promise virtual mailboxes; \Bogus is no special use at all.
    for tag, use in (("t4", "\\All"), ("t5", "\\Flagged"), ("t6", "\\Bogus")):
        assert client.command(tag, f"CREATE Other (USE ({use}))") == [
            f"{tag} NO [USEATTR] Unsupported special use {use}."
        ]
    assert client.command("t7", 'LIST "" Other') == ["t7 OK List completed."]
    # The attribute is matched case-insensitively and stored canonically.
    reply = client.command("t8", "CREATE Outbox/Sent2 (USE (\\sent))")
    assert reply[-1].startswith("t8 OK")
    assert client.command("t9", 'LIST "" Outbox/Sent2')[0] == (
        '* LIST (\\HasNoChildren \\Sent) "/" Outbox/Sent2'
    )
    # An empty USE list creates a plain mailbox; an unknown parameter is BAD.
    assert client.command("t10", "CREATE Plain (USE ())")[-1].startswith("t10 OK")
    assert client.command("t11", "CREATE Odd (COLOR (red))")[-1].startswith("t11 BAD")


def test_special_use_survives_rename(imap_server: InProcessServer) -> None:
    client = _client(imap_server)
    client.command("r", "RENAME Sent Outgoing")
    assert client.command("l", 'LIST (SPECIAL-USE) "" "Out*"') == [
        '* LIST (\\HasNoChildren \\Sent) "/" Outgoing',
        "l OK List completed.",
    ]


def test_recursivematch_with_special_use(imap_server: InProcessServer) -> None:
    """RFC 5258 §3.5 with RFC 6154: a parent gets CHILDINFO ("SPECIAL-USE") when "%" stops
    above a special-use mailbox."""
    client = _client(imap_server)
    client.command("c", "CREATE Work/Sent (USE (\\Sent))")
    assert client.command("l", 'LIST (SPECIAL-USE RECURSIVEMATCH) "" "W%"') == [
        '* LIST (\\HasChildren) "/" Work (CHILDINFO ("SPECIAL-USE"))',
        "l OK List completed.",
    ]
