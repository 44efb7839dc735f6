"""UTF8=ACCEPT (RFC 6855): ENABLE, UTF-8 mailbox names instead of modified UTF-7 (§3), the
UTF8 APPEND data item (§4), SEARCH without CHARSET (§3); over real sockets, with a rev1
client beside to check what others see."""

from __future__ import annotations

from tests.imap.harness import InProcessServer, LineClient, run_transcript

GREETING = "Subject: Grüße aus Köln\r\nFrom: Jörg <jörg@example.test>\r\n\r\nHallo!\r\n".encode()


def _utf8_client(server: InProcessServer) -> LineClient:
    client = LineClient(server.port)
    client.login()
    assert client.command("e1", "ENABLE UTF8=ACCEPT") == [
        "* ENABLED UTF8=ACCEPT",
        "e1 OK Enabled.",
    ]
    return client


def _rev1_client(server: InProcessServer) -> LineClient:
    client = LineClient(server.port)
    client.login()
    return client


def test_advertised_after_login_and_enabled_once(imap_server: InProcessServer) -> None:
    run_transcript(
        imap_server,
        """
        C1: a1 CAPABILITY
        S1: * CAPABILITY IMAP4rev1 IMAP4rev2 …
        S1: a1 OK Capability completed.
        C1: a2 ENABLE UTF8=ACCEPT
        S1: a2 BAD Log in first.
        C1: a3 LOGIN {user} "{password}"
        S1: a3 OK [CAPABILITY … UTF8=ACCEPT …] Logged in
        C1: a4 ENABLE UTF8=ACCEPT
        S1: * ENABLED UTF8=ACCEPT
        S1: a4 OK Enabled.
        C1: a5 ENABLE utf8=accept
        S1: * ENABLED
        S1: a5 OK Enabled.
    """,
    )
    client = LineClient(imap_server.port)
    assert "UTF8=ACCEPT" not in client.command("c1", "CAPABILITY")[0].split()
    assert "UTF8=ONLY" not in client.command("c2", "CAPABILITY")[0].split()


def test_enable_only_in_the_authenticated_state(imap_server: InProcessServer) -> None:
    """RFC 6855 §3: "MUST only be used in the authenticated state"."""
    client = _rev1_client(imap_server)
    client.command("s1", "SELECT INBOX")
    assert client.command("a1", "ENABLE UTF8=ACCEPT") == ["* ENABLED", "a1 OK Enabled."]
    # Still modified UTF-7 then.
    client.command("a2", "CREATE &AOQ-pfel")
    assert client.command("a3", 'LIST "" "&AOQ-*"')[0] == '* LIST (\\HasNoChildren) "/" &AOQ-pfel'


def test_names_are_utf8_after_enable(imap_server: InProcessServer) -> None:
    """§3: UTF-8 names both ways once enabled; a rev1 client keeps modified UTF-7."""
    rev1 = _rev1_client(imap_server)
    assert rev1.command("a1", "CREATE &AOQ-pfel/Birnen")[-1].endswith("Create completed.")
    utf8 = _utf8_client(imap_server)
    assert utf8.command("b1", 'LIST "" "äpfel*"') == [
        '* LIST (\\HasChildren) "/" "äpfel"',
        '* LIST (\\HasNoChildren) "/" "äpfel/Birnen"',
        "b1 OK List completed.",
    ]
    assert utf8.command("b2", 'CREATE "Ünïcödé 日本"')[-1].endswith("Create completed.")
    assert utf8.command("b3", 'STATUS "Ünïcödé 日本" (MESSAGES)') == [
        '* STATUS "Ünïcödé 日本" (MESSAGES 0)',
        "b3 OK Status completed.",
    ]
    assert utf8.command("b4", 'SELECT "äpfel/Birnen"')[-1].startswith("b4 OK [READ-WRITE]")
    assert rev1.command("a2", 'LIST "" "&ANw-*"') == [
        '* LIST (\\HasNoChildren) "/" "&ANw-n&AO8-c&APY-d&AOk- &ZeVnLA-"',
        "a2 OK List completed.",
    ]
    # No modified UTF-7 any more: "&AOQ-pfel" is now just a name with an ampersand.
    assert utf8.command("b5", "CREATE &AOQ-pfel")[-1].endswith("Create completed.")
    assert utf8.command("b6", 'LIST "" "&*"') == [
        '* LIST (\\HasNoChildren) "/" &AOQ-pfel',
        "b6 OK List completed.",
    ]
    assert rev1.command("a3", 'LIST "" "&-*"') == [
        '* LIST (\\HasNoChildren) "/" &-AOQ-pfel',
        "a3 OK List completed.",
    ]


def test_utf8_names_refused_without_enable(imap_server: InProcessServer) -> None:
    client = _rev1_client(imap_server)
    assert client.command("a1", 'CREATE "äpfel"') == [
        "a1 NO [CANNOT] Mailbox name is not valid mUTF-7"
    ]


def test_line_separators_are_not_mailbox_names(imap_server: InProcessServer) -> None:
    """§3: no controls, U+2028 or U+2029 in a name."""
    client = _utf8_client(imap_server)
    reply = client.command("a1", 'CREATE "a\u2028b"')
    assert reply[-1].startswith("a1 NO [CANNOT] Mailbox name contains control characters")


def test_rfc6855_append_utf8_data_item(imap_server: InProcessServer) -> None:
    """§4: append-data =/ "UTF8" SP "(" literal8 ")"; the message is stored as sent."""
    client = _utf8_client(imap_server)
    client.send_line(f"a1 APPEND INBOX (\\Seen) UTF8 (~{{{len(GREETING)}}}")
    assert client.read_line().startswith("+ ")
    client.send(GREETING + b")\r\n")
    assert client.read_until_tagged("a1")[-1].startswith("a1 OK [APPENDUID ")
    client.command("a2", "EXAMINE INBOX")
    client.send_line("a3 FETCH 1 (FLAGS BODY.PEEK[])")
    assert (
        client.read_line()
        == f"* 1 FETCH (FLAGS (\\Seen $HasNoAttachment) BODY[] {{{len(GREETING)}}}"
    )
    assert client.read_exact(len(GREETING)) == GREETING


def test_utf8_data_item_in_a_multiappend(imap_server: InProcessServer) -> None:
    client = _utf8_client(imap_server)
    size = len(GREETING)
    client.send(
        b"a1 APPEND INBOX UTF8 (~{%d+}\r\n%s) {5+}\r\nplain UTF8 (~{%d+}\r\n%s)\r\n"
        % (size, GREETING, size, GREETING)
    )
    assert client.read_until_tagged("a1")[-1].startswith("a1 OK [APPENDUID ")
    assert client.command("a2", "STATUS INBOX (MESSAGES)")[0] == "* STATUS INBOX (MESSAGES 3)"


def test_utf8_data_item_syntax(imap_server: InProcessServer) -> None:
    """The data must be a literal8 and the parenthesis must close."""
    client = _utf8_client(imap_server)
    client.send(b"a1 APPEND INBOX UTF8 ({5+}\r\nhello)\r\n")
    assert client.read_until_tagged("a1") == ["a1 BAD UTF8 data must be a literal8"]
    client.send(b"a2 APPEND INBOX UTF8 (~{5+}\r\nhello\r\n")
    assert client.read_until_tagged("a2") == ["a2 BAD Expected ')'"]
    assert client.command("a3", "STATUS INBOX (MESSAGES)")[0] == "* STATUS INBOX (MESSAGES 0)"


def test_search_after_enable_takes_utf8_and_no_charset(imap_server: InProcessServer) -> None:
    """§3: after ENABLE UTF8=ACCEPT a SEARCH with CHARSET is BAD; strings are UTF-8."""
    client = _utf8_client(imap_server)
    client.send(b"a1 APPEND INBOX ~{%d+}\r\n%s\r\n" % (len(GREETING), GREETING))
    client.read_until_tagged("a1")
    client.command("a2", "SELECT INBOX")
    assert client.command("a3", 'SEARCH SUBJECT "grüße"') == [
        "* SEARCH 1",
        "a3 OK Search completed.",
    ]
    assert client.command("a4", 'SEARCH FROM "JÖRG"') == ["* SEARCH 1", "a4 OK Search completed."]
    reply = client.command("a5", 'SEARCH CHARSET UTF-8 SUBJECT "grüße"')
    assert reply == ["a5 BAD SEARCH CHARSET is not allowed after UTF8=ACCEPT."]
    # Without ENABLE, CHARSET UTF-8 stays fine (RFC 3501 §6.4.4).
    rev1 = _rev1_client(imap_server)
    rev1.command("b1", "SELECT INBOX")
    assert rev1.command("b2", 'SEARCH CHARSET UTF-8 SUBJECT "grüße"')[0] == "* SEARCH 1"
