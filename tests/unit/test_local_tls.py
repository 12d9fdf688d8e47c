"""`csms run`'s CA and wss:// certificate: made once, kept across starts, and refused when half given."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from cryptography import x509

from local import tls


@pytest.fixture(autouse=True)
def no_given_ca(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CSMS_SECRET_CA_CERTIFICATE", raising=False)
    monkeypatch.delenv("CSMS_SECRET_CA_KEY", raising=False)


def test_the_ca_is_made_at_the_first_start_and_kept(tmp_path: Path) -> None:
    first = tls.ensure_authority(tmp_path)
    key = tmp_path / "secrets" / "ca-key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert tls.ensure_authority(tmp_path).certificate == first.certificate


def test_half_a_ca_is_refused(tmp_path: Path) -> None:
    tls.ensure_authority(tmp_path)
    (tmp_path / "secrets" / "ca-key").unlink()
    with pytest.raises(SystemExit, match="needs both"):
        tls.ensure_authority(tmp_path)


def test_the_server_certificate_is_signed_by_the_ca_for_this_machine(tmp_path: Path) -> None:
    context, served = tls.server_context(tmp_path, "0.0.0.0")
    assert isinstance(context, ssl.SSLContext) and context.minimum_version == ssl.TLSVersion.TLSv1_2
    leaf, issuer = x509.load_pem_x509_certificates(served.read_bytes())
    leaf.verify_directly_issued_by(tls.ensure_authority(tmp_path).certificate)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert "0.0.0.0" not in [str(a) for a in names.get_values_for_type(x509.IPAddress)]


def test_a_given_certificate_that_does_not_load_is_refused(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("not a certificate")
    with pytest.raises(SystemExit, match="cannot serve wss://"):
        tls.server_context(tmp_path, "127.0.0.1", tmp_path / "cert.pem", tmp_path / "key.pem")
