"""What a webhook may be: where it posts, and its secret. Pure: the REST API and the tests call it."""

from __future__ import annotations

import ipaddress
import secrets
from urllib.parse import urlsplit

SECRET_PREFIX = "whsec_"
MAX_URL_LENGTH = 2048


def new_id() -> str:
    return f"wh_{secrets.token_hex(8)}"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hint(secret: str) -> str:
    """What GET shows of a secret, so an operator can tell which one a receiver holds."""
    return f"...{secret[-4:]}"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url: str, allow_http: bool) -> str | None:
    """Why `url` cannot receive deliveries, or None: https (http only to a loopback address where `allow_http`),
    a host, and no credentials in it (put those in the secret, which signs every delivery)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        return "not a URL"
    if parts.username is not None or parts.password is not None:
        return "a URL with credentials (user:password@) is refused: every delivery is signed with the webhook's secret"
    if not host:
        return "the URL names no host"
    if parts.fragment:
        return "a URL with a #fragment is refused: it never reaches the receiver"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and allow_http and _loopback(host):
        return None
    if parts.scheme == "http" and allow_http:
        return "http is allowed only to a loopback address (127.0.0.1, ::1, localhost); use https"
    return "use an https:// URL"
