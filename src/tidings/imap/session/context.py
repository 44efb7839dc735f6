"""What every IMAP session shares: the server-wide objects built once by `tidings.app`."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from tidings.auth.authenticator import Authenticator
from tidings.core.limits import Limits
from tidings.notify.hub import NotificationHub
from tidings.storage.api import Backend


@dataclass(frozen=True, slots=True)
class ImapServerContext:
    """Server-wide dependencies of an IMAP session."""

    backend: Backend
    hub: NotificationHub
    authenticator: Authenticator
    limits: Limits = field(default_factory=Limits)
    tls_context: ssl.SSLContext | None = None  # None: STARTTLS is not offered
    greeting: str = "Tidings ready."
