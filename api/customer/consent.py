"""Communication and sharing preferences, the consent history, and the GraphQL types for them."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import UserError, from_domain
from api.pagination import PageInfo, encode_cursor, page_info
from api.permissions import IsCustomer, customer_session
from domain.consent import model
from domain.consent import use_cases as consent
from domain.errors import DomainError

CommunicationTopic = strawberry.enum(
    model.CommunicationTopic, description="What the company may write to the customer about."
)
SharingPurpose = strawberry.enum(
    model.SharingPurpose, description="What the customer's information may be shared for."
)
ConsentActor = strawberry.enum(model.Actor, name="ConsentActor")
ConsentSource = strawberry.enum(model.Source, name="ConsentSource")


@strawberry.type
class CommunicationPreference:
    topic: CommunicationTopic  # type: ignore[valid-type]
    subscribed: bool
    updated_at: datetime.datetime | None = strawberry.field(
        description="When the customer last chose; null while the default stands."
    )


@strawberry.type
class SharingPreference:
    purpose: SharingPurpose  # type: ignore[valid-type]
    granted: bool
    updated_at: datetime.datetime | None = strawberry.field(
        description="When the customer last chose; null while the default stands."
    )


def communication_preferences(
    states: dict[model.Subject, model.ConsentState],
) -> list[CommunicationPreference]:
    return [
        CommunicationPreference(
            topic=topic, subscribed=states[topic].granted, updated_at=states[topic].updated_at
        )
        for topic in model.CommunicationTopic
        if topic in states
    ]


def sharing_preferences(
    states: dict[model.Subject, model.ConsentState],
) -> list[SharingPreference]:
    return [
        SharingPreference(
            purpose=purpose, granted=states[purpose].granted, updated_at=states[purpose].updated_at
        )
        for purpose in model.SharingPurpose
        if purpose in states
    ]


@strawberry.type(description="One change of one choice, as the consent ledger keeps it.")
class ConsentEntry:
    topic: CommunicationTopic | None  # type: ignore[valid-type]
    purpose: SharingPurpose | None  # type: ignore[valid-type]
    granted: bool
    previous: bool | None = strawberry.field(description="Null for the default at registration.")
    occurred_at: datetime.datetime
    actor: ConsentActor  # type: ignore[valid-type]
    source: ConsentSource  # type: ignore[valid-type]
    policy_version: str | None = strawberry.field(
        description="The privacy-policy version in force when the change was made."
    )
    request_id: strawberry.ID | None = strawberry.field(
        description="The data-subject request a member of staff acted on (source EMAIL_REQUEST)."
    )

    @classmethod
    def of(cls, entry: model.ConsentEntry) -> ConsentEntry:
        is_topic = isinstance(entry.subject, model.CommunicationTopic)
        return cls(
            topic=entry.subject if is_topic else None,
            purpose=None if is_topic else entry.subject,
            granted=entry.granted,
            previous=entry.previous,
            occurred_at=entry.occurred_at,
            actor=entry.actor,
            source=entry.source,
            policy_version=entry.policy_version,
            request_id=strawberry.ID(str(entry.request_id)) if entry.request_id else None,
        )


@strawberry.type
class ConsentEntryEdge:
    cursor: str
    node: ConsentEntry


@strawberry.type(description="The customer's consent ledger, newest first.")
class ConsentHistoryConnection:
    edges: list[ConsentEntryEdge]
    page_info: PageInfo


async def consent_history(
    info: Info[Context, Any], customer_id: uuid.UUID, first: int, after: str | None
) -> ConsentHistoryConnection:
    before = info.context.cursor("consent", after)
    entries = await consent.consent_history(info.context.deps, customer_id, first, before)
    page, more = entries[:first], len(entries) > first
    edges = [
        ConsentEntryEdge(cursor=encode_cursor("consent", e.id or 0), node=ConsentEntry.of(e))
        for e in page
    ]
    return ConsentHistoryConnection(
        edges=edges,
        page_info=page_info([edge.cursor for edge in edges], more),
    )


@strawberry.input
class CommunicationChoice:
    topic: CommunicationTopic  # type: ignore[valid-type]
    subscribed: bool


@strawberry.input
class SetCommunicationPreferencesInput:
    preferences: list[CommunicationChoice]


@strawberry.type
class CommunicationPreferencesPayload:
    communication_preferences: list[CommunicationPreference] | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.mutation(
    description="Subscribe to or unsubscribe from topics; ACCOUNT_AND_SECURITY stays on.",
    permission_classes=[IsCustomer],
)
async def set_communication_preferences(
    info: Info[Context, Any], input: SetCommunicationPreferencesInput
) -> CommunicationPreferencesPayload:
    session = await customer_session(info)
    choices = [(choice.topic, choice.subscribed) for choice in input.preferences]
    try:
        states = await consent.set_communication_preferences(
            info.context.deps, session, choices, info.context.client
        )
    except DomainError as error:
        return CommunicationPreferencesPayload(errors=from_domain(error))
    return CommunicationPreferencesPayload(
        communication_preferences=communication_preferences(states)
    )


@strawberry.mutation(
    description="Turn off every optional topic at once (one ledger entry per change).",
    permission_classes=[IsCustomer],
)
async def opt_out_of_all_communications(
    info: Info[Context, Any],
) -> CommunicationPreferencesPayload:
    session = await customer_session(info)
    states = await consent.opt_out_of_all_communications(
        info.context.deps, session, info.context.client
    )
    return CommunicationPreferencesPayload(
        communication_preferences=communication_preferences(states)
    )


@strawberry.input
class SharingChoice:
    purpose: SharingPurpose  # type: ignore[valid-type]
    granted: bool


@strawberry.input
class SetSharingPreferencesInput:
    preferences: list[SharingChoice]
    override_global_privacy_control: bool = strawberry.field(
        default=False,
        description=(
            "Needed to grant PARTNER_OFFERS or ANALYTICS_COOKIES in a request that carries "
            "Sec-GPC: 1, after showing the customer that their browser asks for the opposite."
        ),
    )


@strawberry.type
class SharingPreferencesPayload:
    sharing_preferences: list[SharingPreference] | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.mutation(
    description="Grant or withdraw sharing for each purpose.",
    permission_classes=[IsCustomer],
)
async def set_sharing_preferences(
    info: Info[Context, Any], input: SetSharingPreferencesInput
) -> SharingPreferencesPayload:
    session = await customer_session(info)
    choices = [(choice.purpose, choice.granted) for choice in input.preferences]
    try:
        states = await consent.set_sharing_preferences(
            info.context.deps,
            session,
            choices,
            info.context.client,
            gpc_signal=info.context.gpc_signal,
            override_gpc=input.override_global_privacy_control,
        )
    except DomainError as error:
        return SharingPreferencesPayload(errors=from_domain(error))
    return SharingPreferencesPayload(sharing_preferences=sharing_preferences(states))
