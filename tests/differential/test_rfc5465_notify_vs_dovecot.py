"""NOTIFY (RFC 5465) on Tidings and on Dovecot (with its notify plugin and mailbox list index):
the same two-connection scenario, and the responses both servers must agree on.

Dovecot needs `mail_plugins = notify` and `mailbox_list_index = yes` for NOTIFY; the shared
fixture runs without them, so this test starts its own Dovecot with them added. The known
differences (README "NOTIFY") are not compared: UIDVALIDITY in later STATUS responses, the
mailbox attributes in LIST, which events are refused with BAD or NO.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.imap.harness import InProcessServer, LineClient
from tests.support import dovecot as dovecot_support

QUIET_SECONDS = 1.0  # how long a connection must stay silent to count as "nothing more"


@pytest.fixture
def notify_dovecot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dovecot_support.DovecotServer]:
    if dovecot_support.skip_requested():
        pytest.skip("TIDINGS_SKIP_DOVECOT=1: differential tests against Dovecot skipped")
    config = dovecot_support._config

    def with_notify(*args: object, **kwargs: object) -> str:
        extra = "mail_plugins = $mail_plugins notify\nmailbox_list_index = yes\n"
        return str(config(*args, **kwargs)) + extra  # type: ignore[arg-type]

    monkeypatch.setattr(dovecot_support, "_config", with_notify)
    server = dovecot_support.start_dovecot(tmp_path / "dovecot")
    yield server
    server.stop()


@pytest.fixture
def tidings(tmp_path: Path) -> Iterator[InProcessServer]:
    server = InProcessServer(tmp_path / "tidings").start()
    yield server
    server.stop()


def _lines_until_quiet(client: LineClient) -> list[str]:
    lines = []
    client.sock.settimeout(QUIET_SECONDS)
    try:
        while True:
            lines.append(client.read_line())
    except TimeoutError:
        pass
    finally:
        client.sock.settimeout(10)
    return lines


def _status(line: str) -> str:
    """A STATUS line without UIDVALIDITY (only Tidings repeats it in later updates)."""
    return re.sub(r" ?UIDVALIDITY \d+", "", line).replace("( ", "(")


def _scenario(port: int, user: str, password: str, port_is_tidings: bool) -> dict[str, object]:
    def client() -> LineClient:
        connection = LineClient(port)
        connection.login(user, password)
        return connection

    watcher, other = client(), client()
    tagged: Callable[[list[str]], str] = lambda reply: reply[-1].split(" ", 2)[1]  # noqa: E731
    seen: dict[str, object] = {}
    for name in ("Lists", "Lists/Lemonade", "Unwatched"):
        other.command("c", f"CREATE {name}")
    seen["bad_pair"] = tagged(watcher.command("e1", "NOTIFY SET (selected (MessageNew))"))
    reply = watcher.command(
        "e2", "NOTIFY SET (personal (MessageNew MessageExpunge AnnotationChange))"
    )
    seen["annotation"] = (tagged(reply), "[BADEVENT " in reply[-1])
    reply = watcher.command(
        "n1",
        "NOTIFY SET STATUS (selected (MessageNew (UID FLAGS) MessageExpunge))"
        " (subtree Lists (MessageNew MessageExpunge))",
    )
    seen["set"] = tagged(reply)
    seen["initial"] = sorted(_status(line) for line in reply if line.startswith("* STATUS"))
    watcher.command("s", "SELECT INBOX")
    other.command("a1", "APPEND INBOX {5+}\r\nhello")
    # Not compared: Dovecot 2.3 pushes the selected mailbox's EXISTS between commands only
    # when some mailbox list event wakes it (README "NOTIFY"); it also repeats the watched
    # mailboxes' STATUS with its first event.
    selected = [line for line in _lines_until_quiet(watcher) if "STATUS" not in line]
    seen["selected"] = selected if port_is_tidings else None
    other.command("a2", "APPEND Lists/Lemonade {5+}\r\nhello")
    other.command("a3", "APPEND Unwatched {5+}\r\nhello")
    lines = _lines_until_quiet(watcher)
    seen["lemonade"] = [_status(line) for line in lines if "Lists/Lemonade" in line][-1:]
    seen["unwatched"] = [line for line in lines if "Unwatched" in line]
    other.command("r1", "RENAME Lists/Lemonade Lists/Lime")
    seen["none"] = tagged(watcher.command("n2", "NOTIFY NONE"))
    other.command("a4", "APPEND Lists {5+}\r\nhello")
    seen["after_none"] = watcher.command("z", "NOOP")[:-1]
    watcher.close()
    other.close()
    return seen


def test_rfc5465_notify_agrees_with_dovecot(
    tidings: InProcessServer, notify_dovecot: dovecot_support.DovecotServer
) -> None:
    ours = _scenario(tidings.port, "alice@example.test", "secret", True)
    theirs = _scenario(
        notify_dovecot.imap_port, notify_dovecot.user, notify_dovecot.password, False
    )
    assert {**ours, "selected": None} == theirs, theirs
    assert ours["initial"] == [
        "* STATUS Lists (MESSAGES 0 UIDNEXT 1 UNSEEN 0)",
        "* STATUS Lists/Lemonade (MESSAGES 0 UIDNEXT 1 UNSEEN 0)",
    ]
    assert ours["selected"] == [
        "* 1 EXISTS",
        "* 1 RECENT",
        "* 1 FETCH (UID 1 FLAGS ($HasNoAttachment \\Recent))",
    ]
    assert ours["lemonade"] == ["* STATUS Lists/Lemonade (MESSAGES 1 UIDNEXT 2 UNSEEN 1)"]
