"""curl's POP3 client (RFC 8089-style `pop3://` and `pop3s://` URLs) against `tidings serve`:
listing, RETR by number byte for byte, custom commands (UIDL, TOP), DELE, STLS with
--ssl-reqd, SASL-IR, POP3S, and a wrong password."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest
from tests.conftest import TidingsServer, make_server
from tests.pop3.helpers import (
    BARE_LF,
    DOTS,
    PLAIN,
    expected_retr,
    imap_append,
    imap_uids_and_flags,
    large_message,
    uidvalidity,
    wire_size,
)

CURL = shutil.which("curl")
pytestmark = pytest.mark.skipif(CURL is None, reason="curl is not installed")

LARGE = large_message(512 * 1024)
MESSAGES = [PLAIN, BARE_LF, DOTS, LARGE]


def curl(
    server: TidingsServer, url: str, *options: str, password: str | None = None, expect: int = 0
) -> bytes:
    """Run curl with the account's credentials; returns stdout, checks the exit status."""
    assert CURL is not None
    result = subprocess.run(
        [
            CURL,
            "--silent",
            "--show-error",
            "--max-time",
            "30",
            "--user",
            f"{server.user}:{password or server.password}",
            *options,
            url,
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == expect, (result.returncode, result.stderr.decode("replace"))
    return result.stdout


def base(server: TidingsServer, scheme: str = "pop3") -> str:
    port = server.pop3s_port if scheme == "pop3s" else server.pop3_port
    return f"{scheme}://{server.host}:{port}"


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TidingsServer]:
    """A server for this module with MESSAGES in INBOX (tests that delete use `server`)."""
    server = make_server(tmp_path_factory.mktemp("curl-pop3"))
    server.start()
    imap_append(server.imap_port, server.user, server.password, *MESSAGES)
    yield server
    server.stop()


def test_curl_pop3_lists_messages(filled: TidingsServer) -> None:
    listing = curl(filled, base(filled) + "/")
    expected = b"".join(b"%d %d\r\n" % (n, wire_size(raw)) for n, raw in enumerate(MESSAGES, 1))
    assert listing == expected


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_curl_pop3_retr_is_byte_exact(filled: TidingsServer, number: int) -> None:
    # curl removes the dot-stuffing (RFC 1939 §3) and the terminator; nothing else.
    assert curl(filled, f"{base(filled)}/{number}") == expected_retr(MESSAGES[number - 1])


def test_curl_pop3_custom_uidl_and_top(filled: TidingsServer) -> None:
    validity = uidvalidity(filled.imap_port, filled.user, filled.password)
    uidl = curl(filled, base(filled) + "/", "--request", "UIDL")
    assert uidl == b"".join(b"%d %08x%08x\r\n" % (n, n, validity) for n in range(1, 5))
    top = curl(filled, base(filled) + "/", "--request", "TOP 3 1")
    assert top == b"From: c@example.test\r\nSubject: dots\r\n\r\n.starts with a dot\r\n"


def test_curl_pop3s_with_sasl_ir(filled: TidingsServer) -> None:
    body = curl(
        filled,
        base(filled, "pop3s") + "/3",
        "--insecure",
        "--sasl-ir",
        "--login-options",
        "AUTH=PLAIN",
    )
    assert body == DOTS


def test_curl_pop3_stls_required(filled: TidingsServer) -> None:
    body = curl(filled, base(filled) + "/4", "--ssl-reqd", "--insecure")
    assert body == LARGE


def test_curl_pop3_auth_login(filled: TidingsServer) -> None:
    assert curl(filled, base(filled) + "/1", "--login-options", "AUTH=LOGIN") == PLAIN


def test_curl_pop3_wrong_password_fails(filled: TidingsServer) -> None:
    curl(filled, base(filled) + "/", password="wrong", expect=67)  # CURLE_LOGIN_DENIED


def test_curl_pop3_dele(server: TidingsServer) -> None:
    imap_append(server.imap_port, server.user, server.password, PLAIN, DOTS)
    curl(server, base(server) + "/1", "--request", "DELE", "--head")
    remaining = imap_uids_and_flags(server.imap_port, server.user, server.password)
    assert list(remaining) == [2]
    assert curl(server, base(server) + "/1") == DOTS
