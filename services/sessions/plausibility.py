"""Whether a session's registers, energy and times are physically possible. Pure: no I/O.

A charger's meter and clock are the only evidence of what it delivered, and a broken or hostile
one can report anything the OCPP schema lets through: a negative register, one no meter could
reach, a stop dated decades before its start, more energy than its connector can deliver. A
session whose figures are impossible is not billed from them: it waits for an operator to
settle it (`POST /sessions/{id}/settle`, docs/ocpp.md). Everything here is integer arithmetic,
so no figure the schema admits can overflow or raise.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

# start_reading_missing is decided by the caller: a 2.0.1 session whose Started never came and whose only reading is
# its last has no register to bill from.
Reason = Literal["register_negative", "register_out_of_range", "stop_before_start", "stop_in_future",
                 "energy_exceeds_power", "start_reading_missing"]

# No meter counts further: 1 TWh is 350 kW, day and night, for 326 years.
MAX_REGISTER_WH = 10**12
# A rating is nominal: metered energy may exceed rated power x duration by this share ...
POWER_MARGIN_PERCENT = 10
# ... and by one step of a meter that counts whole kWh (its register jumps by 1000 Wh at once).
METER_STEP_WH = 1000
# How far a charger's clock may run ahead of ours: a stop later than that has not happened yet.
CLOCK_SKEW = timedelta(minutes=15)
# Below what DynamoDB and the schema check (services/shared/ocpp/schemas.py) keep as a number.
_STORABLE_WH = 10**38 - 1
_MS_PER_HOUR = 3_600_000


def max_energy_wh(max_power_w: int, duration: timedelta) -> int:
    """The most a connector rated `max_power_w` can meter in `duration`, with the margin and one meter step."""
    milliseconds = duration // timedelta(milliseconds=1)
    return max_power_w * milliseconds * (100 + POWER_MARGIN_PERCENT) // (100 * _MS_PER_HOUR) + METER_STEP_WH


def reasons(meter_start_wh: int, meter_stop_wh: int, started_at: datetime, stopped_at: datetime,
            received_at: datetime, max_power_w: int) -> list[Reason]:
    """Why the session cannot have happened as reported (empty if it can), in a fixed order.

    `received_at` is when the stop reached the CSMS; `max_power_w` the connector's rated power.
    A meter that went backwards is not among them: it bills 0 and is flagged `meter_backwards`.
    """
    found: list[Reason] = []
    if min(meter_start_wh, meter_stop_wh) < 0:
        found.append("register_negative")
    if max(meter_start_wh, meter_stop_wh) > MAX_REGISTER_WH:
        found.append("register_out_of_range")
    if stopped_at < started_at:
        found.append("stop_before_start")
    if stopped_at - received_at > CLOCK_SKEW:
        found.append("stop_in_future")
    if stopped_at >= started_at and meter_stop_wh - meter_start_wh > max_energy_wh(max_power_w, stopped_at - started_at):
        found.append("energy_exceeds_power")
    return found


def register_wh(reading: Decimal) -> int:
    """A finite register reading as whole Wh (toward zero), held to what can be stored: a reading of 1E+999999
    is out of range either way, and converting it exactly would exhaust the Lambda's memory."""
    if reading.copy_abs() > _STORABLE_WH:
        return _STORABLE_WH if reading > 0 else -_STORABLE_WH
    return int(reading)
