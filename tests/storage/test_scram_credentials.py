"""Contract: the SCRAM side of AccountStore (stored secrets, never the password; the auth key)."""

from __future__ import annotations

import pytest
from tests.storage.storage_support import OTHER_USER, USER, Harness

from tidings.core.errors import MailError, MailErrorKind

SECRETS_1 = "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy"
SECRETS_2 = "SCRAM-SHA-256$10000:c2FsdDI=$c3RvcmVk:c2VydmVy"


def test_an_account_without_secrets_has_none(harness: Harness) -> None:
    assert harness.run(harness.backend.scram_sha256(USER)) is None
    assert harness.run(harness.backend.scram_sha256("nobody@example.test")) is None


def test_add_account_stores_secrets_case_insensitively(harness: Harness) -> None:
    backend = harness.backend
    harness.run(backend.add_account(OTHER_USER.upper(), "h", scram_sha256=SECRETS_1))
    assert harness.run(backend.scram_sha256(OTHER_USER)) == SECRETS_1
    assert harness.run(backend.scram_sha256(OTHER_USER.title())) == SECRETS_1


def test_set_password_hash_replaces_or_drops_the_secrets(harness: Harness) -> None:
    backend = harness.backend
    harness.run(backend.set_password_hash(USER, "hash-2", scram_sha256=SECRETS_1))
    assert harness.run(backend.scram_sha256(USER)) == SECRETS_1
    # A new password without secrets must not leave the old password usable over SCRAM.
    harness.run(backend.set_password_hash(USER, "hash-3"))
    assert harness.run(backend.scram_sha256(USER)) is None
    assert harness.run(backend.password_hash(USER)) == "hash-3"


def test_set_scram_sha256_only_while_the_hash_is_unchanged(harness: Harness) -> None:
    backend = harness.backend
    assert harness.run(backend.set_scram_sha256(USER.upper(), SECRETS_1, "hash-1")) is True
    assert harness.run(backend.scram_sha256(USER)) == SECRETS_1
    # Secrets derived from a password that was replaced meanwhile are dropped.
    harness.run(backend.set_password_hash(USER, "hash-2"))
    assert harness.run(backend.set_scram_sha256(USER, SECRETS_2, "hash-1")) is False
    assert harness.run(backend.scram_sha256(USER)) is None
    with pytest.raises(MailError) as caught:
        harness.run(backend.set_scram_sha256("nobody@example.test", SECRETS_1, "x"))
    assert caught.value.kind is MailErrorKind.NOTFOUND


def test_removing_the_account_removes_its_secrets(harness: Harness) -> None:
    backend = harness.backend
    harness.run(backend.set_password_hash(USER, "hash-2", scram_sha256=SECRETS_1))
    harness.run(backend.remove_account(USER))
    harness.run(backend.add_account(USER, "hash-new"))
    assert harness.run(backend.scram_sha256(USER)) is None


def test_count_accounts_without_scram(harness: Harness) -> None:
    backend = harness.backend
    assert harness.run(backend.count_accounts_without_scram()) == 1  # USER, made with a hash
    harness.run(backend.add_account(OTHER_USER, "h", scram_sha256=SECRETS_1))
    assert harness.run(backend.count_accounts_without_scram()) == 1
    harness.run(backend.set_scram_sha256(USER, SECRETS_2, "hash-1"))
    assert harness.run(backend.count_accounts_without_scram()) == 0


def test_auth_secret_is_random_and_survives_a_reopen(harness: Harness) -> None:
    secret = harness.run(harness.backend.auth_secret())
    assert len(secret) == 32 and secret != bytes(32)
    assert harness.run(harness.backend.auth_secret()) == secret
    harness.reopen()
    assert harness.run(harness.backend.auth_secret()) == secret
