"""The public route of drivers' receipts: `GET /receipts/{token}` answers the receipt of the invoice the token opens,
as printable HTML or as JSON, whichever `Accept` prefers (HTML when it says nothing: a browser's link).

No API key: a driver has none, and the token (invoicing.receipt_token: the invoice's id and 192 random bits) is the
credential. Anything that opens no receipt (an unknown or malformed token, an unpriced session's) is the same 404:
the answer never says which.
"""

from __future__ import annotations

import re
from typing import Any

RECEIPTS_PREFIX = "/receipts"
_TOKEN = re.compile(r"^[0-9a-f]{32}[A-Za-z0-9_-]{32}$")  # invoicing.receipt_token: the invoice's id, then the secret
_HEADERS = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex",
            "X-Content-Type-Options": "nosniff"}
# The HTML carries its own style and nothing else: no script, image or request to anywhere.
_HTML_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


def _problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    from services.shared.rest import PROBLEM_JSON, Problem  # not at import: billing's stream reads RECEIPTS_PREFIX

    body = Problem(title=title, status=status, detail=detail).model_dump_json()
    return {"statusCode": status, "headers": {"Content-Type": PROBLEM_JSON, **_HEADERS, **(headers or {})}, "body": body}


def _quality(accept: str, kinds: tuple[str, ...]) -> float:
    """The highest q `accept` gives any of these media ranges (0 when it names none)."""
    best = 0.0
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        if media.lower() not in kinds:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best = max(best, q)
    return best


def wants_json(accept: str | None) -> bool:
    """True when `Accept` prefers JSON to HTML (`application/json` over `text/html`); HTML when it says nothing."""
    if not accept:
        return False
    return _quality(accept, ("application/json", "application/*")) > _quality(accept, ("text/html", "text/*", "*/*"))


def answer(event: dict[str, Any]) -> dict[str, Any]:
    """API Gateway's REST proxy event to its reply."""
    import json

    from services.billing import places, receipts, store
    from services.shared.settings import settings

    method = event.get("httpMethod") or ""
    # After the route's own prefix, whatever a custom domain's base path mapping put before it.
    _, found, token = (event.get("path") or "").partition(f"{RECEIPTS_PREFIX}/")
    if method not in ("GET", "HEAD"):
        return _problem(405, "Method not allowed", f"A receipt is read with GET, not {method}", {"Allow": "GET, HEAD"})
    invoice = store.by_receipt_token(token) if found and _TOKEN.match(token) else None
    if invoice is None:
        return _problem(404, "Not found", "No receipt at this address: check the link you were given")
    site = places.site(invoice["site_id"]) if invoice.get("site_id") else None  # where the session was, not the charger now
    config = settings()
    receipt = receipts.content(invoice, site and receipts.Site(name=site.name, address=site.address),
                               receipts.Operator(name=config.operator_name, support_contact=config.support_contact))
    accept = next((value for name, value in (event.get("headers") or {}).items() if name.lower() == "accept"), None)
    if wants_json(accept):
        kind, body = "application/json", json.dumps(receipt)
    else:
        kind, body = "text/html; charset=utf-8", receipts.html(receipt)
    reply_headers = {"Content-Type": kind, "Vary": "Accept", **_HEADERS}
    if kind.startswith("text/html"):
        reply_headers["Content-Security-Policy"] = _HTML_POLICY
    return {"statusCode": 200, "headers": reply_headers, "body": "" if method == "HEAD" else body}
