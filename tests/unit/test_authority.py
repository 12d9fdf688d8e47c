"""The CSMS's CA: what it makes, which CSRs it signs, and when a certificate is due for renewal."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from services.connectivity import authority

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
ORG = "Example Charging"
SHA256 = hashes.SHA256()


def csr(common_name: str = "CP-1", organization: str = ORG, key: Any = None, digest: Any = SHA256) -> str:
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    request = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, digest)
    return request.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def ca() -> authority.Authority:
    return authority.load(*authority.new_authority(ORG, NOW))


def test_a_new_ca_is_a_self_signed_ca_of_the_organization(ca: authority.Authority) -> None:
    certificate = ca.certificate
    assert certificate.subject == certificate.issuer
    assert certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == ORG
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    certificate.verify_directly_issued_by(certificate)
    assert certificate.not_valid_after_utc - NOW == timedelta(days=authority.CA_DAYS)


def test_a_key_that_is_not_the_certificates_is_refused(ca: authority.Authority) -> None:
    _, other_key = authority.new_authority(ORG, NOW)
    with pytest.raises(authority.BadAuthority, match="not the key of the CA certificate"):
        authority.load(ca.certificate_pem, other_key)
    with pytest.raises(authority.BadAuthority, match="not PEM"):
        authority.load("placeholder", other_key)


def test_a_valid_csr_is_signed_into_a_chain_of_leaf_then_ca(ca: authority.Authority) -> None:
    chain = authority.sign(ca, authority.checked_csr(csr(), "CP-1", ORG), NOW)
    leaf, issuer = authority.certificates(chain)
    assert issuer == ca.certificate
    leaf.verify_directly_issued_by(ca.certificate)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP-1"
    assert ExtendedKeyUsageOID.CLIENT_AUTH in leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert leaf.not_valid_before_utc < NOW < leaf.not_valid_after_utc == NOW + timedelta(days=authority.CHARGER_DAYS)


@pytest.mark.parametrize(("request_pem", "reason"), [
    (csr("CP-2"), "CN is 'CP-2', not the charge point id 'CP-1'"),
    (csr(organization="Someone Else"), "O is 'Someone Else', not the CSMS's organization"),
    ("-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgQ1NS\n-----END CERTIFICATE REQUEST-----\n", "not a PEM-encoded"),
    ("hello", "not a PEM-encoded"),
])
def test_a_csr_for_another_charger_or_organization_or_unreadable_is_refused(request_pem: str, reason: str) -> None:
    with pytest.raises(authority.BadCsr, match=reason):
        authority.checked_csr(request_pem, "CP-1", ORG)


def test_a_csr_whose_signature_does_not_verify_is_refused() -> None:
    der = bytearray(x509.load_pem_x509_csr(csr().encode()).public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # inside the signature: the request still parses, its signature no longer holds
    tampered = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM).decode()
    with pytest.raises(authority.BadCsr, match="signature does not verify"):
        authority.checked_csr(tampered, "CP-1", ORG)


@pytest.mark.parametrize(("request_pem", "reason"), [
    (csr(key=rsa.generate_private_key(65537, 1024)), "key is neither an EC key of at least 256 bits nor an RSA key"),
    (csr(key=ec.generate_private_key(ec.SECP192R1())), "key is neither"),
    (csr(key=ed25519.Ed25519PrivateKey.generate(), digest=None), "not signed with SHA-256, SHA-384 or SHA-512"),
])
def test_a_csr_with_a_weak_or_unusual_key_is_refused(request_pem: str, reason: str) -> None:
    with pytest.raises(authority.BadCsr, match=reason):
        authority.checked_csr(request_pem, "CP-1", ORG)


def test_an_rsa_2048_csr_is_signed(ca: authority.Authority) -> None:
    request = authority.checked_csr(csr(key=rsa.generate_private_key(65537, 2048)), "CP-1", ORG)
    leaf, _ = authority.certificates(authority.sign(ca, request, NOW))
    assert leaf.public_key().key_size == 2048


def test_a_server_certificate_names_its_hosts_and_addresses(ca: authority.Authority) -> None:
    chain, key = authority.server_certificate(ca, ["localhost", "127.0.0.1", "::1"], NOW)
    leaf, issuer = authority.certificates(chain)
    assert issuer == ca.certificate
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    assert serialization.load_pem_private_key(key.encode(), None).public_key() == leaf.public_key()


@pytest.mark.parametrize(("left", "due"), [(timedelta(days=31), False), (timedelta(days=29), True),
                                           (timedelta(days=-1), True)])
def test_a_certificate_is_due_for_renewal_within_30_days_of_its_expiry(left: timedelta, due: bool) -> None:
    assert authority.near_expiry(NOW + left, NOW) is due


def test_hash_data_is_ocpps_and_knows_the_issuer_key_of_a_self_signed_certificate(ca: authority.Authority) -> None:
    data = authority.hash_data(ca.certificate)
    expected_name = hashes.Hash(hashes.SHA256())
    expected_name.update(ca.certificate.issuer.public_bytes())
    assert data == {"hashAlgorithm": "SHA256", "issuerNameHash": expected_name.finalize().hex(),
                    "issuerKeyHash": data["issuerKeyHash"], "serialNumber": format(ca.certificate.serial_number, "x")}
    assert len(data["issuerKeyHash"]) == 64
    assert len(authority.hash_data(ca.certificate, "SHA512")["issuerNameHash"]) == 128
    leaf = authority.certificates(authority.sign(ca, authority.checked_csr(csr(), "CP-1", ORG), NOW))[0]
    assert authority.hash_data(leaf)["issuerKeyHash"] == ""
    assert authority.hash_data(leaf, issuer=ca.certificate)["issuerKeyHash"] == data["issuerKeyHash"]
