"""Every command form of RFC 9051 §6 / RFC 3501 §6 and the served extensions, parsed into the
exact dataclass, fed whole and one byte at a time (literals accepted)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from imap_proto_helpers import parse_one

from tidings.core.seqset import SequenceSet
from tidings.imap.proto import commands as c
from tidings.imap.proto.commands import (
    DateField,
    DateRelation,
    FetchAttribute,
    FetchBinarySize,
    FetchSection,
    SearchAll,
    SearchAnd,
    SearchDate,
    SearchFlag,
    SearchHeader,
    SearchNot,
    SearchOr,
    SearchSequence,
    SearchSize,
    SearchText,
    SearchUid,
    Section,
    SimpleAttribute,
    StatusItem,
)
from tidings.imap.proto.events import CommandError

S = SequenceSet.parse
A = SimpleAttribute
RECENT = SearchFlag("\\Recent", True)
UNSEEN = SearchFlag("\\Seen", False)
PDT = timezone(timedelta(hours=-7))


def attrs(*names: str) -> tuple[FetchAttribute, ...]:
    return tuple(FetchAttribute(A(name)) for name in names)


CASES: list[tuple[bytes, c.Command]] = [
    # §6.1 any state
    (b"a CAPABILITY", c.Capability("a")),
    (b"a capability", c.Capability("a")),
    (b"a NOOP", c.Noop("a")),
    (b"a LOGOUT", c.Logout("a")),
    # §6.2 not authenticated
    (b"a STARTTLS", c.StartTLS("a")),
    (b"a AUTHENTICATE PLAIN", c.Authenticate("a", "PLAIN")),
    (
        b"a authenticate plain AGFsaWNlAHNlY3JldA==",
        c.Authenticate("a", "PLAIN", "AGFsaWNlAHNlY3JldA=="),
    ),
    (b"a AUTHENTICATE PLAIN =", c.Authenticate("a", "PLAIN", "=")),
    (b"a LOGIN alice secret", c.Login("a", "alice", "secret")),
    (
        b'a LOGIN "alice@example.test" "a \\"q\\" \\\\ b"',
        c.Login("a", "alice@example.test", 'a "q" \\ b'),
    ),
    (b"a LOGIN {5}\r\nalice {3+}\r\np w", c.Login("a", "alice", "p w")),
    (b"a LOGIN al]ce pw", c.Login("a", "al]ce", "pw")),
    (b'a LOGIN "" ""', c.Login("a", "", "")),
    # §6.3 authenticated
    (b"a ENABLE IMAP4rev2 condstore", c.Enable("a", ("IMAP4REV2", "CONDSTORE"))),
    (b"a SELECT INBOX", c.Select("a", "INBOX")),
    (b"a select inbox", c.Select("a", "inbox")),
    (b'a EXAMINE "Sent Items"', c.Select("a", "Sent Items", read_only=True)),
    (b"a SELECT INBOX (CONDSTORE)", c.Select("a", "INBOX", parameters=(("CONDSTORE", None),))),
    (
        b"a SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211))",
        c.Select("a", "INBOX", parameters=(("QRESYNC", "(67890007 20050715194045000 41,43:211)"),)),
    ),
    (b'a SELECT "f\xc3\xb6\xc3\xb6"', c.Select("a", "föö")),
    (b"a SELECT &AMQ-", c.Select("a", "&AMQ-")),
    (b"a CREATE foo/bar", c.Create("a", "foo/bar")),
    (b"a CREATE Drafts (USE (\\Drafts))", c.Create("a", "Drafts", ("\\Drafts",))),
    (b"a CREATE x (use (\\Sent \\Archive))", c.Create("a", "x", ("\\Sent", "\\Archive"))),
    (b"a DELETE foo", c.Delete("a", "foo")),
    (b"a RENAME foo {3}\r\nbar", c.Rename("a", "foo", "bar")),
    (b"a SUBSCRIBE foo", c.Subscribe("a", "foo")),
    (b"a UNSUBSCRIBE foo", c.Subscribe("a", "foo", subscribe=False)),
    (b'a LIST "" *', c.List("a", "", ("*",))),
    (b'a LIST "" ""', c.List("a", "", ("",))),
    (b"a LIST ~/Mail/ %/x*", c.List("a", "~/Mail/", ("%/x*",))),
    (b'a LIST "" "INBOX*"', c.List("a", "", ("INBOX*",))),
    (
        b'a LIST (SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" foo/%)',
        c.List("a", "", ("INBOX", "foo/%"), frozenset({"SUBSCRIBED", "RECURSIVEMATCH"})),
    ),
    (b'a LIST () "" %', c.List("a", "", ("%",))),
    (
        b'a LIST "" % RETURN (SUBSCRIBED CHILDREN special-use)',
        c.List(
            "a", "", ("%",), return_options=frozenset({"SUBSCRIBED", "CHILDREN", "SPECIAL-USE"})
        ),
    ),
    (
        b'a LIST "" % RETURN (STATUS (MESSAGES UIDNEXT SIZE))',
        c.List(
            "a",
            "",
            ("%",),
            return_status=(StatusItem.MESSAGES, StatusItem.UIDNEXT, StatusItem.SIZE),
        ),
    ),
    (b'a LIST "" % RETURN ()', c.List("a", "", ("%",))),
    (b'a LSUB "" *', c.Lsub("a", "", "*")),
    (b"a NAMESPACE", c.Namespace("a")),
    (
        b"a STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ"
        b" DELETED-STORAGE MAILBOXID APPENDLIMIT)",
        c.Status("a", "INBOX", tuple(StatusItem)),
    ),
    (b"a APPEND INBOX {5}\r\nHello", c.Append("a", "INBOX", b"Hello")),
    (b"a APPEND INBOX {5+}\r\nHello", c.Append("a", "INBOX", b"Hello")),
    (b"a APPEND INBOX {0}\r\n", c.Append("a", "INBOX", b"")),
    (b"a APPEND INBOX ~{3}\r\na\x00b", c.Append("a", "INBOX", b"a\x00b", binary=True)),
    (b"a APPEND INBOX ~{3+}\r\na\x00b", c.Append("a", "INBOX", b"a\x00b", binary=True)),
    (
        b"a APPEND INBOX (\\Seen $Forwarded) {2}\r\nhi",
        c.Append("a", "INBOX", b"hi", flags=("\\Seen", "$Forwarded")),
    ),
    (b"a APPEND INBOX () {2}\r\nhi", c.Append("a", "INBOX", b"hi")),
    (
        b'a APPEND INBOX " 7-Jul-1996 02:44:25 -0700" {2}\r\nhi',
        c.Append("a", "INBOX", b"hi", internaldate=datetime(1996, 7, 7, 2, 44, 25, tzinfo=PDT)),
    ),
    (
        b'a APPEND INBOX (\\Draft) "17-Jul-1996 02:44:25 +0000" {2}\r\nhi',
        c.Append("a", "INBOX", b"hi", ("\\Draft",), datetime(1996, 7, 17, 2, 44, 25, tzinfo=UTC)),
    ),
    (
        b'a APPEND INBOX "7-jul-1996 02:44:25 -0700" {2}\r\nhi',
        c.Append("a", "INBOX", b"hi", internaldate=datetime(1996, 7, 7, 2, 44, 25, tzinfo=PDT)),
    ),
    (b"a APPEND INBOX {4}\r\n\r\n\r\n", c.Append("a", "INBOX", b"\r\n\r\n")),
    (b"a IDLE", c.Idle("a")),
    # §6.4 selected
    (b"a CHECK", c.Check("a")),
    (b"a CLOSE", c.Close("a")),
    (b"a UNSELECT", c.Unselect("a")),
    (b"a EXPUNGE", c.Expunge("a")),
    (b"a UID EXPUNGE 1:3,7", c.Expunge("a", S("1:3,7"))),
    (b"a uid expunge 4:*", c.Expunge("a", S("4:*"))),
    (b"a COPY 1:* Trash", c.Copy("a", S("1:*"), "Trash")),
    (b'a UID COPY 5 "Sent Items"', c.Copy("a", S("5"), "Sent Items", uid=True)),
    (b"a MOVE $ Trash", c.Copy("a", SequenceSet.saved(), "Trash", move=True)),
    (b"a UID MOVE 1,2 Trash", c.Copy("a", S("1,2"), "Trash", uid=True, move=True)),
    (b"a STORE 1 FLAGS (\\Seen)", c.Store("a", S("1"), "replace", ("\\Seen",))),
    (b"a STORE 1 FLAGS ()", c.Store("a", S("1"), "replace", ())),
    (
        b"a STORE 1:* +FLAGS.SILENT (\\Deleted foo)",
        c.Store("a", S("1:*"), "add", ("\\Deleted", "foo"), silent=True),
    ),
    (
        b"a UID STORE 2 -flags \\Seen $Junk",
        c.Store("a", S("2"), "remove", ("\\Seen", "$Junk"), uid=True),
    ),
    (b"a STORE 1 +FLAGS \\Recent", c.Store("a", S("1"), "add", ("\\Recent",))),
    (
        b"a STORE 1 (UNCHANGEDSINCE 12) FLAGS \\Seen",
        c.Store("a", S("1"), "replace", ("\\Seen",), modifiers=(("UNCHANGEDSINCE", "12"),)),
    ),
    (b"a ID NIL", c.Id("a")),
    (b"a ID nil", c.Id("a")),
    (b'a ID ("name" "mutt" "version" NIL)', c.Id("a", (("name", "mutt"), ("version", None)))),
    (b"a ID ()", c.Id("a", ())),
    # tags: any ASTRING-CHAR but "+"
    (b"A0001] NOOP", c.Noop("A0001]")),
    (b"x.y-z NOOP", c.Noop("x.y-z")),
]

FETCH_CASES: list[tuple[bytes, tuple[c.FetchItem, ...]]] = [
    (b"ALL", attrs("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE")),
    (b"fast", attrs("FLAGS", "INTERNALDATE", "RFC822.SIZE")),
    (b"FULL", attrs("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY")),
    (b"FLAGS", attrs("FLAGS")),
    (b"(uid flags)", attrs("UID", "FLAGS")),
    (
        b"(ENVELOPE BODY BODYSTRUCTURE RFC822 RFC822.HEADER RFC822.TEXT RFC822.SIZE"
        b" INTERNALDATE MODSEQ)",
        attrs(
            "ENVELOPE",
            "BODY",
            "BODYSTRUCTURE",
            "RFC822",
            "RFC822.HEADER",
            "RFC822.TEXT",
            "RFC822.SIZE",
            "INTERNALDATE",
            "MODSEQ",
        ),
    ),
    (b"BODY[]", (FetchSection(Section()),)),
    (b"BODY.PEEK[]<0.1024>", (FetchSection(Section(), peek=True, partial=(0, 1024)),)),
    (b"body[text]", (FetchSection(Section((), "TEXT")),)),
    (b"BODY[HEADER]", (FetchSection(Section((), "HEADER")),)),
    (b"BODY[1.2.HEADER]", (FetchSection(Section((1, 2), "HEADER")),)),
    (b"BODY[1.MIME]", (FetchSection(Section((1,), "MIME")),)),
    (b"BODY[3.1]", (FetchSection(Section((3, 1))),)),
    (b"BODY[2.TEXT]<10.5>", (FetchSection(Section((2,), "TEXT"), partial=(10, 5)),)),
    (
        b'BODY.PEEK[HEADER.FIELDS (From To "Message-ID")]',
        (FetchSection(Section((), "HEADER.FIELDS", ("From", "To", "Message-ID")), peek=True),),
    ),
    (
        b"BODY[1.header.fields.not (Received)]",
        (FetchSection(Section((1,), "HEADER.FIELDS.NOT", ("Received",))),),
    ),
    (b"BINARY[]", (FetchSection(Section(), binary=True),)),
    (
        b"BINARY.PEEK[1.2]<0.10>",
        (FetchSection(Section((1, 2)), peek=True, binary=True, partial=(0, 10)),),
    ),
    (b"BINARY.SIZE[1]", (FetchBinarySize((1,)),)),
    (b"BINARY.SIZE[]", (FetchBinarySize(()),)),
]

SEARCH_CASES: list[tuple[bytes, c.SearchKey]] = [
    (b"ALL", SearchAll()),
    (b"ANSWERED", SearchFlag("\\Answered", True)),
    (b"UNANSWERED", SearchFlag("\\Answered", False)),
    (
        b"DELETED UNDELETED",
        SearchAnd((SearchFlag("\\Deleted", True), SearchFlag("\\Deleted", False))),
    ),
    (b"DRAFT", SearchFlag("\\Draft", True)),
    (b"UNDRAFT", SearchFlag("\\Draft", False)),
    (b"FLAGGED", SearchFlag("\\Flagged", True)),
    (b"UNFLAGGED", SearchFlag("\\Flagged", False)),
    (b"SEEN", SearchFlag("\\Seen", True)),
    (b"unseen", UNSEEN),
    (b"RECENT", RECENT),
    (b"NEW", SearchAnd((RECENT, UNSEEN))),
    (b"OLD", SearchNot(RECENT)),
    (b"KEYWORD $Forwarded", SearchFlag("$Forwarded", True)),
    (b"UNKEYWORD foo", SearchFlag("foo", False)),
    (b"FROM bob", SearchHeader("From", "bob")),
    (b'TO "a b"', SearchHeader("To", "a b")),
    (b"CC x", SearchHeader("Cc", "x")),
    (b"BCC x", SearchHeader("Bcc", "x")),
    (b"SUBJECT {5}\r\nhello", SearchHeader("Subject", "hello")),
    (b'HEADER X-Spam ""', SearchHeader("X-Spam", "")),
    (b"BODY word", SearchText("word", body_only=True)),
    (b'TEXT "two words"', SearchText("two words", body_only=False)),
    (b"BEFORE 1-Feb-2020", SearchDate(DateField.INTERNAL, DateRelation.BEFORE, date(2020, 2, 1))),
    (b'ON "01-feb-2020"', SearchDate(DateField.INTERNAL, DateRelation.ON, date(2020, 2, 1))),
    (b"SINCE 29-Feb-2024", SearchDate(DateField.INTERNAL, DateRelation.SINCE, date(2024, 2, 29))),
    (b"SENTBEFORE 1-Jan-2000", SearchDate(DateField.SENT, DateRelation.BEFORE, date(2000, 1, 1))),
    (b"SENTON 1-Jan-2000", SearchDate(DateField.SENT, DateRelation.ON, date(2000, 1, 1))),
    (b"SENTSINCE 1-Jan-2000", SearchDate(DateField.SENT, DateRelation.SINCE, date(2000, 1, 1))),
    (b"LARGER 100", SearchSize(True, 100)),
    (b"SMALLER 5000000000", SearchSize(False, 5000000000)),
    (b"NOT SEEN", SearchNot(SearchFlag("\\Seen", True))),
    (b"OR SEEN FLAGGED", SearchOr(SearchFlag("\\Seen", True), SearchFlag("\\Flagged", True))),
    (
        b"OR (SEEN DRAFT) NOT ALL",
        SearchOr(
            SearchAnd((SearchFlag("\\Seen", True), SearchFlag("\\Draft", True))),
            SearchNot(SearchAll()),
        ),
    ),
    (b"UID 1:*", SearchUid(S("1:*"))),
    (b"1,3:5", SearchSequence(S("1,3:5"))),
    (b"$", SearchSequence(SequenceSet.saved())),
    (b"(ALL)", SearchAnd((SearchAll(),))),
]


@pytest.mark.parametrize(("line", "expected"), CASES, ids=[repr(line) for line, _ in CASES])
def test_command_forms(line: bytes, expected: c.Command) -> None:
    assert parse_one(line + b"\r\n") == expected


@pytest.mark.parametrize(("items", "expected"), FETCH_CASES, ids=[repr(i) for i, _ in FETCH_CASES])
def test_rfc9051_6_4_5_fetch_items(items: bytes, expected: tuple[c.FetchItem, ...]) -> None:
    assert parse_one(b"f1 FETCH 1:5 " + items + b"\r\n") == c.Fetch("f1", S("1:5"), expected)
    uid = parse_one(b"f2 UID FETCH 1:5 " + items + b" (CHANGEDSINCE 99)\r\n")
    assert uid == c.Fetch("f2", S("1:5"), expected, uid=True, modifiers=(("CHANGEDSINCE", "99"),))


@pytest.mark.parametrize(("keys", "expected"), SEARCH_CASES, ids=[repr(k) for k, _ in SEARCH_CASES])
def test_rfc9051_6_4_4_search_keys(keys: bytes, expected: c.SearchKey) -> None:
    assert parse_one(b"s SEARCH " + keys + b"\r\n") == c.Search("s", expected)
    assert parse_one(b"s UID SEARCH " + keys + b"\r\n") == c.Search("s", expected, uid=True)


def test_rfc7162_changedsince_is_a_64_bit_mod_sequence() -> None:
    event = parse_one(b"f FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775807 VANISHED)\r\n")
    assert event == c.Fetch(
        "f",
        S("1"),
        attrs("FLAGS"),
        modifiers=(("CHANGEDSINCE", "9223372036854775807"), ("VANISHED", None)),
    )
    bad = parse_one(b"f FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775808)\r\n")
    assert isinstance(bad, CommandError)


def test_rfc4731_search_return_and_charset() -> None:
    assert parse_one(b"s SEARCH RETURN (min Count) CHARSET utf-8 ALL\r\n") == c.Search(
        "s", SearchAll(), charset="UTF-8", return_options=("MIN", "COUNT")
    )
    assert parse_one(b"s SEARCH RETURN () ALL\r\n") == c.Search("s", SearchAll(), return_options=())
    assert parse_one(b's SEARCH CHARSET "ISO-8859-1" TEXT {1}\r\n\xe9\r\n') == c.Search(
        "s", SearchText("\udce9", body_only=False), charset="ISO-8859-1"
    )


BAD_LINES: list[tuple[bytes, str | None]] = [
    (b"a", "a"),
    (b"a FOO", "a"),
    (b"a UID FOO 1", "a"),
    (b"a UID NOOP", "a"),
    (b"+ NOOP", None),
    (b"(a NOOP", None),
    (b"a NOOP extra", "a"),
    (b"a NOOP ", "a"),
    (b"a  NOOP", "a"),
    (b"a LOGIN alice", "a"),
    (b"a LOGIN alice pw extra", "a"),
    (b'a LOGIN "alice pw', "a"),
    (b'a LOGIN "al\\ice" pw', "a"),
    (b"a LOGIN al\xc3\xa9 pw", "a"),
    (b"a LOGIN al\x00ce pw", "a"),
    (b'a LOGIN "al\x00ce" pw', "a"),
    (b"a LOGIN alice {3}\r\np\x00w", "a"),
    (b"a SELECT", "a"),
    (b"a SELECT a*", "a"),
    (b"a SELECT NIL NIL", "a"),
    (b"a SELECT INBOX (CONDSTORE", "a"),
    (b"a FETCH 1 (FLAGS", "a"),
    (b"a FETCH 1 FLAGS)", "a"),
    (b"a FETCH 0 FLAGS", "a"),
    (b"a FETCH 1:x FLAGS", "a"),
    (b"a FETCH * ", "a"),
    (b"a FETCH 1", "a"),
    (b"a FETCH 1 ()", "a"),
    (b"a FETCH 1 BOGUS", "a"),
    (b"a FETCH 1 (ALL)", "a"),
    (b"a FETCH 1 BODY[MIME]", "a"),
    (b"a FETCH 1 BODY[0]", "a"),
    (b"a FETCH 1 BODY[1.FOO]", "a"),
    (b"a FETCH 1 BODY[HEADER.FIELDS ()]", "a"),
    (b"a FETCH 1 BODY[]<0.0>", "a"),
    (b"a FETCH 1 BINARY[TEXT]", "a"),
    (b"a FETCH 4294967296 FLAGS", "a"),
    (b"a STORE 1 FLAGS", "a"),
    (b"a STORE 1 FOO (\\Seen)", "a"),
    (b"a STORE 1 *FLAGS (\\Seen)", "a"),
    (b"a STORE 1 FLAGS (\\Seen", "a"),
    (b"a COPY 1", "a"),
    (b"a COPY * ", "a"),
    (b"a UID EXPUNGE", "a"),
    (b"a EXPUNGE 1", "a"),
    (b"a SEARCH", "a"),
    (b"a SEARCH FOO", "a"),
    (b"a SEARCH (SEEN", "a"),
    (b"a SEARCH SEEN)", "a"),
    (b"a SEARCH OR SEEN", "a"),
    (b"a SEARCH BEFORE 31-Feb-2020", "a"),
    (b"a SEARCH BEFORE 1-Foo-2020", "a"),
    (b"a SEARCH LARGER x", "a"),
    (b"a SEARCH ()", "a"),
    (b"a SEARCH CHARSET", "a"),
    (b"a SEARCH " + b"NOT " * 200 + b"ALL", "a"),
    (b"a STATUS INBOX ()", "a"),
    (b"a STATUS INBOX (MESSAGES BOGUS)", "a"),
    (b"a STATUS INBOX MESSAGES", "a"),
    (b"a APPEND INBOX", "a"),
    (b"a APPEND INBOX hello", "a"),
    (b'a APPEND INBOX "32-Jul-1996 02:44:25 -0700" {2}\r\nhi', "a"),
    (b'a APPEND INBOX "7-Jul-1996 2:44:25 -0700" {2}\r\nhi', "a"),
    (b"a APPEND INBOX {2}\r\nhi extra", "a"),
    (b"a LOGIN ~{3}\r\nabc pw", "a"),
    (b'a LIST (BOGUS) "" *', "a"),
    (b'a LIST (RECURSIVEMATCH) "" *', "a"),
    (b'a LIST "" * RETURN', "a"),
    (b'a LIST "" * FOO ()', "a"),
    (b'a LIST ""', "a"),
    (b'a LIST "" ()', "a"),
    (b"a CREATE x (FOO (\\Drafts))", "a"),
    (b"a ENABLE", "a"),
    (b"a ID", "a"),
    (b'a ID ("name")', "a"),
    (b'a ID (name "x")', "a"),
    (b"a AUTHENTICATE", "a"),
    (b"a AUTHENTICATE PLAIN a b", "a"),
    (b"a AUTHENTICATE PLAIN !!", "a"),
    (b"a IDLE now", "a"),
]


@pytest.mark.parametrize(("line", "tag"), BAD_LINES, ids=[repr(line[:40]) for line, _ in BAD_LINES])
def test_rfc9051_9_syntax_errors(line: bytes, tag: str | None) -> None:
    event = parse_one(line + b"\r\n")
    assert isinstance(event, CommandError), event
    assert event.tag == tag
    assert event.reason
