"""What a webhook may be: where it posts, and its secret. Pure: the REST API and the tests call it."""

from __future__ import annotations

import ipaddress
import secrets
import socket
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


def redacted(url: str) -> str:
    """What a reader who may not register webhooks sees of one's URL: its path and query may hold a token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…"


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address an IP-literal host names, in any spelling the socket layer takes ("127.1", "2130706433",
    "0x7f.0.0.1"); None for a name."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _loopback(host: str) -> bool:
    address = _address(host)
    return host == "localhost" if address is None else address.is_loopback


def url_problem(url: str, allow_http: bool) -> str | None:
    """Why `url` cannot receive deliveries, or None: ASCII https (http only to a loopback address where
    `allow_http`), a host that is a name or a global address, and no credentials in it (put those in the secret,
    which signs every delivery). Names are not resolved here: one that resolves to a private address is posted to."""
    if not url.isascii() or any(character.isspace() or not character.isprintable() for character in url):
        return "a URL is ASCII without spaces or control characters: percent-encode the rest, a host in punycode"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port  # a port that is not a number raises here
        host.encode("idna")  # an empty or over-long label raises here
    except (ValueError, UnicodeError):
        return "not a URL"
    if parts.username is not None or parts.password is not None:
        return "a URL with credentials (user:password@) is refused: every delivery is signed with the webhook's secret"
    if not host:
        return "the URL names no host"
    if parts.fragment:
        return "a URL with a #fragment is refused: it never reaches the receiver"
    address = _address(host)
    if _loopback(host):
        if not allow_http:
            return "a loopback address receives deliveries only in local mode; use a public https host"
    elif address is not None and not address.is_global:
        return f"{address} is not a public address (private, link-local or reserved): use a public host"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and allow_http and _loopback(host):
        return None
    if parts.scheme == "http" and allow_http:
        return "http is allowed only to a loopback address (127.0.0.1, ::1, localhost); use https"
    return "use an https:// URL"
