"""RFC 5464 METADATA and METADATA-SERVER over real sockets: the RFC's examples (§4.2, §4.2.1,
§4.2.2, §4.3) as transcripts, the limits, the response codes, the NOTIFY hook."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.imap.harness import USER, InProcessServer, LineClient, run_transcript, server_with_limits

from tidings.config import ConfigError, load_config
from tidings.imap.proto.grammar import CommandSyntaxError, parse_command
from tidings.imap.proto.metadata import GetMetadata, SetMetadata
from tidings.notify.api import ChangeNotice, MetadataNotice
from tidings.notify.hub import NotificationHub, Subscription

LOGIN = """
C1: a0 LOGIN {user} "{password}"
S1: a0 OK …
"""


def _client(server: InProcessServer) -> LineClient:
    client = LineClient(server.port)
    client.login()
    return client


def test_capabilities(imap_server: InProcessServer) -> None:
    capability = _client(imap_server).command("c1", "CAPABILITY")[0]
    assert " METADATA " in capability + " " and " METADATA-SERVER" in capability


def test_rfc5464_section_4_2_examples(imap_server: InProcessServer) -> None:
    """§4.2: server and mailbox entries, one entry and several."""
    run_transcript(
        imap_server,
        LOGIN
        + """
        C1: a1 SETMETADATA "" (/shared/comment "Shared comment")
        S1: a1 OK Setmetadata completed.
        C1: a2 SETMETADATA INBOX (/private/comment "My own comment" /shared/comment "Shared")
        S1: a2 OK Setmetadata completed.
        C1: a GETMETADATA "" /shared/comment
        S1: * METADATA "" (/shared/comment "Shared comment")
        S1: a OK Getmetadata completed.
        C1: a GETMETADATA INBOX /private/comment
        S1: * METADATA INBOX (/private/comment "My own comment")
        S1: a OK Getmetadata completed.
        C1: a GETMETADATA INBOX (/shared/comment /private/comment)
        S1: * METADATA INBOX (/shared/comment "Shared" /private/comment "My own comment")
        S1: a OK Getmetadata completed.
        C1: b GETMETADATA INBOX (/Private/Comment /shared/missing)
        S1: * METADATA INBOX (/private/comment "My own comment" /shared/missing NIL)
        S1: b OK Getmetadata completed.
        """,
    )


def test_rfc5464_section_4_2_1_maxsize(imap_server: InProcessServer) -> None:
    """§4.2.1: values longer than MAXSIZE are left out; LONGENTRIES names the longest."""
    client = _client(imap_server)
    big = "x" * 2199
    client.send(b"s1 SETMETADATA INBOX (/shared/comment {2199+}\r\n" + big.encode() + b")\r\n")
    assert client.read_until_tagged("s1")[-1] == "s1 OK Setmetadata completed."
    client.command("s2", 'SETMETADATA INBOX (/private/comment "My own comment")')
    reply = client.command(
        "a", "GETMETADATA (MAXSIZE 1024) INBOX (/shared/comment /private/comment)"
    )
    assert reply == [
        '* METADATA INBOX (/private/comment "My own comment")',
        "a OK [METADATA LONGENTRIES 2199] Getmetadata completed.",
    ]
    reply = client.command("b", "GETMETADATA (MAXSIZE 10) INBOX /shared/comment")
    assert reply == ["b OK [METADATA LONGENTRIES 2199] Getmetadata completed."]


def test_rfc5464_section_4_2_2_depth(imap_server: InProcessServer) -> None:
    """§4.2.2: DEPTH 0 (the default), 1 (children) and infinity (all descendants)."""
    run_transcript(
        imap_server,
        LOGIN
        + """
        C1: s1 SETMETADATA INBOX (/private/filters/values/small "SMALLER 5000" /private/filters/values/boss "FROM \\"boss@example.com\\"" /private/filters/values/boss/deep "d")
        S1: s1 OK …
        C1: a GETMETADATA (DEPTH 1) INBOX (/private/filters/values)
        S1: * METADATA INBOX (/private/filters/values NIL /private/filters/values/boss "FROM \\"boss@example.com\\"" /private/filters/values/small "SMALLER 5000")
        S1: a OK Getmetadata completed.
        C1: b GETMETADATA (DEPTH infinity) INBOX /private/filters
        S1: * METADATA INBOX (/private/filters NIL /private/filters/values/boss "FROM \\"boss@example.com\\"" /private/filters/values/boss/deep "d" /private/filters/values/small "SMALLER 5000")
        S1: b OK Getmetadata completed.
        C1: c GETMETADATA (DEPTH 0) INBOX /private/filters
        S1: * METADATA INBOX (/private/filters NIL)
        S1: c OK Getmetadata completed.
        C1: e GETMETADATA (DEPTH 1) INBOX (/private/filters /private/filters/values/boss)
        S1: * METADATA INBOX (/private/filters NIL /private/filters/values/boss "FROM \\"boss@example.com\\"" /private/filters/values/boss/deep "d")
        S1: e OK Getmetadata completed.
        C1: d GETMETADATA (DEPTH 2) INBOX /private/filters
        S1: d BAD …
        """,  # noqa: E501 - the RFC's entries and values, one response per line
    )


def test_rfc5464_section_4_3_setmetadata_literal_and_remove(imap_server: InProcessServer) -> None:
    """§4.3: a value in a (synchronising) literal with a line break; NIL removes it."""
    client = _client(imap_server)
    value = b"My new comment across\r\ntwo lines."
    client.send(b"a SETMETADATA INBOX (/private/comment {%d}\r\n" % len(value))
    assert client.read_line().startswith("+ ")
    client.send(value + b")\r\n")
    assert client.read_until_tagged("a") == ["a OK Setmetadata completed."]
    client.send_line("b GETMETADATA INBOX /private/comment")
    assert client.read_line() == f"* METADATA INBOX (/private/comment {{{len(value)}}}"
    assert client.read_exact(len(value)) == value
    assert client.read_until_tagged("b") == [")", "b OK Getmetadata completed."]
    assert client.command("c", "SETMETADATA INBOX (/private/comment NIL)") == [
        "c OK Setmetadata completed."
    ]
    assert client.command("d", "GETMETADATA INBOX /private/comment") == [
        "* METADATA INBOX (/private/comment NIL)",
        "d OK Getmetadata completed.",
    ]


def test_binary_value_round_trips_as_literal8(imap_server: InProcessServer) -> None:
    client = _client(imap_server)
    value = b"\x00\x01\xff"
    client.send(b"a SETMETADATA INBOX (/private/bin ~{3+}\r\n" + value + b")\r\n")
    assert client.read_until_tagged("a") == ["a OK Setmetadata completed."]
    client.send_line("b GETMETADATA INBOX /private/bin")
    assert client.read_line() == "* METADATA INBOX (/private/bin ~{3}"
    assert client.read_exact(3) == value


def test_rfc5464_section_4_3_maxsize_and_toomany(tmp_path_factory: pytest.TempPathFactory) -> None:
    """§4.3: NO [METADATA MAXSIZE n] for a value over the limit, NO [METADATA TOOMANY] when
    the entry limit or the account's total is reached; nothing of a refused command is set."""
    with server_with_limits(
        tmp_path_factory.mktemp("limits"),
        max_metadata_value_size=1024,
        max_metadata_entries=2,
        max_metadata_total_size=3000,
    ) as server:
        run_transcript(
            server,
            LOGIN
            + """
            C1: a SETMETADATA INBOX (/private/comment "My new comment" /shared/comment "This one is for you!")
            S1: a OK Setmetadata completed.
            C1: b SETMETADATA INBOX (/private/other "one too many")
            S1: b NO [METADATA TOOMANY] Too many metadata entries.
            C1: b2 SETMETADATA Drafts (/private/a "1" /private/b "2" /private/c "3")
            S1: b2 NO [METADATA TOOMANY] Too many metadata entries.
            C1: b3 GETMETADATA Drafts (/private/a /private/b /private/c)
            S1: b3 BAD Too many entries requested.
            C1: c SETMETADATA INBOX (/private/comment "replaced" /private/x NIL)
            S1: c OK Setmetadata completed.
            C1: d GETMETADATA (DEPTH infinity) INBOX (/private /shared)
            S1: * METADATA INBOX (/private NIL /private/comment "replaced" /shared NIL /shared/comment "This one is for you!")
            S1: d OK Getmetadata completed.
            """,  # noqa: E501 - the RFC's values, one response per line
        )
        client = _client(server)
        big = b"y" * 1025
        client.send(b"e SETMETADATA INBOX (/shared/comment {1025+}\r\n" + big + b")\r\n")
        assert client.read_until_tagged("e") == [
            "e NO [METADATA MAXSIZE 1024] Metadata value too large."
        ]
        # A synchronizing literal that large is refused at once: no "+", nothing uploaded.
        client.send(b"e2 SETMETADATA INBOX (/shared/comment {2000}\r\n")
        assert client.read_line() == "e2 NO [METADATA MAXSIZE 1024] Metadata value too large."
        assert client.command("e3", "NOOP") == ["e3 OK Noop completed."]
        fits = b"z" * 1000
        for tag, box in (("f", "Drafts"), ("g", "Sent")):
            client.send(
                f"{tag} SETMETADATA {box} (/private/a {{1000+}}\r\n".encode() + fits + b")\r\n"
            )
            assert client.read_until_tagged(tag)[-1] == f"{tag} OK Setmetadata completed."
        client.send(b"h SETMETADATA Junk (/private/a {1000+}\r\n" + fits + b")\r\n")
        assert client.read_until_tagged("h") == [
            "h NO [METADATA TOOMANY] Metadata storage limit reached."
        ]


def test_errors_for_missing_mailboxes_and_bad_entries(imap_server: InProcessServer) -> None:
    run_transcript(
        imap_server,
        LOGIN
        + """
        C1: a GETMETADATA nosuch /shared/comment
        S1: a NO [NONEXISTENT] …
        C1: b SETMETADATA nosuch (/shared/comment "x")
        S1: b NO [NONEXISTENT] …
        C1: c SETMETADATA INBOX (/comment "x")
        S1: c BAD …
        C1: d GETMETADATA INBOX /shared/
        S1: d BAD …
        C1: e GETMETADATA INBOX /shared//x
        S1: e BAD …
        C1: f GETMETADATA (FOO 1) INBOX /shared/x
        S1: f BAD …
        C1: g SETMETADATA INBOX ()
        S1: g BAD …
        C1: h GETMETADATA INBOX /shared/x*
        S1: h BAD …
        """,
    )


def test_entries_follow_rename_and_vanish_with_delete(imap_server: InProcessServer) -> None:
    client = _client(imap_server)
    client.command("a1", "CREATE foo")
    client.command("a2", 'SETMETADATA foo (/private/comment "keep me")')
    client.command("a3", "RENAME foo bar")
    assert client.command("a4", "GETMETADATA bar /private/comment")[0] == (
        '* METADATA bar (/private/comment "keep me")'
    )
    client.command("a5", "DELETE bar")
    client.command("a6", "CREATE bar")
    assert client.command("a7", "GETMETADATA bar /private/comment")[0] == (
        "* METADATA bar (/private/comment NIL)"
    )


def test_setmetadata_publishes_the_notify_hook(imap_server: InProcessServer) -> None:
    """After the commit SETMETADATA hands NOTIFY a MetadataNotice (RFC 5465 §5.6, §5.7)."""
    assert imap_server.context is not None
    hub = imap_server.context.hub
    subscription = imap_server.run_in_server(_subscribe(hub))
    client = _client(imap_server)
    client.command("a1", 'SETMETADATA INBOX (/private/comment "x" /shared/y NIL)')
    client.command("a2", 'SETMETADATA "" (/shared/admin "mailto:root@example.test")')
    _, metadata = imap_server.run_in_server(_drain(subscription))
    assert [(n.mailbox, n.entries) for n in metadata] == [
        ("INBOX", ("/private/comment", "/shared/y")),
        (None, ("/shared/admin",)),
    ]


async def _subscribe(hub: NotificationHub) -> Subscription:
    return hub.subscribe(USER)


async def _drain(subscription: Subscription) -> tuple[list[ChangeNotice], list[MetadataNotice]]:
    return subscription.drain_all()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'a GETMETADATA "" /shared/comment', GetMetadata("a", "", ("/shared/comment",))),
        (
            b"a GETMETADATA (DEPTH infinity MAXSIZE 5) INBOX (/Shared/A /private)",
            GetMetadata("a", "INBOX", ("/shared/a", "/private"), 5, "infinity"),
        ),
        (
            b'a SETMETADATA INBOX (/private/c {2}\r\nhi /shared/d NIL /shared/e "v")',
            SetMetadata(
                "a", "INBOX", (("/private/c", b"hi"), ("/shared/d", None), ("/shared/e", b"v"))
            ),
        ),
    ],
)
def test_parser(line: bytes, expected: object) -> None:
    assert parse_command(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        b"a GETMETADATA INBOX",
        b"a GETMETADATA INBOX /private/%",
        b"a GETMETADATA INBOX /privatex",
        b"a GETMETADATA (MAXSIZE) INBOX /private",
        b'a GETMETADATA INBOX "/private/\xc3\xa9"',
        b"a SETMETADATA INBOX (/private/a)",
        b"a SETMETADATA INBOX /private/a NIL",
    ],
)
def test_parser_rejects(line: bytes) -> None:
    with pytest.raises(CommandSyntaxError):
        parse_command(line)


def test_metadata_limits_are_configurable_in_the_limits_table(tmp_path: Path) -> None:
    """`[limits] max_metadata_*` in the TOML file (README "Configuration")."""
    path = tmp_path / "tidings.toml"
    path.write_text(
        "[limits]\nmax_metadata_value_size = 10\nmax_metadata_entries = 3\n"
        "max_metadata_total_size = 99\n"
    )
    limits = load_config(path, {}, environ={}).limits
    assert (limits.max_metadata_value_size, limits.max_metadata_entries) == (10, 3)
    assert limits.max_metadata_total_size == 99
    path.write_text('[limits]\nmax_metadata_entries = "many"\n')
    with pytest.raises(ConfigError):
        load_config(path, {}, environ={})
