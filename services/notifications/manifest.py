"""Notifications: tells people and other systems what happened, through signed webhooks, an SNS topic, email and SMS.

It consumes events only and publishes none: any service's event whose detail-type is listed here reaches the
webhooks subscribed to its type and the `alerts` topic; a resolved ticket also reaches its reporter; a driver's
event (services/notifications/drivers.py) reaches the driver's webhook and email, where their preferences ask.
"""

from __future__ import annotations

from services.notifications import drivers
from services.notifications.event_types import DETAIL_TYPES
from services.shared.manifest import Key, Queue, RestApi, ServiceManifest, Subscription, Table, Topic

_HANDLERS = "services.notifications.handlers"

MANIFEST = ServiceManifest(
    name="notifications",
    tables=(
        Table(name="webhooks", partition_key=Key("webhook_id")),
        # What each driver (by billing's account id) is told of, and where: email, a signed webhook.
        Table(name="driver-preferences", partition_key=Key("account_id")),
        # One item per (target, event): a webhook's id, "<channel>:<ticket id>" for a reporter's email or SMS, or
        # "driver-webhook:"/"driver-email:" and the account, and "<occurred_at>#<event id>", so a redelivered event
        # finds its delivery and a webhook's list is newest first.
        Table(name="deliveries", partition_key=Key("target_id"), sort_key=Key("delivery_key"), ttl_attribute="expires_at"),
    ),
    subscriptions=(
        Subscription(
            event_pattern={"detail-type": [*DETAIL_TYPES, *drivers.DETAIL_TYPES], "detail": drivers.RULE_DETAIL},
            queue=Queue(name="notifications-events", handler=f"{_HANDLERS}:events"),
        ),
    ),
    # Each attempt of a delivery, delayed by its backoff; one a batch, so a POST bounded by its 5 s deadline
    # (delivery.TIMEOUT_S) never shares the consumer's 40 s with others that could run it out.
    queues=(Queue(name="notifications-deliveries", handler=f"{_HANDLERS}:deliveries", batch_size=1,
                  visibility_timeout_s=240),),
    rest_apis=(RestApi(prefixes=("/webhooks", "/notification-preferences"), handler=f"{_HANDLERS}:api",
                       resolver="services.notifications.api:app"),),
    topics=(Topic(name="alerts", description="csms alerts: every event the notifications service delivers, with "
                                             "its type in the message attribute event_type"),),
    direct_messages=("email", "sms"),
)
