"""What a charger's answer to a command changes in what the CSMS knows of it, per action.

A module per concern registers the function that applies an answer of its action (`APPLIERS`, "module:function",
imported only when such an answer comes, so the OCPP ingress does not pay for every concern at cold start).
The function gets the command as stored (its `payload`) and the reply as the charger sent it (camelCase): it is
called once per answer that passed the schema, whatever its status and even after the command timed out, since
the charger acts on what it answered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from services.shared import refs
from services.shared.log import logger

Applier = Callable[[str, dict[str, Any], dict[str, Any], datetime], None]

_APPLIED = "services.connectivity.applied"
APPLIERS: dict[str, str] = {
    "SetVariables": f"{_APPLIED}:variables_set",
    "SetDisplayMessage": f"{_APPLIED}:display_set",
    "ClearDisplayMessage": f"{_APPLIED}:display_cleared",
    "SetVariableMonitoring": f"{_APPLIED}:monitors_set",
    "ClearVariableMonitoring": f"{_APPLIED}:monitors_cleared",
    "SetMonitoringBase": f"{_APPLIED}:monitoring_base_set",
    "SendLocalList": "services.connectivity.local_list:sent",
    "GetLocalListVersion": "services.connectivity.local_list:answered_version",
    "SetChargingProfile": "services.connectivity.charging:profile_set",
    "ClearChargingProfile": "services.connectivity.charging:profiles_cleared",
    "GetChargingProfiles": "services.connectivity.charging:profiles_asked",
    "GetConfiguration": "services.connectivity.configuration:read",
    "ChangeConfiguration": "services.connectivity.configuration:changed",
    "CertificateSigned": "services.connectivity.certificates:certificate_signed",
    "InstallCertificate": "services.connectivity.certificates:certificate_installed",
    "DeleteCertificate": "services.connectivity.certificates:certificate_deleted",
    "GetInstalledCertificateIds": "services.connectivity.certificates:installed_ids",
}


def apply(charge_point_id: str, command: dict[str, Any], reply: dict[str, Any], at: datetime) -> None:
    """A failure is logged, not raised: the command is settled already, and what the answer still has to do
    (a boot report refused accepts the charger: chargers.report_answered) must not depend on what the CSMS
    keeps of it."""
    target = APPLIERS.get(command["action"])
    if target is None:
        return
    try:
        applier: Applier = refs.resolve(target)
        applier(charge_point_id, command, reply, at)
    except Exception:
        logger.exception("an answer's applier failed", extra={
            "charge_point_id": charge_point_id, "command_id": command.get("command_id"), "action": command["action"]})
