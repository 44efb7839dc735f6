"""LIST-EXTENDED (RFC 5258) with CHILDREN (RFC 3348) and LIST-STATUS (RFC 5819): every
selection and return option, RECURSIVEMATCH with CHILDINFO, several patterns, \\NonExistent
and \\Subscribed, over real sockets. The RFC §5 examples are replayed on this server's
store, where a parent mailbox always exists (CREATE makes it), so the examples' \\NonExistent
parents are real ones here. Always returning \\HasChildren / \\HasNoChildren is allowed
(§4: the server MAY return them unasked; CHILDREN, RFC 3348 §3, asks for them)."""

from __future__ import annotations

import pytest
from tests.imap.harness import InProcessServer, LineClient


def _client(server: InProcessServer) -> LineClient:
    client = LineClient(server.port)
    client.login()
    return client


def _ok(client: LineClient, command: str) -> None:
    reply = client.command("s", command)
    assert reply[-1].startswith("s OK"), reply


def _list(client: LineClient, arguments: str) -> list[str]:
    reply = client.command("L", f"LIST {arguments}")
    assert reply[-1] == "L OK List completed.", reply
    return reply[:-1]


@pytest.fixture
def fruit(imap_server: InProcessServer) -> LineClient:
    """RFC 5258 §5 example 2's mailboxes: Fruit, Fruit/Apple, Fruit/Banana, Fruit/Peach
    (subscribed, then deleted, so \\NonExistent), Tofu, Vegetable, Vegetable/Broccoli,
    Vegetable/Corn; Fruit/Banana, Vegetable and Vegetable/Broccoli subscribed."""
    client = _client(imap_server)
    for name in ("Fruit/Apple", "Fruit/Banana", "Fruit/Peach", "Tofu"):
        _ok(client, f"CREATE {name}")
    for name in ("Vegetable/Broccoli", "Vegetable/Corn"):
        _ok(client, f"CREATE {name}")
    for name in ("Fruit/Banana", "Fruit/Peach", "Vegetable", "Vegetable/Broccoli"):
        _ok(client, f"SUBSCRIBE {name}")
    for name in ("INBOX", "Drafts", "Sent", "Junk", "Trash", "Archive"):
        _ok(client, f"UNSUBSCRIBE {name}")
    _ok(client, "DELETE Fruit/Peach")  # RFC 9051 §6.3.4: DELETE keeps the subscription
    return client


def test_advertised(imap_server: InProcessServer) -> None:
    capabilities = _client(imap_server).command("c", "CAPABILITY")[0].split()
    assert {"LIST-EXTENDED", "LIST-STATUS", "CHILDREN"} <= set(capabilities)


def test_example_1_basic_list_is_unchanged(fruit: LineClient) -> None:
    """§5 example 1: LIST "" % (the RFC 3501 form)."""
    assert _list(fruit, '"" %') == [
        '* LIST (\\HasNoChildren) "/" INBOX',
        '* LIST (\\HasNoChildren \\Archive) "/" Archive',
        '* LIST (\\HasNoChildren \\Drafts) "/" Drafts',
        '* LIST (\\HasChildren) "/" Fruit',
        '* LIST (\\HasNoChildren \\Junk) "/" Junk',
        '* LIST (\\HasNoChildren \\Sent) "/" Sent',
        '* LIST (\\HasNoChildren) "/" Tofu',
        '* LIST (\\HasNoChildren \\Trash) "/" Trash',
        '* LIST (\\HasChildren) "/" Vegetable',
    ]


def test_example_2_subscribed_with_nonexistent(fruit: LineClient) -> None:
    """§5 example 2: LIST (SUBSCRIBED) "" "*"; a subscribed name that is no mailbox is
    \\NonExistent (§3.4)."""
    assert _list(fruit, '(SUBSCRIBED) "" "*"') == [
        '* LIST (\\HasNoChildren \\Subscribed) "/" Fruit/Banana',
        '* LIST (\\NonExistent \\Subscribed) "/" Fruit/Peach',
        '* LIST (\\HasChildren \\Subscribed) "/" Vegetable',
        '* LIST (\\HasNoChildren \\Subscribed) "/" Vegetable/Broccoli',
    ]


def test_example_3_return_children(fruit: LineClient) -> None:
    """§5 example 3: LIST () "" "%" RETURN (CHILDREN)."""
    reply = _list(fruit, '() "" "%" RETURN (CHILDREN)')
    assert '* LIST (\\HasChildren) "/" Fruit' in reply
    assert '* LIST (\\HasNoChildren) "/" Tofu' in reply
    assert len(reply) == 9


def test_examples_4_to_6_remote(fruit: LineClient) -> None:
    """§5 examples 4-6: REMOTE adds remote mailboxes; there are none here, so it changes
    nothing (no \\Remote attribute)."""
    assert _list(fruit, '(REMOTE) "" "%" RETURN (CHILDREN)') == _list(fruit, '"" "%"')
    assert _list(fruit, '(REMOTE SUBSCRIBED) "" "*"') == _list(fruit, '(SUBSCRIBED) "" "*"')
    reply = _list(fruit, '(REMOTE) "" "*" RETURN (SUBSCRIBED)')
    assert '* LIST (\\HasNoChildren \\Subscribed) "/" Fruit/Banana' in reply
    assert '* LIST (\\HasNoChildren) "/" Fruit/Apple' in reply
    # RETURN (SUBSCRIBED) does not select: Fruit/Peach is no mailbox, so it is not listed.
    assert not [line for line in reply if "Peach" in line]
    assert not [line for line in reply if "\\Remote" in line]


def test_example_7_several_patterns(fruit: LineClient) -> None:
    """§5 example 7: LIST "" ("INBOX" "Drafts" "Fruit/%") (the RFC has "Sent/%")."""
    assert _list(fruit, '"" ("INBOX" "Drafts" "Fruit/%")') == [
        '* LIST (\\HasNoChildren) "/" INBOX',
        '* LIST (\\HasNoChildren \\Drafts) "/" Drafts',
        '* LIST (\\HasNoChildren) "/" Fruit/Apple',
        '* LIST (\\HasNoChildren) "/" Fruit/Banana',
    ]
    # A name matched by two patterns is listed once.
    assert _list(fruit, '"" (Tofu "To%" "*ofu")') == ['* LIST (\\HasNoChildren) "/" Tofu']


def test_example_8_recursivematch(imap_server: InProcessServer) -> None:
    """§5 example 8: Foo, Foo/Bar, Foo/Baz, Moo; Foo/Baz and Moo subscribed. With
    RECURSIVEMATCH, "%" lists Foo for its subscribed child, with CHILDINFO; without it, only
    Moo. A child listed itself needs no CHILDINFO on its parent (as Dovecot)."""
    client = _client(imap_server)
    for name in ("Foo/Bar", "Foo/Baz", "Moo"):
        _ok(client, f"CREATE {name}")
    for name in ("Foo/Baz", "Moo"):
        _ok(client, f"SUBSCRIBE {name}")
    assert _list(client, '(SUBSCRIBED) "" "M%"') == [
        '* LIST (\\HasNoChildren \\Subscribed) "/" Moo'
    ]
    assert _list(client, '(SUBSCRIBED RECURSIVEMATCH) "" "%oo"') == [
        '* LIST (\\HasChildren) "/" Foo (CHILDINFO ("SUBSCRIBED"))',
        '* LIST (\\HasNoChildren \\Subscribed) "/" Moo',
    ]
    assert _list(client, '(SUBSCRIBED RECURSIVEMATCH) "" "*oo*"') == [
        '* LIST (\\HasNoChildren \\Subscribed) "/" Foo/Baz',
        '* LIST (\\HasNoChildren \\Subscribed) "/" Moo',
    ]
    # §5 example 8, last part: RETURN (CHILDREN) with it.
    assert _list(client, '(SUBSCRIBED RECURSIVEMATCH) "" "Foo" RETURN (CHILDREN)') == [
        '* LIST (\\HasChildren) "/" Foo (CHILDINFO ("SUBSCRIBED"))'
    ]


def test_example_9_subscribed_parent_with_subscribed_child(imap_server: InProcessServer) -> None:
    """§5 example 9: eps2 and eps2/mamba both subscribed: eps2 is \\Subscribed and also
    carries CHILDINFO, since "%" does not list eps2/mamba."""
    client = _client(imap_server)
    _ok(client, "CREATE eps2/mamba")
    _ok(client, "SUBSCRIBE eps2")
    _ok(client, "SUBSCRIBE eps2/mamba")
    assert _list(client, '(SUBSCRIBED RECURSIVEMATCH) "" "e%"') == [
        '* LIST (\\HasChildren \\Subscribed) "/" eps2 (CHILDINFO ("SUBSCRIBED"))'
    ]


def test_recursivematch_alone_and_unknown_options_are_bad(fruit: LineClient) -> None:
    """§3: RECURSIVEMATCH needs another selection option; unknown options are BAD."""
    for arguments in (
        '(RECURSIVEMATCH) "" "%"',
        '(REMOTE RECURSIVEMATCH) "" "%"',
        '(BOGUS) "" "%"',
        '"" "%" RETURN (BOGUS)',
        '"" ()',
    ):
        reply = fruit.command("b", f"LIST {arguments}")
        assert len(reply) == 1 and reply[0].startswith("b BAD "), (arguments, reply)


def test_empty_options_are_a_plain_list(fruit: LineClient) -> None:
    assert _list(fruit, '() "" "%" RETURN ()') == _list(fruit, '"" "%"')


def test_rfc5819_list_status(fruit: LineClient) -> None:
    """RFC 5819 §2: STATUS right after each listed, selectable mailbox; none for a
    \\NonExistent one nor for one listed only for CHILDINFO."""
    _ok(fruit, "APPEND Fruit/Banana {5+}\r\nhello")
    assert _list(fruit, '(SUBSCRIBED) "" "Fruit/*" RETURN (STATUS (MESSAGES UNSEEN))') == [
        '* LIST (\\HasNoChildren \\Subscribed) "/" Fruit/Banana',
        "* STATUS Fruit/Banana (MESSAGES 1 UNSEEN 1)",
        '* LIST (\\NonExistent \\Subscribed) "/" Fruit/Peach',
    ]
    assert _list(fruit, '(SUBSCRIBED RECURSIVEMATCH) "" "F%" RETURN (STATUS (MESSAGES))') == [
        '* LIST (\\HasChildren) "/" Fruit (CHILDINFO ("SUBSCRIBED"))'
    ]
    # With the other return options, in any order.
    assert _list(fruit, '"" "Fruit/%" RETURN (CHILDREN STATUS (MESSAGES SIZE) SUBSCRIBED)') == [
        '* LIST (\\HasNoChildren) "/" Fruit/Apple',
        "* STATUS Fruit/Apple (MESSAGES 0 SIZE 0)",
        '* LIST (\\HasNoChildren \\Subscribed) "/" Fruit/Banana',
        "* STATUS Fruit/Banana (MESSAGES 1 SIZE 5)",
    ]


def test_rfc3348_children_follow_changes(imap_server: InProcessServer) -> None:
    """RFC 3348 §3: \\HasChildren once a child exists, \\HasNoChildren when it is gone."""
    client = _client(imap_server)
    _ok(client, "CREATE Projects")
    assert _list(client, '"" Projects') == ['* LIST (\\HasNoChildren) "/" Projects']
    _ok(client, "CREATE Projects/Alpha")
    assert _list(client, '"" Projects') == ['* LIST (\\HasChildren) "/" Projects']
    _ok(client, "DELETE Projects/Alpha")
    assert _list(client, '"" Projects RETURN (CHILDREN)') == [
        '* LIST (\\HasNoChildren) "/" Projects'
    ]


def test_lsub_percent_lists_unsubscribed_parents_noselect(fruit: LineClient) -> None:
    """RFC 3501 §6.3.9: "%" to LSUB returns foo for a subscribed foo/bar, \\Noselect."""
    reply = fruit.command("l", 'LSUB "" "%"')
    assert reply == [
        '* LSUB (\\Noselect) "/" Fruit',
        '* LSUB () "/" Vegetable',
        "l OK Lsub completed.",
    ]
    assert fruit.command("l2", 'LSUB "" "Fruit/*"') == [
        '* LSUB () "/" Fruit/Banana',
        '* LSUB (\\Noselect) "/" Fruit/Peach',
        "l2 OK Lsub completed.",
    ]
