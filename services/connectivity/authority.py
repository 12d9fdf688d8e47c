"""The CSMS's own certificate authority: its key and certificate, the chargers' certificates it signs, the server
certificates of a TLS listener, and what OCPP calls a certificate's hash data. Pure: no I/O, times given.

Keys are ECDSA P-256 (what OCPP 2.0.1's security profiles ask chargers to support) signed with SHA-256; the CA
signs only what it checked: a CSR whose signature holds, whose CN is the charger's id and whose O is the CSMS's
organization, as the OCPP security whitepaper asks.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
CHARGER_DAYS = 365
SERVER_DAYS = 365
# A certificate is renewed once less than this is left of it.
RENEW_BEFORE_DAYS = 30
# A certificate's validity starts this much before it is signed: a charger whose clock is a little behind trusts it.
BACKDATE = timedelta(minutes=5)
# The hash algorithms OCPP's CertificateHashDataType names, by the name it uses.
HashAlgorithm = Literal["SHA256", "SHA384", "SHA512"]
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"SHA256": hashes.SHA256, "SHA384": hashes.SHA384,
                                                  "SHA512": hashes.SHA512}


class BadCsr(ValueError):
    """A certificate signing request the CA does not sign; the message says what is wrong with it."""


class BadAuthority(ValueError):
    """The CA's key and certificate are missing, unreadable, or not a pair."""


@dataclass(frozen=True)
class Authority:
    certificate: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes

    @property
    def certificate_pem(self) -> str:
        return pem(self.certificate)


def pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, now: datetime,
             days: int) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(now - BACKDATE)
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))


def new_authority(organization: str, now: datetime, days: int = CA_DAYS) -> tuple[str, str]:
    """A new CA: (certificate PEM, key PEM), self-signed, for `organization`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"{organization} CA", organization)
    certificate = (_builder(name, name, key.public_key(), now, days)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                content_commitment=False, key_encipherment=False, data_encipherment=False,
                                                key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
                   .sign(key, hashes.SHA256()))
    return pem(certificate), _key_pem(key)


def load(certificate_pem: str, key_pem: str) -> Authority:
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except ValueError as error:
        raise BadAuthority(f"the CA certificate or key is not PEM: {error}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) or _spki(key.public_key()) != _spki(
            certificate.public_key()):
        raise BadAuthority("the CA key is not an EC or RSA key, or not the key of the CA certificate")
    return Authority(certificate, key)


def _spki(public_key: Any) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _one(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if len(values) == 1 else None


def checked_csr(csr_pem: str, charge_point_id: str, organization: str) -> x509.CertificateSigningRequest:
    """The CSR, if the CA may sign it for the charger; else BadCsr saying why."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem.strip().encode())
    except ValueError:
        raise BadCsr("the CSR is not a PEM-encoded PKCS#10 request") from None
    try:
        digest = csr.signature_hash_algorithm
    except UnsupportedAlgorithm:
        digest = None
    if not isinstance(digest, hashes.SHA256 | hashes.SHA384 | hashes.SHA512):
        raise BadCsr("the CSR is not signed with SHA-256, SHA-384 or SHA-512")
    if not csr.is_signature_valid:
        raise BadCsr("the CSR's signature does not verify with its public key")
    key = csr.public_key()
    if not ((isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size >= 256)
            or (isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048)):
        raise BadCsr("the CSR's key is neither an EC key of at least 256 bits nor an RSA key of at least 2048 bits")
    common_name = _one(csr.subject, NameOID.COMMON_NAME)
    if common_name != charge_point_id:
        raise BadCsr(f"the CSR's CN is {common_name!r}, not the charge point id {charge_point_id!r}")
    found = _one(csr.subject, NameOID.ORGANIZATION_NAME)
    if found != organization:
        raise BadCsr(f"the CSR's O is {found!r}, not the CSMS's organization {organization!r}")
    return csr


def sign(authority: Authority, csr: x509.CertificateSigningRequest, now: datetime, days: int = CHARGER_DAYS) -> str:
    """The charger's certificate chain (PEM): its new certificate, then the CA's."""
    public_key = csr.public_key()
    certificate = (_builder(csr.subject, authority.certificate.subject, public_key, now, days)  # type: ignore[arg-type]
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       authority.certificate.public_key()), critical=False)  # type: ignore[arg-type]
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                   .sign(authority.key, hashes.SHA256()))
    return pem(certificate) + authority.certificate_pem


def server_certificate(authority: Authority, hosts: list[str], now: datetime, days: int = SERVER_DAYS) -> tuple[str, str]:
    """A TLS server certificate for host names and IP addresses: (chain PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    organization = _one(authority.certificate.subject, NameOID.ORGANIZATION_NAME) or ""
    certificate = (_builder(_name(hosts[0], organization), authority.certificate.subject, key.public_key(), now, days)
                   .add_extension(x509.SubjectAlternativeName(names), critical=False)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .sign(authority.key, hashes.SHA256()))
    return pem(certificate) + authority.certificate_pem, _key_pem(key)


def certificates(chain_pem: str) -> list[x509.Certificate]:
    """The certificates of a PEM chain, in order; ValueError if there is none or one is unreadable."""
    found = x509.load_pem_x509_certificates(chain_pem.encode())
    if not found:
        raise ValueError("no certificate")
    return found


def near_expiry(not_after: datetime, now: datetime, within_days: int = RENEW_BEFORE_DAYS) -> bool:
    return not_after - now < timedelta(days=within_days)


def serial_text(serial_number: int) -> str:
    """A serial number as OCPP writes it: hexadecimal, lowercase, without 0x and without leading zeros."""
    return format(serial_number, "x")


def hash_data(certificate: x509.Certificate, algorithm: HashAlgorithm = "SHA256",
              issuer: x509.Certificate | None = None) -> dict[str, str]:
    """OCPP's CertificateHashData (camelCase) of a certificate. The issuer's key hash needs the issuer's key: it is
    known for a self-signed certificate (a CA certificate installed on a charger usually is) or with the issuer's
    certificate (the next one in a chain), and empty otherwise."""
    def digest(data: bytes) -> str:
        hasher = hashes.Hash(_HASHES[algorithm]())
        hasher.update(data)
        return hasher.finalize().hex()

    if issuer is None and certificate.issuer == certificate.subject:
        issuer = certificate
    key = None if issuer is None else issuer.public_key()
    key_bits = None  # the bits of the issuer's subjectPublicKey BIT STRING, as RFC 6960's issuerKeyHash
    if isinstance(key, ec.EllipticCurvePublicKey):
        key_bits = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    elif isinstance(key, rsa.RSAPublicKey):
        key_bits = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    return {"hashAlgorithm": algorithm, "issuerNameHash": digest(certificate.issuer.public_bytes()),
            "issuerKeyHash": "" if key_bits is None else digest(key_bits), "serialNumber": serial_text(certificate.serial_number)}
