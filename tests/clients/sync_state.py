"""What the sync-client tests compare: the server's folders as imaplib sees them, and a Maildir.

A sync client (mbsync, offlineimap) keeps a Maildir and an IMAP account in step. The tests
check both sides *independently*: the server with a second client (stdlib imaplib, never
the sync client itself) and the Maildir by reading its files. A folder's state is the sorted
list of (Message-ID, flag letters) of its messages, so a duplicate shows up as a repeated
entry and a lost message as a missing one. Only the five system flags that both clients map
to Maildir letters are compared (mbsync also maps `$Forwarded` to `P`, offlineimap does not).
"""

from __future__ import annotations

import datetime
import imaplib
import re
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

from tests.support.corpus import corpus_files

# IMAP system flag -> Maildir info letter (the Maildir spec; both clients use these letters).
MAILDIR_LETTERS = {
    "\\Draft": "D",
    "\\Flagged": "F",
    "\\Answered": "R",
    "\\Seen": "S",
    "\\Deleted": "T",
}
_IMAP_FLAGS = {letter: flag for flag, letter in MAILDIR_LETTERS.items()}

Message = tuple[str, str]
"""(Message-ID, sorted Maildir flag letters) of one message."""
State = dict[str, list[Message]]
"""Folder name -> its messages, sorted."""


@dataclass(frozen=True)
class Endpoint:
    """An IMAP server a sync client talks to: Tidings, or Dovecot as the reference."""

    name: str
    tls_host: str  # what the sync client connects to; the certificate must name it
    imap_port: int
    imaps_port: int
    user: str
    password: str
    cert_file: Path

    def connect(self) -> imaplib.IMAP4:
        """A logged-in imaplib client (plain IMAP on loopback): the independent checker."""
        client = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=30)
        client.login(self.user, self.password)
        return client


def message_id(raw: bytes) -> str:
    """The Message-ID of a message (or a header block), whitespace-normalised; "" if none."""
    value = BytesHeaderParser(policy=policy.compat32).parsebytes(raw).get("Message-ID")
    return " ".join(str(value).split()) if value is not None else ""


def corpus_messages(count: int) -> list[bytes]:
    """`count` distinct messages: corpus messages with a unique Message-ID, then generated
    ones (each with its own Message-ID) to reach `count`."""
    chosen: list[bytes] = []
    seen: set[str] = set()
    for path in corpus_files():
        raw = path.read_bytes()
        ident = message_id(raw)
        if ident and ident not in seen:
            seen.add(ident)
            chosen.append(raw)
        if len(chosen) == count:
            return chosen
    while len(chosen) < count:
        chosen.append(generated_message(f"gen-{len(chosen)}", "generated to reach the count"))
    return chosen


def generated_message(tag: str, text: str, newline: bytes = b"\r\n") -> bytes:
    """A small message with Message-ID <tag@sync.test>."""
    lines = [
        b"From: Sync Test <sync@example.test>",
        b"To: alice@example.test",
        b"Subject: " + tag.encode(),
        b"Date: Mon, 02 Dec 2024 10:00:00 +0000",
        b"Message-ID: <" + tag.encode() + b"@sync.test>",
        b"",
        text.encode(),
        b"",
    ]
    return newline.join(lines)


def seed_flags(index: int) -> str:
    """A varied flag mix for the index-th seeded message, as an IMAP flag list."""
    flags = []
    if index % 2 == 0:
        flags.append("\\Seen")
    if index % 5 == 0:
        flags.append("\\Answered")
    if index % 7 == 0:
        flags.append("\\Flagged")
    if index % 11 == 0:
        flags.append("\\Draft")
    if index % 13 == 0:
        flags.append("$Label1")  # a keyword: synced or not, it must not disturb the rest
    return "(" + " ".join(flags) + ")"


# The seeded messages' INTERNALDATEs: one hour apart, in a zone east of UTC, so that a client
# that keeps arrival dates (mbsync's CopyArrivalDate) shows whether the offset is honoured.
SEED_EPOCH = datetime.datetime(
    2020, 1, 1, 9, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
)


def seed(client: imaplib.IMAP4, layout: dict[str, int], messages: list[bytes]) -> None:
    """Create the folders of `layout` (folder -> how many) and APPEND `messages` into them,
    the n-th with INTERNALDATE SEED_EPOCH + n hours."""
    assert sum(layout.values()) == len(messages)
    existing = set(list_folders(client))
    position = 0
    for folder, count in layout.items():
        if folder not in existing:
            typ, data = client.create(_quote(folder))
            assert typ == "OK", data
        for raw in messages[position : position + count]:
            date = imaplib.Time2Internaldate(SEED_EPOCH + datetime.timedelta(hours=position))
            typ, data = client.append(_quote(folder), seed_flags(position), date, raw)
            assert typ == "OK", data
            position += 1


_LIST_LINE = re.compile(rb'\((?P<attrs>[^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (?P<name>.+)')


def list_folders(client: imaplib.IMAP4) -> list[str]:
    """Every selectable folder, as LIST "" "*" names it."""
    typ, data = client.list()
    assert typ == "OK", data
    names = []
    for line in data:
        assert isinstance(line, bytes), line
        match = _LIST_LINE.match(line)
        assert match, line
        if b"\\noselect" in match.group("attrs").lower():
            continue
        name = match.group("name")
        if name.startswith(b'"'):
            name = name[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
        names.append(name.decode())
    return sorted(names)


def letters(imap_flags: str) -> str:
    """Maildir letters for a space-separated IMAP flag list (keywords left out)."""
    return "".join(sorted(MAILDIR_LETTERS[f] for f in imap_flags.split() if f in MAILDIR_LETTERS))


def imap_flags(maildir_letters: str) -> str:
    """The IMAP flag list for Maildir letters."""
    return "(" + " ".join(_IMAP_FLAGS[c] for c in sorted(maildir_letters)) + ")"


@dataclass(frozen=True)
class FolderSnapshot:
    """One folder as the server reports it: UIDVALIDITY, UIDNEXT and uid -> message."""

    uidvalidity: int
    uidnext: int
    messages: dict[int, Message]


def _fetch_by_uid(client: imaplib.IMAP4, items: str) -> list[tuple[bytes, bytes | None]]:
    typ, data = client.uid("FETCH", "1:*", items)
    assert typ == "OK", data
    rows: list[tuple[bytes, bytes | None]] = []
    for item in data:
        if isinstance(item, tuple):
            rows.append((item[0], item[1]))
        elif item not in (None, b")"):
            rows.append((item, None))
    return rows


def folder_snapshot(client: imaplib.IMAP4, folder: str) -> FolderSnapshot:
    """EXAMINE `folder` (so nothing changes, not even \\Seen) and read every message."""
    typ, data = client.select(_quote(folder), readonly=True)
    assert typ == "OK", (folder, data)
    uidvalidity = int(client.untagged_responses.get("UIDVALIDITY", [b"0"])[-1])
    uidnext = int(client.untagged_responses.get("UIDNEXT", [b"0"])[-1])
    flags: dict[int, str] = {}
    idents: dict[int, str] = {}
    if int(data[-1] or 0) > 0:
        for head, _ in _fetch_by_uid(client, "(UID FLAGS)"):
            uid_match = re.search(rb"UID (\d+)", head)
            flag_match = re.search(rb"FLAGS \(([^)]*)\)", head)
            assert uid_match and flag_match, head
            flags[int(uid_match.group(1))] = letters(flag_match.group(1).decode())
        for head, literal in _fetch_by_uid(client, "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"):
            match = re.search(rb"UID (\d+)", head)
            assert match and literal is not None, head
            idents[int(match.group(1))] = message_id(literal)
    assert flags.keys() == idents.keys(), (folder, flags, idents)
    messages = {uid: (idents[uid], flags[uid]) for uid in sorted(flags)}
    return FolderSnapshot(uidvalidity, uidnext, messages)


def internaldates(endpoint: Endpoint, folder: str) -> dict[str, float]:
    """Message-ID -> INTERNALDATE (as a POSIX timestamp) of every message in `folder`."""
    client = endpoint.connect()
    try:
        typ, data = client.select(_quote(folder), readonly=True)
        assert typ == "OK", data
        dates = {}
        for head, literal in _fetch_by_uid(
            client, "(INTERNALDATE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"
        ):
            match = re.search(rb'INTERNALDATE "([^"]+)"', head)
            assert match and literal is not None, head
            when = datetime.datetime.strptime(match.group(1).decode(), "%d-%b-%Y %H:%M:%S %z")
            dates[message_id(literal)] = when.timestamp()
        return dates
    finally:
        client.logout()


def server_snapshot(endpoint: Endpoint) -> dict[str, FolderSnapshot]:
    """Every folder of the account, read by a fresh imaplib connection."""
    client = endpoint.connect()
    try:
        return {name: folder_snapshot(client, name) for name in list_folders(client)}
    finally:
        client.logout()


def server_state(endpoint: Endpoint) -> State:
    """The server's folders as (Message-ID, flags) lists."""
    return {
        name: sorted(snap.messages.values()) for name, snap in server_snapshot(endpoint).items()
    }


def maildir_folders(root: Path) -> dict[str, Path]:
    """Folder name -> directory for every Maildir (a directory with cur/ and new/) under root."""
    found = {}
    for cur in root.rglob("cur"):
        folder = cur.parent
        if (folder / "new").is_dir() and folder != root:
            found[folder.relative_to(root).as_posix()] = folder
    return found


def maildir_files(folder: Path) -> list[Path]:
    """The message files of one Maildir (cur/ and new/; tmp/ is work in progress)."""
    return sorted([p for sub in ("cur", "new") for p in (folder / sub).iterdir() if p.is_file()])


def file_letters(path: Path) -> str:
    """The flags in a Maildir file name (`...:2,FS`); a file in new/ usually has none."""
    _, _, info = path.name.partition(":2,")
    return "".join(sorted(c for c in info if c in _IMAP_FLAGS))


def maildir_state(root: Path) -> State:
    """Every Maildir under root as (Message-ID, flags) lists."""
    return {
        name: sorted(
            (message_id(path.read_bytes()), file_letters(path)) for path in maildir_files(folder)
        )
        for name, folder in maildir_folders(root).items()
    }


def maildir_names(root: Path) -> dict[str, list[str]]:
    """Folder -> file names: a run that changes nothing keeps every name as it was."""
    return {name: [p.name for p in maildir_files(f)] for name, f in maildir_folders(root).items()}


def set_maildir_flags(path: Path, new_letters: str) -> Path:
    """Change a message's flags the way a mail reader does: rename it into cur/ with the
    new info part. Returns the new path."""
    base = path.name.partition(":2,")[0]
    target = path.parent.parent / "cur" / f"{base}:2,{''.join(sorted(new_letters))}"
    path.rename(target)
    return target


def find_file(root: Path, folder: str, ident: str) -> Path:
    """The Maildir file of the message with Message-ID `ident` in `folder` (exactly one)."""
    matches = [p for p in maildir_files(root / folder) if message_id(p.read_bytes()) == ident]
    assert len(matches) == 1, (folder, ident, matches)
    return matches[0]


def add_local_message(root: Path, folder: str, raw: bytes, name: str) -> None:
    """Deliver a message into a Maildir's new/ as a local mail program would (tmp, rename)."""
    directory = root / folder
    for sub in ("cur", "new", "tmp"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    temporary = directory / "tmp" / name
    temporary.write_bytes(raw)
    temporary.rename(directory / "new" / name)


def assert_same(server: State, local: State, expected: State | None = None) -> None:
    """The server and the Maildir hold the same folders and messages (and `expected`, when
    given); no folder holds a Message-ID twice."""
    assert sorted(local) == sorted(server), (sorted(local), sorted(server))
    for name in server:
        assert local[name] == server[name], (name, local[name], server[name])
        ids = [ident for ident, _ in server[name]]
        assert len(ids) == len(set(ids)), (name, "duplicate Message-IDs")
    if expected is not None:
        assert {k: sorted(v) for k, v in expected.items()} == server


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
