"""REST: /webhooks, where operators register the receivers of signed event deliveries, and see each delivery;
/notification-preferences, what each driver is told of and where (services/notifications/drivers.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.models import Tag
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from services.notifications import delivery, drivers, store, webhooks
from services.notifications.event_types import ANY, TYPES
from services.shared import clock
from services.shared.auth import Scope
from services.shared.rest import (
    ProblemDetail,
    ProblemError,
    allow,
    decode_token,
    encode_token,
    json_response,
    resolver,
    responses,
)
from services.shared.settings import settings
from services.shared.text import EMAIL

app = resolver()
WEBHOOKS = "Webhooks"
PREFERENCES = "Notification preferences"
TAGS = {
    WEBHOOKS: (
        "Receivers of events: each delivery is a POST signed with the webhook's secret (header Csms-Signature, as "
        "Stripe signs), retried with backoff for about 11 hours, and listed with its attempts (docs/notifications.md)."
    ),
    PREFERENCES: (
        "What a driver is told of (their sessions starting, ending with the receipt's link, failing to start, "
        "charging paused, reservations, idle fees) and where: by email, and to a webhook signed as operators' are."
    ),
}
app.configure_openapi(tags=[Tag(name=name, description=text) for name, text in TAGS.items()])

EventType = Literal[("*", *TYPES)]  # type: ignore[valid-type]
WebhookId = Annotated[str, Path(max_length=64, description="The webhook id (wh_...)")]


class WebhookDefinition(BaseModel):
    url: str = Field(min_length=1, max_length=webhooks.MAX_URL_LENGTH,
                     description="Where deliveries are posted: https (http to a loopback address in local mode only)")
    event_types: list[EventType] = Field(min_length=1, max_length=len(TYPES),
                                         description=f"The event types to deliver, or [\"*\"] for all: {', '.join(TYPES)}")
    secret: str | None = Field(None, min_length=16, max_length=256,
                               description="The signing secret; without it one is made (whsec_...) and answered once")
    description: str | None = Field(None, max_length=256)


class Webhook(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str | None = None
    secret_hint: str = Field(description="The secret's last four characters: the secret itself is shown only once")
    created_at: str


class CreatedWebhook(Webhook):
    secret: str = Field(description="The signing secret: keep it, it is never shown again")


class WebhookPage(BaseModel):
    items: list[Webhook]
    next_token: str | None


class Attempt(BaseModel):
    at: str
    status_code: int | None = Field(None, description="The receiver's HTTP status; null when it gave none")
    error: str | None = Field(None, description="Why the attempt failed: an HTTP status, a timeout, a refused connection")
    duration_ms: int


class Delivery(BaseModel):
    event_id: str
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: list[Attempt]
    next_attempt_at: str | None = Field(None, description="When a pending delivery is tried again")
    created_at: str


class DeliveryPage(BaseModel):
    items: list[Delivery]
    next_token: str | None


DriverEventType = Literal[drivers.TYPES]  # type: ignore[valid-type]
AccountId = Annotated[str, Path(min_length=1, max_length=64,
                                description="The driver's account (billing's acct_...; not checked: any id is kept)")]


class PreferencesDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(None, max_length=254, pattern=EMAIL, description="Where emails go")
    webhook_url: str | None = Field(None, min_length=1, max_length=webhooks.MAX_URL_LENGTH,
                                    description="Where signed deliveries are posted: https, as for /webhooks")
    events: list[DriverEventType] = Field(min_length=1, max_length=len(drivers.TYPES),
                                          description=f"What the driver is told of: {', '.join(drivers.TYPES)}")


class Preferences(BaseModel):
    account_id: str
    email: str | None = None
    webhook_url: str | None = None
    webhook_secret_hint: str | None = Field(None, description="The webhook secret's last four characters")
    events: list[str]
    updated_at: str


class StoredPreferences(Preferences):
    webhook_secret: str | None = Field(None, description=("The webhook's signing secret, shown when the URL is new "
                                                          "(and never again): keep it"))


# The scopes that register webhooks see their URLs whole; others see scheme://host/… (a URL may carry a token).
_SEE_URLS = frozenset({Scope.ADMIN.value, Scope.OPERATOR.value})


def _sees_urls() -> bool:
    authorizer = (app.current_event.raw_event.get("requestContext") or {}).get("authorizer") or {}
    return bool(_SEE_URLS & set(str(authorizer.get("scopes", "")).split()))


def _webhook(item: dict[str, Any], whole_url: bool = True) -> Webhook:
    url = item["url"] if whole_url else webhooks.redacted(item["url"])
    return Webhook(id=item["webhook_id"], url=url, event_types=item["event_types"],
                   description=item.get("description"), secret_hint=item["secret_hint"], created_at=item["created_at"])


def _check_url(url: str, field: str) -> None:
    """422 at `field` for a URL that cannot receive deliveries (webhooks.url_problem)."""
    problem = webhooks.url_problem(url, settings().webhook_allow_http)
    if problem:
        raise ProblemError(422, f"{field}: {problem}", [ProblemDetail(path=f"body.{field}", message=problem)])


def _existing(webhook_id: str) -> dict[str, Any]:
    item = store.get_webhook(webhook_id)
    if item is None:
        raise ProblemError(404, f"No webhook {webhook_id!r}: GET /webhooks lists them")
    return item


@app.post("/webhooks", security=allow(Scope.ADMIN, Scope.OPERATOR), summary="Register a webhook", tags=[WEBHOOKS],
          description=("Registers a receiver of the listed event types (or `[\"*\"]`, alone, for all). The answer (201) "
                       "holds the signing secret, the only time it is shown: the one given, or a new `whsec_...`. 422 "
                       "for a URL that is not https (plain http is allowed only to a loopback address in local mode), "
                       "is not ASCII, has credentials in it, names an address that is not public (private, "
                       "link-local, loopback outside local mode), or for an unknown event type."),
          responses=responses({201: ("Registered, with its secret", CreatedWebhook)}, 422))
def create_webhook(definition: WebhookDefinition) -> Response[CreatedWebhook]:
    _check_url(definition.url, "url")
    if ANY in definition.event_types and len(definition.event_types) > 1:
        raise ProblemError(422, 'event_types: "*" means every type: send it alone',
                           [ProblemDetail(path="body.event_types", message='"*" alone')])
    secret = definition.secret or webhooks.new_secret()
    item = {"webhook_id": webhooks.new_id(), "url": definition.url, "event_types": list(dict.fromkeys(definition.event_types)),
            "secret": secret, "secret_hint": webhooks.hint(secret), "created_at": clock.iso(clock.now())}
    if definition.description:
        item["description"] = definition.description
    store.put_webhook(item)
    return json_response(201, CreatedWebhook(**_webhook(item).model_dump(), secret=secret),
                         headers={"Location": f"/webhooks/{item['webhook_id']}"})


@app.get("/webhooks", security=allow(*Scope), summary="List webhooks", tags=[WEBHOOKS],
         description=("The webhooks, in storage order, without their secrets (their last four characters only). The "
                      "URL is whole for admin and operator keys, `scheme://host/…` for others (it may carry a token). "
                      "Follow `next_token` until it is null; 422 for a bad `limit` or a foreign `next_token`."),
         responses=responses({200: ("A page of webhooks", WebhookPage)}, 422))
def list_webhooks(
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query(max_length=1024)] = None,
) -> WebhookPage:
    items, last = store.scan_webhooks(limit, decode_token(next_token, webhook_id=None))
    whole = _sees_urls()
    return WebhookPage(items=[_webhook(i, whole) for i in items], next_token=encode_token(last))


@app.get("/webhooks/<webhook_id>", security=allow(*Scope), summary="Get a webhook", tags=[WEBHOOKS],
         description=("One webhook: its URL (whole for admin and operator keys, `scheme://host/…` for others), event "
                      "types, description and the hint of its secret. 404 for an unknown id."),
         responses=responses({200: ("The webhook", Webhook)}, 404, 422))
def get_webhook(webhook_id: WebhookId) -> Webhook:
    return _webhook(_existing(webhook_id), _sees_urls())


@app.delete("/webhooks/<webhook_id>", security=allow(Scope.ADMIN, Scope.OPERATOR), summary="Delete a webhook",
            tags=[WEBHOOKS],
            description=("Stops deliveries to the webhook at once: a pending retry fails as `the webhook was deleted`. Its "
                         "deliveries stay listed for 30 days. 404 for an unknown id."),
            responses=responses({204: ("Deleted", None)}, 404, 422))
def delete_webhook(webhook_id: WebhookId) -> Response[None]:
    if not store.delete_webhook(webhook_id):
        raise ProblemError(404, f"No webhook {webhook_id!r}: GET /webhooks lists them")
    return Response(204)


@app.get("/webhooks/<webhook_id>/deliveries", security=allow(*Scope), summary="List a webhook's deliveries",
         tags=[WEBHOOKS],
         description=(f"The events delivered (or being delivered) to the webhook, newest event first: each with its "
                      f"status (pending, delivered, failed) and every attempt (time, HTTP status or error, duration). A "
                      f"failed attempt is retried after {', '.join(f'{s} s' for s in delivery.BACKOFF_S)}; after "
                      f"{delivery.MAX_ATTEMPTS} attempts the delivery has failed. Kept 30 days, also after the webhook is "
                      f"deleted. 404 when there is neither such a webhook nor deliveries to it."),
         responses=responses({200: ("A page of deliveries", DeliveryPage)}, 404, 422))
def list_deliveries(
    webhook_id: WebhookId,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query(max_length=1024)] = None,
) -> DeliveryPage:
    start = decode_token(next_token, target_id=webhook_id, delivery_key=None)
    items, last = store.list_deliveries(webhook_id, limit, start)
    if not items and start is None:
        _existing(webhook_id)
    return DeliveryPage(items=[Delivery(**{name: i.get(name) for name in Delivery.model_fields}) for i in items],
                        next_token=encode_token(last))


def _preferences(item: dict[str, Any], whole: bool = True) -> Preferences:
    """`whole` False: the webhook's URL and the email as webhooks.redacted and redacted_email leave them."""
    url, email = item.get("webhook_url"), item.get("email")
    return Preferences(account_id=item["account_id"], email=email if email is None or whole else redacted_email(email),
                       webhook_url=url if url is None or whole else webhooks.redacted(url),
                       webhook_secret_hint=item.get("webhook_secret_hint"), events=item["events"],
                       updated_at=item["updated_at"])


def redacted_email(email: str) -> str:
    """What a reader who may not change preferences sees of a driver's email: its first letter and its domain."""
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}…@{domain}"


def _no_preferences(account_id: str) -> ProblemError:
    return ProblemError(404, f"No notification preferences for account {account_id!r}: PUT them first")


@app.put("/notification-preferences/<account_id>", security=allow(Scope.ADMIN, Scope.OPERATOR),
         summary="Set a driver's notification preferences", tags=[PREFERENCES],
         description=("Replaces what the driver of the account is told of and where: `email`, `webhook_url` or both "
                      "(at least one), and `events`. A webhook is signed as /webhooks' are: its secret is answered "
                      "when the URL is new (the first time, or a changed URL), never again; the same URL keeps its "
                      "secret. The account is not checked against billing's: notifications keeps no accounts, and an "
                      "id no event names is never told anything. 422 for no channel, an email that is not one, a URL "
                      "/webhooks would refuse, or an unknown event type."),
         responses=responses({200: ("The preferences stored, with the webhook's new secret", StoredPreferences)}, 422))
def put_preferences(account_id: AccountId, definition: PreferencesDefinition) -> StoredPreferences:
    if definition.email is None and definition.webhook_url is None:
        problem = "give an email, a webhook_url or both: the driver is told through them"
        raise ProblemError(422, f"body: {problem}", [ProblemDetail(path="body", message=problem)])
    if definition.webhook_url is not None:
        _check_url(definition.webhook_url, "webhook_url")
    before = store.get_preferences(account_id, consistent=True) or {}
    item: dict[str, Any] = {"account_id": account_id, "events": list(dict.fromkeys(definition.events)),
                            "updated_at": clock.iso(clock.now())}
    if definition.email is not None:
        item["email"] = definition.email
    new_secret = None
    if definition.webhook_url is not None:
        kept = before.get("webhook_url") == definition.webhook_url
        secret = before["webhook_secret"] if kept else webhooks.new_secret()
        new_secret = None if kept else secret
        item.update(webhook_url=definition.webhook_url, webhook_secret=secret, webhook_secret_hint=webhooks.hint(secret))
    store.put_preferences(item)
    return StoredPreferences(**_preferences(item).model_dump(), webhook_secret=new_secret)


@app.get("/notification-preferences/<account_id>", security=allow(*Scope),
         summary="Get a driver's notification preferences", tags=[PREFERENCES],
         description=("The account's preferences, without the webhook's secret (its last four characters only); the "
                      "`webhook_url` and `email` whole for admin and operator keys, `scheme://host/…` and "
                      "`a…@example.com` for others. 404 when none "
                      "were set."),
         responses=responses({200: ("The preferences", Preferences)}, 404, 422))
def get_preferences(account_id: AccountId) -> Preferences:
    item = store.get_preferences(account_id, consistent=True)
    if item is None:
        raise _no_preferences(account_id)
    return _preferences(item, _sees_urls())


@app.delete("/notification-preferences/<account_id>", security=allow(Scope.ADMIN, Scope.OPERATOR),
            summary="Delete a driver's notification preferences", tags=[PREFERENCES],
            description=("The driver is told nothing more, also by pending retries (they fail as `the webhook was "
                         "deleted`, `the driver's email was removed`). 404 when none were set."),
            responses=responses({204: ("Deleted", None)}, 404, 422))
def delete_preferences(account_id: AccountId) -> Response[None]:
    if not store.delete_preferences(account_id):
        raise _no_preferences(account_id)
    return Response(204)
