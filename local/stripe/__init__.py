"""A stateful Stripe emulator: Stripe's API, hosted Checkout page and signed webhooks on this machine, for `csms run`,
the e2e stack and the service tests (docs/stripe-emulator.md)."""

from local.stripe.server import StripeEmulator, signature

__all__ = ["StripeEmulator", "signature"]
