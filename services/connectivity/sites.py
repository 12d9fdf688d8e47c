"""Sites: where chargers stand. The rules of a site's definition; no I/O.

Countries and time zones are checked against the lists a deployment really has, not a pattern:
IANA's time zone database (the `tzdata` package, which also serves zoneinfo where the system has
no database, as on Lambda) carries ISO 3166-1's alpha-2 codes beside its zones (iso3166.tab).
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from functools import lru_cache
from importlib.resources import files

# A site id is one URL path segment that never needs encoding (RFC 3986's unreserved characters).
SITE_ID = re.compile(r"[A-Za-z0-9._~-]{1,64}")


@lru_cache(maxsize=1)
def countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes in use, as the tz database keeps them current."""
    table = files("tzdata").joinpath("zoneinfo", "iso3166.tab").read_text(encoding="utf-8")
    return frozenset(line.split("\t", 1)[0] for line in table.splitlines() if line and not line.startswith("#"))


@lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def country_problem(code: str) -> str | None:
    """What is wrong with `code` as a country, in words that say what to send instead; None if nothing."""
    if code in countries():
        return None
    if code.upper() in countries():
        return f"{code!r} is not an ISO 3166-1 alpha-2 code: send it upper case, {code.upper()!r}"
    return f"{code!r} is not an ISO 3166-1 alpha-2 country code (e.g. DE, FR, GB, US)"


def time_zone_problem(name: str) -> str | None:
    """What is wrong with `name` as an IANA time zone, with the closest names; None if nothing."""
    if name in time_zones():
        return None
    close = difflib.get_close_matches(name, sorted(time_zones()), n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}?" if close else "e.g. Europe/Berlin, America/New_York, UTC"
    return f"{name!r} is not an IANA time zone: {hint}"
