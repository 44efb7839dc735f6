"""`ConnectionIO`: the part of a connection every protocol session talks to (no I/O here).

Sessions are written against this Protocol (DESIGN.md: sessions know no sockets); the
drivers implement it over `tidings.net.buffered.BufferedStream`.
"""

from __future__ import annotations

from typing import Protocol


class ConnectionIO(Protocol):
    """What every protocol session needs from its connection (each session's own `SessionIO`
    adds what is particular to its protocol: SASL lines, IDLE, ...)."""

    @property
    def is_tls(self) -> bool:
        """Whether the connection is encrypted."""
        ...

    @property
    def is_loopback(self) -> bool:
        """Whether the peer is on this machine (plaintext passwords are allowed then)."""
        ...

    @property
    def peer_host(self) -> str:
        """The peer's address."""
        ...

    def channel_bindings(self) -> dict[str, bytes]:
        """TLS channel binding data by type (RFC 5056; for SCRAM-*-PLUS), {} without TLS."""
        ...

    async def send(self, data: bytes) -> None:
        """Queue `data` for the client (written when large, and when the driver flushes)."""
        ...

    async def flush(self) -> None:
        """Write everything queued."""
        ...

    async def start_tls(self) -> bool:
        """Upgrade to TLS, dropping input pipelined after the command; False if it failed
        (the connection is then dead)."""
        ...
