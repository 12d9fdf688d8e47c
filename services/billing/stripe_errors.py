"""What a Stripe call that failed means to the REST client: a problem that says what to do, never a 500.

Stripe unreachable, overloaded or failing on its side: 503 with Retry-After (the same request, repeated, is safe: its
idempotency key makes it act once). The same request still in progress at Stripe: 409. Stripe refusing the CSMS's
key: 502 for an administrator. A card declined: 402.
Stripe refusing the request itself: 502 with Stripe's words (the CSMS asked something Stripe's state does not allow,
e.g. a customer deleted in Stripe's dashboard).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from services.shared.rest import ProblemError
from services.shared.secrets import MissingSecret

RETRY_AFTER_S = 30


class StripeUnavailable(ProblemError):
    """503: Stripe cannot answer now; the REST reply carries Retry-After."""

    def __init__(self, detail: str) -> None:
        super().__init__(503, detail)
        self.retry_after = RETRY_AFTER_S


@contextmanager
def answered(doing: str) -> Iterator[None]:
    """Turns a Stripe failure while `doing` (e.g. "saving a card") into the ProblemError the client is answered."""
    import stripe

    try:
        yield
    except MissingSecret:
        raise ProblemError(502, f"Stripe is not configured, so {doing} is not possible: an administrator sets the "
                                "secret stripe/api-key") from None
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as error:
        raise StripeUnavailable(f"Stripe did not answer while {doing} ({type(error).__name__}): try again in "
                                f"{RETRY_AFTER_S} s") from None
    except (stripe.AuthenticationError, stripe.PermissionError):
        raise ProblemError(502, f"Stripe refused the CSMS's API key while {doing}: an administrator checks the "
                                "secret stripe/api-key") from None
    except stripe.IdempotencyError:
        raise ProblemError(409, f"Stripe is still answering the same request while {doing}: send it again in a few "
                                "seconds") from None
    except stripe.CardError as error:
        raise ProblemError(402, f"The card was declined while {doing} ({error.code}): ask the driver for another "
                                "card") from None
    except stripe.StripeError as error:
        raise ProblemError(502, f"Stripe refused the request while {doing}: {error.user_message or error}") from None
