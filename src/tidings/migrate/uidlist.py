"""Dovecot's per-folder Maildir files: `dovecot-uidlist` and `dovecot-keywords`.

Both are described in Dovecot's documentation, "Maildir Mailbox Format"
(https://doc.dovecot.org/2.3/admin_manual/mailbox_formats/maildir/, formerly the wiki page
MailboxFormat/Maildir).

`dovecot-uidlist` maps IMAP UIDs to message files. Its first line is a header, then one
line per message, in ascending UID order:

    3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1
    25020 :1276528487.M364837P9451.kurkku,S=1355,W=1394:2,
    25021 W1394 :1276533073.M242911P3632.kurkku

Version 3 (Dovecot 1.1 and later): after the version, fields keyed by a letter in any
order: V the UIDVALIDITY, N the next UID, G the mailbox GUID; others may appear and are
ignored. A message line is the UID, optional extension fields (letter-keyed, e.g. W the
virtual size), then ":" and the file name. Version 1 (Courier's `courierimapuiddb` format)
has `1 <uidvalidity> <nextuid>` and lines `<uid> <filename>`. Version 2, which a few early
Dovecot versions wrote, is refused. The file name may carry the `:2,` info part of the moment
it was written; messages are matched by base name, the part before the ":".

`dovecot-keywords` maps the lowercase letters of a file name's info (a = 0 ... z = 25) to
keywords, one `<index> <keyword>` line each:

    0 $Junk
    1 $NonJunk
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Uidlist:
    """A parsed dovecot-uidlist: UIDVALIDITY, next UID, and (uid, base name) in UID order.

    `bad_lines` are the numbers of message lines that could not be read and were skipped.
    """

    uidvalidity: int
    next_uid: int
    entries: tuple[tuple[int, str], ...]
    guid: str | None = None
    bad_lines: tuple[int, ...] = ()

    def uid_by_basename(self) -> dict[str, int]:
        """Each listed base name's UID (the first, should a name be listed twice)."""
        uids: dict[str, int] = {}
        for uid, basename in self.entries:
            uids.setdefault(basename, uid)
        return uids


def basename_of(filename: str) -> str:
    """A Maildir file name without its info part (cr.yp.to/proto/maildir.html: after ":")."""
    return filename.partition(":")[0]


def parse_uidlist(data: bytes) -> Uidlist:
    """The dovecot-uidlist in `data`; ValueError if its header is not version 1 or 3.

    File names are decoded as the file system does (`os.fsdecode`), so that they compare
    equal to the names `os.listdir` gives.
    """
    lines = data.split(b"\n")
    header = lines[0].split()
    if not header or header[0] not in (b"1", b"3"):
        raise ValueError("dovecot-uidlist header is not version 1 or 3")
    uidvalidity, next_uid, guid = _header(header)
    entries: list[tuple[int, str]] = []
    bad: list[int] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        entry = _entry(line.rstrip(b"\r"), version3=header[0] == b"3")
        if entry is None:
            bad.append(number)
        else:
            entries.append(entry)
    entries.sort()
    return Uidlist(uidvalidity, next_uid, tuple(entries), guid, tuple(bad))


def _header(fields: list[bytes]) -> tuple[int, int, str | None]:
    try:
        if fields[0] == b"1":
            return int(fields[1]), int(fields[2]), None
        keyed = {field[:1]: field[1:] for field in fields[1:] if field}
        guid = keyed[b"G"].decode("ascii") if b"G" in keyed else None
        return int(keyed[b"V"]), int(keyed[b"N"]), guid
    except (IndexError, KeyError, ValueError, UnicodeDecodeError):
        raise ValueError("dovecot-uidlist header lacks its UIDVALIDITY or next UID") from None


def _entry(line: bytes, *, version3: bool) -> tuple[int, str] | None:
    head, colon, filename = line.partition(b" :") if version3 else line.partition(b" ")
    if not colon:
        return None
    uid_field = head.split(maxsplit=1)[0] if head.strip() else b""
    if not uid_field.isdigit() or int(uid_field) == 0 or not filename:
        return None
    return int(uid_field), basename_of(os.fsdecode(filename))


def format_uidlist(uidvalidity: int, next_uid: int, entries: Iterable[tuple[int, str]]) -> bytes:
    """A version 3 dovecot-uidlist for (uid, base name) `entries`, sorted by UID."""
    lines = [f"3 V{uidvalidity} N{next_uid}\n".encode("ascii")]
    lines.extend(b"%d :%s\n" % (uid, os.fsencode(name)) for uid, name in sorted(entries))
    return b"".join(lines)


def parse_keywords(data: bytes) -> dict[int, str]:
    """The dovecot-keywords in `data`: letter index (0-25) to keyword; bad lines skipped."""
    keywords: dict[int, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        index, _, name = line.strip().partition(" ")
        if index.isascii() and index.isdigit() and int(index) < 26 and name.strip():
            keywords[int(index)] = name.strip()
    return keywords


def format_keywords(keywords: Mapping[int, str]) -> bytes:
    """A dovecot-keywords file for `keywords` (letter index to keyword)."""
    return "".join(f"{index} {name}\n" for index, name in sorted(keywords.items())).encode()
