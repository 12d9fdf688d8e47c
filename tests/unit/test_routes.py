"""Every OCPP route of every manifest reaches a handler that takes and returns the message classes of its version.

A route is plain data (version, action, "module:function"), so nothing but this test notices a handler annotated
with another version's classes, or a route to an action the version does not define.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import typing
from typing import Any

import pytest
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from services.manifests import ALL
from services.shared import refs
from services.shared.manifest import OcppReplyRoute, OcppRoute
from services.shared.ocpp import framing, schemas
from services.shared.ocpp.dispatch import OcppContext

HERE = __name__
ROUTES = [route for manifest in ALL for route in manifest.ocpp_routes]
REPLIES = [route for manifest in ALL for route in manifest.ocpp_replies]


def expected_signature(route: OcppRoute | OcppReplyRoute) -> tuple[list[Any], Any]:
    """The annotations the route's handler must carry: its parameters' and its return's."""
    if isinstance(route, OcppReplyRoute):
        return [OcppContext, framing.CallResult | framing.CallError], type(None)
    return [OcppContext, refs.resolve(route.request)], refs.resolve(route.response)


def mismatches(route: OcppRoute | OcppReplyRoute) -> list[str]:
    if isinstance(route, OcppRoute) and not schemas.is_known(route.version, route.action):
        return [f"{route.action} is not an action of {route.version}"]
    handler = refs.resolve(route.handler)
    hints = typing.get_type_hints(handler)
    parameters, returns = expected_signature(route)
    found = [hints.get(name) for name in inspect.signature(handler).parameters]
    problems = [] if found == parameters else [f"{route.handler} takes {found}, not {parameters}"]
    if hints.get("return") != returns:
        problems.append(f"{route.handler} returns {hints.get('return')}, not {returns}")
    return problems


def _route_id(route: OcppRoute | OcppReplyRoute) -> str:
    if isinstance(route, OcppReplyRoute):
        return f"{route.version}-replies"
    return "-".join(filter(None, (route.version, route.action, route.vendor_id)))


@pytest.mark.parametrize("route", ROUTES + REPLIES, ids=_route_id)
def test_every_handler_is_annotated_with_its_versions_message_classes(route: OcppRoute | OcppReplyRoute) -> None:
    assert mismatches(route) == []


def test_both_services_that_answer_chargers_have_routes() -> None:
    assert {m.name for m in ALL if m.ocpp_routes} == {"connectivity", "sessions"}
    assert [r.handler for r in REPLIES] == ["services.connectivity.ocpp16:reply", "services.connectivity.ocpp201:reply"]


# --- the check itself fails on a mismatch ----------------------------------------------------------


def heartbeat16(ctx: OcppContext, request: call16.Heartbeat) -> result16.Heartbeat:
    return result16.Heartbeat(current_time="2024-01-01T00:00:00Z")


def heartbeat201_as_16(ctx: OcppContext, request: call201.Heartbeat) -> result201.Heartbeat:
    return result201.Heartbeat(current_time="2024-01-01T00:00:00Z")


def heartbeat_wrong_result(ctx: OcppContext, request: call16.Heartbeat) -> result16.BootNotification:
    return result16.BootNotification(current_time="2024-01-01T00:00:00Z", interval=300, status="Accepted")


def heartbeat_unannotated(ctx, request):  # type: ignore[no-untyped-def]
    return result16.Heartbeat(current_time="2024-01-01T00:00:00Z")


def reply_as_call(ctx: OcppContext, frame: framing.Call) -> None:
    return None


def reply_ok(ctx: OcppContext, frame: framing.CallResult | framing.CallError) -> None:
    return None


def test_a_matching_handler_passes_the_check() -> None:
    assert mismatches(OcppRoute("ocpp1.6", "Heartbeat", f"{HERE}:heartbeat16")) == []
    assert mismatches(OcppReplyRoute("ocpp2.0.1", f"{HERE}:reply_ok")) == []


@pytest.mark.parametrize(("route", "complaint"), [
    (OcppRoute("ocpp1.6", "Heartbeat", f"{HERE}:heartbeat201_as_16"), "takes"),
    (OcppRoute("ocpp2.0.1", "Heartbeat", f"{HERE}:heartbeat16"), "takes"),
    (OcppRoute("ocpp1.6", "Heartbeat", f"{HERE}:heartbeat_wrong_result"), "returns"),
    (OcppRoute("ocpp1.6", "Heartbeat", f"{HERE}:heartbeat_unannotated"), "takes"),
    (OcppRoute("ocpp1.6", "BootNotification", f"{HERE}:heartbeat16"), "takes"),
    (OcppRoute("ocpp1.6", "TransactionEvent", f"{HERE}:heartbeat16"), "is not an action of ocpp1.6"),
    (OcppReplyRoute("ocpp1.6", f"{HERE}:reply_as_call"), "takes"),
    (OcppReplyRoute("ocpp1.6", f"{HERE}:heartbeat16"), "returns"),
], ids=lambda v: v if isinstance(v, str) else v.handler.rpartition(":")[2])
def test_a_mismatched_handler_fails_the_check(route: OcppRoute | OcppReplyRoute, complaint: str) -> None:
    assert any(complaint in problem for problem in mismatches(route)), mismatches(route)


# --- routes are plain data --------------------------------------------------------------------------


def test_a_route_names_its_message_classes_by_version() -> None:
    route = OcppRoute("ocpp2.0.1", "BootNotification", f"{HERE}:heartbeat16")
    assert refs.resolve(route.request) is call201.BootNotification
    assert refs.resolve(route.response) is result201.BootNotification


@pytest.mark.parametrize("make", [
    pytest.param(lambda: OcppRoute("ocpp1.5", "Heartbeat", f"{HERE}:heartbeat16"), id="unknown version"),
    pytest.param(lambda: OcppRoute("1.6", "Heartbeat", f"{HERE}:heartbeat16"), id="version not a subprotocol"),
    pytest.param(lambda: OcppReplyRoute("ocpp3.0", f"{HERE}:reply_ok"), id="replies of an unknown version"),
    pytest.param(lambda: OcppRoute("ocpp1.6", "Heartbeat", f"{HERE}:heartbeat16", vendor_id="com.acme"),
                 id="vendorId on another action than DataTransfer"),
])
def test_a_route_no_frame_could_reach_is_refused_when_the_manifest_is_read(make: Any) -> None:
    with pytest.raises(ValueError):
        make()


_READ_MANIFESTS = """
import json, sys
from services.manifests import ALL
handlers = {r.handler.partition(":")[0] for m in ALL for r in m.ocpp_routes + m.ocpp_replies}
print(json.dumps(sorted(name for name in sys.modules if name == "ocpp" or name.startswith("ocpp.") or name in handlers)))
"""


def test_reading_the_manifests_imports_no_handler_and_no_ocpp_module() -> None:
    run = subprocess.run([sys.executable, "-c", _READ_MANIFESTS], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(run.stdout) == []
