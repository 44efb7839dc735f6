"""What every LMTP session shares: the server-wide objects built once by `tidings.app`."""

from __future__ import annotations

from dataclasses import dataclass, field

from tidings.core.limits import Limits
from tidings.delivery.deliverer import Deliverer
from tidings.delivery.settings import DeliverySettings


@dataclass(frozen=True, slots=True)
class LmtpServerContext:
    """Server-wide dependencies of an LMTP session."""

    deliverer: Deliverer
    settings: DeliverySettings = field(default_factory=DeliverySettings)
    limits: Limits = field(default_factory=Limits)
    hostname: str = "localhost"  # for the greeting and the LHLO reply
