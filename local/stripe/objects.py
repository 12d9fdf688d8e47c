"""Stripe's objects and their state machines, in memory: what the emulator's HTTP front (server.py) calls.

Every public method takes the request's parameters (already validated against the vendored OpenAPI description by
spec.py) and returns the object as Stripe's API answers it, or raises StripeError as Stripe would answer. Each state
change emits the event Stripe sends for it. Amounts are integer minor units, as Stripe's.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
from typing import Any, Callable

Object = dict[str, Any]

# The test payment methods (Stripe's "pm_card_*" tokens): brand, last4, and what charging them does.
# ok: succeeds; declined: refused when attached or charged; charge_fails: attaches, refused when charged;
# authentication: needs 3-D Secure (on-session: requires_action; off-session: refused, authentication_required);
# refund_fails: charges succeed, a refund of them succeeds at first and fails a moment later.
TEST_CARDS: dict[str, tuple[str, str, str]] = {
    "pm_card_visa": ("visa", "4242", "ok"),
    "pm_card_visa_debit": ("visa", "5556", "ok"),
    "pm_card_mastercard": ("mastercard", "4444", "ok"),
    "pm_card_amex": ("amex", "8431", "ok"),
    "pm_card_chargeDeclined": ("visa", "0002", "declined"),
    "pm_card_chargeDeclinedInsufficientFunds": ("visa", "9995", "insufficient_funds"),
    "pm_card_chargeCustomerFail": ("visa", "0341", "charge_fails"),
    "pm_card_authenticationRequired": ("visa", "3184", "authentication"),
    "pm_card_refundFail": ("visa", "5126", "refund_fails"),
}
# Card numbers a PaymentMethod may be created with (type=card, card[number]), as Stripe's test numbers.
TEST_NUMBERS: dict[str, str] = {
    "4242424242424242": "pm_card_visa", "4000056655665556": "pm_card_visa_debit",
    "5555555555554444": "pm_card_mastercard", "378282246310005": "pm_card_amex",
    "4000000000000002": "pm_card_chargeDeclined", "4000000000009995": "pm_card_chargeDeclinedInsufficientFunds",
    "4000000000000341": "pm_card_chargeCustomerFail", "4000002760003184": "pm_card_authenticationRequired",
    "4000000000005126": "pm_card_refundFail",
}
# Seconds after which a refund of a pm_card_refundFail charge fails (Stripe: "some time later").
REFUND_FAILS_AFTER_S = 1.0
_DECLINES = {
    "declined": ("card_declined", "generic_decline", "Your card was declined."),
    "charge_fails": ("card_declined", "generic_decline", "Your card was declined."),
    "insufficient_funds": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "authentication": ("authentication_required", "authentication_required",
                       "Your card was declined. This transaction requires authentication."),
}
_PREFIX = {"customer": "cus", "payment_method": "pm", "setup_intent": "seti", "payment_intent": "pi", "charge": "ch",
           "refund": "re", "checkout.session": "cs_test", "event": "evt"}
_CANCELABLE = ("requires_payment_method", "requires_confirmation", "requires_action", "requires_capture", "processing")


class StripeError(Exception):
    """An error answer: HTTP status and the body's `error` object, as Stripe's API gives them."""

    def __init__(self, status: int, type_: str, message: str, *, code: str | None = None,
                 decline_code: str | None = None, param: str | None = None, **objects: Object) -> None:
        super().__init__(message)
        self.status = status
        self.error: Object = {"type": type_, "message": message}
        for name, value in (("code", code), ("decline_code", decline_code), ("param", param)):
            if value is not None:
                self.error[name] = value
        if code:
            self.error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        self.error.update(objects)

    def body(self) -> Object:
        return {"error": self.error}


def invalid(message: str, *, code: str | None = None, param: str | None = None, status: int = 400) -> StripeError:
    return StripeError(status, "invalid_request_error", message, code=code, param=param)


def missing(kind: str, object_id: str, param: str) -> StripeError:
    return StripeError(404, "invalid_request_error", f"No such {kind}: '{object_id}'", code="resource_missing",
                       param=param)


def new_id(kind: str, length: int = 24) -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    return f"{_PREFIX[kind]}_{''.join(secrets.choice(alphabet) for _ in range(length))}"


def _now() -> int:
    return int(time.time())


def _list(url: str, data: list[Object]) -> Object:
    return {"object": "list", "data": data, "has_more": False, "url": url}


class Stripe:
    """The account's objects. One lock: the HTTP front serves threads, and Stripe acts on one object at a time."""

    def __init__(self, api_version: str, on_event: Callable[[Object], None] = lambda event: None) -> None:
        self.api_version = api_version
        self.base_url = ""  # where the emulator listens: Checkout's page URLs are under it
        self.on_event = on_event
        self.lock = threading.RLock()
        self.objects: dict[str, Object] = {}
        self.events: list[Object] = []
        self.behaviour: dict[str, str] = {}  # payment method id -> TEST_CARDS' behaviour
        self._request: Object = {"id": None, "idempotency_key": None}
        self._failing_refunds: dict[str, float] = {}  # refund id -> when it fails (time.time())

    # --- plumbing -----------------------------------------------------------------------------------------------

    def get(self, kind: str, object_id: str, param: str) -> Object:
        """An object of this kind, or Stripe's 404 naming the parameter that gave the id."""
        found = self.objects.get(object_id)
        if found is None or found["object"] != kind or found.get("deleted"):
            raise missing(kind.replace(".", " ").replace("_", " "), object_id, param)
        return found

    def put(self, obj: Object) -> Object:
        self.objects[obj["id"]] = obj
        return obj

    def emit(self, type_: str, obj: Object, previous: Object | None = None) -> Object:
        data: Object = {"object": copy.deepcopy(self.render(obj))}
        if previous:
            data["previous_attributes"] = previous
        event = {"id": new_id("event"), "object": "event", "api_version": self.api_version, "created": _now(),
                 "data": data, "livemode": False, "pending_webhooks": 1, "request": dict(self._request), "type": type_}
        self.events.append(event)
        self.put(event)
        self.on_event(event)
        return event

    def requested(self, request_id: str | None, idempotency_key: str | None) -> None:
        """The request the next events are caused by (their `request` field)."""
        self._request = {"id": request_id, "idempotency_key": idempotency_key}

    def render(self, obj: Object) -> Object:
        """The object as the API answers it: a payment intent with its charges list (2022's shape) beside
        latest_charge (today's)."""
        if obj["object"] == "payment_intent":
            charges = [self.render(self.objects[c]) for c in obj["_charges"]]
            shown = {k: v for k, v in obj.items() if not k.startswith("_")}
            shown["charges"] = _list(f"/v1/charges?payment_intent={obj['id']}", list(reversed(charges)))
            return copy.deepcopy(shown)
        if obj["object"] == "charge":
            refunds = [self.objects[r] for r in obj["_refunds"]]
            shown = {k: v for k, v in obj.items() if not k.startswith("_")}
            shown["refunds"] = _list(f"/v1/charges/{obj['id']}/refunds", list(reversed(refunds)))
            return copy.deepcopy(shown)
        return copy.deepcopy({k: v for k, v in obj.items() if not k.startswith("_")})

    def expand(self, obj: Object, paths: list[str]) -> Object:
        """`expand[]`: ids at the given dotted paths replaced by their objects."""
        for path in paths:
            self._expand(obj, path.split("."))
        return obj

    def _expand(self, node: Any, parts: list[str]) -> None:
        if not isinstance(node, dict) or not parts:
            return
        head, rest = parts[0], parts[1:]
        if head == "data" and isinstance(node.get("data"), list):
            for item in node["data"]:
                self._expand(item, rest)
            return
        value = node.get(head)
        if isinstance(value, str) and value in self.objects:
            node[head] = self.render(self.objects[value])
            value = node[head]
        self._expand(value, rest)

    # --- customers ----------------------------------------------------------------------------------------------

    def create_customer(self, params: Object) -> Object:
        customer = self.put({
            "id": new_id("customer"), "object": "customer", "address": None, "balance": 0, "created": _now(),
            "currency": None, "default_source": None, "delinquent": False, "description": params.get("description"),
            "discount": None, "email": params.get("email"), "invoice_prefix": secrets.token_hex(4).upper(),
            "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None},
            "livemode": False, "metadata": params.get("metadata") or {}, "name": params.get("name"),
            "next_invoice_sequence": 1, "phone": params.get("phone"), "preferred_locales": [], "shipping": None,
            "tax_exempt": "none", "test_clock": None,
        })
        if params.get("payment_method"):
            self.attach_payment_method(params["payment_method"], {"customer": customer["id"]})
        self._update_customer(customer, params)
        self.emit("customer.created", customer)
        return customer

    def update_customer(self, customer_id: str, params: Object) -> Object:
        customer = self.get("customer", customer_id, "id")
        previous = self._update_customer(customer, params)
        if previous:
            self.emit("customer.updated", customer, previous)
        return customer

    def _update_customer(self, customer: Object, params: Object) -> Object:
        previous: Object = {}
        for field in ("name", "email", "phone", "description"):
            if field in params and params[field] != customer[field]:
                previous[field], customer[field] = customer[field], params[field] or None
        if "metadata" in params:
            previous["metadata"] = dict(customer["metadata"])
            customer["metadata"] = _merged(customer["metadata"], params["metadata"])
        settings = params.get("invoice_settings") or {}
        if "default_payment_method" in settings:
            pm_id = settings["default_payment_method"] or None
            if pm_id is not None:
                pm = self.get("payment_method", pm_id, "invoice_settings[default_payment_method]")
                if pm["customer"] != customer["id"]:
                    raise invalid(f"The customer does not have a payment method with the ID {pm_id}. The payment "
                                  "method must be attached to the customer.", code="resource_missing",
                                  param="invoice_settings[default_payment_method]")
            previous["invoice_settings"] = dict(customer["invoice_settings"])
            customer["invoice_settings"]["default_payment_method"] = pm_id
        return previous

    def delete_customer(self, customer_id: str) -> Object:
        customer = self.get("customer", customer_id, "id")
        customer["deleted"] = True
        self.emit("customer.deleted", customer)
        return {"id": customer_id, "object": "customer", "deleted": True}

    def customer(self, customer_id: str) -> Object:
        return self.get("customer", customer_id, "id")

    # --- payment methods ----------------------------------------------------------------------------------------

    def payment_method(self, pm_id: str, param: str = "payment_method") -> Object:
        """A payment method by id; a test token (pm_card_visa) makes a new one, as Stripe does."""
        if pm_id in TEST_CARDS:
            return self._card(pm_id)
        return self.get("payment_method", pm_id, param)

    def create_payment_method(self, params: Object) -> Object:
        if params.get("type") != "card":
            raise invalid(f"The payment method type {params.get('type')!r} is not supported by this emulator.",
                          code="payment_method_invalid_parameter", param="type")
        card = params.get("card") or {}
        token = TEST_NUMBERS.get(str(card.get("number", "")).replace(" ", ""))
        if token is None:
            raise StripeError(402, "card_error", "Your card number is incorrect.", code="incorrect_number",
                              param="card[number]")
        pm = self._card(token, exp_month=card.get("exp_month"), exp_year=card.get("exp_year"))
        pm["metadata"] = params.get("metadata") or {}
        if params.get("billing_details"):
            pm["billing_details"].update(params["billing_details"])
        return pm

    def _card(self, token: str, exp_month: int | None = None, exp_year: int | None = None) -> Object:
        brand, last4, behaviour = TEST_CARDS[token]
        pm = self.put({
            "id": new_id("payment_method"), "object": "payment_method",
            "billing_details": {"address": {"city": None, "country": None, "line1": None, "line2": None,
                                            "postal_code": None, "state": None},
                                "email": None, "name": None, "phone": None},
            "card": {"brand": brand, "checks": {"address_line1_check": None, "address_postal_code_check": None,
                                                "cvc_check": "pass"},
                     "country": "US", "exp_month": int(exp_month or 12), "exp_year": int(exp_year or 2034),
                     "fingerprint": secrets.token_hex(8), "funding": "credit", "generated_from": None, "last4": last4,
                     "networks": {"available": [brand], "preferred": None},
                     "three_d_secure_usage": {"supported": True}, "wallet": None},
            "created": _now(), "customer": None, "livemode": False, "metadata": {}, "type": "card",
        })
        self.behaviour[pm["id"]] = behaviour
        return pm

    def attach_payment_method(self, pm_id: str, params: Object) -> Object:
        pm = self.payment_method(pm_id, "payment_method")
        customer = self.get("customer", params["customer"], "customer")
        if pm["customer"] == customer["id"]:
            return pm
        if pm["customer"] is not None:
            raise invalid("The payment method you provided has already been attached to a customer.",
                          code="payment_method_unexpected_state", param="payment_method")
        if self.behaviour[pm["id"]] == "declined":
            raise self._card_error(self.behaviour[pm["id"]], pm)
        pm["customer"] = customer["id"]
        self.emit("payment_method.attached", pm)
        return pm

    def detach_payment_method(self, pm_id: str) -> Object:
        pm = self.payment_method(pm_id, "payment_method")
        if pm["customer"] is None:
            raise invalid("The payment method you provided is not attached to a customer so detachment is impossible.",
                          code="payment_method_unexpected_state", param="payment_method")
        customer = self.objects.get(pm["customer"])
        pm["customer"] = None
        if customer and customer["invoice_settings"]["default_payment_method"] == pm["id"]:
            customer["invoice_settings"]["default_payment_method"] = None
        self.emit("payment_method.detached", pm, {"customer": customer["id"] if customer else None})
        return pm

    def update_payment_method(self, pm_id: str, params: Object) -> Object:
        pm = self.payment_method(pm_id, "payment_method")
        if "metadata" in params:
            pm["metadata"] = _merged(pm["metadata"], params["metadata"])
        for field in ("exp_month", "exp_year"):
            if field in (params.get("card") or {}):
                pm["card"][field] = int(params["card"][field])
        if params.get("billing_details"):
            pm["billing_details"].update(params["billing_details"])
        self.emit("payment_method.updated", pm)
        return pm

    def payment_methods(self, customer_id: str | None, url: str) -> Object:
        if customer_id is not None:
            self.get("customer", customer_id, "customer")
        found = [o for o in self.objects.values() if o["object"] == "payment_method" and o["customer"] is not None
                 and customer_id in (None, o["customer"])]
        return _list(url, found[::-1])

    def _card_error(self, behaviour: str, pm: Object, **objects: Object) -> StripeError:
        code, decline_code, message = _DECLINES[behaviour]
        return StripeError(402, "card_error", message, code=code, decline_code=decline_code,
                           payment_method=self.render(pm), **objects)

    # --- setup intents ------------------------------------------------------------------------------------------

    def create_setup_intent(self, params: Object) -> Object:
        if params.get("customer"):
            self.get("customer", params["customer"], "customer")
        seti_id = new_id("setup_intent")
        intent = self.put({
            "id": seti_id, "object": "setup_intent", "application": None, "cancellation_reason": None,
            "client_secret": f"{seti_id}_secret_{secrets.token_hex(12)}", "created": _now(),
            "customer": params.get("customer"), "description": params.get("description"), "last_setup_error": None,
            "latest_attempt": None, "livemode": False, "mandate": None, "metadata": params.get("metadata") or {},
            "next_action": None, "on_behalf_of": None, "payment_method": None,
            "payment_method_options": {"card": {"mandate_options": None, "request_three_d_secure": "automatic"}},
            "payment_method_types": params.get("payment_method_types") or ["card"], "single_use_mandate": None,
            "status": "requires_payment_method", "usage": params.get("usage") or "off_session",
        })
        self.emit("setup_intent.created", intent)
        if params.get("payment_method"):
            intent["payment_method"] = self.payment_method(params["payment_method"])["id"]
            intent["status"] = "requires_confirmation"
        if params.get("confirm"):
            self.confirm_setup_intent(seti_id, {})
        return intent

    def update_setup_intent(self, seti_id: str, params: Object) -> Object:
        intent = self.get("setup_intent", seti_id, "intent")
        if "metadata" in params:
            intent["metadata"] = _merged(intent["metadata"], params["metadata"])
        for field in ("description", "customer"):
            if field in params:
                intent[field] = params[field] or None
        if params.get("payment_method"):
            intent["payment_method"] = self.payment_method(params["payment_method"])["id"]
            intent["status"] = "requires_confirmation"
        return intent

    def confirm_setup_intent(self, seti_id: str, params: Object) -> Object:
        intent = self.get("setup_intent", seti_id, "intent")
        if intent["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
            raise invalid(f"You cannot confirm this SetupIntent because it has a status of {intent['status']}.",
                          code="setup_intent_unexpected_state", param="intent")
        if params.get("payment_method"):
            intent["payment_method"] = self.payment_method(params["payment_method"])["id"]
        if intent["payment_method"] is None:
            raise invalid("You cannot confirm this SetupIntent because it's missing a payment method.",
                          code="setup_intent_unexpected_state", param="payment_method")
        pm = self.objects[intent["payment_method"]]
        behaviour = self.behaviour[pm["id"]]
        if behaviour == "declined":
            error = self._card_error(behaviour, pm)
            intent.update(status="requires_payment_method", payment_method=None, last_setup_error=dict(error.error))
            self.emit("setup_intent.setup_failed", intent)
            error.error["setup_intent"] = self.render(intent)
            raise error
        if behaviour == "authentication" and not params.get("_authenticated"):
            intent.update(status="requires_action", next_action={
                "type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": ""}})
            self.emit("setup_intent.requires_action", intent)
            return intent
        if intent["customer"] and pm["customer"] is None:
            pm["customer"] = intent["customer"]
            self.emit("payment_method.attached", pm)
        intent.update(status="succeeded", next_action=None, last_setup_error=None)
        self.emit("setup_intent.succeeded", intent)
        return intent

    def cancel_setup_intent(self, seti_id: str, params: Object) -> Object:
        intent = self.get("setup_intent", seti_id, "intent")
        if intent["status"] in ("succeeded", "canceled", "processing"):
            raise invalid(f"You cannot cancel this SetupIntent because it has a status of {intent['status']}.",
                          code="setup_intent_unexpected_state", param="intent")
        intent.update(status="canceled", cancellation_reason=params.get("cancellation_reason"), next_action=None)
        self.emit("setup_intent.canceled", intent)
        return intent

    def setup_intent(self, seti_id: str) -> Object:
        return self.get("setup_intent", seti_id, "intent")

    # --- payment intents ----------------------------------------------------------------------------------------

    def create_payment_intent(self, params: Object) -> Object:
        if params.get("customer"):
            self.get("customer", params["customer"], "customer")
        if params["amount"] < 1:
            raise invalid("Amount must be at least 1 cent", code="amount_too_small", param="amount")
        pi_id = new_id("payment_intent")
        intent = self.put({
            "id": pi_id, "object": "payment_intent", "amount": params["amount"], "amount_capturable": 0,
            "amount_received": 0, "application": None, "application_fee_amount": None,
            "automatic_payment_methods": None, "canceled_at": None, "cancellation_reason": None,
            "capture_method": params.get("capture_method") or "automatic",
            "client_secret": f"{pi_id}_secret_{secrets.token_hex(12)}",
            "confirmation_method": params.get("confirmation_method") or "automatic", "created": _now(),
            "currency": params["currency"].lower(), "customer": params.get("customer"),
            "description": params.get("description"), "invoice": None, "last_payment_error": None,
            "latest_charge": None, "livemode": False, "metadata": params.get("metadata") or {}, "next_action": None,
            "on_behalf_of": None, "payment_method": None,
            "payment_method_options": {"card": {"installments": None, "mandate_options": None, "network": None,
                                                "request_three_d_secure": "automatic"}},
            "payment_method_types": params.get("payment_method_types") or ["card"], "processing": None,
            "receipt_email": params.get("receipt_email"), "review": None,
            "setup_future_usage": params.get("setup_future_usage"), "shipping": None,
            "statement_descriptor": params.get("statement_descriptor"),
            "statement_descriptor_suffix": params.get("statement_descriptor_suffix"), "status": "requires_payment_method",
            "transfer_data": None, "transfer_group": None, "_charges": [],
        })
        if params.get("payment_method"):
            intent["payment_method"] = self.payment_method(params["payment_method"])["id"]
            intent["status"] = "requires_confirmation"
        self.emit("payment_intent.created", intent)
        if params.get("confirm"):
            self.confirm_payment_intent(pi_id, {k: params[k] for k in ("off_session", "error_on_requires_action")
                                                if k in params})
        return intent

    def update_payment_intent(self, pi_id: str, params: Object) -> Object:
        intent = self.get("payment_intent", pi_id, "intent")
        if intent["status"] in ("succeeded", "canceled", "processing", "requires_capture"):
            changing = set(params) - {"metadata", "description", "receipt_email", "expand"}
            if changing:
                raise invalid(f"You cannot update this PaymentIntent because it has a status of {intent['status']}.",
                              code="payment_intent_unexpected_state", param=sorted(changing)[0])
        if "metadata" in params:
            intent["metadata"] = _merged(intent["metadata"], params["metadata"])
        for field in ("amount", "description", "receipt_email", "customer", "setup_future_usage"):
            if field in params:
                intent[field] = params[field]
        if "currency" in params:
            intent["currency"] = params["currency"].lower()
        if params.get("payment_method"):
            intent["payment_method"] = self.payment_method(params["payment_method"])["id"]
            intent["status"] = "requires_confirmation"
        return intent

    def confirm_payment_intent(self, pi_id: str, params: Object, *, authenticated: bool = False) -> Object:
        """Charges the intent's payment method: a hold (manual capture) or a payment, or the card's refusal (402,
        the intent back to requires_payment_method with last_payment_error), or 3-D Secure (requires_action)."""
        intent = self.get("payment_intent", pi_id, "intent")
        if intent["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
            raise invalid(f"This PaymentIntent's status is {intent['status']}, but it must be one of requires_"
                          "payment_method, requires_confirmation or requires_action to be confirmed.",
                          code="payment_intent_unexpected_state", param="intent")
        if params.get("payment_method"):
            intent["payment_method"] = self.payment_method(params["payment_method"])["id"]
        if intent["payment_method"] is None:
            raise invalid("You cannot confirm this PaymentIntent because it's missing a payment method. To confirm "
                          "the PaymentIntent with cus_..., specify a payment method attached to this customer.",
                          code="payment_intent_unexpected_state", param="payment_method")
        pm = self.objects[intent["payment_method"]]
        if pm["customer"] is not None and pm["customer"] != intent["customer"]:
            raise invalid(f"The provided PaymentMethod {pm['id']} belongs to a different customer.",
                          code="payment_method_unexpected_state", param="payment_method")
        behaviour = self.behaviour[pm["id"]]
        if behaviour == "authentication" and not authenticated:
            if params.get("off_session"):
                return self._decline(intent, pm, behaviour)
            intent.update(status="requires_action", next_action={
                "type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": ""}})
            self.emit("payment_intent.requires_action", intent)
            return intent
        if behaviour in ("declined", "charge_fails", "insufficient_funds"):
            return self._decline(intent, pm, behaviour)
        manual = intent["capture_method"] == "manual"
        charge = self._charge(intent, pm, status="succeeded", captured=not manual)
        if manual:
            intent.update(status="requires_capture", amount_capturable=intent["amount"], next_action=None,
                          last_payment_error=None, latest_charge=charge["id"])
            self.emit("payment_intent.amount_capturable_updated", intent, {"amount_capturable": 0})
        else:
            intent.update(status="succeeded", amount_received=intent["amount"], next_action=None,
                          last_payment_error=None, latest_charge=charge["id"])
            self.emit("payment_intent.succeeded", intent)
        return intent

    def _decline(self, intent: Object, pm: Object, behaviour: str) -> Object:
        charge = self._charge(intent, pm, status="failed", captured=False)
        error = self._card_error(behaviour, pm, charge=charge["id"])
        intent.update(status="requires_payment_method", next_action=None, latest_charge=charge["id"],
                      last_payment_error=dict(error.error))
        intent["payment_method"] = None
        self.emit("payment_intent.payment_failed", intent)
        error.error["payment_intent"] = self.render(intent)
        raise error

    def _charge(self, intent: Object, pm: Object, *, status: str, captured: bool) -> Object:
        failed = status == "failed"
        code, _, message = _DECLINES.get(self.behaviour[pm["id"]], (None, None, None))
        charge = self.put({
            "id": new_id("charge"), "object": "charge", "amount": intent["amount"],
            "amount_captured": intent["amount"] if captured else 0, "amount_refunded": 0, "application": None,
            "application_fee": None, "application_fee_amount": None,
            "balance_transaction": None if failed or not captured else f"txn_{secrets.token_hex(12)}",
            "billing_details": copy.deepcopy(pm["billing_details"]), "calculated_statement_descriptor": "CSMS",
            "captured": captured, "created": _now(), "currency": intent["currency"], "customer": intent["customer"],
            "description": intent["description"], "disputed": False, "failure_balance_transaction": None,
            "failure_code": code if failed else None, "failure_message": message if failed else None,
            "fraud_details": {}, "invoice": None, "livemode": False, "metadata": dict(intent["metadata"]),
            "on_behalf_of": None,
            "outcome": {"network_status": "declined_by_network" if failed else "approved_by_network",
                        "reason": None, "risk_level": "normal", "risk_score": 20, "seller_message":
                            "The bank did not return any further details with this decline." if failed else
                            "Payment complete.", "type": "issuer_declined" if failed else "authorized"},
            "paid": not failed, "payment_intent": intent["id"], "payment_method": pm["id"],
            "payment_method_details": {"card": {**{k: pm["card"][k] for k in ("brand", "country", "exp_month",
                                                                              "exp_year", "fingerprint", "funding",
                                                                              "last4", "network", "wallet")
                                                   if k in pm["card"]},
                                                "network": pm["card"]["brand"], "checks": pm["card"]["checks"],
                                                "installments": None, "mandate": None,
                                                "three_d_secure": None},
                                       "type": "card"},
            "receipt_email": intent["receipt_email"], "receipt_number": None, "receipt_url": None,
            "refunded": False, "review": None, "shipping": None, "source_transfer": None,
            "statement_descriptor": None, "statement_descriptor_suffix": None, "status": status,
            "transfer_data": None, "transfer_group": None, "_refunds": [],
        })
        intent["_charges"].append(charge["id"])
        return charge

    def capture_payment_intent(self, pi_id: str, params: Object) -> Object:
        intent = self.get("payment_intent", pi_id, "intent")
        if intent["status"] != "requires_capture":
            raise invalid(f"This PaymentIntent could not be captured because it has a status of {intent['status']}. "
                          "Only a PaymentIntent with one of the following statuses may be captured: requires_capture.",
                          code="payment_intent_unexpected_state", param="intent")
        amount = params.get("amount_to_capture", intent["amount_capturable"])
        if amount > intent["amount_capturable"]:
            raise invalid(f"The amount_to_capture ({amount}) cannot be greater than the amount_capturable "
                          f"({intent['amount_capturable']}) of this PaymentIntent.", code="amount_too_large",
                          param="amount_to_capture")
        if amount < 1:
            raise invalid("amount_to_capture must be at least 1.", code="amount_too_small", param="amount_to_capture")
        charge = self.objects[intent["latest_charge"]]
        charge.update(captured=True, amount_captured=amount, balance_transaction=f"txn_{secrets.token_hex(12)}")
        intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
        self.emit("payment_intent.succeeded", intent)
        return intent

    def cancel_payment_intent(self, pi_id: str, params: Object) -> Object:
        intent = self.get("payment_intent", pi_id, "intent")
        if intent["status"] not in _CANCELABLE:
            raise invalid(f"You cannot cancel this PaymentIntent because it has a status of {intent['status']}. Only "
                          "a PaymentIntent with one of the following statuses may be canceled: requires_payment_method,"
                          " requires_capture, requires_confirmation, requires_action, processing.",
                          code="payment_intent_unexpected_state", param="intent")
        if intent["status"] == "requires_capture":  # the hold is released: its uncaptured charge shows refunded
            charge = self.objects[intent["latest_charge"]]
            charge.update(refunded=True, amount_refunded=charge["amount"])
        intent.update(status="canceled", canceled_at=_now(), amount_capturable=0, next_action=None,
                      cancellation_reason=params.get("cancellation_reason"))
        self.emit("payment_intent.canceled", intent)
        return intent

    def payment_intent(self, pi_id: str) -> Object:
        return self.get("payment_intent", pi_id, "intent")

    def charge(self, charge_id: str) -> Object:
        return self.get("charge", charge_id, "charge")

    # --- refunds ------------------------------------------------------------------------------------------------

    def create_refund(self, params: Object) -> Object:
        if params.get("payment_intent"):
            intent = self.get("payment_intent", params["payment_intent"], "payment_intent")
            if intent["status"] != "succeeded":
                raise invalid(f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                              code="charge_not_refundable" if intent["status"] == "requires_capture" else
                              "payment_intent_unexpected_state", param="payment_intent")
            charge = self.objects[intent["latest_charge"]]
        elif params.get("charge"):
            charge = self.get("charge", params["charge"], "charge")
        else:
            raise invalid("One of the following params should be provided for this request: payment_intent or "
                          "charge.", code="parameter_missing", param="charge")
        if not charge["captured"] or charge["status"] != "succeeded":
            raise invalid(f"Charge {charge['id']} has not been captured and cannot be refunded.",
                          code="charge_not_refundable", param="charge")
        left = charge["amount_captured"] - charge["amount_refunded"]
        if left <= 0:
            raise invalid(f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded",
                          param="charge")
        amount = params.get("amount", left)
        if amount > left:
            raise invalid(f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                          code="amount_too_large", param="amount")
        if amount < 1:
            raise invalid("Refund amount must be at least 1.", code="amount_too_small", param="amount")
        refund = self.put({
            "id": new_id("refund"), "object": "refund", "amount": amount,
            "balance_transaction": f"txn_{secrets.token_hex(12)}", "charge": charge["id"], "created": _now(),
            "currency": charge["currency"], "metadata": params.get("metadata") or {}, "next_action": None,
            "payment_intent": charge["payment_intent"], "reason": params.get("reason"), "receipt_number": None,
            "source_transfer_reversal": None, "status": "succeeded", "transfer_reversal": None,
        })
        previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
        charge["_refunds"].append(refund["id"])
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
        self.emit("refund.created", refund)
        self.emit("charge.refunded", charge, previous)
        if self.behaviour.get(charge["payment_method"]) == "refund_fails":
            self._failing_refunds[refund["id"]] = time.time() + REFUND_FAILS_AFTER_S
        return refund

    def fail_refunds_due(self) -> None:
        """The refunds of pm_card_refundFail charges whose time has come fail, as Stripe's do: the money goes back to
        the charge (amount_refunded less), and charge.refund.updated and refund.failed are sent."""
        for refund_id, when in list(self._failing_refunds.items()):
            if time.time() < when:
                continue
            del self._failing_refunds[refund_id]
            refund = self.objects[refund_id]
            refund.update(status="failed", failure_reason="expired_or_canceled_card",
                          failure_balance_transaction=f"txn_{secrets.token_hex(12)}")
            charge = self.objects[refund["charge"]]
            charge["amount_refunded"] -= refund["amount"]
            charge["refunded"] = False
            self.emit("charge.refund.updated", refund, {"status": "succeeded"})
            self.emit("refund.failed", refund, {"status": "succeeded"})

    def refund(self, refund_id: str) -> Object:
        return self.get("refund", refund_id, "refund")

    def refunds(self, params: Object, url: str) -> Object:
        found = [o for o in self.objects.values() if o["object"] == "refund"
                 and params.get("payment_intent") in (None, o["payment_intent"])
                 and params.get("charge") in (None, o["charge"])]
        return _list(url, found[::-1])

    # --- events -------------------------------------------------------------------------------------------------

    def event(self, event_id: str) -> Object:
        return self.get("event", event_id, "id")

    def list_events(self, params: Object, url: str) -> Object:
        types = params.get("types") or ([params["type"]] if params.get("type") else None)
        found = [e for e in reversed(self.events) if types is None or _type_matches(e["type"], types)]
        return _list(url, found[:int(params.get("limit") or 10)])


def _type_matches(event_type: str, patterns: list[str]) -> bool:
    return any(event_type == p or (p.endswith(".*") and event_type.startswith(p[:-1])) for p in patterns)


def _merged(metadata: Object, update: Object) -> Object:
    """Stripe's metadata update: keys set to "" are removed, others set."""
    merged = {**metadata, **update}
    return {k: v for k, v in merged.items() if v != ""}
