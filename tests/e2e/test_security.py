"""The CSMS's CA end to end: a 2.0.1 charger's CSR comes back signed in a chain that verifies against the CA the
stack made at its first start, and a charger connects over wss:// (security profile 2: TLS and Basic) trusting
only that CA."""

from __future__ import annotations

import asyncio
import base64
import ssl
import uuid
from typing import Any

import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v201 import ChargePoint, call, call_result

from tests.e2e.charger import running, station201
from tests.e2e.stack import Stack
from tests.polling import until

pytestmark = pytest.mark.e2e


class Station(ChargePoint):
    """Takes the certificate chain the CSMS sends."""

    def __init__(self, charge_point_id: str, connection: Any, **options: Any) -> None:
        super().__init__(charge_point_id, connection, **options)
        self.chains: asyncio.Queue[str] = asyncio.Queue()

    @on("CertificateSigned")
    async def on_certificate_signed(self, certificate_chain: str, **_: Any) -> call_result.CertificateSigned:
        await self.chains.put(certificate_chain)
        return call_result.CertificateSigned(status="Accepted")


def csr(common_name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CSMS"),  # the default CSMS_ORGANIZATION
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256()).public_bytes(
        serialization.Encoding.PEM).decode()


def test_a_201_chargers_csr_comes_back_signed_by_the_csmss_ca(stack: Stack) -> None:
    cp_id = f"E2E-CERT-{uuid.uuid4().hex[:8]}"
    ca = x509.load_pem_x509_certificate(stack.ca_file.read_bytes())

    def recorded(serial_number: int) -> bool:
        _, _, found = stack.request("GET", f"/chargers/{cp_id}/certificates")
        return [(c["kind"], c["serial_number"]) for c in found["items"]] == [("charger", format(serial_number, "x"))]

    async def scenario() -> list[x509.Certificate]:
        async with station201(stack.ocpp_url, cp_id, Station) as station:
            reply = await station.call(call.SignCertificate(csr=csr(cp_id), certificate_type="ChargingStationCertificate"))
            assert reply.status == "Accepted"
            chain = x509.load_pem_x509_certificates((await asyncio.wait_for(station.chains.get(), 15)).encode())
            # Connected until the CSMS has the charger's Accepted, which records the certificate as the charger's.
            assert await until(lambda: asyncio.to_thread(recorded, chain[0].serial_number), 10)
            return chain

    chain = asyncio.run(scenario())
    assert [c.subject for c in chain[1:]] == [ca.subject]
    chain[0].verify_directly_issued_by(ca)
    assert chain[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == cp_id


def test_a_charger_connects_over_tls_trusting_the_ca_with_basic_auth(stack: Stack) -> None:
    cp_id = f"E2E-TLS-{uuid.uuid4().hex[:8]}"
    password = "correct horse battery"
    status, _, _ = stack.request("PUT", f"/chargers/{cp_id}", {"password": password})
    assert status == 201
    trust = ssl.create_default_context(cafile=stack.ca_file)  # verifies the chain and the host name (127.0.0.1)

    async def scenario() -> None:
        with pytest.raises(websockets.InvalidStatus) as refused:  # TLS alone is not enough: profile 2 is TLS and Basic
            async with websockets.connect(f"{stack.wss_url}/{cp_id}", subprotocols=["ocpp1.6"], ssl=trust):
                pass
        assert refused.value.response.status_code == 401
        basic = base64.b64encode(f"{cp_id}:{password}".encode()).decode()
        async with websockets.connect(f"{stack.wss_url}/{cp_id}", subprotocols=["ocpp1.6"], ssl=trust,
                                      additional_headers={"Authorization": f"Basic {basic}"}) as ws:
            async with running(ChargePoint16(cp_id, ws, response_timeout=15)) as charger:
                reply = await charger.call(call16.BootNotification(charge_point_vendor="ACME", charge_point_model="TLS"))
                assert reply.status == "Accepted"

    asyncio.run(scenario())
