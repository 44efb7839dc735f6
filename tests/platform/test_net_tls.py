"""The self-signed certificate made on first start, and configured certificates."""

from __future__ import annotations

import ipaddress
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509

from tidings.net.tls import load_or_create_certificate, make_self_signed_pem


def test_creates_self_signed_certificate_once(tmp_path: Path) -> None:
    context = load_or_create_certificate(tmp_path, None, None)
    assert isinstance(context, ssl.SSLContext)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    cert_path, key_path = tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    first = cert_path.read_bytes()
    load_or_create_certificate(tmp_path, None, None)
    assert cert_path.read_bytes() == first  # reused, not regenerated


def test_certificate_names_localhost(tmp_path: Path) -> None:
    load_or_create_certificate(tmp_path, None, None)
    certificate = x509.load_pem_x509_certificate((tmp_path / "tls" / "cert.pem").read_bytes())
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime.days >= 3650
    assert certificate.subject == certificate.issuer


def test_uses_configured_files(tmp_path: Path) -> None:
    cert_pem, key_pem = make_self_signed_pem("mail.example.test")
    cert_file, key_file = tmp_path / "c.pem", tmp_path / "k.pem"
    cert_file.write_bytes(cert_pem)
    key_file.write_bytes(key_pem)
    load_or_create_certificate(tmp_path / "data", cert_file, key_file)
    assert not (tmp_path / "data" / "tls").exists()


def test_half_a_pair_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        load_or_create_certificate(tmp_path, tmp_path / "c.pem", None)


def test_missing_configured_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        load_or_create_certificate(tmp_path, tmp_path / "c.pem", tmp_path / "k.pem")
