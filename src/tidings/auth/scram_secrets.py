"""SCRAM-SHA-256 stored secrets (RFC 5802 §3, RFC 7677): made when a password is set.

The server keeps salt, iteration count, StoredKey and ServerKey, never the password: enough
to verify a client's proof and to prove itself to the client, but not to log in as the user
(a thief of StoredKey still needs the ClientKey; of ServerKey, can only impersonate the
server). They are stored as text in the RFC 5803 form also used by PostgreSQL:
`SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from tidings.auth.saslprep import SaslprepError, saslprep

SCHEME = "SCRAM-SHA-256"
# RFC 7677 §4: "the iteration count ... SHOULD be at least 4096"; lower settings are raised.
MIN_ITERATIONS = 4096
# Salt length in bytes: RFC 5802 leaves it open; 16 random bytes, as Dovecot and PostgreSQL.
SALT_LENGTH = 16
_KEY_LENGTH = hashlib.sha256().digest_size


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC(key, str) of RFC 5802 §2.2 with SHA-256."""
    return hmac.new(key, message, hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class ScramSecrets:
    """One account's SCRAM-SHA-256 verifier (RFC 5802 §3)."""

    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes

    def __repr__(self) -> str:
        # Keys end up in tracebacks and logs otherwise; they are password equivalents for
        # anyone who also captured an exchange.
        return f"ScramSecrets(iterations={self.iterations}, salt={len(self.salt)} bytes)"

    def encode(self) -> str:
        """The RFC 5803 text kept in the store (`accounts.scram_sha256`)."""
        b64 = _b64
        return (
            f"{SCHEME}${self.iterations}:{b64(self.salt)}"
            f"${b64(self.stored_key)}:{b64(self.server_key)}"
        )

    @classmethod
    def parse(cls, text: str | None) -> ScramSecrets | None:
        """Read `encode`'s text; None for None or anything malformed (so a corrupt row makes
        SCRAM fail like a wrong password, never crash a login)."""
        if not text:
            return None
        try:
            scheme, params, keys = text.split("$")
            iterations_text, salt_text = params.split(":")
            stored_text, server_text = keys.split(":")
            if scheme != SCHEME or not iterations_text.isdigit():
                return None
            parsed = cls(
                salt=_unb64(salt_text),
                iterations=int(iterations_text),
                stored_key=_unb64(stored_text),
                server_key=_unb64(server_text),
            )
        except ValueError:
            return None
        if parsed.iterations < 1 or not parsed.salt:
            return None
        if len(parsed.stored_key) != _KEY_LENGTH or len(parsed.server_key) != _KEY_LENGTH:
            return None
        return parsed


def normalize_password(password: str) -> bytes:
    """RFC 5802 §2.2 Normalize(password): SASLprep as a stored string, in UTF-8.

    A password SASLprep prohibits (RFC 4013 §2.3, e.g. a control character, or a code point
    unassigned in Unicode 3.2 such as most emoji) is used as it is, as PostgreSQL does:
    clients that skip SASLprep, which is most of them, then still log in.
    """
    try:
        return saslprep(password).encode("utf-8")
    except SaslprepError:
        return password.encode("utf-8", "surrogatepass")


def derive_secrets(password: str, iterations: int, salt: bytes | None = None) -> ScramSecrets:
    """The stored secrets for `password` (RFC 5802 §3), with a fresh random salt unless one
    is given; `iterations` below MIN_ITERATIONS is raised to it."""
    salt = secrets.token_bytes(SALT_LENGTH) if salt is None else salt
    iterations = max(iterations, MIN_ITERATIONS)
    # SaltedPassword := Hi(Normalize(password), salt, i); Hi is PBKDF2 with HMAC (§2.2).
    salted = hashlib.pbkdf2_hmac("sha256", normalize_password(password), salt, iterations)
    client_key = hmac_sha256(salted, b"Client Key")
    return ScramSecrets(
        salt=salt,
        iterations=iterations,
        stored_key=hashlib.sha256(client_key).digest(),
        server_key=hmac_sha256(salted, b"Server Key"),
    )


def decoy_secrets(server_secret: bytes, username: str, iterations: int) -> ScramSecrets:
    """Secrets for an account that has none (unknown, or made before SCRAM was stored).

    The salt is derived from `server_secret` and the name, so repeated attempts for the
    same unknown name see the same salt and iteration count, just as for a real account:
    the server-first message does not tell who exists. No proof can match these keys (they
    come from no password), and the mechanism is told they are decoys anyway.
    """
    name = username.encode("utf-8", "surrogatepass")

    def derive(label: bytes) -> bytes:
        return hmac_sha256(server_secret, label + b"\x00" + name)

    return ScramSecrets(
        salt=derive(b"salt")[:SALT_LENGTH],
        iterations=max(iterations, MIN_ITERATIONS),
        stored_key=derive(b"stored-key"),
        server_key=derive(b"server-key"),
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError) as error:
        raise ValueError(str(error)) from error
