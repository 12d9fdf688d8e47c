"""Reading credentials from API Gateway's events: a header sent twice counts as neither value."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from services.shared import auth

BASIC = "Basic " + base64.b64encode(b"CP-1:secret").decode()


def event(headers: dict[str, str], multi: dict[str, list[str]] | None) -> dict[str, Any]:
    found: dict[str, Any] = {"headers": headers, "methodArn": "arn:aws:execute-api:us-east-1:1:api/stage/GET/chargers"}
    if multi is not None:
        found["multiValueHeaders"] = multi
    return found


@pytest.mark.parametrize(
    ("headers", "multi", "values"),
    [
        ({"Authorization": "b"}, {"Authorization": ["a", "b"]}, ["a", "b"]),
        ({"authorization": "b"}, {"Authorization": ["a"], "authorization": ["b"]}, ["a", "b"]),
        ({"AUTHORIZATION": "a"}, None, ["a"]),  # no multiValueHeaders: read from headers
        ({}, {}, []),
        ({"Host": "x"}, {"Host": ["x"]}, []),
    ],
)
def test_header_values_are_every_value_whatever_the_case(headers: dict[str, str], multi: dict[str, list[str]] | None,
                                                        values: list[str]) -> None:
    assert auth.header_values(event(headers, multi), "Authorization") == values


def test_authorization_is_the_header_sent_once_and_none_when_repeated() -> None:
    assert auth.authorization(event({"Authorization": BASIC}, {"Authorization": [BASIC]})) == BASIC
    assert auth.authorization(event({"Authorization": BASIC}, {"Authorization": [BASIC, BASIC]})) is None
    assert auth.authorization(event({}, {})) is None


def test_basic_credentials() -> None:
    assert auth.basic_credentials(BASIC) == ("CP-1", "secret")
    assert auth.basic_credentials(BASIC.replace("Basic", "bASIC")) == ("CP-1", "secret")
    for refused in (None, "", "Bearer x", "Basic " + base64.b64encode(b"\xff\xfe").decode()):
        assert auth.basic_credentials(refused) is None


def test_a_repeated_bearer_header_is_denied_without_looking_a_key_up() -> None:
    """No AWS here: a lookup would fail the test."""
    answer = auth.authorize_rest(event({"Authorization": "Bearer csms_a_b"},
                                       {"Authorization": ["Bearer csms_a_b", "Bearer csms_a_b"]}))

    assert answer["principalId"] == "unknown"
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"
