"""Two devices on one account: mbsync and offlineimap syncing at the same time.

A laptop (mbsync) and a desktop (offlineimap, three connections) run their syncs
concurrently, four rounds, while a phone (imaplib) appends and flags in between, and each
device changes its own Maildir (flags, a new message, a deleted one). After two quiet rounds
both Maildirs must equal the server exactly, with every message once: nothing lost to a
concurrent write, nothing uploaded twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.clients.sync_state import (
    Endpoint,
    add_local_message,
    assert_same,
    corpus_messages,
    file_letters,
    generated_message,
    maildir_files,
    maildir_state,
    message_id,
    seed,
    server_state,
    set_maildir_flags,
)
from tests.clients.test_mbsync_sync import Mbsync
from tests.clients.test_offlineimap_sync import OfflineImap

pytestmark = pytest.mark.slow

LAYOUT = {"INBOX": 100, "Archive": 50, "Projects/Alpha": 50}
ROUNDS = 4


def _together(*syncs: Callable[[], str]) -> None:
    """Run the syncs in parallel threads; re-raise the first failure."""
    errors: list[BaseException] = []

    def run(sync: Callable[[], str]) -> None:
        try:
            sync()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(sync,)) for sync in syncs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def test_mbsync_and_offlineimap_at_once(sync_endpoint: Endpoint, tmp_path: Path) -> None:
    laptop = Mbsync(sync_endpoint, tmp_path / "laptop")
    desktop = OfflineImap(sync_endpoint, tmp_path / "desktop")
    client = sync_endpoint.connect()
    try:
        seed(client, LAYOUT, corpus_messages(sum(LAYOUT.values())))
    finally:
        client.logout()
    _together(laptop.sync, desktop.sync)
    expected_ids = {
        folder: {ident for ident, _ in messages}
        for folder, messages in server_state(sync_endpoint).items()
    }

    for number in range(ROUNDS):
        for path in maildir_files(laptop.maildir / "INBOX")[number * 3 : number * 3 + 3]:
            flags = file_letters(path)
            set_maildir_flags(path, flags.replace("F", "") if "F" in flags else flags + "F")
        add_local_message(
            laptop.maildir,
            "INBOX",
            generated_message(f"laptop-{number}", "offline", b"\n"),
            f"170000000{number}.laptop",
        )
        expected_ids["INBOX"].add(f"<laptop-{number}@sync.test>")
        add_local_message(
            desktop.maildir,
            "Archive",
            generated_message(f"desktop-{number}", "offline", b"\n"),
            f"180000000{number}.desktop",
        )
        expected_ids["Archive"].add(f"<desktop-{number}@sync.test>")
        victim = maildir_files(desktop.maildir / "Projects/Alpha")[0]
        expected_ids["Projects/Alpha"].discard(message_id(victim.read_bytes()))
        victim.unlink()
        phone = sync_endpoint.connect()
        try:
            phone.select("INBOX")
            first = number * 5 + 1
            assert phone.uid("STORE", f"{first}:{first + 3}", "+FLAGS", r"(\Seen)")[0] == "OK"
            raw = generated_message(f"phone-{number}", "from the phone")
            assert phone.append("INBOX", None, None, raw)[0] == "OK"
            expected_ids["INBOX"].add(f"<phone-{number}@sync.test>")
        finally:
            phone.logout()
        _together(laptop.sync, desktop.sync)

    for _ in range(2):  # quiet rounds: each device picks up what the other pushed
        laptop.sync()
        desktop.sync()
    state = server_state(sync_endpoint)
    assert {folder: {ident for ident, _ in messages} for folder, messages in state.items()} == (
        expected_ids
    )
    assert_same(state, maildir_state(laptop.maildir))
    assert_same(state, maildir_state(desktop.maildir))
