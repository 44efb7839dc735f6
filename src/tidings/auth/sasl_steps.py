"""What a sans-IO SASL mechanism answers after each client message (RFC 4422 §3).

`tidings.auth.sasl` re-exports these; they live here so that every mechanism module (PLAIN
and LOGIN in sasl.py, SCRAM in scram.py) can import them without importing the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from tidings.auth.scram_secrets import ScramSecrets


@dataclass(frozen=True, slots=True)
class SaslChallenge:
    """Send `data` to the client (base64-encoded by the driver) and wait for its response."""

    data: bytes


@dataclass(frozen=True, slots=True)
class SaslCredentials:
    """The exchange is complete; the driver must check `username`/`password`.

    `authzid` is "" or equal to `username` (case-insensitively): we do not support proxy
    authorization, so a mechanism fails rather than hand out a different identity.
    """

    authzid: str
    username: str
    password: str

    def __repr__(self) -> str:
        # Credentials end up in tracebacks and debug logs; the password must not.
        return f"SaslCredentials(authzid={self.authzid!r}, username={self.username!r})"


@dataclass(frozen=True, slots=True)
class SaslFailure:
    """The exchange failed; `reason` is safe to show to the client and to log.

    `server_error` is the RFC 5802 §7 `server-error-value` of a SCRAM failure
    ("invalid-proof", "channel-bindings-dont-match", ...), "" for other mechanisms.
    """

    reason: str
    server_error: str = ""


@dataclass(frozen=True, slots=True)
class SaslNeedSecrets:
    """The mechanism verifies the client itself (SCRAM) and needs `username`'s stored
    secrets: the driver asks `Authenticator.scram_secrets` and calls `mechanism.supply`."""

    username: str


@dataclass(frozen=True, slots=True)
class ScramAccount:
    """What the store knows for a SCRAM login: the secrets, and whether they are real
    (`genuine`), or decoys for an unknown account or one without SCRAM secrets yet."""

    secrets: ScramSecrets
    genuine: bool


@dataclass(frozen=True, slots=True)
class SaslAuthenticated:
    """The client proved it knows `username`'s password. `final` is the server's last
    message (RFC 5802 `server-final-message`); protocols without "additional data with
    success" send it as one more challenge and expect an empty response (RFC 4422 §4)."""

    username: str
    final: bytes


SaslStep = SaslChallenge | SaslCredentials | SaslFailure | SaslNeedSecrets | SaslAuthenticated

# Channel binding data of the connection by type name (RFC 5056 §2.1), e.g.
# {"tls-server-end-point": b"..."}; empty when there is no TLS or nothing can be bound.
ChannelBindings = Mapping[str, bytes]


class SaslMechanism(Protocol):
    """One server-side SASL exchange."""

    name: str

    def start(self, initial_response: bytes | None) -> SaslStep:
        """Begin, with the client's initial response (RFC 4959 SASL-IR) if it sent one."""
        ...

    def step(self, response: bytes) -> SaslStep:
        """Feed the client's (decoded) response to the last challenge."""
        ...

    def supply(self, account: ScramAccount) -> SaslStep:
        """Answer a `SaslNeedSecrets` (mechanisms that never ask fail here)."""
        ...
