"""Stripe, through its official SDK: the one client every payment call uses, and the idempotency keys that make a
call made twice (a redelivered event, a retried Lambda) act once at Stripe.

The key is the manifest's secret `stripe/api-key`; `CSMS_STRIPE_API_BASE` points the client at the Stripe emulator
locally (local/stripe/), and is unset in AWS, where the SDK talks to Stripe itself.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from services.shared.events import stable_id

if TYPE_CHECKING:
    import stripe

# Stripe's own retries of a request that failed on the network, each with the same idempotency key.
_NETWORK_RETRIES = 2


@lru_cache(maxsize=1)
def client() -> "stripe.StripeClient":
    """One client per container: the secret is read once (services/shared/secrets.py)."""
    import stripe

    from services.shared.secrets import secret
    from services.shared.settings import settings

    base = settings().stripe_api_base
    return stripe.StripeClient(secret("stripe/api-key").get_secret_value(),
                               base_addresses={"api": base} if base else None,
                               max_network_retries=_NETWORK_RETRIES)


def idempotency_key(operation: str, *ids: object) -> str:
    """The key of one operation on domain ids, e.g. ("capture", session_id): the same operation on the same ids is the
    same key, so Stripe answers a repeat with the first answer instead of acting again."""
    return f"csms-{operation}-{stable_id(operation, *ids)}"


def options(operation: str, *ids: object) -> "stripe.RequestOptions":
    return {"idempotency_key": idempotency_key(operation, *ids)}
