"""Attachment keywords over the whole corpus, compared with Dovecot 2.3's attachment detection.

Every corpus message is APPENDed (no flags) to Tidings and to the private Dovecot of the
differential tests, which runs with `mail_attachment_detection_options = add-flags`
(tests/support/dovecot.py), then FETCH FLAGS is read back from both and the
`$HasAttachment` / `$HasNoAttachment` keyword compared message by message.

Why `add-flags` and no `content-type=!text/*`: Tidings counts any part with Content-Disposition
attachment, text ones included (a .csv or .txt someone attached is a file they attached), as
Dovecot does without a content-type filter; `!text/*` would drop the corpus' text/csv
attachments (060, 165, 179, 195), where the Dovecot default agrees with Tidings.

The rules differ on purpose in two places (core/mime/attachments.py): Dovecot counts any
`inline` part with a `filename`, text and inline images of HTML mail included, and never a
part named only by Content-Type `name`. `DIFFERENCES` lists each corpus message where that
shows, with the reason; the test fails when a message differs that is not listed, and when a
listed one no longer differs.
"""

from __future__ import annotations

import imaplib
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import TidingsServer
from tests.support.corpus import corpus_files
from tests.support.dovecot import DovecotServer

pytestmark = pytest.mark.dovecot

KEYWORDS = ("$HasAttachment", "$HasNoAttachment")

# corpus file -> (Dovecot's keyword, Tidings' keyword, why they differ)
DIFFERENCES: dict[str, tuple[str, str, str]] = {
    "004.eml": (
        "$HasAttachment",
        "$HasNoAttachment",
        "two text/plain parts, Content-Disposition inline with a filename: body text shown in "
        "place for Tidings; Dovecot counts every inline part with a filename",
    ),
}


def _keywords_after_append(server: Any, files: list[Path]) -> dict[str, str]:
    """APPEND every file to a new mailbox of `server`; corpus name -> the attachment
    keywords FETCH FLAGS shows ("NOT APPENDED: ..." when the APPEND was refused)."""
    client = imaplib.IMAP4(server.host, server.imap_port, timeout=60)
    try:
        client.login(server.user, server.password)
        name = "attach-" + uuid.uuid4().hex[:10]
        assert client.create(name)[0] == "OK"
        result: dict[str, str] = {}
        appended = []
        for path in files:
            try:
                status, data = client.append(name, None, None, path.read_bytes())
            except imaplib.IMAP4.error as error:
                status, data = "NO", [str(error).encode()]
            if status == "OK":
                appended.append(path.name)
            else:
                result[path.name] = f"NOT APPENDED: {data!r}"
        assert client.select(name)[0] == "OK"
        status, data = client.fetch("1:*", "(FLAGS)")
        assert status == "OK", data
        for line in data:
            assert isinstance(line, bytes), line
            match = re.match(rb"(\d+) \(FLAGS \(([^)]*)\)\)", line)
            assert match, line
            flags = match.group(2).decode().split()
            found = [k for k in KEYWORDS if any(f.lower() == k.lower() for f in flags)]
            result[appended[int(match.group(1)) - 1]] = " ".join(found) or "(none)"
        client.logout()
        return result
    except BaseException:
        client.shutdown()
        raise


def test_attachment_keywords_match_dovecot(
    dovecot: DovecotServer, shared_server: TidingsServer
) -> None:
    files = corpus_files()
    assert files, "the corpus is empty"
    reference = _keywords_after_append(dovecot, files)
    target = _keywords_after_append(shared_server, files)
    differing = {
        name: (reference[name], target[name])
        for name in sorted(reference)
        if reference[name] != target[name]
    }
    expected = {name: (ref, tgt) for name, (ref, tgt, _) in DIFFERENCES.items()}
    agree = len(files) - len(differing)
    print(
        f"attachment keywords: {agree} of {len(files)} corpus messages agree with Dovecot; "
        f"{sum(1 for v in target.values() if v == '$HasAttachment')} with attachments; "
        f"differences: {differing}"
    )
    assert all(value in KEYWORDS for value in target.values()), target
    assert differing == expected
