"""A service reads its manifest's secrets through one accessor: once per container, never shown in a log."""

from __future__ import annotations

import logging

import pytest

from services.shared import aws
from services.shared.secrets import MissingSecret, secret


def test_a_secret_is_read_once_per_container_and_prints_as_stars(aws_env: None, caplog: pytest.LogCaptureFixture) -> None:
    manager = aws.client("secretsmanager")
    manager.create_secret(Name="csms/stripe/api-key", SecretString="sk_test_one")
    value = secret("stripe/api-key")
    assert value.get_secret_value() == "sk_test_one"
    manager.put_secret_value(SecretId="csms/stripe/api-key", SecretString="sk_test_two")
    assert secret("stripe/api-key").get_secret_value() == "sk_test_one"  # a new value reaches new containers
    logging.getLogger("csms.test").warning("charging with %s (%r)", value, value)
    assert "sk_test" not in caplog.text and "sk_test" not in f"{value} {value!r} {[value]}"


def test_an_absent_secret_says_where_to_put_it(aws_env: None) -> None:
    with pytest.raises(MissingSecret, match="CSMS_SECRET_STRIPE_WEBHOOK_SECRET .* secrets/stripe/webhook-secret"):
        secret("stripe/webhook-secret")
