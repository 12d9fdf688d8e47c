"""How a 2.0.1 BootNotification is answered: the charger's boot policy and where its provisioning stands. Pure.

Under `pending_until_report` a charger is Pending until the CSMS has its device model: one GetBaseReport
(FullInventory) per pending episode, and Accepted once its report is complete, or once the charger said it
cannot report (a Rejected, NotSupported or EmptyResultSet reply), so that no charger stays Pending forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from services.connectivity.commands import CommandStatus, as_of
from services.shared import clock
from services.shared.settings import BootPolicy

# The `provisioning` map of the charger item: its `status`, the report's `request_id` and the GetBaseReport's
# `command_id`.
PENDING, ACCEPTED = "Pending", "Accepted"
SOURCE = "boot"
# A report the charger accepted to send but did not complete in this long is asked for again at its next boot.
REPORT_WAIT_S = 15 * 60
_WAITING = frozenset({CommandStatus.pending, CommandStatus.sent})


@dataclass(frozen=True)
class Decision:
    status: Literal["Accepted", "Pending", "Rejected"]
    ask_report: bool = False  # start a pending episode: queue a GetBaseReport
    accept: bool = False  # end the pending episode: the charger is provisioned


def decide(policy: BootPolicy, provisioning: dict[str, Any], command: dict[str, Any] | None, now_s: float) -> Decision:
    """`provisioning` is the charger's map ({} if none), `command` its GetBaseReport (None if none or expired)."""
    if policy == "reject":
        return Decision("Rejected")
    if policy == "accept" or provisioning.get("status") == ACCEPTED:
        return Decision("Accepted")
    if not provisioning or command is None:
        return Decision("Pending", ask_report=True)
    state = as_of(command, now_s)
    status = CommandStatus(state["status"])
    if status in _WAITING:
        return Decision("Pending")
    if status is CommandStatus.rejected:
        return Decision("Accepted", accept=True)
    if status is CommandStatus.accepted:
        waited = now_s - _epoch(state.get("completed_at"))
        return Decision("Pending", ask_report=waited > REPORT_WAIT_S)
    return Decision("Pending", ask_report=True)  # error or timed_out: the charger never got it


def _epoch(moment: str | None) -> float:
    return clock.parse(moment).timestamp() if moment else 0.0


def report_refused(command: dict[str, Any]) -> bool:
    """A settled boot GetBaseReport whose reply says no report will come."""
    return command.get("source") == SOURCE and command.get("action") == "GetBaseReport" and \
        command.get("status") == CommandStatus.rejected.value
