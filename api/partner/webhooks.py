"""webhookDeliveries: the partner's own delivery log, with every attempt."""

from __future__ import annotations

import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import bad_request
from api.pagination import PageInfo, encode_cursor, page_info
from api.permissions import IsPartner, calling_partner
from domain.partners.use_cases import PartnerRefused
from domain.webhooks import model
from domain.webhooks import use_cases as webhooks

WebhookDeliveryStatus = strawberry.enum(
    model.DeliveryStatus,
    name="WebhookDeliveryStatus",
    description="PENDING until delivered; FAILED once every attempt failed or it was stopped.",
)


@strawberry.type(description="One try at delivering an event.")
class WebhookAttempt:
    number: int
    attempted_at: datetime.datetime
    status_code: int | None = strawberry.field(description="Null when no answer came.")
    error: str | None
    duration_ms: int

    @classmethod
    def of(cls, attempt: model.WebhookAttempt) -> WebhookAttempt:
        return cls(
            number=attempt.number,
            attempted_at=attempt.attempted_at,
            status_code=attempt.status_code,
            error=attempt.error,
            duration_ms=attempt.duration_ms,
        )


@strawberry.type(description="One event sent (or to be sent) to one of your webhooks.")
class WebhookDelivery:
    event_id: str = strawberry.field(description="The webhook-id header: the same on retries.")
    event_type: str
    payload: str = strawberry.field(description="The JSON body, exactly as signed and sent.")
    status: WebhookDeliveryStatus  # type: ignore[valid-type]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime.datetime
    last_attempt_at: datetime.datetime | None
    next_attempt_at: datetime.datetime | None = strawberry.field(
        description="When the next attempt is due; null unless PENDING."
    )
    delivered_at: datetime.datetime | None
    delivery_id: strawberry.Private[int]

    @strawberry.field(description="Every attempt, oldest first.")
    async def attempt_log(self, info: Info[Context, Any]) -> list[WebhookAttempt]:
        attempts = await info.context.webhook_attempts.load(self.delivery_id)
        return [WebhookAttempt.of(attempt) for attempt in attempts]

    @classmethod
    def of(cls, d: model.WebhookDelivery) -> WebhookDelivery:
        assert d.id is not None
        return cls(
            event_id=d.event_id,
            event_type=d.event_type,
            payload=d.payload,
            status=d.status,
            attempts=d.attempts,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            created_at=d.created_at,
            last_attempt_at=d.last_attempt_at,
            next_attempt_at=d.next_attempt_at if d.status is model.DeliveryStatus.PENDING else None,
            delivered_at=d.delivered_at,
            delivery_id=d.id,
        )


@strawberry.type
class WebhookDeliveryEdge:
    cursor: str
    node: WebhookDelivery


@strawberry.type(description="Your webhook deliveries, newest first.")
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge]
    page_info: PageInfo


@strawberry.field(
    description="The deliveries to your webhooks, newest first, with their attempts.",
    permission_classes=[IsPartner],
)
async def webhook_deliveries(
    info: Info[Context, Any], first: int = 20, after: str | None = None
) -> WebhookDeliveryConnection:
    partner = await calling_partner(info)
    before = info.context.cursor("delivery", after)
    try:
        found = await webhooks.webhook_deliveries(info.context.deps, partner, first, before)
    except PartnerRefused as error:
        raise bad_request(str(error)) from None
    page, more = found[:first], len(found) > first
    edges = [
        WebhookDeliveryEdge(cursor=encode_cursor("delivery", d.id or 0), node=WebhookDelivery.of(d))
        for d in page
    ]
    return WebhookDeliveryConnection(
        edges=edges,
        page_info=page_info([edge.cursor for edge in edges], more),
    )
