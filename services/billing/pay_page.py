"""The public QR page of a charger's EVSE, where a driver with no account pays ad hoc (docs/adhoc-payments.md):

    GET  /pay/{charge_point_id}/{evse_id}                         the operator, the charger, the price now, the hold
    POST /pay/{charge_point_id}/{evse_id}                         a new payment and its Stripe Checkout: 303 there
    GET  /pay/{charge_point_id}/{evse_id}/status/{payment_id}?key  the payment's state, then the receipt's link

No API key: the driver has none. The status page's key is a secret kept on the payment (services/billing/adhoc.py),
given only in Stripe's return URL. HTML only, with its own style and no script, image or request to anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from services.shared.rest import header
from services.shared.text import CHARGE_POINT_ID

PAY_PREFIX = "/pay"
_HEADERS = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex",
            "X-Content-Type-Options": "nosniff", "Content-Type": "text/html; charset=utf-8"}
# Stripe's hosted checkout, where the page's form leads (a redirect after a form's POST is checked by form-action).
_STRIPE_CHECKOUT = "https://checkout.stripe.com"
# What a path's parts may be (anything else is no page: never a DynamoDB key it cannot take): a charge point id
# (services/shared/text.py), an EVSE id of 1 to 3 digits, an ad-hoc payment's id (services/billing/adhoc.py:payment_id).
_EVSE_ID = re.compile(r"[0-9]{1,3}")
_PAYMENT_ID = re.compile(r"pay_[0-9a-f]{32}")
# Seconds between a status page's refreshes while its payment still changes.
REFRESH_S = 5


@dataclass(frozen=True)
class Offer:
    """What charging at the EVSE costs now: the tariff's price text in the driver's language and the hold."""

    tariff_id: str
    tariff_version: int
    currency: str
    price_text: str | None
    price_language: str | None
    hold: int  # minor units


def _policy(form_action: str) -> str:
    return ("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'; "
            f"form-action {form_action}")


def _reply(status: int, body: str, method: str, form_action: str = "'none'",
           headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"statusCode": status, "headers": {**_HEADERS, "Content-Security-Policy": _policy(form_action),
                                              **(headers or {})},
            "body": "" if method == "HEAD" else body}


def parse_path(path: str) -> tuple[str, int, str | None] | None:
    """(charge_point_id, evse_id, payment_id or None) of a /pay path, after whatever a base path mapping put before
    it; None for any other shape."""
    _, found, rest = path.partition(f"{PAY_PREFIX}/")
    parts = rest.split("/")
    if (not found or len(parts) not in (2, 4) or not CHARGE_POINT_ID.fullmatch(parts[0])
            or not _EVSE_ID.fullmatch(parts[1]) or int(parts[1]) == 0):
        return None
    if len(parts) == 4 and (parts[2] != "status" or not _PAYMENT_ID.fullmatch(parts[3])):
        return None
    return parts[0], int(parts[1]), parts[3] if len(parts) == 4 else None


def page_path(charge_point_id: str, evse_id: int) -> str:
    return f"{PAY_PREFIX}/{quote(charge_point_id, safe='')}/{evse_id}"


# --- HTML (pure) --------------------------------------------------------------------------------------------------

_CSS = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111;margin:0;background:#f4f4f4}
main{max-width:32rem;margin:0 auto;background:#fff;padding:1.25rem 1.25rem 2rem;min-height:100vh;box-sizing:border-box}
h1{font-size:1.35rem;margin:0 0 .25rem}p{margin:.6rem 0}.muted{color:#555;font-size:.9rem}
.price{font-size:1.2rem;font-weight:600;margin:1rem 0;padding:.75rem;background:#f0f6ff;border-left:4px solid #1d5fd1}
button{width:100%;font:inherit;font-weight:600;padding:.9rem;border:0;border-radius:.4rem;background:#1d5fd1;color:#fff}
.state{font-size:1.15rem;font-weight:600;margin:1rem 0}a{color:#1d5fd1}
"""


def _money(amount: int, currency: str) -> str:
    from services.shared.pricing import major

    return f"{major(amount, currency)} {currency}"


def html(title: str, body: str, refresh_s: int | None = None) -> str:
    """A whole page: `body` is already escaped HTML."""
    refresh = f'<meta http-equiv="refresh" content="{refresh_s}">' if refresh_s else ""
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">'
            f"{refresh}<title>{escape(title)}</title><style>{_CSS}</style></head><body><main>{body}</main></body></html>\n")


def offer_page(operator: str, charge_point_id: str, evse_id: int, site: str | None, offer: Offer | None) -> str:
    """The EVSE's page: who runs it, where, what charging costs, the hold, and the button that pays."""
    where = f"Charger {charge_point_id}, EVSE {evse_id}"
    head = (f"<h1>{escape(operator)}</h1><p>{escape(where)}</p>"
            + (f'<p class="muted">{escape(site)}</p>' if site else ""))
    if offer is None:
        return html(where, head + "<p class=\"state\">Charging here cannot be paid by card right now.</p>"
                    "<p>Please use a charging card or app, or ask the operator.</p>")
    price = (f'<p class="price" lang="{escape(offer.price_language or "en")}">{escape(offer.price_text)}</p>'
             if offer.price_text else "")
    hold = escape(_money(offer.hold, offer.currency))
    return html(where, head + price
                + f"<p>Your card is authorized for <strong>{hold}</strong> when you pay. When charging ends you are "
                "charged only what the session cost, and the rest of the hold is released.</p>"
                '<form method="post"><button type="submit">Pay and start charging</button></form>'
                f'<p class="muted">Plug in your car first. If the charger does not start, the hold is released.</p>')


@dataclass(frozen=True)
class State:
    """What the status page says, and whether it refreshes (while it changes)."""

    title: str
    text: str
    receipt_url: str | None = None
    refresh: bool = True


def state_of(payment: dict[str, Any], invoice: dict[str, Any] | None, receipt_url: str | None) -> State:
    """Pure: a payment (and its session's invoice, once issued) as the driver reads it."""
    status = payment["status"]
    if status == "failed_hold" or (status == "canceled" and not payment.get("session_id")):
        return State("Cancelled", "The session did not start: the hold on your card is released.", refresh=False)
    if status == "pending":
        return State("Waiting for your payment", "Waiting for the payment to be confirmed.")
    if status == "expired":
        return State("Not paid", "The payment was not made: nothing is held on your card.", refresh=False)
    if not payment.get("session_id"):
        return State("Starting", "Payment authorized. The charger is starting: plug in your car if you have not.")
    if invoice is None:
        return State("Charging", "Charging. Stop the session at the charger or in your car; your receipt appears here.")
    if invoice["status"] == "unpriced" or status == "canceled":  # unpriced, or under the minimum
        return State("Ended", "The session ended and costs you nothing: the hold on your card is released.",
                     refresh=False)
    done = status in ("captured", "capture_failed", "settled", "voided")  # capture_failed: retried for hours
    return State("Ended", f"The session ended: {_money(int(invoice['total_incl_vat']), invoice['currency'])}.",
                 receipt_url, refresh=not done)


def status_page(operator: str, charge_point_id: str, evse_id: int, state: State) -> str:
    link = f'<p><a href="{escape(state.receipt_url)}">Your receipt</a></p>' if state.receipt_url else ""
    return html(state.title, f"<h1>{escape(operator)}</h1><p>{escape(f'Charger {charge_point_id}, EVSE {evse_id}')}</p>"
                f'<p class="state">{escape(state.text)}</p>{link}', REFRESH_S if state.refresh else None)


def not_found_page() -> str:
    return html("Not found", "<h1>Not found</h1><p>There is nothing to pay at this address: check the code you "
                "scanned.</p>")


# --- the routes ---------------------------------------------------------------------------------------------------

def _offer(charge_point_id: str, evse_id: int, accept_language: str | None) -> Offer | None:
    """The tariff a session starting now at the EVSE is priced by (as /tariff-resolutions answers), with its hold;
    None when it would be unpriced."""
    from services.billing import tariffs
    from services.shared import clock
    from services.shared.languages import requested_languages
    from services.shared.tariffs import Target, hold_amount

    found = tariffs.resolution(Target(charge_point_id, evse_id, None), clock.now()).version
    if found is None or found.tariff is None:
        return None
    tariff = found.tariff
    texts = {text.language: text.text for text in tariff.tariff_alt_text}
    language = next((lang for lang in requested_languages(None, accept_language) if lang in texts),
                    next(iter(texts), None))
    return Offer(found.tariff_id, found.version, tariff.currency, texts.get(language or ""), language,
                 hold_amount(tariff, tariff.currency))


def _base_url(event: dict[str, Any]) -> str:
    from services.shared.rest import request_base_url
    from services.shared.settings import settings

    return settings().public_url or request_base_url(event)


def _checkout_origin() -> str:
    from services.shared.settings import settings

    return settings().stripe_api_base or _STRIPE_CHECKOUT


def answer(event: dict[str, Any]) -> dict[str, Any]:
    """API Gateway's REST proxy event to its reply."""
    from services.billing import places
    from services.shared.settings import settings

    method = event.get("httpMethod") or ""
    parsed = parse_path(event.get("path") or "")
    if parsed is None or parsed[1] > settings().max_connector_id or places.site_of(parsed[0]) is None:
        return _reply(404, not_found_page(), method)
    charge_point_id, evse_id, payment = parsed
    operator = settings().operator_name
    if payment is not None:
        if method not in ("GET", "HEAD"):
            return _reply(405, html("Not allowed", "<p>Read this page with GET.</p>"), method, headers={"Allow": "GET, HEAD"})
        return _status(event, method, operator, charge_point_id, evse_id, payment)
    if method in ("GET", "HEAD"):
        place = places.place(charge_point_id)
        offer = _offer(charge_point_id, evse_id, header(event, "accept-language"))
        return _reply(200, offer_page(operator, charge_point_id, evse_id, place and place.name, offer), method,
                      form_action=f"'self' {_checkout_origin()}")
    if method == "POST":
        return _pay(event, charge_point_id, evse_id)
    return _reply(405, html("Not allowed", "<p>Read this page with GET, pay with its button.</p>"), method,
                  headers={"Allow": "GET, HEAD, POST"})


def _pay(event: dict[str, Any], charge_point_id: str, evse_id: int) -> dict[str, Any]:
    """A new ad-hoc payment at the EVSE and its Checkout Session: 303 to Stripe's page."""
    import stripe

    from services.billing import adhoc
    from services.shared.log import logger
    from services.shared.secrets import MissingSecret

    offer = _offer(charge_point_id, evse_id, None)
    if offer is None:
        return _reply(409, html("Not available", "<p>Charging here cannot be paid by card right now.</p>"), "POST")
    item = adhoc.create(charge_point_id, evse_id, offer.currency, offer.hold, offer.tariff_id, offer.tariff_version)
    page = _base_url(event) + page_path(charge_point_id, evse_id)
    success = f"{page}/status/{item['payment_id']}?{urlencode({'key': item['status_key']})}"
    try:
        url = adhoc.checkout(item, f"Charging at {charge_point_id}, EVSE {evse_id}", success, page)
    except (stripe.StripeError, MissingSecret) as error:
        logger.warning("checkout session not created", extra={"payment_id": item["payment_id"], "error": str(error)})
        return _reply(503, html("Try again", "<p>Card payment is not available at the moment: please try again in a "
                                "minute.</p>"), "POST", headers={"Retry-After": "60"})
    return _reply(303, "", "POST", headers={"Location": url})


def _status(event: dict[str, Any], method: str, operator: str, charge_point_id: str, evse_id: int,
            payment: str) -> dict[str, Any]:
    from services.billing import adhoc, invoicing, payment_store, store

    item = payment_store.get(payment)
    key = (event.get("queryStringParameters") or {}).get("key")
    if (item is None or not adhoc.key_opens(item, key) or item.get("charge_point_id") != charge_point_id
            or int(item.get("evse_id", 0)) != evse_id):
        return _reply(404, not_found_page(), method)
    invoice = store.get_invoice(invoicing.invoice_id(item["session_id"])) if item.get("session_id") else None
    receipt = (f"{_base_url(event)}/receipts/{invoice['receipt_token']}"
               if invoice is not None and invoice.get("receipt_token") else None)
    return _reply(200, status_page(operator, charge_point_id, evse_id, state_of(item, invoice, receipt)), method)
