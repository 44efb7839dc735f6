"""Maildir and Maildir++ (cr.yp.to/proto/maildir.html, Dovecot's uidlist and keywords)."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.migrate.helpers import split
from tests.support.corpus import corpus_files

from tidings.migrate.maildir import (
    MaildirFolder,
    folder_path,
    list_folders,
    parse_info,
    read_maildir,
    write_maildir,
)
from tidings.migrate.source import SourceMessage

WHEN = datetime(2026, 12, 3, 5, 46, 14, tzinfo=UTC)


def make_folder(path: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def put(path: Path, data: bytes, mtime: datetime = WHEN) -> Path:
    path.write_bytes(data)
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


@pytest.mark.parametrize(
    ("name", "flags"),
    [
        ("1.M1P1.host,S=4:2,", set()),
        ("1.M1P1.host:2,S", {"\\Seen"}),
        ("1.M1P1.host:2,DFPRST", {"\\Draft", "\\Flagged", "$Forwarded", "\\Answered",
                                  "\\Seen", "\\Deleted"}),
        ("1.M1P1.host:2,Sac", {"\\Seen", "$Junk", "work"}),
        ("1.M1P1.host:2,SXZ", {"\\Seen"}),  # other programs' experimental letters
        ("1.M1P1.host:1,S", set()),  # experimental info semantics
        ("1.M1P1.host", set()),
    ],
)  # fmt: skip
def test_info_flags(name: str, flags: set[str]) -> None:
    assert parse_info(name, {0: "$Junk", 2: "work"}) == (frozenset(flags), [])


def test_info_letters_without_keyword() -> None:
    assert parse_info("x:2,Sbd", {0: "a", 3: "not an atom"}) == (frozenset({"\\Seen"}), ["b", "d"])


def test_maildir_plus_plus_folders(tmp_path: Path) -> None:
    make_folder(tmp_path)
    for name in (".Sent", ".Lists.python", ".&AOk-t&AOk-", ".Caf&AOk-.Men&APw-s", ".a&b"):
        make_folder(tmp_path / name)
    (tmp_path / ".notmuch").mkdir()  # a dot directory that is no Maildir
    (tmp_path / ".Lists").mkdir()  # a parent that exists only as a name
    (tmp_path / "dovecot-uidlist").write_bytes(b"3 V17 N5\n")
    (tmp_path / ".Sent" / "dovecot-uidlist").write_bytes(b"1 99 3\n")
    assert list_folders(tmp_path) == [
        MaildirFolder("INBOX", tmp_path, 17, 5),
        MaildirFolder("Café/Menüs", tmp_path / ".Caf&AOk-.Men&APw-s"),
        MaildirFolder("Lists/python", tmp_path / ".Lists.python"),
        MaildirFolder("Sent", tmp_path / ".Sent", 99, 3),
        MaildirFolder("a&b", tmp_path / ".a&b"),
        MaildirFolder("été", tmp_path / ".&AOk-t&AOk-"),
    ]
    problems = [e for e in read_maildir(tmp_path) if not isinstance(e, SourceMessage)]
    assert [p.reason for p in problems] == ["folder name is not modified UTF-7; read as 'a&b'"]


def test_folder_paths_mirror_the_names(tmp_path: Path) -> None:
    assert folder_path(tmp_path, "INBOX") == tmp_path
    assert folder_path(tmp_path, "inbox") == tmp_path
    assert folder_path(tmp_path, "Lists/python") == tmp_path / ".Lists.python"
    assert folder_path(tmp_path, "été & co") == tmp_path / ".&AOk-t&AOk- &- co"
    for bad in ("a.b", "a//b", "/a", ""):
        with pytest.raises(ValueError, match="Maildir"):
            folder_path(tmp_path, bad)


def test_read_messages_flags_keywords_uids_and_dates(tmp_path: Path) -> None:
    inbox = make_folder(tmp_path)
    (inbox / "dovecot-keywords").write_bytes(b"0 $Junk\n1 work\n")
    (inbox / "dovecot-uidlist").write_bytes(
        b"3 V1700000000 N12 Gabc\n"
        b"7 :1700000003.M3P1.host,S=9\n"
        b"11 W20 :1700000001.M1P1.host:2,S\n"
        b"3 :1700000002.M2P1.host\n"
    )
    put(inbox / "cur" / "1700000001.M1P1.host:2,RSb", b"S: one\n\nbody\n")
    put(inbox / "cur" / "1700000002.M2P1.host:2,", b"S: two\r\n\r\ncrlf\r\n")
    put(inbox / "new" / "1700000003.M3P1.host,S=9", b"S: three\n", datetime(2001, 2, 3, tzinfo=UTC))
    put(inbox / "cur" / "1600000000.Z.host:2,Fc", b"S: unlisted b\n")
    put(inbox / "new" / "1500000000.A.host", b"S: unlisted a\n")
    (inbox / "cur" / ".hidden").write_bytes(b"not a message")
    messages, problems = split(read_maildir(tmp_path))
    assert [(m.uid, m.raw, m.flags) for m in messages] == [
        (3, b"S: two\r\n\r\ncrlf\r\n", frozenset()),
        (7, b"S: three\r\n", frozenset()),
        (11, b"S: one\r\n\r\nbody\r\n", {"\\Answered", "\\Seen", "work"}),
        (None, b"S: unlisted a\r\n", frozenset()),
        (None, b"S: unlisted b\r\n", {"\\Flagged"}),
    ]
    assert [m.internaldate for m in messages] == [WHEN, datetime(2001, 2, 3, tzinfo=UTC)] + [
        WHEN
    ] * 3
    assert all(m.mailbox == "INBOX" for m in messages)
    assert [p.reason for p in problems] == ["flag letter 'c' names no keyword; dropped"]


def test_messages_in_new_have_no_flags(tmp_path: Path) -> None:
    put(make_folder(tmp_path) / "new" / "1.x.host:2,S", b"S: a\n")
    (message,) = read_maildir(tmp_path)
    assert isinstance(message, SourceMessage)
    assert message.flags == frozenset()


def test_unreadable_entries_are_problems(tmp_path: Path) -> None:
    inbox = make_folder(tmp_path)
    (inbox / "cur" / "1.dir.host:2,S").mkdir()
    (inbox / "cur" / "2.broken.host:2,S").symlink_to(tmp_path / "nowhere")
    os.mkfifo(inbox / "cur" / "3.fifo.host:2,S")  # must not hang the reader
    put(inbox / "cur" / "4.good.host:2,S", b"S: fine\n")
    messages, problems = split(read_maildir(tmp_path))
    assert [m.raw for m in messages] == [b"S: fine\r\n"]
    assert [(Path(p.where).name, p.reason) for p in problems] == [
        ("1.dir.host:2,S", "not a regular file"),
        ("2.broken.host:2,S", "No such file or directory"),
        ("3.fifo.host:2,S", "not a regular file"),
    ]


def test_bad_uidlist_is_a_problem_and_messages_still_come(tmp_path: Path) -> None:
    inbox = make_folder(tmp_path)
    (inbox / "dovecot-uidlist").write_bytes(b"2 5 6\n1 :a\n")
    put(inbox / "cur" / "a:2,", b"S: a\n")
    messages, problems = split(read_maildir(tmp_path))
    assert [m.uid for m in messages] == [None]
    assert [p.reason for p in problems] == [
        "dovecot-uidlist header is not version 1 or 3; UIDs not kept"
    ]


def test_a_base_name_listed_once_gives_its_uid_once(tmp_path: Path) -> None:
    inbox = make_folder(tmp_path)
    (inbox / "dovecot-uidlist").write_bytes(b"3 V1 N6\n5 :a\n")
    put(inbox / "cur" / "a:2,S", b"S: 1\n")
    put(inbox / "new" / "a", b"S: 2\n")
    messages, _ = split(read_maildir(tmp_path))
    assert sorted(m.uid or 0 for m in messages) == [0, 5]


def test_not_a_maildir(tmp_path: Path) -> None:
    messages, problems = split(read_maildir(tmp_path / "missing"))
    assert messages == []
    assert [p.reason for p in problems] == ["not a Maildir: no cur/ or new/ and no .folders"]


def test_write_then_read_gives_everything_back(tmp_path: Path) -> None:
    originals = [
        SourceMessage(b"S: a\r\n\r\nbody\r\n", frozenset(), WHEN, "Lists/python", 3),
        SourceMessage(
            b"S: b\r\n\r\n",
            frozenset({"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft", "$Junk"}),
            datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
            "Lists/python",
            9,
        ),
        SourceMessage(b"S: c\r\n", frozenset({"$Forwarded", "work", "$Junk"}), WHEN, "x", None),
    ]
    problems = write_maildir(tmp_path, "Lists/python", originals, uidvalidity=4242)
    assert problems == []
    folder = tmp_path / ".Lists.python"
    assert (folder / "maildirfolder").exists()
    assert sorted(os.listdir(folder / "tmp")) == []
    assert (folder / "dovecot-keywords").read_bytes() == b"0 $Junk\n1 work\n"
    uidlist = (folder / "dovecot-uidlist").read_bytes()
    assert uidlist.startswith(b"3 V4242 N10\n3 :")
    names = sorted(os.listdir(folder / "cur"))
    assert all(".tidings,S=" in name and ",W=" in name and ":2," in name for name in names)
    assert sorted(name.rpartition(",")[2] for name in names) == ["", "DFRSTa", "Pab"]
    for name in names:
        stored = (folder / "cur" / name).read_bytes()
        assert b"\r" not in stored
        assert f",S={len(stored)},".encode() in name.encode()
    messages, problems = split(read_maildir(tmp_path))
    assert problems == []
    assert [(m.raw, m.flags, m.internaldate, m.uid, m.mailbox) for m in messages] == [
        (o.raw, o.flags, o.internaldate, o.uid, "Lists/python") for o in originals
    ]
    assert list_folders(tmp_path)[1] == MaildirFolder("Lists/python", folder, 4242, 10)


def test_corpus_round_trips_through_maildir(tmp_path: Path) -> None:
    flag_sets = [frozenset(), frozenset({"\\Seen"}), frozenset({"\\Seen", "$Junk", "work"})]
    originals = [
        SourceMessage(path.read_bytes(), flag_sets[index % 3], WHEN, "INBOX", index + 1)
        for index, path in enumerate(corpus_files())
    ]
    assert write_maildir(tmp_path, "INBOX", originals) == []
    messages, problems = split(read_maildir(tmp_path))
    assert problems == []
    assert len(messages) == len(originals)
    for original, message in zip(originals, messages, strict=True):
        assert (message.raw, message.flags, message.uid) == (
            original.raw,
            original.flags,
            original.uid,
        )


def test_writing_again_extends_keywords_and_uidlist(tmp_path: Path) -> None:
    first = [SourceMessage(b"S: 1\r\n", frozenset({"one"}), None, "INBOX", 1)]
    assert write_maildir(tmp_path, "INBOX", first, uidvalidity=5) == []
    second = [
        SourceMessage(b"S: 2\r\n", frozenset({"two", "one"}), None, "INBOX", 2),
        SourceMessage(b"S: 3\r\n", frozenset(), None, "INBOX", 1),  # UID taken
        SourceMessage(b"S: 4\r\n", frozenset({"\\Recent", "\\Bogus"}), None, "INBOX", None),
    ]
    problems = write_maildir(tmp_path, "INBOX", second, uidvalidity=999)
    assert [p.reason for p in problems] == [
        "UID 1 is already used; Dovecot will give a new one",
        "flag '\\\\Bogus' has no Maildir letter; dropped",
    ]
    assert (tmp_path / "dovecot-keywords").read_bytes() == b"0 one\n1 two\n"
    assert (tmp_path / "dovecot-uidlist").read_bytes().startswith(b"3 V5 N3\n1 :")
    messages, _ = split(read_maildir(tmp_path))
    assert [(m.raw, m.uid, m.flags) for m in messages] == [
        (b"S: 1\r\n", 1, {"one"}),
        (b"S: 2\r\n", 2, {"one", "two"}),
        (b"S: 3\r\n", None, frozenset()),
        (b"S: 4\r\n", None, frozenset()),
    ]


def test_more_than_26_keywords(tmp_path: Path) -> None:
    keywords = frozenset(f"k{index:02d}" for index in range(28))
    problems = write_maildir(tmp_path, "INBOX", [SourceMessage(b"", keywords, None, "INBOX")])
    assert len(problems) == 2
    assert all(p.reason.startswith("no letter left for keyword") for p in problems)
    (message,) = read_maildir(tmp_path)
    assert isinstance(message, SourceMessage)
    assert len(message.flags) == 26


_line = st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b""))
_raw = st.lists(_line, max_size=8).map(lambda lines: b"".join(line + b"\r\n" for line in lines))
# Keywords from a pool smaller than the 26 letters a folder has.
_flags = st.frozensets(
    st.sampled_from(["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft", "$Forwarded"])
    | st.sampled_from(["$Junk", "$NonJunk", "work", "a_b", "$label1", "x" * 40])
)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(_raw, _flags, st.booleans()), max_size=5))
def test_any_messages_round_trip_through_maildir(
    items: list[tuple[bytes, frozenset[str], bool]],
) -> None:
    originals = [
        SourceMessage(raw, flags, WHEN, "INBOX", index + 1 if has_uid else None)
        for index, (raw, flags, has_uid) in enumerate(items)
    ]
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        assert write_maildir(root, "Sub/folder", originals) == []
        messages, problems = split(read_maildir(root))
    assert problems == []
    assert all(m.mailbox == "Sub/folder" for m in messages)
    # Listed messages come in UID order, the others by file name: compare as multisets.
    assert sorted(map(_facts, messages)) == sorted(map(_facts, originals))


def _facts(message: SourceMessage) -> tuple[bytes, list[str], int, datetime | None]:
    return message.raw, sorted(message.flags), message.uid or 0, message.internaldate
