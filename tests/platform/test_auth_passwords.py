"""Argon2id password hashes (auth/passwords.py)."""

from __future__ import annotations

import pytest

from tidings.auth.passwords import hash_password, needs_rehash, verify_password


def test_hash_is_argon2id_phc_string_with_fresh_salt() -> None:
    first, second = hash_password("secret"), hash_password("secret")
    assert first.startswith("$argon2id$v=19$")
    assert first != second  # a random salt each time


def test_verify_accepts_right_and_rejects_wrong_password() -> None:
    stored = hash_password("correct horse")
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "correct horse ")
    assert not verify_password(stored, "")


def test_verify_handles_unicode_passwords() -> None:
    stored = hash_password("pässwörd ✓")
    assert verify_password(stored, "pässwörd ✓")


@pytest.mark.parametrize("bad", ["", "garbage", "$argon2id$v=19$broken", "$2b$12$bcrypthash"])
def test_verify_never_raises_for_bad_hashes(bad: str) -> None:
    assert verify_password(bad, "anything") is False


def test_needs_rehash() -> None:
    assert not needs_rehash(hash_password("x"))
    weak = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$" + "A" * 22
    assert needs_rehash(weak)
    assert needs_rehash("garbage")
