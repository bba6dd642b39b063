"""consentStates, consentStateAt and consentChanges: what partners may know of consent."""

from __future__ import annotations

import datetime
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from api.context import Context
from api.customer.consent import ConsentActor, ConsentSource, SharingPurpose
from api.errors import bad_request
from api.pagination import PageInfo
from api.permissions import IsPartner, calling_partner
from domain.consent import model
from domain.partners import use_cases
from domain.partners.model import ConsentAnswer
from domain.partners.use_cases import NotRegisteredForPurpose, PartnerRefused


@strawberry.type(description="One customer's consent to one purpose.")
class ConsentState:
    customer_id: strawberry.ID
    purpose: SharingPurpose  # type: ignore[valid-type]
    granted: bool
    updated_at: datetime.datetime | None = strawberry.field(
        description="When the customer last chose; null while the default (not granted) stands."
    )

    @classmethod
    def of(cls, answer: ConsentAnswer) -> ConsentState:
        return cls(
            customer_id=strawberry.ID(answer.customer_id),
            purpose=answer.purpose,
            granted=answer.granted,
            updated_at=answer.updated_at,
        )


@strawberry.type(description="A change of a customer's consent to one of your purposes.")
class ConsentChange:
    customer_id: strawberry.ID
    purpose: SharingPurpose  # type: ignore[valid-type]
    granted: bool
    previous: bool | None
    occurred_at: datetime.datetime
    actor: ConsentActor  # type: ignore[valid-type]
    source: ConsentSource  # type: ignore[valid-type]


@strawberry.type
class ConsentChangeEdge:
    cursor: str
    node: ConsentChange


@strawberry.type(description="Changes oldest first; keep `endCursor` and ask again for more.")
class ConsentChangeConnection:
    edges: list[ConsentChangeEdge]
    page_info: PageInfo


def _refusal(error: PartnerRefused) -> GraphQLError:
    code = "FORBIDDEN" if isinstance(error, NotRegisteredForPurpose) else "BAD_REQUEST"
    return GraphQLError(str(error), extensions={"code": code})


@strawberry.field(
    description=(
        "Consent of up to 1,000 customers (pass the ids as a variable) for your purposes, or "
        "those named. An unknown id answers as a customer who never granted."
    ),
    permission_classes=[IsPartner],
)
async def consent_states(
    info: Info[Context, Any],
    customer_ids: list[strawberry.ID],
    purposes: list[SharingPurpose] | None = None,  # type: ignore[valid-type]
) -> list[ConsentState]:
    partner = await calling_partner(info)
    try:
        answers = await use_cases.consent_states(
            info.context.deps, partner, [str(i) for i in customer_ids], purposes
        )
    except PartnerRefused as error:
        raise _refusal(error) from None
    return [ConsentState.of(answer) for answer in answers]


@strawberry.field(
    description="A customer's consent to a purpose as it stood at a past instant.",
    permission_classes=[IsPartner],
)
async def consent_state_at(
    info: Info[Context, Any],
    customer_id: strawberry.ID,
    purpose: SharingPurpose,  # type: ignore[valid-type]
    at: datetime.datetime,
) -> ConsentState:
    partner = await calling_partner(info)
    if at.tzinfo is None:
        raise bad_request("Give `at` with a time zone.")
    try:
        answer = await use_cases.consent_state_at(
            info.context.deps, partner, str(customer_id), purpose, at
        )
    except PartnerRefused as error:
        raise _refusal(error) from None
    return ConsentState.of(answer)


@strawberry.field(
    description=(
        "Every change to your purposes, oldest first. The cursor never skips a committed "
        "change: a change appears once every transaction older than it has finished."
    ),
    permission_classes=[IsPartner],
)
async def consent_changes(
    info: Info[Context, Any], after: str | None = None, first: int = 100
) -> ConsentChangeConnection:
    partner = await calling_partner(info)
    try:
        page = await use_cases.consent_changes(info.context.deps, partner, after, first)
    except PartnerRefused as error:
        raise _refusal(error) from None
    edges = [
        ConsentChangeEdge(
            cursor=cursor,
            node=ConsentChange(
                customer_id=strawberry.ID(str(entry.customer_id)),
                purpose=entry.subject,
                granted=entry.granted,
                previous=entry.previous,
                occurred_at=entry.occurred_at,
                actor=entry.actor,
                source=entry.source,
            ),
        )
        for cursor, entry in page.changes
        if isinstance(entry.subject, model.SharingPurpose)
    ]
    return ConsentChangeConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page, end_cursor=edges[-1].cursor if edges else after
        ),
    )
