"""Checkout Sessions and the page Stripe hosts for them: a driver picks a test card and pays (or, in setup mode,
saves it); the session completes, checkout.session.completed is sent, and the browser goes to success_url.

The page stands in for Stripe's whole hosted flow, 3-D Secure included: a card that needs authentication is
authenticated there, as a driver completing the challenge would.
"""

from __future__ import annotations

import html
import time

from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from local.stripe.objects import TEST_CARDS, Object, Stripe, StripeError, invalid, new_id

_DEFAULT_TTL_S = 24 * 3600
_MIN_TTL_S = 30 * 60
# Currencies whose amounts have no minor unit (Stripe's list, those a CSMS might bill in).
_ZERO_DECIMAL = {"jpy", "krw", "vnd", "clp", "isk", "ugx", "xaf", "xof"}


def create(stripe: Stripe, params: Object) -> Object:
    mode = params.get("mode", "payment")
    if mode not in ("payment", "setup"):
        raise invalid(f"mode {mode!r} is not supported by this emulator: payment or setup.", param="mode")
    if params.get("customer"):
        stripe.customer(params["customer"])
    now = int(time.time())
    expires_at = params.get("expires_at", now + _DEFAULT_TTL_S)
    if not now + _MIN_TTL_S <= expires_at <= now + _DEFAULT_TTL_S:
        raise invalid("The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session "
                      "creation.", param="expires_at")
    amount, currency = _amount(params) if mode == "payment" else (None, params.get("currency"))
    session_id = new_id("checkout.session", 58)
    session = stripe.put({
        "id": session_id, "object": "checkout.session", "after_expiration": None, "allow_promotion_codes": None,
        "amount_subtotal": amount, "amount_total": amount,
        "automatic_tax": {"enabled": False, "status": None}, "billing_address_collection": None,
        "cancel_url": params.get("cancel_url"), "client_reference_id": params.get("client_reference_id"),
        "consent": None, "consent_collection": None, "currency": currency, "customer": params.get("customer"),
        "customer_creation": None if params.get("customer") else "if_required", "customer_details": None,
        "customer_email": params.get("customer_email"), "expires_at": expires_at, "livemode": False,
        "locale": params.get("locale"), "metadata": params.get("metadata") or {}, "mode": mode,
        "payment_intent": None, "payment_link": None, "payment_method_options": {},
        "payment_method_types": params.get("payment_method_types") or ["card"],
        "payment_status": "unpaid" if mode == "payment" else "no_payment_required",
        "phone_number_collection": {"enabled": False}, "recovered_from": None, "setup_intent": None,
        "shipping": None, "shipping_address_collection": None, "shipping_options": [], "shipping_rate": None,
        "status": "open", "submit_type": params.get("submit_type"), "subscription": None,
        "success_url": params["success_url"],
        "tax_id_collection": {"enabled": False},
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0} if mode == "payment" else None,
        "url": None, "_intent_data": params.get("payment_intent_data") or {},
        "_setup_data": params.get("setup_intent_data") or {},
    })
    session["url"] = f"{stripe.base_url}/checkout/{session_id}"
    return session


def _amount(params: Object) -> tuple[int, str]:
    items = params.get("line_items") or []
    if not items:
        raise invalid("line_items is required in payment mode.", code="parameter_missing", param="line_items")
    total, currencies = 0, set()
    for index, item in enumerate(items):
        data = item.get("price_data")
        if data is None or "unit_amount" not in data:
            raise invalid("This emulator prices line items by price_data[unit_amount] only.",
                          param=f"line_items[{index}][price_data]")
        total += data["unit_amount"] * item.get("quantity", 1)
        currencies.add(data["currency"].lower())
    if len(currencies) != 1:
        raise invalid("All line items must be in the same currency.", param="line_items")
    return total, currencies.pop()


def get(stripe: Stripe, session_id: str) -> Object:
    session = stripe.get("checkout.session", session_id, "session")
    _expire_if_due(stripe, session)
    return session


def expire(stripe: Stripe, session_id: str) -> Object:
    session = get(stripe, session_id)
    if session["status"] != "open":
        raise invalid(f'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a '
                      f'status of "{session["status"]}".', param="session")
    _expire(stripe, session)
    return session


def sweep(stripe: Stripe) -> None:
    """Expires the open sessions past their expires_at, as Stripe does on its own."""
    for session in [o for o in stripe.objects.values() if o["object"] == "checkout.session"]:
        _expire_if_due(stripe, session)


def _expire_if_due(stripe: Stripe, session: Object) -> None:
    if session["status"] == "open" and time.time() >= session["expires_at"]:
        _expire(stripe, session)


def _expire(stripe: Stripe, session: Object) -> None:
    intent_id = session["payment_intent"]
    if intent_id and stripe.payment_intent(intent_id)["status"] == "requires_payment_method":
        stripe.cancel_payment_intent(intent_id, {"cancellation_reason": "abandoned"})
    session.update(status="expired", url=None)
    stripe.emit("checkout.session.expired", session)


# --- the hosted page --------------------------------------------------------------------------------------------

def page(stripe: Stripe, request: Request, session_id: str) -> Response:
    session = stripe.objects.get(session_id)
    if session is None or session["object"] != "checkout.session":
        return _html("Not found", "<p>No such Checkout Session.</p>", 404)
    _expire_if_due(stripe, session)
    if session["status"] != "open":
        return _html("Checkout", f"<p>This Checkout Session is {session['status']}: nothing to pay here.</p>", 410)
    if request.method == "GET":
        return _form(session)
    card = request.form.get("card", "")
    if card not in TEST_CARDS:
        return _form(session, f"Choose one of the test cards (not {card!r}).", 400)
    try:
        _complete(stripe, session, card, request.form.get("email") or None)
    except StripeError as error:
        return _form(session, error.error["message"], 402)
    return redirect(session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"]), 303)


def _complete(stripe: Stripe, session: Object, card: str, email: str | None) -> None:
    stripe.requested(None, None)
    if session["mode"] == "payment":
        data = session["_intent_data"]
        if session["payment_intent"] is None:
            intent = stripe.create_payment_intent({
                "amount": session["amount_total"], "currency": session["currency"], "customer": session["customer"],
                **{k: data[k] for k in ("capture_method", "metadata", "description", "setup_future_usage",
                                        "receipt_email", "statement_descriptor") if k in data}})
            session["payment_intent"] = intent["id"]
        stripe.update_payment_intent(session["payment_intent"], {"payment_method": card})
        intent = stripe.confirm_payment_intent(session["payment_intent"], {}, authenticated=True)
        session["payment_status"] = "paid" if intent["status"] == "succeeded" else "unpaid"
    else:
        data = session["_setup_data"]
        intent = stripe.create_setup_intent({"customer": session["customer"], "payment_method": card,
                                             **{k: data[k] for k in ("metadata", "description") if k in data}})
        session["setup_intent"] = intent["id"]
        stripe.confirm_setup_intent(intent["id"], {"_authenticated": True})
    session.update(status="complete", url=None, customer_details={
        "address": None, "email": email or session["customer_email"], "name": None, "phone": None,
        "tax_exempt": "none", "tax_ids": []})
    stripe.emit("checkout.session.completed", session)


def _money(amount: int, currency: str) -> str:
    if currency in _ZERO_DECIMAL:
        return f"{amount} {currency.upper()}"
    return f"{amount // 100}.{amount % 100:02d} {currency.upper()}"


def _form(session: Object, error: str | None = None, status: int = 200) -> Response:
    what = (f"Pay {_money(session['amount_total'], session['currency'])}" if session["mode"] == "payment"
            else "Save a card")
    choices = "".join(
        f'<label><input type="radio" name="card" value="{token}"{" checked" if token == "pm_card_visa" else ""}> '
        f'{brand} •••• {last4} <small>({token})</small></label><br>'
        for token, (brand, last4, _) in TEST_CARDS.items())
    cancel = (f'<p><a href="{html.escape(session["cancel_url"])}">Cancel</a></p>' if session["cancel_url"] else "")
    problem = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    body = f"""<h1>{html.escape(what)}</h1>{problem}
<form method="post">
<fieldset><legend>Test card</legend>{choices}</fieldset>
<p><label>Email <input type="email" name="email" value="{html.escape(session['customer_email'] or '')}"></label></p>
<p><button type="submit">{html.escape(what)}</button></p>
</form>{cancel}
<p><small>Stripe emulator (test mode): no real card is charged.</small></p>"""
    return _html(what, body, status)


def _html(title: str, body: str, status: int) -> Response:
    return Response(f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}}
.error{{color:#b00020}}label{{line-height:2}}button{{font-size:1.1rem;padding:.5rem 1.5rem}}</style></head>
<body>{body}</body></html>""", status, content_type="text/html; charset=utf-8")
