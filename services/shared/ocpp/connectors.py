"""Where on a charger: (EVSE, connector) as OCPP 2.0.1 numbers them, the address every service stores.

1.6 has no EVSEs: its connector n (from 1) is EVSE n's one connector, and its connector 0 is the charger
itself, (0, 0). EVSE n as a whole is (n, 0).
"""

from __future__ import annotations

CHARGER = (0, 0)


def from_v16(connector_id: int) -> tuple[int, int]:
    return CHARGER if connector_id == 0 else (connector_id, 1)
