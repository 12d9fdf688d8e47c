"""Certificates, whichever OCPP version a charger speaks: the CSMS's CA signs a charger's certificate when it asks
(SignCertificate) and asks it to renew one near expiry; what certificates a charger holds is kept from its answers
(CertificateSigned, InstallCertificate, DeleteCertificate, GetInstalledCertificateIds) in its device-model partition
under `cert#`: its own certificate (`cert#charger#<type>`) and the CA certificates installed on it
(`cert#installed#<hash algorithm>#<issuer name hash>#<serial>`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from services.connectivity import authority, chargers, commands_queue, store
from services.shared import clock
from services.shared.log import logger
from services.shared.secrets import MissingSecret, secret
from services.shared.settings import settings

# The manifest secrets holding the CA (PEM): local/ makes them at the first start, an operator once per stage in AWS.
CA_CERTIFICATE = "ca-certificate"
CA_KEY = "ca-key"
PREFIX = "cert#"
CHARGER_PREFIX = f"{PREFIX}charger#"
INSTALLED_PREFIX = f"{PREFIX}installed#"
# The charger's own certificate the CA signs (1.6's CertificateSigned names no type: it is this one).
STATION_CERTIFICATE = "ChargingStationCertificate"
# The security event a CSR the CA refused is recorded as, with what was wrong as its tech info.
CSR_REJECTED = "InvalidCsrRejected"
SOURCE = "certificates"
# How long a re-sent SignCertificate (same message id) is recognised, and not signed again.
REPLAY_WINDOW_S = 24 * 3600
# Renewals asked for in one run of the schedule, and how long before a charger that did not renew is asked again.
RENEWALS_PER_RUN = 500
ASK_AGAIN = timedelta(days=1)
# How a charger is asked to send a new SignCertificate, per version.
RENEWAL: dict[str, tuple[str, dict[str, Any]]] = {
    "ocpp1.6": ("ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}),
    "ocpp2.0.1": ("TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"}),
    "ocpp2.1": ("TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"}),
}
_ALGORITHMS: tuple[authority.HashAlgorithm, ...] = ("SHA256", "SHA384", "SHA512")


class NotSigned(Exception):
    """A signing request the CSMS refused; the message says why."""


def ca() -> authority.Authority:
    """The CA, read once per container (a failure is not cached: the next request tries again)."""
    return _loaded(secret(CA_CERTIFICATE).get_secret_value(), secret(CA_KEY).get_secret_value())


@lru_cache(maxsize=1)
def _loaded(certificate_pem: str, key_pem: str) -> authority.Authority:
    return authority.load(certificate_pem, key_pem)


def sign(charge_point_id: str, message_id: str, csr: str, at: datetime, certificate_type: str | None,
         delivery: dict[str, Any]) -> None:
    """Signs the charger's CSR and queues the chain to it (CertificateSigned with `delivery`'s fields), once the
    charger has the answer; NotSigned if the CSR is not one the CA signs, which is recorded as a security event.
    Only the charger's own certificate is signed here: a V2G certificate comes from a V2G PKI."""
    if certificate_type not in (None, STATION_CERTIFICATE):
        raise NotSigned(f"the CSMS signs {STATION_CERTIFICATE}s only, not {certificate_type}")
    try:
        request = authority.checked_csr(csr, charge_point_id, settings().organization)
    except authority.BadCsr as refused:
        chargers.security_event(charge_point_id, message_id, CSR_REJECTED, clock.iso(at), str(refused), at)
        raise NotSigned(str(refused)) from None
    try:
        issuer = ca()
    except (MissingSecret, authority.BadAuthority) as missing:
        logger.error("no CA to sign with", extra={"charge_point_id": charge_point_id, "reason": str(missing)})
        raise NotSigned("the CSMS has no certificate authority configured") from None
    if not store.first_time(charge_point_id, f"SignCertificate#{message_id}", int(at.timestamp()) + REPLAY_WINDOW_S):
        return  # a re-sent request: its certificate is already on its way
    chain = authority.sign(issuer, request, at)
    commands_queue.submit(charge_point_id, "CertificateSigned", {"certificateChain": chain, **delivery}, source=SOURCE,
                          after_s=chargers.AFTER_ANSWER_S)


def renew_due(now: datetime) -> int:
    """Asks connected chargers whose certificate expires within authority.RENEW_BEFORE_DAYS for a new CSR: at most
    RENEWALS_PER_RUN a run (the others in later runs), each at most once per ASK_AGAIN; how many were asked."""
    asked_before = clock.iso(now - ASK_AGAIN)
    due = store.certificates_due(clock.iso(now + timedelta(days=authority.RENEW_BEFORE_DAYS)), asked_before,
                                 RENEWALS_PER_RUN)
    asked = 0
    for charger in due:
        action, payload = RENEWAL.get(charger.get("ocpp_version") or "ocpp1.6", RENEWAL["ocpp1.6"])
        if store.ask_renewal(charger["charge_point_id"], clock.iso(now), asked_before):
            commands_queue.submit(charger["charge_point_id"], action, payload, source=SOURCE)
            asked += 1
    return asked


# --- what the charger's answers change (services/connectivity/answers.py) ------------------------------------

def _accepted(reply: dict[str, Any]) -> bool:
    return reply.get("status") == "Accepted"


def _described(certificate_pem: str) -> dict[str, Any] | None:
    """What is kept of the first certificate of a PEM text; None if it holds none readable."""
    try:
        chain = authority.certificates(certificate_pem)
    except ValueError:
        return None
    certificate, issuer = chain[0], (chain[1:] or [None])[0]
    hashes = {algorithm: authority.hash_data(certificate, algorithm, issuer) for algorithm in _ALGORITHMS}
    return {"subject": certificate.subject.rfc4514_string(), "serial_number": hashes["SHA256"]["serialNumber"],
            "not_after": clock.iso(certificate.not_valid_after_utc), "hash_data": hashes["SHA256"],
            "issuer_name_hashes": {algorithm: data["issuerNameHash"] for algorithm, data in hashes.items()}}


def certificate_signed(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    """The charger took its new certificate: it is the charger's, and its expiry is when to renew it."""
    payload = command["payload"]
    described = _described(payload["certificateChain"]) if _accepted(reply) else None
    if described is None:
        return
    certificate_type = payload.get("certificateType") or STATION_CERTIFICATE
    store.write_entries(charge_point_id, [{"entry_key": f"{CHARGER_PREFIX}{certificate_type}", "kind": "charger",
                                      "certificate_type": certificate_type, **described, "updated_at": clock.iso(at)}])
    if certificate_type == STATION_CERTIFICATE:
        store.set_fields(charge_point_id, {"certificate_expires_at": described["not_after"]})


def _installed_key(hash_data: dict[str, Any]) -> str:
    return (f"{INSTALLED_PREFIX}{hash_data['hashAlgorithm']}#{hash_data['issuerNameHash'].lower()}#"
            f"{_serial(hash_data['serialNumber'])}")


def _serial(text: str) -> str:
    """Chargers write serial numbers in either case, some with leading zeros."""
    return text.lower().lstrip("0") or "0"


def _matches(item: dict[str, Any], hash_data: dict[str, Any]) -> bool:
    """Whether a held certificate is the one `hash_data` names, under whichever algorithm it is hashed."""
    names = item.get("issuer_name_hashes") or {item["hash_data"]["hashAlgorithm"]: item["hash_data"]["issuerNameHash"]}
    return (_serial(item["serial_number"]) == _serial(hash_data["serialNumber"])
            and (names.get(hash_data["hashAlgorithm"]) or "").lower() == hash_data["issuerNameHash"].lower())


def certificate_installed(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    payload = command["payload"]
    described = _described(payload["certificate"]) if _accepted(reply) else None
    if described is not None:
        store.write_entries(charge_point_id, [{"entry_key": _installed_key(described["hash_data"]), "kind": "installed",
                                          "certificate_type": payload["certificateType"], **described,
                                          "updated_at": clock.iso(at)}])


def certificate_deleted(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    if _accepted(reply):
        named = command["payload"]["certificateHashData"]
        store.write_entries(charge_point_id, [], [item["entry_key"] for item in store.entries(charge_point_id, INSTALLED_PREFIX)
                                                  if _matches(item, named)])


def _reported(command: dict[str, Any], reply: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    """(certificate type, hash data) of each certificate a GetInstalledCertificateIds answer lists: 2.0.1's chains
    (with their child certificates), or 1.6's list of the one type asked for."""
    if "certificateHashData" in reply:
        return [(command["payload"].get("certificateType"), data) for data in reply["certificateHashData"]]
    return [(chain.get("certificateType"), data) for chain in reply.get("certificateHashDataChain") or []
            for data in [chain["certificateHashData"], *(chain.get("childCertificateHashData") or [])]]


def installed_ids(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    """The installed certificates of the types asked for (all when none is named) are those the charger listed:
    the others are removed, what was known of those listed is kept, and the unknown ones are added as listed."""
    if reply.get("status") not in ("Accepted", "NotFound"):
        return
    asked = command["payload"].get("certificateType")
    types = None if asked is None else {asked} if isinstance(asked, str) else set(asked)
    held = [item for item in store.entries(charge_point_id, INSTALLED_PREFIX)
            if types is None or item.get("certificate_type") in types]
    reported = _reported(command, reply) if reply["status"] == "Accepted" else []
    store.write_entries(charge_point_id, [
        {"entry_key": _installed_key(data), "kind": "installed", "certificate_type": certificate_type,
         "serial_number": _serial(data["serialNumber"]), "hash_data": data, "updated_at": clock.iso(at)}
        for certificate_type, data in reported if not any(_matches(item, data) for item in held)],
        delete=[item["entry_key"] for item in held if not any(_matches(item, data) for _, data in reported)])


def held(charge_point_id: str) -> list[dict[str, Any]]:
    """The certificates the charger holds: its own first, then the installed ones by key."""
    return sorted(store.entries(charge_point_id, PREFIX), key=lambda item: (item["kind"] != "charger", item["entry_key"]))
