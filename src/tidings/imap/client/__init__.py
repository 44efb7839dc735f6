"""An asyncio IMAP4rev1/rev2 client (used by `tidings watch`)."""

from tidings.imap.client.connection import CommandResult, IdleContext, ImapClient
from tidings.imap.client.errors import (
    AuthenticationFailed,
    CertificateProblem,
    CommandFailed,
    ConnectionLost,
    Endpoint,
    ImapError,
)

__all__ = [
    "AuthenticationFailed",
    "CertificateProblem",
    "CommandFailed",
    "CommandResult",
    "ConnectionLost",
    "Endpoint",
    "IdleContext",
    "ImapClient",
    "ImapError",
]
