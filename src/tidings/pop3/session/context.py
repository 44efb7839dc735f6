"""What every POP3 session shares: the server-wide objects built once by `tidings.app`."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from tidings.auth.authenticator import Authenticator
from tidings.core.limits import Limits
from tidings.storage.api import Backend


@dataclass(frozen=True, slots=True)
class Pop3ServerContext:
    """Server-wide dependencies of a POP3 session."""

    backend: Backend
    authenticator: Authenticator
    limits: Limits = field(default_factory=Limits)
    tls_context: ssl.SSLContext | None = None  # None: STLS is not offered
    greeting: str = "Tidings POP3 ready."
    # Accounts with a POP3 session in the TRANSACTION state in this process: a second
    # session gets `-ERR [IN-USE]` (RFC 2449 §8.1.2, RFC 1939 §4 "exclusive-access lock").
    maildrop_locks: set[str] = field(default_factory=set)
