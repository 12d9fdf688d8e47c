"""The manifests' secrets, read from Secrets Manager: AWS's in Lambda, the embedded AWS's locally, where
local/provision.py puts there what the environment or the data dir holds. One code path, so a secret that
works locally is read the same way in AWS.
"""

from __future__ import annotations

from functools import lru_cache

from botocore.exceptions import ClientError
from pydantic import SecretStr

from services.shared import aws
from services.shared.manifest import environment_key
from services.shared.settings import settings


class MissingSecret(LookupError):
    """The secret has no value: locally, nothing provided it; in AWS, it was deleted."""


@lru_cache(maxsize=None)
def secret(name: str) -> SecretStr:
    """A manifest secret's value, fetched once per container: a new value reaches new containers only.

    A SecretStr prints as stars, so a log line or a traceback that carries it does not show it; call
    `get_secret_value()` where it is used.
    """
    secret_id = settings().secret(name)
    try:
        reply = aws.client("secretsmanager").get_secret_value(SecretId=secret_id)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        raise MissingSecret(f"no secret {secret_id} (locally: set CSMS_SECRET_{environment_key(name)} or write "
                            f"secrets/{name} in the data dir, then restart)") from None
    return SecretStr(reply["SecretString"])
