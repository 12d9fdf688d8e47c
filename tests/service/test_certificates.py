"""Certificates: SignCertificate in both versions signed by the CSMS's CA (or refused and recorded), renewals asked
for on schedule, and what chargers' answers say they hold (GET /chargers/{id}/certificates)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.connectivity import authority, certificates, handlers, store
from services.shared import clock
from services.shared.ocpp import schemas
from services.shared.settings import settings
from tests.service.helpers import call_api, connect_charger, context, frame_id, posted_frames, send_frame
from tests.service.test_ocpp201_provisioning import woken

CP = "CP-CERT"
V16, V201 = "ocpp1.6", "ocpp2.0.1"
NOW = clock.now()


@pytest.fixture(scope="module")
def ca_pems() -> tuple[str, str]:
    return authority.new_authority(settings().organization, NOW)


@pytest.fixture
def with_ca(ca_pems: tuple[str, str], monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> authority.Authority:
    """The CA in the (in-process) Secrets Manager, as local/provision.py puts it there from the environment."""
    monkeypatch.setenv("CSMS_SECRET_CA_CERTIFICATE", ca_pems[0])
    monkeypatch.setenv("CSMS_SECRET_CA_KEY", ca_pems[1])
    request.getfixturevalue("aws_env")
    return authority.load(*ca_pems)


def csr(common_name: str = CP, organization: str | None = None) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization or settings().organization),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256()).public_bytes(
        serialization.Encoding.PEM).decode()


def online(version: str, charge_point_id: str = CP) -> str:
    connection_id, reply = connect_charger(charge_point_id, protocols=version)
    assert reply["statusCode"] == 200
    return connection_id


def result(connection_id: str, version: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    unique_id = frame_id()
    reply = send_frame(CP, connection_id, [2, unique_id, action, payload], ocpp_version=version)
    assert reply is not None and reply[:2] == [3, unique_id], reply
    assert schemas.problems(version, action, reply[2], response=True) == []
    return reply[2]


def calls(connection_id: str, action: str) -> list[list]:
    return [frame for frame in posted_frames(connection_id) if frame[0] == 2 and frame[2] == action]


def answered(connection_id: str, version: str, call: list, reply: dict[str, Any]) -> None:
    assert send_frame(CP, connection_id, [3, call[1], reply], ocpp_version=version) is None


def command(connection_id: str, version: str, action: str, payload: dict[str, Any], reply: dict[str, Any]) -> None:
    """An operator's command, sent and answered."""
    assert call_api("POST", f"/chargers/{CP}/commands", {"action": action, "payload": payload})["statusCode"] == 202
    answered(connection_id, version, calls(connection_id, action)[-1], reply)


def held() -> list[dict[str, Any]]:
    reply = call_api("GET", f"/chargers/{CP}/certificates", scopes="read-only")
    assert reply["statusCode"] == 200, reply["body"]
    return reply["json"]["items"]


def verified_chain(chain_pem: str, ca: authority.Authority) -> x509.Certificate:
    leaf, issuer = authority.certificates(chain_pem)
    assert issuer == ca.certificate
    leaf.verify_directly_issued_by(ca.certificate)
    return leaf


# --- SignCertificate -------------------------------------------------------------------------------

@pytest.mark.parametrize("version", [V201, V16])
def test_a_valid_csr_is_accepted_and_the_signed_chain_follows_the_answer(with_ca: authority.Authority, version: str) -> None:
    connection_id = online(version)

    assert result(connection_id, version, "SignCertificate", {"csr": csr()})["status"] == "Accepted"

    assert calls(connection_id, "CertificateSigned") == []  # not before the charger has its answer
    woken()
    [call] = calls(connection_id, "CertificateSigned")
    leaf = verified_chain(call[3]["certificateChain"], with_ca)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == CP
    assert call[3].get("certificateType") == ("ChargingStationCertificate" if version == V201 else None)
    assert schemas.problems(version, "CertificateSigned", call[3]) == []

    answered(connection_id, version, call, {"status": "Accepted"})
    [mine] = held()
    assert mine["kind"] == "charger" and mine["certificate_type"] == "ChargingStationCertificate"
    assert mine["serial_number"] == format(leaf.serial_number, "x")
    assert mine["not_after"] == clock.iso(leaf.not_valid_after_utc)
    assert mine["hash_data"]["issuer_key_hash"] == authority.hash_data(with_ca.certificate)["issuerKeyHash"]
    assert store.get_charger(CP)["certificate_expires_at"] == mine["not_after"]


def test_a_re_sent_sign_certificate_is_answered_again_but_signed_once(with_ca: authority.Authority) -> None:
    connection_id = online(V201)
    request = [2, frame_id(), "SignCertificate", {"csr": csr()}]
    for _ in range(2):  # the charger did not get the first answer, and sends the same CALL again
        assert send_frame(CP, connection_id, request, ocpp_version=V201)[2]["status"] == "Accepted"
    woken()
    assert len(calls(connection_id, "CertificateSigned")) == 1
    listed = call_api("GET", f"/chargers/{CP}/commands", scopes="read-only")["json"]["items"]
    assert [c["action"] for c in listed] == ["CertificateSigned"]


def test_a_certificate_the_charger_refused_is_not_recorded(with_ca: authority.Authority) -> None:
    connection_id = online(V201)
    result(connection_id, V201, "SignCertificate", {"csr": csr()})
    woken()
    answered(connection_id, V201, calls(connection_id, "CertificateSigned")[0], {"status": "Rejected"})
    assert held() == []
    assert "certificate_expires_at" not in store.get_charger(CP)


@pytest.mark.parametrize(("request_csr", "reason"), [
    (lambda: csr("CP-OTHER"), "CN is 'CP-OTHER', not the charge point id"),
    (lambda: csr(organization="Mallory"), "O is 'Mallory', not the CSMS's organization"),
    (lambda: "not a CSR", "not a PEM-encoded PKCS#10 request"),
])
def test_an_invalid_csr_is_rejected_and_recorded_as_a_security_event(with_ca: authority.Authority, request_csr: Any,
                                                                     reason: str) -> None:
    connection_id = online(V201)

    answer = result(connection_id, V201, "SignCertificate", {"csr": request_csr()})

    assert answer["status"] == "Rejected" and answer["statusInfo"]["reasonCode"] == "InvalidCSR"
    assert reason in answer["statusInfo"]["additionalInfo"]
    assert triggers(CP) == []  # no CertificateSigned queued
    [event] = call_api("GET", f"/chargers/{CP}/security-events", scopes="read-only")["json"]["items"]
    assert event["type"] == certificates.CSR_REJECTED and reason in event["tech_info"]


def test_a_1_6_invalid_csr_is_rejected_and_recorded_too(with_ca: authority.Authority) -> None:
    connection_id = online(V16)
    assert result(connection_id, V16, "SignCertificate", {"csr": csr("CP-OTHER")}) == {"status": "Rejected"}
    assert [e["type"] for e in call_api("GET", f"/chargers/{CP}/security-events")["json"]["items"]] == [
        certificates.CSR_REJECTED]


def test_a_v2g_certificate_is_not_the_csmss_to_sign(with_ca: authority.Authority) -> None:
    connection_id = online(V201)
    answer = result(connection_id, V201, "SignCertificate", {"csr": csr(), "certificateType": "V2GCertificate"})
    assert answer["status"] == "Rejected" and "V2GCertificate" in answer["statusInfo"]["additionalInfo"]


def test_without_a_ca_a_valid_csr_is_rejected_not_an_error(aws_env: None) -> None:
    connection_id = online(V201)
    answer = result(connection_id, V201, "SignCertificate", {"csr": csr()})
    assert answer["status"] == "Rejected" and "no certificate authority" in answer["statusInfo"]["additionalInfo"]


# --- renewals ------------------------------------------------------------------------------------

def expiring(charge_point_id: str, version: str, in_days: int) -> str:
    connection_id = online(version, charge_point_id)
    store.set_fields(charge_point_id, {"certificate_expires_at": clock.iso(NOW + timedelta(days=in_days))})
    return connection_id


def renewals() -> int:
    return handlers.renew_certificates({}, context("renewal"))["asked"]


def triggers(charge_point_id: str) -> list[tuple[str, dict[str, Any]]]:
    items = call_api("GET", f"/chargers/{charge_point_id}/commands", scopes="read-only")["json"]["items"]
    return [(item["action"], item["payload"]) for item in items]


def test_chargers_near_expiry_are_asked_to_renew_once_a_day(aws_env: None) -> None:
    expiring("CP-R16", V16, 10)
    expiring("CP-R201", V201, 29)
    expiring("CP-LATER", V201, 60)
    expiring("CP-AWAY", V201, 1)
    call_api("DELETE", "/chargers/CP-AWAY")  # a deleted charger is never asked

    assert renewals() == 2

    assert triggers("CP-R16") == [("ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"})]
    assert triggers("CP-R201") == [("TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"})]
    assert triggers("CP-LATER") == []
    assert renewals() == 0  # asked today already


def test_a_run_asks_at_most_its_share_and_the_next_run_the_rest(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(certificates, "RENEWALS_PER_RUN", 1)
    expiring("CP-A", V201, 5)
    expiring("CP-B", V201, 5)

    assert [renewals(), renewals(), renewals()] == [1, 1, 0]
    assert len(triggers("CP-A")) == len(triggers("CP-B")) == 1


def test_a_charger_asked_yesterday_is_asked_again(aws_env: None) -> None:
    expiring("CP-SLOW", V201, 5)
    store.set_fields("CP-SLOW", {"certificate_renewal_at": clock.iso(NOW - timedelta(days=1, minutes=1))})
    assert renewals() == 1


# --- what the charger holds ---------------------------------------------------------------------

def root(name: str) -> tuple[str, x509.Certificate]:
    pem, _ = authority.new_authority(name, NOW)
    return pem, authority.certificates(pem)[0]


@pytest.fixture
def charger201(aws_env: None) -> Iterator[str]:
    yield online(V201)


def test_installed_certificates_are_kept_and_deleted_by_any_hash(charger201: str) -> None:
    pem, certificate = root("Root One")
    command(charger201, V201, "InstallCertificate", {"certificateType": "CSMSRootCertificate", "certificate": pem},
            {"status": "Accepted"})
    [item] = held()
    assert item["kind"] == "installed" and item["certificate_type"] == "CSMSRootCertificate"
    assert item["subject"] == certificate.subject.rfc4514_string() and item["not_after"]

    command(charger201, V201, "DeleteCertificate", {"certificateHashData": authority.hash_data(certificate, "SHA384")},
            {"status": "Accepted"})
    assert held() == []


def test_a_refused_install_or_delete_changes_nothing(charger201: str) -> None:
    pem, certificate = root("Root One")
    command(charger201, V201, "InstallCertificate", {"certificateType": "CSMSRootCertificate", "certificate": pem},
            {"status": "Rejected"})
    assert held() == []
    command(charger201, V201, "InstallCertificate", {"certificateType": "CSMSRootCertificate", "certificate": pem},
            {"status": "Accepted"})
    command(charger201, V201, "DeleteCertificate", {"certificateHashData": authority.hash_data(certificate)},
            {"status": "Failed"})
    assert len(held()) == 1


def test_installed_ids_replace_the_held_list_of_the_types_asked(charger201: str) -> None:
    kept_pem, kept = root("Kept")
    gone_pem, _ = root("Gone")
    manufacturer_pem, manufacturer = root("Maker")
    for pem, kind in [(kept_pem, "CSMSRootCertificate"), (gone_pem, "CSMSRootCertificate"),
                      (manufacturer_pem, "ManufacturerRootCertificate")]:
        command(charger201, V201, "InstallCertificate", {"certificateType": kind, "certificate": pem}, {"status": "Accepted"})
    _, unknown = root("Unknown")

    command(charger201, V201, "GetInstalledCertificateIds", {"certificateType": ["CSMSRootCertificate"]}, {
        "status": "Accepted", "certificateHashDataChain": [
            {"certificateType": "CSMSRootCertificate", "certificateHashData": authority.hash_data(kept, "SHA512")},
            {"certificateType": "CSMSRootCertificate", "certificateHashData": authority.hash_data(unknown)}]})

    found = {(i["certificate_type"], i["serial_number"]): i for i in held()}
    assert set(found) == {("CSMSRootCertificate", format(kept.serial_number, "x")),
                          ("CSMSRootCertificate", format(unknown.serial_number, "x")),
                          ("ManufacturerRootCertificate", format(manufacturer.serial_number, "x"))}
    assert found[("CSMSRootCertificate", format(kept.serial_number, "x"))]["subject"]  # what was known is kept
    assert found[("CSMSRootCertificate", format(unknown.serial_number, "x"))]["subject"] is None

    command(charger201, V201, "GetInstalledCertificateIds", {}, {"status": "NotFound"})
    assert held() == []


def test_1_6_installed_ids_name_the_one_type_asked(aws_env: None) -> None:
    connection_id = online(V16)
    pem, certificate = root("Central")
    command(connection_id, V16, "InstallCertificate", {"certificateType": "CentralSystemRootCertificate",
                                                       "certificate": pem}, {"status": "Accepted"})
    _, other = root("Other")
    data = authority.hash_data(other)
    command(connection_id, V16, "GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"},
            {"status": "Accepted", "certificateHashData": [{**data, "serialNumber": data["serialNumber"].upper()}]})
    assert [(i["certificate_type"], i["serial_number"]) for i in held()] == [
        ("CentralSystemRootCertificate", format(other.serial_number, "x"))]


def test_an_unknown_chargers_certificates_are_404(aws_env: None) -> None:
    assert call_api("GET", "/chargers/CP-NOBODY/certificates")["statusCode"] == 404


def test_certificates_sort_the_chargers_own_first(with_ca: authority.Authority) -> None:
    connection_id = online(V201)
    pem, _ = root("Root")
    command(connection_id, V201, "InstallCertificate", {"certificateType": "CSMSRootCertificate", "certificate": pem},
            {"status": "Accepted"})
    result(connection_id, V201, "SignCertificate", {"csr": csr()})
    woken()
    answered(connection_id, V201, calls(connection_id, "CertificateSigned")[0], {"status": "Accepted"})
    assert [i["kind"] for i in held()] == ["charger", "installed"]

