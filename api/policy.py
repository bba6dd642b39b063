"""Privacy-policy versions: what is in force and what comes next (public), publishing a new one
with 30 business days' notice (privacy officers), and customers' acknowledgements."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import UserError, from_domain
from api.permissions import IsCustomer, StaffMay, customer_session, staff_actor
from domain.errors import DomainError
from domain.policies import model
from domain.policies import use_cases as policies
from domain.policies.notice import NOTICE_BUSINESS_DAYS, earliest_effective_at
from domain.staff.model import Permission


@strawberry.type(description="A version of the privacy policy.")
class PolicyVersion:
    version: str
    summary: str = strawberry.field(description="What changes, in a few sentences.")
    url: str = strawberry.field(description="Where the full text is published.")
    announced_at: datetime.datetime
    effective_at: datetime.datetime

    @classmethod
    def of(cls, policy: model.PolicyVersion) -> PolicyVersion:
        return cls(
            version=policy.version,
            summary=policy.summary,
            url=policy.url,
            announced_at=policy.announced_at,
            effective_at=policy.effective_at,
        )


@strawberry.type(description="A customer's acknowledgement of a policy version.")
class PolicyAcknowledgement:
    version: str
    acknowledged_at: datetime.datetime

    @classmethod
    def of(cls, acknowledgement: model.Acknowledgement) -> PolicyAcknowledgement:
        return cls(version=acknowledgement.version, acknowledged_at=acknowledgement.acknowledged_at)


@strawberry.type(description="How far the e-mailed notices of a policy version have gone.")
class PolicyNotices:
    version: str
    queued: int = strawberry.field(description="Notices queued (one per customer at the time).")
    sent: int = strawberry.field(description="Handed to the mail server.")
    failed: int = strawberry.field(description="Given up on after the retries.")
    pending: int = strawberry.field(description="Neither sent nor failed yet.")


@strawberry.type(description="The notice a policy change needs, counted from now.")
class PolicyNoticePeriod:
    business_days: int
    earliest_effective_at: datetime.datetime = strawberry.field(
        description="The earliest `effectiveAt` that publishing now accepts: the start of the "
        "30th business day after today, in the calendar's time zone."
    )
    country: str = strawberry.field(description="Whose public holidays are not business days.")
    subdivision: str | None
    timezone: str


@strawberry.input
class PublishPolicyVersionInput:
    version: str = strawberry.field(description="A short name, e.g. 2028-01 (unique).")
    summary: str
    url: str = strawberry.field(description="The https:// address of the full text.")
    effective_at: datetime.datetime = strawberry.field(
        description="With its time zone; at least 30 business days from now."
    )


@strawberry.type
class PublishPolicyVersionPayload:
    policy: PolicyVersion | None = None
    notices_queued: int = strawberry.field(
        default=0, description="E-mails queued, one per customer; the worker sends them."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class AcknowledgePolicyInput:
    version: str


@strawberry.type
class AcknowledgePolicyPayload:
    acknowledgement: PolicyAcknowledgement | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.field(description="The privacy-policy version in force now; null before the first.")
async def current_policy(info: Info[Context, Any]) -> PolicyVersion | None:
    policy = await policies.current_policy(info.context.deps)
    return PolicyVersion.of(policy) if policy else None


@strawberry.field(description="The version announced to take effect next, during its notice.")
async def upcoming_policy(info: Info[Context, Any]) -> PolicyVersion | None:
    policy = await policies.upcoming_policy(info.context.deps)
    return PolicyVersion.of(policy) if policy else None


@strawberry.field(
    description="The earliest effective time a version published now may have (staff).",
    permission_classes=[StaffMay(Permission.PUBLISH_POLICIES)],
)
async def policy_notice_period(info: Info[Context, Any]) -> PolicyNoticePeriod:
    deps = info.context.deps
    calendar = deps.policy_calendar
    return PolicyNoticePeriod(
        business_days=NOTICE_BUSINESS_DAYS,
        earliest_effective_at=earliest_effective_at(deps.clock.now(), calendar),
        country=calendar.country,
        subdivision=calendar.subdivision,
        timezone=calendar.timezone,
    )


@strawberry.field(
    description="How many notices of a version were queued, sent and failed; null for an "
    "unknown version (staff).",
    permission_classes=[StaffMay(Permission.PUBLISH_POLICIES)],
)
async def policy_notices(info: Info[Context, Any], version: str) -> PolicyNotices | None:
    found = await policies.policy_notices(info.context.deps, version)
    if found is None:
        return None
    progress = found.progress
    return PolicyNotices(
        version=found.version,
        queued=progress.queued,
        sent=progress.sent,
        failed=progress.failed,
        pending=progress.pending,
    )


@strawberry.mutation(
    description="Announce a new version of the privacy policy now, to take effect at least 30 "
    "business days later, and e-mail a notice of it to every customer.",
    permission_classes=[StaffMay(Permission.PUBLISH_POLICIES)],
)
async def publish_policy_version(
    info: Info[Context, Any], input: PublishPolicyVersionInput
) -> PublishPolicyVersionPayload:
    actor = await staff_actor(info)
    try:
        published = await policies.publish_policy_version(
            info.context.deps,
            actor.member.id,
            input.version,
            input.summary,
            input.url,
            input.effective_at,
        )
    except DomainError as error:
        return PublishPolicyVersionPayload(errors=from_domain(error))
    return PublishPolicyVersionPayload(
        policy=PolicyVersion.of(published.policy), notices_queued=published.notices_queued
    )


@strawberry.mutation(
    description="Acknowledge the current or the upcoming policy version (again: no change).",
    permission_classes=[IsCustomer],
)
async def acknowledge_policy(
    info: Info[Context, Any], input: AcknowledgePolicyInput
) -> AcknowledgePolicyPayload:
    session = await customer_session(info)
    try:
        acknowledgement = await policies.acknowledge_policy(
            info.context.deps, session, input.version
        )
    except DomainError as error:
        return AcknowledgePolicyPayload(errors=from_domain(error))
    return AcknowledgePolicyPayload(acknowledgement=PolicyAcknowledgement.of(acknowledgement))


async def policy_acknowledgements(
    info: Info[Context, Any], customer_id: uuid.UUID
) -> list[PolicyAcknowledgement]:
    """For the customer type: every version the customer acknowledged, oldest first."""
    found = await policies.acknowledgements_of(info.context.deps, customer_id)
    return [PolicyAcknowledgement.of(a) for a in found]
