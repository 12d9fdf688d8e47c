"""Whether decoded JSON is Unicode text: both OCPP frames and REST bodies are refused when it is not.

`"\\ud800"` is valid JSON, but the string it decodes to has a lone UTF-16 surrogate, which no UTF-8
encoder (DynamoDB's, the websocket's) accepts: stored or sent on, it fails far from the request.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Only an escape can bring a surrogate into a str decoded strictly from UTF-8; \ud83d\ude00 (a pair) decodes to
# one character, so what this finds is checked on the decoded value.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# People's contacts the REST API takes: E.164, what SMS gateways take; an address of RFC 5321's length with one @ and a
# dot in its domain.
PHONE = r"^\+[1-9][0-9]{6,14}$"
EMAIL = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
# A charge point id is one URL path segment in /ocpp/{id}, /chargers/{id} and /pay/{id}/...: the characters RFC 3986
# lets a segment carry unencoded, so it reads the same in every URL and log (connectivity also refuses the dot
# segments, which URLs resolve away).
CHARGE_POINT_ID = re.compile(r"[A-Za-z0-9._~:@!$&'()*+,;=-]{1,48}")


def has_lone_surrogate(source: str, decoded: Any) -> bool:
    """`decoded` is `source` parsed; cheap for the usual text, which has no surrogate escape at all."""
    return bool(_SURROGATE_ESCAPE.search(source)) and not is_text(json.dumps(decoded, ensure_ascii=False, default=str))


def is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
