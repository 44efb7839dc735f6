"""HTTP webhooks: POST the event's JSON, signed with HMAC-SHA256, retried with backoff.

Headers: `X-Tidings-Event` (the kind), `X-Tidings-Delivery` (the event id, the same on every
retry, so a receiver can drop duplicates) and, with a secret, `X-Tidings-Signature:
sha256=<hex HMAC-SHA256(secret, body)>` (the scheme GitHub's webhooks use). A 2xx answer
means accepted; anything else, or no answer within the timeout, is retried.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping

import httpx

from tidings import __version__
from tidings.watch.events import STATE_EVENTS, Event
from tidings.watch.sinks.retry import RetryPolicy, SinkFailed, deliver_with_retry

SIGNATURE_PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The X-Tidings-Signature value of `body`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """Whether `header` is the signature of `body` under `secret` (constant-time)."""
    return hmac.compare_digest(sign(secret, body), header.strip())


class WebhookSink:
    """POSTs events to one URL."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        timeout: float = 10.0,
        kinds: Iterable[str] | None = None,
        max_attempts: int = 0,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.url = url
        self.kinds = frozenset(kinds) if kinds is not None else STATE_EVENTS
        self._secret = secret
        self._headers = dict(headers or {})
        self._policy = RetryPolicy(max_attempts, backoff_base, backoff_max)
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def deliver(self, event: Event) -> None:
        """POST until a 2xx answer (state events retry with backoff)."""
        body = event.to_bytes()
        headers = {
            **self._headers,
            "Content-Type": "application/json",
            "User-Agent": f"tidings-watch/{__version__}",
            "X-Tidings-Event": event.kind,
            "X-Tidings-Delivery": event.id,
        }
        if self._secret:
            headers["X-Tidings-Signature"] = sign(self._secret, body)

        async def post_once() -> None:
            try:
                response = await self._client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                raise SinkFailed(f"POST {self.url}: {type(exc).__name__}: {exc}") from None
            if not 200 <= response.status_code < 300:
                raise SinkFailed(f"POST {self.url}: HTTP {response.status_code}")

        await deliver_with_retry(self.name, event, post_once, self._policy)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
