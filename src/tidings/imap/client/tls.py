"""TLS contexts and fingerprint pinning for the IMAP client (RFC 8314, RFC 9051 §11.1)."""

from __future__ import annotations

import hashlib
import hmac
import ssl

from tidings.imap.client.errors import CertificateProblem, Endpoint


def make_context(endpoint: Endpoint) -> ssl.SSLContext:
    """An SSLContext verifying the certificate by default.

    With a fingerprint the chain is not verified; the DER certificate is compared instead
    (see check_fingerprint). verify=False turns all checks off."""
    if endpoint.fingerprint or not endpoint.verify:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        try:
            context = ssl.create_default_context(cafile=endpoint.ca_file)
        except (OSError, ssl.SSLError) as error:
            raise CertificateProblem(f"cannot load CA file {endpoint.ca_file}: {error}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def normalize_fingerprint(text: str) -> str:
    """Lower-case hex without colons, spaces or a "sha256:" prefix."""
    text = text.strip().lower()
    text = text.removeprefix("sha256:").removeprefix("sha256=")
    return text.replace(":", "").replace(" ", "")


def check_fingerprint(endpoint: Endpoint, ssl_object: ssl.SSLObject | None) -> None:
    """Raise CertificateProblem unless the peer's DER certificate matches the pin."""
    if not endpoint.fingerprint:
        return
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not der:
        raise CertificateProblem("server sent no certificate")
    actual = hashlib.sha256(der).hexdigest()
    if not hmac.compare_digest(actual, normalize_fingerprint(endpoint.fingerprint)):
        raise CertificateProblem(f"certificate fingerprint mismatch: server has sha256 {actual}")
