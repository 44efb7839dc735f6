"""The server's TLS context: the configured certificate, or a self-signed one made once.

With no certificate configured, `tidings serve` must still offer STARTTLS and IMAPS (the
interface contract), so the first start writes a self-signed certificate for localhost into
`DATA/tls/` and later starts reuse it, so clients that pinned it keep working.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tidings.net.channel_binding import register_certificate

logger = logging.getLogger(__name__)

CERT_NAME = "cert.pem"
KEY_NAME = "key.pem"
# Long enough that a test or home server never meets an expiry; it is self-signed anyway.
_VALIDITY = datetime.timedelta(days=3650)


def load_or_create_certificate(
    data_dir: Path, cert_file: Path | None, key_file: Path | None
) -> ssl.SSLContext:
    """A server-side SSLContext (TLS 1.2 or later) for the configured or self-signed cert.

    `cert_file` and `key_file` must be given together. Raises ValueError for half a pair,
    OSError/ssl.SSLError if the files cannot be read.
    """
    if (cert_file is None) != (key_file is None):
        raise ValueError("tls cert_file and key_file must be configured together")
    if cert_file is None or key_file is None:
        cert_file, key_file = ensure_self_signed(data_dir / "tls")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    # RFC 8996 deprecates TLS 1.0 and 1.1; RFC 9051 §11.1 requires TLS 1.2 or later.
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=str(cert_file), keyfile=str(key_file))
    register_certificate(context, server_end_point_hash(Path(cert_file).read_bytes()))
    return context


def server_end_point_hash(chain_pem: bytes) -> bytes | None:
    """The tls-server-end-point channel binding of the first (the server's own) certificate
    in `chain_pem` (RFC 5929 §4.1): its DER hashed with the hash of its signature
    algorithm, SHA-256 instead of MD5 or SHA-1; None when that is undefined (a signature
    with no single hash, e.g. Ed25519) or the file cannot be parsed here."""
    try:
        certificate = x509.load_pem_x509_certificates(chain_pem)[0]
        algorithm = certificate.signature_hash_algorithm
    except (ValueError, IndexError, UnsupportedAlgorithm):
        return None
    if algorithm is None:
        return None
    if isinstance(algorithm, hashes.MD5 | hashes.SHA1):
        algorithm = hashes.SHA256()
    return certificate.fingerprint(algorithm)


def ensure_self_signed(tls_dir: Path) -> tuple[Path, Path]:
    """Paths of `tls_dir/cert.pem` and `tls_dir/key.pem`, created if either is missing."""
    cert_path, key_path = tls_dir / CERT_NAME, tls_dir / KEY_NAME
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    tls_dir.mkdir(parents=True, exist_ok=True)
    cert_pem, key_pem = make_self_signed_pem()
    _write_private(key_path, key_pem)
    cert_path.write_bytes(cert_pem)
    logger.info("created a self-signed certificate in %s", tls_dir)
    return cert_path, key_path


def make_self_signed_pem(common_name: str = "localhost") -> tuple[bytes, bytes]:
    """A self-signed (certificate, private key) pair in PEM for localhost and 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    san = x509.SubjectAlternativeName(
        [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # Backdated a little so clients with a slightly slow clock accept it at once.
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + _VALIDITY)
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def _write_private(path: Path, data: bytes) -> None:
    """Write `data` to a new file that only the owner can read (mode 0600 from the start,
    so the key is never readable by others, not even briefly)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    os.chmod(path, 0o600)  # O_CREAT's mode does not apply to a file that already existed
