"""The OCPP router: every frame from a charger gets a CALLRESULT or the CALLERROR its version spells.

The registry is built from a fake manifest whose routes name the handlers below ("tests.unit.test_dispatch:<name>").
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

import pytest
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from services.shared.manifest import OcppReplyRoute, OcppRoute, ServiceManifest
from services.shared.ocpp import dispatch, framing
from services.shared.ocpp.dispatch import OcppContext, Registry
from services.shared.ocpp.errors import Cause, OcppError

V16 = "ocpp1.6"
V201 = "ocpp2.0.1"
HERE = __name__
NOW = "2024-01-01T00:00:00.000Z"
RECEIVED_AT = datetime(2024, 1, 1, tzinfo=timezone.utc)

# What the handlers saw, newest last.
seen: list[tuple[OcppContext, Any]] = []


# --- handlers the fake registry points at ---------------------------------------------------------


def heartbeat16(ctx: OcppContext, request: call16.Heartbeat) -> result16.Heartbeat:
    seen.append((ctx, request))
    return result16.Heartbeat(current_time=NOW)


def boot16(ctx: OcppContext, request: call16.BootNotification) -> result16.BootNotification:
    seen.append((ctx, request))
    return result16.BootNotification(current_time=NOW, interval=300, status="Accepted")


def status16(ctx: OcppContext, request: call16.StatusNotification) -> result16.StatusNotification:
    seen.append((ctx, request))
    return result16.StatusNotification()


def heartbeat201(ctx: OcppContext, request: call201.Heartbeat) -> result201.Heartbeat:
    seen.append((ctx, request))
    return result201.Heartbeat(current_time=NOW)


def boot201(ctx: OcppContext, request: call201.BootNotification) -> result201.BootNotification:
    seen.append((ctx, request))
    return result201.BootNotification(current_time=NOW, interval=300, status="Accepted")


def status201(ctx: OcppContext, request: call201.StatusNotification) -> result201.StatusNotification:
    seen.append((ctx, request))
    return result201.StatusNotification()


def data_transfer201(ctx: OcppContext, request: call201.DataTransfer) -> result201.DataTransfer:
    seen.append((ctx, request))
    return result201.DataTransfer(status="Accepted")


def explode(ctx: OcppContext, request: Any) -> Any:
    raise RuntimeError("handler bug")


def naive_time_reply(ctx: OcppContext, request: Any) -> result16.Heartbeat:
    return result16.Heartbeat(current_time="2024-01-01T00:00:00")


def empty_reply(ctx: OcppContext, request: Any) -> dict[str, Any]:
    return {}


def refuse(ctx: OcppContext, request: Any) -> Any:
    raise OcppError(Cause.PROPERTY, "connector 9 does not exist", {"path": "$.connectorId"})


def record_reply(ctx: OcppContext, frame: framing.Frame) -> None:
    seen.append((ctx, frame))


def reply_crash(ctx: OcppContext, frame: framing.Frame) -> None:
    raise RuntimeError("replies bug")


def reply_refuse(ctx: OcppContext, frame: framing.Frame) -> None:
    raise OcppError(Cause.PROPERTY, "reply does not match its schema")


def _ref(handler: Callable[..., Any]) -> str:
    return f"{HERE}:{handler.__name__}"


ANSWERED = (
    OcppRoute(V16, "Heartbeat", _ref(heartbeat16)),
    OcppRoute(V16, "BootNotification", _ref(boot16)),
    OcppRoute(V16, "StatusNotification", _ref(status16)),
    OcppRoute(V201, "Heartbeat", _ref(heartbeat201)),
    OcppRoute(V201, "BootNotification", _ref(boot201)),
    OcppRoute(V201, "StatusNotification", _ref(status201)),
    OcppRoute(V201, "DataTransfer", _ref(data_transfer201)),
)
RECORD_REPLIES = tuple(OcppReplyRoute(version, _ref(record_reply)) for version in (V16, V201))

UseRegistry = Callable[..., None]


@pytest.fixture
def use_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[UseRegistry]:
    """Installs the registry of a fake manifest: by default it answers ANSWERED, with record_reply for replies."""

    def install(routes: tuple[OcppRoute, ...] = ANSWERED, replies: tuple[OcppReplyRoute, ...] = RECORD_REPLIES) -> None:
        fake = Registry.of((ServiceManifest("fake", ocpp_routes=routes, ocpp_replies=replies),))
        monkeypatch.setattr(dispatch, "registry", lambda: fake)

    seen.clear()
    install()
    yield install
    seen.clear()


def _ctx(version: str) -> OcppContext:
    return OcppContext("CP-1", version, "conn-1", framing.UNKNOWN_ID, RECEIVED_AT)


def _send(version: str, message: Any) -> str | None:
    text = message if isinstance(message, (str, bytes)) else json.dumps(message)
    return dispatch.handle_frame(text, _ctx(version))


def _callerror(reply: str | None) -> list[Any]:
    """The reply as a CALLERROR, checked for shape: [4, id, code, description, details (object)]."""
    assert reply is not None, "expected a CALLERROR, got no answer"
    message = json.loads(reply)
    assert isinstance(message, list) and len(message) == 5, message
    assert message[0] == framing.CALLERROR
    assert isinstance(message[1], str) and isinstance(message[2], str) and isinstance(message[3], str)
    assert len(message[3]) <= 255
    assert isinstance(message[4], dict)
    return message


# --- CALLRESULTs ----------------------------------------------------------------------------------


def test_heartbeat_is_answered_with_a_callresult(use_registry: UseRegistry) -> None:
    reply = _send(V16, [2, "hb-1", "Heartbeat", {}])
    assert reply is not None
    assert json.loads(reply) == [3, "hb-1", {"currentTime": NOW}]
    [(ctx, request)] = seen
    assert isinstance(request, call16.Heartbeat)
    assert ctx.unique_id == "hb-1"
    assert (ctx.charge_point_id, ctx.ocpp_version, ctx.connection_id, ctx.received_at) == ("CP-1", V16, "conn-1", RECEIVED_AT)


def test_boot_notification_request_is_snake_case_and_reply_camel_case(use_registry: UseRegistry) -> None:
    payload = {"chargePointVendor": "Vendor", "chargePointModel": "Model", "firmwareVersion": "1.2"}
    reply = _send(V16, [2, "boot-1", "BootNotification", payload])
    assert reply is not None
    assert json.loads(reply) == [3, "boot-1", {"currentTime": NOW, "interval": 300, "status": "Accepted"}]
    [(_, request)] = seen
    assert isinstance(request, call16.BootNotification)
    assert (request.charge_point_vendor, request.charge_point_model, request.firmware_version) == ("Vendor", "Model", "1.2")


def test_empty_response_payload_is_an_empty_object(use_registry: UseRegistry) -> None:
    payload = {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": "2024-01-01T00:00:00Z"}
    assert _send(V16, [2, "sn-1", "StatusNotification", payload]) == '[3,"sn-1",{}]'


@pytest.mark.parametrize(("sent", "handled"), [("noError", "NoError"), ("GROUNDFAILURE", "GroundFailure"),
                                               ("NoError", "NoError"), ("Error", "Error")])
def test_a_16_error_code_in_another_case_is_the_enums_own_and_an_unknown_one_is_kept(
        use_registry: UseRegistry, sent: str, handled: str) -> None:
    assert _send(V16, [2, "sn-2", "StatusNotification", {**STATUS_16, "errorCode": sent}]) == '[3,"sn-2",{}]'
    [(_, request)] = seen
    assert request.error_code == handled


def test_v201_boot_notification(use_registry: UseRegistry) -> None:
    payload = {"chargingStation": {"model": "Model", "vendorName": "Vendor"}, "reason": "PowerUp"}
    reply = _send(V201, [2, "boot-2", "BootNotification", payload])
    assert reply is not None
    assert json.loads(reply) == [3, "boot-2", {"currentTime": NOW, "interval": 300, "status": "Accepted"}]
    [(ctx, request)] = seen
    assert isinstance(request, call201.BootNotification)
    assert request.reason == "PowerUp"
    assert ctx.unique_id == "boot-2"


def test_v201_heartbeat(use_registry: UseRegistry) -> None:
    assert _send(V201, [2, "hb-2", "Heartbeat", {}]) == f'[3,"hb-2",{{"currentTime":"{NOW}"}}]'


def test_v201_data_transfer_keeps_the_vendors_data_as_sent(use_registry: UseRegistry) -> None:
    data = {"meterId": "M-1", "nested": [{"someKey": 1}]}
    assert _send(V201, [2, "dt-1", "DataTransfer", {"vendorId": "com.acme", "messageId": "Readings", "data": data}]) \
        == '[3,"dt-1",{"status":"Accepted"}]'
    [(_, request)] = seen
    assert (request.vendor_id, request.message_id, request.data) == ("com.acme", "Readings", data)


def test_two_calls_are_each_answered_with_their_own_id(use_registry: UseRegistry) -> None:
    assert json.loads(_send(V16, [2, "a", "Heartbeat", {}]) or "null")[1] == "a"
    assert json.loads(_send(V16, [2, "b", "Heartbeat", {}]) or "null")[1] == "b"
    assert [ctx.unique_id for ctx, _ in seen] == ["a", "b"]


# --- CALLERRORs by cause, in each version's spelling ----------------------------------------------

BOOT_16 = {"chargePointVendor": "Vendor", "chargePointModel": "Model"}
STATUS_16 = {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": "2024-01-01T00:00:00Z"}
BOOT_201 = {"chargingStation": {"model": "Model", "vendorName": "Vendor"}, "reason": "PowerUp"}
STATUS_201 = {"timestamp": "2024-01-01T00:00:00Z", "connectorStatus": "Available", "evseId": 1, "connectorId": 1}

CASES_16: list[tuple[str, Any, str, str]] = [
    ("not JSON", "hello", "-1", "FormationViolation"),
    ("object", '{"a":1}', "-1", "FormationViolation"),
    ("number", "42", "-1", "FormationViolation"),
    ("empty array", "[]", "-1", "FormationViolation"),
    ("unknown message type", [5, "m1", "Heartbeat", {}], "m1", "ProtocolError"),
    ("string message type", ["2", "m1", "Heartbeat", {}], "m1", "ProtocolError"),
    ("short CALL", [2, "m1", "Heartbeat"], "m1", "FormationViolation"),
    ("id too long", [2, "x" * 37, "Heartbeat", {}], "-1", "FormationViolation"),
    ("wrong type", [2, "m1", "BootNotification", {**BOOT_16, "chargePointVendor": 7}], "m1", "TypeConstraintViolation"),
    ("missing field", [2, "m1", "BootNotification", {"chargePointVendor": "V"}], "m1", "OccurenceConstraintViolation"),
    ("unknown property", [2, "m1", "BootNotification", {**BOOT_16, "colour": "red"}], "m1", "FormationViolation"),
    ("bad enum", [2, "m1", "StatusNotification", {**STATUS_16, "status": "Sleeping"}], "m1", "PropertyConstraintViolation"),
    ("too long", [2, "m1", "BootNotification", {**BOOT_16, "chargePointModel": "x" * 21}], "m1", "PropertyConstraintViolation"),
    ("naive date-time", [2, "m1", "StatusNotification", {**STATUS_16, "timestamp": "2024-01-01T00:00:00"}], "m1", "PropertyConstraintViolation"),
    ("unknown action", [2, "m1", "FooBar", {}], "m1", "NotImplemented"),
    ("action of another version", [2, "m1", "TransactionEvent", {}], "m1", "NotImplemented"),
    ("known, not answered", [2, "m1", "Authorize", {"idTag": "TAG"}], "m1", "NotSupported"),
    ("CSMS action sent by a charger", [2, "m1", "Reset", {"type": "Soft"}], "m1", "NotSupported"),
]

CASES_201: list[tuple[str, Any, str, str]] = [
    ("not JSON", "hello", "-1", "RpcFrameworkError"),
    ("object", '{"a":1}', "-1", "RpcFrameworkError"),
    ("number", "42", "-1", "RpcFrameworkError"),
    ("empty array", "[]", "-1", "RpcFrameworkError"),
    ("unknown message type", [5, "m1", "Heartbeat", {}], "m1", "MessageTypeNotSupported"),
    ("string message type", ["2", "m1", "Heartbeat", {}], "m1", "MessageTypeNotSupported"),
    ("short CALLRESULT", [3, "m1"], "m1", "RpcFrameworkError"),
    ("lone surrogate", '[2,"m1","DataTransfer",{"vendorId":"\\ud800"}]', "m1", "FormatViolation"),
    ("short CALL", [2, "m1", "Heartbeat"], "m1", "RpcFrameworkError"),
    ("id too long", [2, "x" * 37, "Heartbeat", {}], "-1", "RpcFrameworkError"),
    ("duplicate key", '[2,"m1","Heartbeat",{"a":1,"a":2}]', "m1", "FormatViolation"),
("wrong type", [2, "m1", "BootNotification", {**BOOT_201, "chargingStation": {"model": 1, "vendorName": "V"}}], "m1", "TypeConstraintViolation"),
    ("missing field", [2, "m1", "BootNotification", {"chargingStation": BOOT_201["chargingStation"]}], "m1", "OccurrenceConstraintViolation"),
    ("unknown property", [2, "m1", "BootNotification", {**BOOT_201, "colour": "red"}], "m1", "FormatViolation"),
    ("bad enum", [2, "m1", "BootNotification", {**BOOT_201, "reason": "Bored"}], "m1", "PropertyConstraintViolation"),
    ("naive date-time", [2, "m1", "StatusNotification", {**STATUS_201, "timestamp": "2024-01-01T00:00:00"}], "m1", "PropertyConstraintViolation"),
    ("too long", [2, "m1", "DataTransfer", {"vendorId": "x" * 256}], "m1", "PropertyConstraintViolation"),
    ("wrong type of a nested id", [2, "m1", "StatusNotification", {**STATUS_201, "evseId": "1"}], "m1", "TypeConstraintViolation"),
    ("unknown action", [2, "m1", "FooBar", {}], "m1", "NotImplemented"),
    ("action of another version", [2, "m1", "StartTransaction", {}], "m1", "NotImplemented"),
    ("known, not answered", [2, "m1", "Authorize", {"idToken": {"idToken": "TAG", "type": "ISO14443"}}], "m1", "NotSupported"),
    ("CSMS action sent by a charger", [2, "m1", "Reset", {"type": "Immediate"}], "m1", "NotSupported"),
]


@pytest.mark.parametrize(
    ("version", "message", "unique_id", "code"),
    [pytest.param(V16, m, i, c, id=f"1.6-{name}") for name, m, i, c in CASES_16]
    + [pytest.param(V201, m, i, c, id=f"2.0.1-{name}") for name, m, i, c in CASES_201],
)
def test_callerror_by_cause(use_registry: UseRegistry, version: str, message: Any, unique_id: str, code: str) -> None:
    error = _callerror(_send(version, message))
    assert error[1:3] == [unique_id, code]
    assert error[3], "the description should say what to fix"
    assert seen == [], "no handler may run for a refused frame"


def test_schema_failure_details_carry_the_path(use_registry: UseRegistry) -> None:
    error = _callerror(_send(V16, [2, "m1", "BootNotification", {"chargePointVendor": "V"}]))
    assert error[4] == {"path": "$.chargePointModel"}


def test_non_json_bytes_get_an_answer(use_registry: UseRegistry) -> None:
    assert _callerror(dispatch.handle_frame(b"\xff\xfe\xfd", _ctx(V16)))[1:3] == ["-1", "FormationViolation"]


def test_deeply_nested_json_gets_an_answer(use_registry: UseRegistry) -> None:
    """BUG (framing.decode lets RecursionError escape; handle_frame then answers None because frame
    is None): every frame must get an answer, here [4,"-1","FormationViolation",...]."""
    error = _callerror(_send(V16, "[" * 100_000))
    assert error[1:3] == ["-1", "FormationViolation"]


@pytest.mark.parametrize(("version", "code"), [(V16, "GenericError"), (V201, "InternalError")])
def test_handler_exception_is_an_internal_error_and_does_not_propagate(use_registry: UseRegistry, version: str, code: str) -> None:
    use_registry((OcppRoute(version, "Heartbeat", _ref(explode)),))
    error = _callerror(_send(version, [2, "m1", "Heartbeat", {}]))
    assert error[1:3] == ["m1", code]
    assert "handler bug" not in error[3], "internal details stay in the log"


@pytest.mark.parametrize("handler", [naive_time_reply, empty_reply])
def test_reply_violating_its_response_schema_is_generic_error(use_registry: UseRegistry, handler: Callable[..., Any]) -> None:
    use_registry((OcppRoute(V16, "Heartbeat", _ref(handler)),))
    assert _callerror(_send(V16, [2, "m1", "Heartbeat", {}]))[1:3] == ["m1", "GenericError"]


def test_handler_raising_ocpp_error_gets_its_cause(use_registry: UseRegistry) -> None:
    use_registry((OcppRoute(V201, "Heartbeat", _ref(refuse)),))
    error = _callerror(_send(V201, [2, "m1", "Heartbeat", {}]))
    assert error == [4, "m1", "PropertyConstraintViolation", "connector 9 does not exist", {"path": "$.connectorId"}]


# --- replies to our own CALLs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ([3, "cmd-1", {"status": "Accepted"}], framing.CallResult),
        ([4, "cmd-1", "NotSupported", "no", {}], framing.CallError),
    ],
)
def test_replies_go_to_the_replies_handler_and_get_no_answer(use_registry: UseRegistry, message: list[Any], kind: type) -> None:
    assert _send(V16, message) is None
    [(ctx, frame)] = seen
    assert isinstance(frame, kind)
    assert frame.unique_id == ctx.unique_id == "cmd-1"


def test_replies_without_a_replies_handler_get_no_answer(use_registry: UseRegistry) -> None:
    use_registry(replies=())
    assert _send(V16, [3, "cmd-1", {"status": "Accepted"}]) is None


def test_replies_are_routed_by_the_connections_version(use_registry: UseRegistry) -> None:
    use_registry(replies=(OcppReplyRoute(V201, _ref(record_reply)),))
    assert _send(V16, [3, "cmd-1", {"status": "Accepted"}]) is None
    assert seen == [], "no 1.6 reply route"
    assert _send(V201, [3, "cmd-2", {"status": "Accepted"}]) is None
    assert [(ctx.ocpp_version, frame.unique_id) for ctx, frame in seen] == [(V201, "cmd-2")]


@pytest.mark.parametrize("version", [V16, V201])
@pytest.mark.parametrize("message", [[3, "cmd-1", {"status": "Accepted"}], [4, "cmd-1", "GenericError", "", {}]])
def test_replies_handler_crash_still_gets_no_answer(use_registry: UseRegistry, version: str, message: list[Any]) -> None:
    use_registry(replies=(OcppReplyRoute(version, _ref(reply_crash)),))
    assert _send(version, message) is None


@pytest.mark.parametrize("message", [[3, "cmd-1", {"status": "Accepted"}], [4, "cmd-1", "GenericError", "", {}]])
def test_replies_handler_raising_ocpp_error_still_gets_no_answer(use_registry: UseRegistry, message: list[Any]) -> None:
    """BUG (dispatch.py handle_frame): an OcppError from the replies handler is caught by the
    `except OcppError` branch and answered with a CALLERROR, although a reply to our CALL is never answered."""
    use_registry(replies=(OcppReplyRoute(V16, _ref(reply_refuse)),))
    assert _send(V16, message) is None


# --- the registry -----------------------------------------------------------------------------------


def test_one_action_answered_in_two_versions_is_two_routes() -> None:
    registry = Registry.of((ServiceManifest("a", ocpp_routes=ANSWERED),))
    assert registry.actions[(V16, "Heartbeat")].handler == _ref(heartbeat16)
    assert registry.actions[(V201, "Heartbeat")].handler == _ref(heartbeat201)


@pytest.mark.parametrize(("first", "second"), [
    (ServiceManifest("a", ocpp_routes=(OcppRoute(V16, "Heartbeat", _ref(heartbeat16)),)),
     ServiceManifest("b", ocpp_routes=(OcppRoute(V16, "Heartbeat", _ref(explode)),))),
    (ServiceManifest("a", ocpp_routes=(OcppRoute(V16, "DataTransfer", _ref(explode), vendor_id="com.acme"),)),
     ServiceManifest("b", ocpp_routes=(OcppRoute(V16, "DataTransfer", _ref(refuse), vendor_id="com.acme"),))),
    (ServiceManifest("a", ocpp_replies=(OcppReplyRoute(V201, _ref(record_reply)),)),
     ServiceManifest("b", ocpp_replies=(OcppReplyRoute(V201, _ref(reply_crash)),))),
], ids=["action", "vendor", "replies"])
def test_a_frame_two_services_claim_is_refused(first: ServiceManifest, second: ServiceManifest) -> None:
    with pytest.raises(ValueError, match="routed to both"):
        Registry.of((first, second))


def test_vendor_routes_do_not_answer_the_action_itself() -> None:
    vendor = OcppRoute(V16, "DataTransfer", _ref(refuse), vendor_id="com.acme")
    registry = Registry.of((ServiceManifest("a", ocpp_routes=(OcppRoute(V16, "DataTransfer", _ref(explode)), vendor)),))
    assert registry.actions[(V16, "DataTransfer")].handler == _ref(explode)
    assert registry.vendors == {(V16, "com.acme"): vendor}


# --- wire conversion ------------------------------------------------------------------------------


def test_to_wire_and_from_wire() -> None:
    reply = result16.BootNotification(current_time=NOW, interval=300, status="Accepted")
    assert dispatch.to_wire(reply) == {"currentTime": NOW, "interval": 300, "status": "Accepted"}
    assert dispatch.to_wire({"id_tag_info": {"status": "Accepted", "expiry_date": None}}) == {"idTagInfo": {"status": "Accepted"}}
    assert dispatch.from_wire({"idTagInfo": {"parentIdTag": "P"}}) == {"id_tag_info": {"parent_id_tag": "P"}}
