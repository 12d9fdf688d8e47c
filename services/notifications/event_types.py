"""The event types webhooks subscribe to: the bus's detail-types in dotted snake case, Stripe's `object.verb` style."""

from __future__ import annotations

import re

# The detail-types delivered: the manifest subscribes to exactly these.
DETAIL_TYPES = ("IncidentOpened", "IncidentEscalated", "IncidentResolved", "RemediationAttempted", "TicketResolved",
                "ChargerOffline", "ChargerOnline", "SessionUnpriced", "PaymentFailed", "ChargerExcluded")
ANY = "*"


def event_type(detail_type: str) -> str:
    """`IncidentOpened` -> `incident.opened`, `PaymentIntentSucceeded` -> `payment_intent.succeeded`: the last word is
    what happened, the words before it what it happened to."""
    words = [word.lower() for word in re.findall(r"[A-Z][a-z0-9]*", detail_type)]
    if len(words) < 2:
        raise ValueError(f"{detail_type!r} is not an object and a verb in CamelCase")
    return f"{'_'.join(words[:-1])}.{words[-1]}"


TYPES = tuple(event_type(name) for name in DETAIL_TYPES)


def subscribed(event_types: list[str], type_: str) -> bool:
    return ANY in event_types or type_ in event_types
