"""curl's IMAP client (RFC 5092 URLs) against a real server: LIST, FETCH by UID, implicit TLS,
STARTTLS, custom commands and SEARCH."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .helpers import ImapTarget, make_message, safe_logout

CURL = shutil.which("curl")
pytestmark = pytest.mark.skipif(CURL is None, reason="curl is not installed")


def curl(imap: ImapTarget, url: str, *options: str) -> bytes:
    """Run curl against the target with its credentials; returns stdout (fails on error)."""
    assert CURL is not None
    result = subprocess.run(
        [
            CURL,
            "--silent",
            "--show-error",
            "--max-time",
            "15",
            "--user",
            f"{imap.user}:{imap.password}",
            *options,
            url,
        ],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, (result.returncode, result.stderr.decode(errors="replace"))
    return result.stdout


def base(imap: ImapTarget, scheme: str = "imap") -> str:
    port = imap.ssl_port if scheme == "imaps" else imap.port
    return f"{scheme}://{imap.host}:{port}"


def append(imap: ImapTarget, mailbox: str, *messages: bytes) -> None:
    conn = imap.login()
    for message in messages:
        assert conn.append(mailbox, None, None, message)[0] == "OK"
    safe_logout(conn)


def test_curl_lists_mailboxes_rfc5092(imap: ImapTarget, mailbox: str) -> None:
    output = curl(imap, base(imap) + "/")
    lines = output.decode().splitlines()
    assert any(line.startswith("* LIST") and line.endswith(" INBOX") for line in lines), output
    assert any(mailbox in line for line in lines), output


def test_curl_fetches_inbox_uid_1_byte_exact_rfc5092(fresh_imap: ImapTarget) -> None:
    message = make_message("for curl", body="exact bytes\r\nsecond line\r\n")
    append(fresh_imap, "INBOX", message)
    assert curl(fresh_imap, base(fresh_imap) + "/INBOX;UID=1") == message


def test_curl_fetches_by_uid_in_other_mailbox_rfc5092(imap: ImapTarget, mailbox: str) -> None:
    first, second = make_message("one"), make_message("two")
    append(imap, mailbox, first, second)
    assert curl(imap, f"{base(imap)}/{mailbox};UID=2") == second


def test_curl_fetches_section_rfc5092(imap: ImapTarget, mailbox: str) -> None:
    message = make_message("sectioned", body="only the text\r\n")
    append(imap, mailbox, message)
    assert curl(imap, f"{base(imap)}/{mailbox};UID=1/;SECTION=TEXT") == b"only the text\r\n"


def test_curl_imaps_implicit_tls_rfc8314(imap: ImapTarget, mailbox: str) -> None:
    message = make_message("over tls")
    append(imap, mailbox, message)
    assert curl(imap, f"{base(imap, 'imaps')}/{mailbox};UID=1", "--insecure") == message


def test_curl_starttls_with_ssl_reqd_rfc9051_6_2_1(imap: ImapTarget, mailbox: str) -> None:
    message = make_message("after starttls")
    append(imap, mailbox, message)
    output = curl(imap, f"{base(imap)}/{mailbox};UID=1", "--ssl-reqd", "--insecure")
    assert output == message


def test_curl_starttls_list_rfc9051_6_2_1(imap: ImapTarget) -> None:
    output = curl(imap, base(imap) + "/", "--ssl-reqd", "--insecure")
    assert b"INBOX" in output, output


def test_curl_custom_examine_command(imap: ImapTarget, mailbox: str) -> None:
    append(imap, mailbox, make_message(), make_message())
    output = curl(imap, base(imap) + "/", "-X", f"EXAMINE {mailbox}").decode()
    assert "* 2 EXISTS" in output, output
    assert "UIDVALIDITY" in output and "UIDNEXT 3" in output, output


def test_curl_custom_examine_inbox(imap: ImapTarget) -> None:
    output = curl(imap, base(imap) + "/", "-X", "EXAMINE INBOX").decode()
    assert "EXISTS" in output and "FLAGS" in output, output


def test_curl_search_url_rfc5092(imap: ImapTarget, mailbox: str) -> None:
    append(
        imap, mailbox, make_message("hello one"), make_message("other"), make_message("Hello two")
    )
    output = curl(imap, f"{base(imap)}/{mailbox}?SUBJECT%20hello").decode()
    assert output.strip() == "* SEARCH 1 3", output


def test_curl_wrong_password_fails_rfc5092(imap: ImapTarget) -> None:
    assert CURL is not None
    result = subprocess.run(
        [CURL, "--silent", "--max-time", "15", "--user", f"{imap.user}:wrong", base(imap) + "/"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 67, result  # CURLE_LOGIN_DENIED
