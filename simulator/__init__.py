"""A fleet of simulated OCPP chargers for demos, end-to-end tests and load tests (`csms simulate`).

Kept light to import: the command line parses durations with it before it needs the rest.
"""

from __future__ import annotations

import re

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([hms])")
_UNIT_S = {"h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> float:
    """Seconds in `30s`, `10m`, `2h`, `1h30m` or `0.5s`; a bare number is seconds."""
    text = text.strip().lower()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"not a duration: {text!r} (e.g. 30s, 10m, 2h, 1h30m)")
    return sum(float(number) * _UNIT_S[unit] for number, unit in parts)
