"""Credentials: operator API keys (Bearer) and charger passwords (OCPP security profiles 1 and 2).

Neither is ever stored or logged in clear. API keys are long random secrets, so a SHA-256
digest is enough and keeps every authorized request cheap; charger passwords may be
short and chosen by people, so they get a salted, slow scrypt hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from services.shared import aws, clock
from services.shared.dynamo import condition_failed


class Scope(StrEnum):
    """What an API key may do; each REST route declares the scopes that may call it (docs/rest.md)."""

    ADMIN = "admin"
    OPERATOR = "operator"
    READ_ONLY = "read-only"
    SUPPORT = "support"


SCOPES = tuple(scope.value for scope in Scope)
_PREFIX = "csms"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
# What a key's record may show to people: everything but the digest.
_LISTED = ("key_id", "name", "scopes", "created_at", "revoked_at")


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    secret: str

    def __str__(self) -> str:
        return f"{_PREFIX}_{self.key_id}_{self.secret}"


def new_api_key() -> ApiKey:
    return ApiKey(secrets.token_hex(6), secrets.token_urlsafe(24).replace("_", "-"))


def parse_api_key(text: str) -> ApiKey | None:
    parts = text.split("_")
    if len(parts) != 3 or parts[0] != _PREFIX or not parts[1] or not parts[2]:
        return None
    return ApiKey(parts[1], parts[2])


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def store_api_key(key: ApiKey, *, name: str, scopes: tuple[str, ...] = ("admin",)) -> bool:
    """Stores a new key; False if its id is already stored, which is then left as it was (revoked stays revoked)."""
    from botocore.exceptions import ClientError

    from services.shared.dynamo import condition_failed

    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown scopes {sorted(unknown)}; use {SCOPES}")
    item = {"key_id": key.key_id, "secret_sha256": _digest(key.secret), "name": name, "scopes": list(scopes),
            "created_at": clock.iso(clock.now())}
    try:
        aws.table("api-keys").put_item(Item=item, ConditionExpression="attribute_not_exists(key_id)")
    except ClientError as error:
        if condition_failed(error):
            return False
        raise
    return True


def list_api_keys() -> list[dict[str, Any]]:
    """Every key without its digest, oldest first: enough to tell keys apart and pick one to revoke."""
    names = {f"#a{i}": attribute for i, attribute in enumerate(_LISTED)}  # `name` is a reserved word
    request: dict[str, Any] = {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
    table = aws.table("api-keys")
    records: list[dict[str, Any]] = []
    while True:
        reply = table.scan(**request)
        records.extend(reply.get("Items", []))
        if "LastEvaluatedKey" not in reply:
            return sorted(records, key=lambda record: (record.get("created_at", ""), record["key_id"]))
        request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]


def revoke_api_key(key_id: str) -> dict[str, Any] | None:
    """The key's record once revoked (without its digest), or None if there is no such key.

    Revoking again keeps the first revoked_at: that is when the key stopped working, which an audit wants.
    """
    if not key_id:
        return None
    try:
        record = aws.table("api-keys").update_item(
            Key={"key_id": key_id},
            UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :now)",
            ConditionExpression="attribute_exists(key_id)",
            ExpressionAttributeValues={":now": clock.iso(clock.now())},
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except ClientError as error:
        if condition_failed(error):
            return None
        raise
    return {name: value for name, value in record.items() if name in _LISTED}


def check_api_key(text: str) -> dict[str, Any] | None:
    """The stored key record for a presented key, or None."""
    key = parse_api_key(text)
    if key is None:
        return None
    record = aws.table("api-keys").get_item(Key={"key_id": key.key_id}).get("Item")
    if not record or record.get("revoked_at") or not hmac.compare_digest(record["secret_sha256"], _digest(key.secret)):
        return None
    return record


def header_values(event: dict[str, Any], name: str) -> list[str]:
    """Every value a request sent for a header, whatever its case.

    API Gateway's `headers` keeps only the last of repeated headers; its `multiValueHeaders` (which REQUEST
    authorizers get too) keeps them all. An event without it, as a hand-made one, is read from `headers`.
    """
    multi = event.get("multiValueHeaders") or {key: [value] for key, value in (event.get("headers") or {}).items()}
    wanted = name.lower()
    return [value for key, values in multi.items() if key.lower() == wanted for value in values or ()]


def authorization(event: dict[str, Any]) -> str | None:
    """The Authorization header if it was sent once: of two, neither counts (a client may not pick which one we read)."""
    values = header_values(event, "authorization")
    return values[0] if len(values) == 1 else None


def bearer(value: str | None) -> str | None:
    if value and value[:7].lower() == "bearer ":
        return value[7:].strip()
    return None


def authorize_rest(event: dict[str, Any]) -> dict[str, Any]:
    """REQUEST authorizer result: an IAM policy for the whole API plus the key's scopes as context.

    A wrong key is a Deny, not an error: API Gateway caches it like an Allow (slowing guessing), and a
    Lambda error stays what the errors alarm means, a failure of ours.
    """
    presented = bearer(authorization(event))
    record = check_api_key(presented) if presented else None
    api_arn = "/".join(event["methodArn"].split("/")[:2])
    policy = {"Version": "2012-10-17",
              "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow" if record else "Deny",
                             "Resource": f"{api_arn}/*"}]}
    if record is None:
        return {"principalId": "unknown", "policyDocument": policy}
    return {"principalId": record["key_id"], "policyDocument": policy,
            "context": {"key_id": record["key_id"], "scopes": " ".join(record.get("scopes", []))}}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    derived = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${base64.b64encode(salt).decode()}${base64.b64encode(derived).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, salt, derived = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), **_SCRYPT)
    return hmac.compare_digest(candidate, base64.b64decode(derived))


def basic_credentials(value: str | None) -> tuple[str, str] | None:
    """(user, password) from an HTTP Basic Authorization header, as OCPP security profiles 1-2 send it."""
    if not value or value[:6].lower() != "basic ":
        return None
    try:
        user, _, password = base64.b64decode(value[6:].strip()).decode("utf-8").partition(":")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return None
    return user, password
