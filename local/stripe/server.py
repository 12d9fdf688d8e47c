"""The Stripe emulator's HTTP front: Stripe's REST API (/v1/...), its hosted Checkout page (/checkout/{id}), and its
webhooks, signed as Stripe signs them and POSTed from a background thread.

What it answers is Stripe's behaviour as its API reference and testing guide state it (docs/stripe-emulator.md):
Bearer auth with the secret key, form-encoded parameters checked against Stripe's own API description (spec.py),
idempotency keys, Stripe's error bodies and status codes, test cards.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import logging
import os
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from local.stripe import checkout
from local.stripe.objects import Object, Stripe, StripeError, invalid
from local.stripe.spec import decode_form, request_params

log = logging.getLogger("csms.stripe")

# The API version events carry: the one the pinned stripe SDK (pyproject.toml) speaks.
API_VERSION = "2026-10-28.endive"
# Waits before each retry of a webhook delivery the receiver did not answer 2xx (Stripe retries for days).
WEBHOOK_RETRIES_S = (0.5, 1.0, 2.0, 4.0, 8.0)
# How often what Stripe does in time (expiring Checkout Sessions, failing refunds) is looked for, and the state file
# written if anything changed: a kill loses at most this much.
_SWEEP_S = 0.25


def signature(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header of a payload: t=<unix time>,v1=<HMAC-SHA256 of "t.payload" with the secret>."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class _Route:
    method: str
    template: str  # the OpenAPI path, e.g. /v1/payment_intents/{intent}
    act: Callable[..., Object]


# Every API route, by the OpenAPI path its parameters are checked against; each acts on the account with the
# parameters, the request's path (a list's `url`) and the path's ids.
_ROUTES = [
    _Route("POST", "/v1/customers", lambda s, p, u: s.create_customer(p)),
    _Route("GET", "/v1/customers/{customer}", lambda s, p, u, customer: s.customer(customer)),
    _Route("POST", "/v1/customers/{customer}", lambda s, p, u, customer: s.update_customer(customer, p)),
    _Route("DELETE", "/v1/customers/{customer}", lambda s, p, u, customer: s.delete_customer(customer)),
    _Route("GET", "/v1/customers/{customer}/payment_methods",
           lambda s, p, u, customer: s.payment_methods(customer, u)),
    _Route("POST", "/v1/payment_methods", lambda s, p, u: s.create_payment_method(p)),
    _Route("GET", "/v1/payment_methods", lambda s, p, u: s.payment_methods(p.get("customer"), u)),
    _Route("GET", "/v1/payment_methods/{payment_method}", lambda s, p, u, payment_method: s.payment_method(payment_method)),
    _Route("POST", "/v1/payment_methods/{payment_method}",
           lambda s, p, u, payment_method: s.update_payment_method(payment_method, p)),
    _Route("POST", "/v1/payment_methods/{payment_method}/attach",
           lambda s, p, u, payment_method: s.attach_payment_method(payment_method, p)),
    _Route("POST", "/v1/payment_methods/{payment_method}/detach",
           lambda s, p, u, payment_method: s.detach_payment_method(payment_method)),
    _Route("POST", "/v1/setup_intents", lambda s, p, u: s.create_setup_intent(p)),
    _Route("GET", "/v1/setup_intents/{intent}", lambda s, p, u, intent: s.setup_intent(intent)),
    _Route("POST", "/v1/setup_intents/{intent}", lambda s, p, u, intent: s.update_setup_intent(intent, p)),
    _Route("POST", "/v1/setup_intents/{intent}/confirm", lambda s, p, u, intent: s.confirm_setup_intent(intent, p)),
    _Route("POST", "/v1/setup_intents/{intent}/cancel", lambda s, p, u, intent: s.cancel_setup_intent(intent, p)),
    _Route("POST", "/v1/payment_intents", lambda s, p, u: s.create_payment_intent(p)),
    _Route("GET", "/v1/payment_intents/{intent}", lambda s, p, u, intent: s.payment_intent(intent)),
    _Route("POST", "/v1/payment_intents/{intent}", lambda s, p, u, intent: s.update_payment_intent(intent, p)),
    _Route("POST", "/v1/payment_intents/{intent}/confirm",
           lambda s, p, u, intent: s.confirm_payment_intent(intent, p)),
    _Route("POST", "/v1/payment_intents/{intent}/capture",
           lambda s, p, u, intent: s.capture_payment_intent(intent, p)),
    _Route("POST", "/v1/payment_intents/{intent}/cancel",
           lambda s, p, u, intent: s.cancel_payment_intent(intent, p)),
    _Route("GET", "/v1/charges/{charge}", lambda s, p, u, charge: s.charge(charge)),
    _Route("POST", "/v1/refunds", lambda s, p, u: s.create_refund(p)),
    _Route("GET", "/v1/refunds", lambda s, p, u: s.refunds(p, u)),
    _Route("GET", "/v1/refunds/{refund}", lambda s, p, u, refund: s.refund(refund)),
    _Route("POST", "/v1/checkout/sessions", lambda s, p, u: checkout.create(s, p)),
    _Route("GET", "/v1/checkout/sessions/{session}", lambda s, p, u, session: checkout.get(s, session)),
    _Route("POST", "/v1/checkout/sessions/{session}/expire", lambda s, p, u, session: checkout.expire(s, session)),
    _Route("GET", "/v1/events", lambda s, p, u: s.list_events(p, u)),
    _Route("GET", "/v1/events/{id}", lambda s, p, u, id: s.event(id)),
]


_URLS = Map([Rule(r.template.replace("{", "<").replace("}", ">"), methods=[r.method], endpoint=i)
             for i, r in enumerate(_ROUTES)]
            + [Rule("/checkout/<session>", methods=["GET", "POST"], endpoint="checkout"),
               Rule("/_emulator/fail_next", methods=["POST"], endpoint="fail_next"),
               Rule("/_emulator/payment_intents/<intent>/expire_authorization", methods=["POST"],
                    endpoint="expire_authorization")])


class _Quiet(WSGIRequestHandler):
    """No line per request: the CSMS's own logs are what a developer reads."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass
class _Stored:
    """An idempotent request's first answer, replayed to the same key with the same parameters."""

    route: str
    params: Any
    status: int
    body: bytes


class StripeEmulator:
    """A stateful Stripe on this machine (docs/stripe-emulator.md). `webhook_url` None keeps the signed deliveries
    for `drain()` (the service tests hand them to the billing handler in-process). With a `state_file` its objects,
    events and idempotent answers are read at start and written at stop, so a restart keeps them."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, api_key: str = "sk_test_emulator",
                 webhook_url: str | None = None, webhook_secret: str = "whsec_emulator",
                 api_version: str = API_VERSION, state_file: Path | None = None) -> None:
        self.host, self.port = host, port
        self.api_key = api_key
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.stripe = Stripe(api_version, self._emitted)
        self._idempotent: dict[str, _Stored] = {}
        self._due: list[tuple[float, int, int, Object]] = []  # (when, order emitted, attempts made, event), a heap
        self._sequence = itertools.count()
        self._wake = threading.Condition()
        self._stopping = False
        self._failing: list[int] = []  # [requests left to fail, their status]: fail_next
        self._dirty = False  # a change not yet in the state file
        self._undelivered: list[tuple[str, dict[str, str]]] = []
        self._server: BaseWSGIServer | None = None
        self._threads: list[threading.Thread] = []
        self.state_file = state_file

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def events(self) -> list[Object]:
        """Every event emitted, oldest first."""
        return list(self.stripe.events)

    def start(self) -> "StripeEmulator":
        if self.state_file is not None and self.state_file.exists():
            self._load(json.loads(self.state_file.read_text()))
        self._server = make_server(self.host, self.port, self._wsgi, threaded=True, request_handler=_Quiet)
        self.port = self._server.server_port
        self.stripe.base_url = self.url
        self._threads = [threading.Thread(target=self._server.serve_forever, name="stripe-emulator", daemon=True),
                         threading.Thread(target=self._deliver, name="stripe-webhooks", daemon=True)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        with self._wake:
            self._stopping = True
            self._wake.notify()
        for thread in self._threads:
            thread.join(5)
        self._save()

    def _save(self) -> None:
        """Writes the state file (whole, then renamed over the old one) if anything changed since the last write."""
        if self.state_file is None:
            return
        with self.stripe.lock:
            if not self._dirty:
                return
            state = {"objects": self.stripe.objects, "behaviour": self.stripe.behaviour,
                     "idempotent": {key: {**asdict(stored), "body": stored.body.decode()}
                                    for key, stored in self._idempotent.items()}}
            written = self.state_file.with_suffix(".tmp")
            written.write_text(json.dumps(state))
            os.replace(written, self.state_file)
            self._dirty = False

    def _load(self, state: dict[str, Any]) -> None:
        self.stripe.objects.update(state["objects"])
        self.stripe.events.extend(o for o in state["objects"].values() if o["object"] == "event")
        self.stripe.behaviour.update(state["behaviour"])
        self._idempotent.update({key: _Stored(**{**stored, "body": stored["body"].encode()})
                                 for key, stored in state["idempotent"].items()})

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """Not Stripe's: the next `count` API requests fail with `status` (an api_error, `Stripe-Should-Retry:
        false` so the SDK does not retry it) before anything is done or stored, as when Stripe or the network fails:
        what retries are tested with. Also `POST /_emulator/fail_next` (count, status) with the API key."""
        with self.stripe.lock:
            self._failing = [count, status] if count > 0 else []

    def expire_authorization(self, intent_id: str) -> Object:
        """Not Stripe's: a hold's authorization runs out now instead of after days, as the card network ends it:
        the intent is canceled (`cancellation_reason` automatic) and payment_intent.canceled sent. Also
        `POST /_emulator/payment_intents/{id}/expire_authorization` with the API key."""
        with self.stripe.lock:
            intent = self.stripe.payment_intent(intent_id)
            if intent["status"] != "requires_capture":
                raise invalid(f"PaymentIntent {intent_id} holds nothing: its status is {intent['status']}.",
                              code="payment_intent_unexpected_state", param="intent")
            self.stripe.requested(None, None)
            return self.stripe.render(self.stripe.cancel_payment_intent(intent_id,
                                                                        {"cancellation_reason": "automatic"}))

    def signed(self, event: Object) -> tuple[str, dict[str, str]]:
        """An event as its webhook carries it: the JSON payload and the headers, signed with the webhook secret."""
        payload = json.dumps(event, indent=2)
        return payload, {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                         "Stripe-Signature": signature(payload, self.webhook_secret)}

    def drain(self) -> list[tuple[str, dict[str, str]]]:
        """The signed deliveries not yet drained, oldest first (only without a webhook_url)."""
        with self.stripe.lock:
            drained, self._undelivered = self._undelivered, []
        return drained

    # --- webhooks -----------------------------------------------------------------------------------------------

    def _emitted(self, event: Object) -> None:
        self._dirty = True
        if self.webhook_url is None:
            self._undelivered.append(self.signed(event))
            return
        with self._wake:
            heapq.heappush(self._due, (time.monotonic(), next(self._sequence), 0, event))
            self._wake.notify()

    def _deliver(self) -> None:
        """Sends each event when due, oldest first; one the receiver did not take is sent again after a wait,
        without holding back the events after it (Stripe retries each on its own). Between sends, does what
        Stripe does in time (expires the Checkout Sessions past their time, fails the refunds due to fail) and
        writes the state file."""
        swept = 0.0
        while True:
            if time.monotonic() - swept >= _SWEEP_S:
                swept = time.monotonic()
                with self.stripe.lock:
                    checkout.sweep(self.stripe)
                    self.stripe.fail_refunds_due()
                self._save()
            with self._wake:
                if self._stopping:
                    return
                wait = self._due[0][0] - time.monotonic() if self._due else _SWEEP_S
                if wait > 0:
                    self._wake.wait(min(wait, _SWEEP_S))
                    continue
                due = heapq.heappop(self._due)
            _, sequence, attempt, event = due
            if self._post(event):
                continue
            if attempt < len(WEBHOOK_RETRIES_S):
                with self._wake:
                    heapq.heappush(self._due, (time.monotonic() + WEBHOOK_RETRIES_S[attempt], sequence, attempt + 1,
                                               event))
            else:
                log.warning("stripe emulator: gave up delivering %s (%s) to %s", event["id"], event["type"],
                            self.webhook_url)

    def _post(self, event: Object) -> bool:
        assert self.webhook_url is not None
        payload, headers = self.signed(event)  # signed at each attempt, as Stripe does (a fresh timestamp)
        request = urllib.request.Request(self.webhook_url, data=payload.encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return 200 <= response.status < 300
        except (urllib.error.URLError, OSError) as error:
            log.info("stripe emulator: %s to %s: %s", event["id"], self.webhook_url, error)
            return False

    # --- the API ------------------------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        return self._answer(request)(environ, start_response)

    def _answer(self, request: Request) -> Response:
        adapter = _URLS.bind_to_environ(request.environ)
        try:
            endpoint, arguments = adapter.match()
        except (NotFound, MethodNotAllowed):
            if request.path.startswith("/v1/"):
                return _json(404, invalid(f"Unrecognized request URL ({request.method}: {request.path}). Please see "
                                          "https://stripe.com/docs or we can help at https://support.stripe.com/.",
                                          status=404).body())
            return Response("Not Found", 404)
        except HTTPException as error:  # e.g. a redirect to a slash-less path
            return error.get_response()
        if endpoint == "checkout":
            with self.stripe.lock:
                return checkout.page(self.stripe, request, arguments["session"])
        problem = self._unauthorized(request)
        if problem is not None:
            return problem
        if endpoint == "fail_next":
            self.fail_next(int(request.form.get("count", 1)), int(request.form.get("status", 500)))
            return _json(200, {"failing": self._failing})
        if endpoint == "expire_authorization":
            try:
                return _json(200, self.expire_authorization(arguments["intent"]))
            except StripeError as error:
                return _json(error.status, error.body())
        with self.stripe.lock:
            if self._failing:
                self._failing[0] -= 1
                status = self._failing[1]
                if not self._failing[0]:
                    self._failing = []
                response = _json(status, {"error": {"type": "api_error", "message": "An unknown error occurred "
                                                                                        "(the emulator's fail_next)."}})
                response.headers["Stripe-Should-Retry"] = "false"
                return response
        route = _ROUTES[endpoint]
        request_id = f"req_{secrets.token_hex(7)}"
        key = request.headers.get("Idempotency-Key") if route.method == "POST" else None
        with self.stripe.lock:
            try:
                params = request_params(route.template, route.method, decode_form(request.form.items(multi=True)),
                                        decode_form(request.args.items(multi=True)))
            except StripeError as error:
                return _json(error.status, error.body(), request_id)
            if key is not None:
                stored = self._idempotent.get(key)
                if stored is not None:
                    if (stored.route, stored.params) != (f"{route.method} {request.path}", params):
                        return _json(400, {"error": {
                            "type": "idempotency_error",
                            "message": f"Keys for idempotent requests can only be used with the same parameters they "
                                       f"were first used with. Try using a key other than '{key}' if you meant to "
                                       "execute a different request."}}, request_id)
                    response = Response(stored.body, stored.status, content_type="application/json")
                    response.headers.update({"Idempotent-Replayed": "true", "Idempotency-Key": key,
                                             "Request-Id": request_id, "Stripe-Version": self.stripe.api_version})
                    return response
            self.stripe.requested(request_id, key)
            status, body = self._act(route, params, request.full_path.rstrip("?"), arguments)
            self._dirty = self._dirty or route.method != "GET"
            text = json.dumps(body, indent=2).encode()
            if key is not None:
                self._idempotent[key] = _Stored(f"{route.method} {request.path}", params, status, text)
        response = Response(text, status, content_type="application/json")
        response.headers.update({"Request-Id": request_id, "Stripe-Version": self.stripe.api_version,
                                 **({"Idempotency-Key": key} if key else {})})
        return response

    def _act(self, route: _Route, params: Object, url: str, arguments: dict[str, str]) -> tuple[int, Object]:
        try:
            found = route.act(self.stripe, params, url.split("?")[0], **arguments)
        except StripeError as error:
            return error.status, error.body()
        return 200, self.stripe.expand(self.stripe.render(found), params.get("expand") or [])

    def _unauthorized(self, request: Request) -> Response | None:
        authorization = request.headers.get("Authorization", "")
        given = authorization.removeprefix("Bearer ").strip() if authorization.startswith("Bearer ") else None
        if given is None and request.authorization is not None and request.authorization.type == "basic":
            given = request.authorization.username
        if not given:
            return _json(401, {"error": {
                "type": "invalid_request_error",
                "message": "You did not provide an API key. You need to provide your API key in the Authorization "
                           "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."}})
        if not hmac.compare_digest(given, self.api_key):
            return _json(401, {"error": {"type": "invalid_request_error", "code": "api_key_invalid",
                                         "message": f"Invalid API Key provided: {given[:8]}{'*' * 12}{given[-4:]}"}})
        return None


def _json(status: int, body: Object, request_id: str | None = None) -> Response:
    response = Response(json.dumps(body, indent=2), status, content_type="application/json")
    if request_id:
        response.headers["Request-Id"] = request_id
    return response
