"""Fixtures of the service tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator

import pytest

from tests.service.helpers import EventTap

if TYPE_CHECKING:
    from local.stripe import StripeEmulator

STRIPE_API_KEY = "sk_test_service_tests"
STRIPE_WEBHOOK_SECRET = "whsec_service_tests"


@pytest.fixture
def tap(aws_env: None) -> Iterator[EventTap]:
    """Every event put on the bus during the test."""
    yield EventTap()


@pytest.fixture
def stage_env(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--stage` sets the table prefix, region and exports bucket in os.environ; these give them back after the test."""
    import local.stack

    monkeypatch.setenv("CSMS_TABLE_PREFIX", "csms-")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("CSMS_BUCKET_EXPORTS", "csms-exports")

    def no_local_stack(config: Any) -> None:
        raise AssertionError("--stage must not touch the local stack")

    monkeypatch.setattr(local.stack, "configure_environment", no_local_stack)


@pytest.fixture
def stripe_emulator(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator["StripeEmulator"]:
    """A Stripe emulator (local/stripe/) the billing code talks to through services/billing/stripe_api.py: its URL
    in CSMS_STRIPE_API_BASE, its keys in moto's Secrets Manager. Its webhooks are kept, not sent: `stripe_webhooks`
    hands them to billing's handler."""
    from local.stripe import StripeEmulator
    from services.billing.stripe_api import client
    from services.shared import aws
    from services.shared.secrets import secret
    from services.shared.settings import settings

    emulator = StripeEmulator(api_key=STRIPE_API_KEY, webhook_secret=STRIPE_WEBHOOK_SECRET).start()
    monkeypatch.setenv("CSMS_STRIPE_API_BASE", emulator.url)
    settings.cache_clear()
    manager = aws.client("secretsmanager")
    for name, value in (("stripe/api-key", STRIPE_API_KEY), ("stripe/webhook-secret", STRIPE_WEBHOOK_SECRET)):
        manager.create_secret(Name=settings().secret(name), SecretString=value)
    secret.cache_clear()
    client.cache_clear()
    yield emulator
    emulator.stop()
    client.cache_clear()
    secret.cache_clear()


@pytest.fixture
def stripe_webhooks(stripe_emulator: "StripeEmulator") -> Callable[[], list[dict[str, Any]]]:
    """Delivers the emulator's webhooks sent since the last call to POST /stripe/webhooks (billing's handler,
    in-process, as API Gateway would hand it the raw request), oldest first; their proxy replies."""
    from services.billing import handlers
    from tests.service.helpers import context, rest_event

    def deliver() -> list[dict[str, Any]]:
        return [handlers.stripe_webhooks(rest_event("POST", "/stripe/webhooks", payload, scopes=None, headers=headers),
                                         context("stripe-webhooks"))
                for payload, headers in stripe_emulator.drain()]

    return deliver
