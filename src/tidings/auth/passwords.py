"""Password hashing with Argon2id (RFC 9106), stored as PHC strings.

Argon2id is the memory-hard KDF RFC 9106 §4 recommends for stored passwords. The PHC string
(`$argon2id$v=19$m=...,t=...,p=...$salt$hash`) carries its own parameters, so hashes made with
older settings keep verifying and `needs_rehash` says when to upgrade them.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# argon2-cffi's defaults are RFC 9106's "second recommended option" (t=3, m=64 MiB, p=4).
_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    """The Argon2id PHC string for `password`, with a fresh random salt."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches `password_hash`.

    Never raises: a malformed or foreign hash simply does not match, so a corrupt row cannot
    turn a login attempt into a server error.
    """
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError, ValueError, TypeError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether `password_hash` was made with other parameters than the current ones."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True
