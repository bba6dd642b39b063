"""How a customer's profile looks in GraphQL."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.customer.access_log import AccessLogConnection, access_log
from api.customer.consent import (
    CommunicationPreference,
    ConsentHistoryConnection,
    SharingPreference,
    communication_preferences,
    consent_history,
    sharing_preferences,
)
from api.customer.profile_changes import ProfileChangeConnection, profile_change_history
from api.customer.requests import DataSubjectRequestConnection, customer_requests
from api.errors import bad_request
from api.policy import PolicyAcknowledgement, policy_acknowledgements
from domain.errors import DomainError
from domain.profile import model


@strawberry.type(description="A postal address.")
class Address:
    line1: str
    line2: str | None
    city: str
    region: str | None
    postal_code: str
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 code.")

    @classmethod
    def of(cls, a: model.PostalAddress) -> Address:
        return cls(
            line1=a.line1,
            line2=a.line2,
            city=a.city,
            region=a.region,
            postal_code=a.postal_code,
            country=a.country,
        )


@strawberry.type(description="The card on file: never its number or security code.")
class PaymentCardSummary:
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@strawberry.type(description="Billing details.")
class Billing:
    name: str
    address: Address
    organization_users: int = strawberry.field(
        description="How many users in the organisation use the service."
    )
    card: PaymentCardSummary


@strawberry.type(description="An amount of money in a currency.")
class Money:
    amount: decimal.Decimal
    currency: str = strawberry.field(description="ISO 4217 code.")


@strawberry.type(description="A customer's profile exactly as the company holds it.")
class Customer:
    id: strawberry.ID = strawberry.field(
        description="Opaque and stable; the same for every caller."
    )
    email: str
    email_verified: bool
    name: str
    company_name: str
    address: Address
    phone: str = strawberry.field(description="E.164, e.g. +442079460958.")
    billing: Billing
    title: str | None
    department: str | None
    fax: str | None = strawberry.field(description="E.164.")
    annual_revenue: Money | None
    employee_count: int | None
    industry: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    version: int = strawberry.field(description="Increases with every change to the profile.")

    @strawberry.field(description="Every topic, subscribed or not.")
    async def communication_preferences(
        self, info: Info[Context, Any]
    ) -> list[CommunicationPreference]:
        states = await info.context.consent_states.load(uuid.UUID(self.id))
        return communication_preferences(states)

    @strawberry.field(description="Every sharing purpose, granted or not.")
    async def sharing_preferences(self, info: Info[Context, Any]) -> list[SharingPreference]:
        states = await info.context.consent_states.load(uuid.UUID(self.id))
        return sharing_preferences(states)

    @strawberry.field(
        description="Which fields changed, when and by whom (never the values); newest first."
    )
    async def profile_changes(
        self, info: Info[Context, Any], first: int = 20, after: str | None = None
    ) -> ProfileChangeConnection:
        return await profile_change_history(info, uuid.UUID(self.id), first, after)

    @strawberry.field(description="Your data-subject requests, newest first (at most 100 a page).")
    async def requests(
        self, info: Info[Context, Any], first: int = 20, after: str | None = None
    ) -> DataSubjectRequestConnection:
        return await customer_requests(info, uuid.UUID(self.id), first, after)

    @strawberry.field(description="Every change of a choice, newest first (at most 100 a page).")
    async def consent_history(
        self, info: Info[Context, Any], first: int = 20, after: str | None = None
    ) -> ConsentHistoryConnection:
        try:
            return await consent_history(info, uuid.UUID(self.id), first, after)
        except DomainError as error:
            raise bad_request(error.problems[0].message) from None

    @strawberry.field(
        description="Every look by staff at this record, with the reason they gave; newest "
        "first (at most 100 a page)."
    )
    async def access_log(
        self, info: Info[Context, Any], first: int = 20, after: str | None = None
    ) -> AccessLogConnection:
        return await access_log(info, uuid.UUID(self.id), first, after)

    @strawberry.field(description="The privacy-policy versions you acknowledged, oldest first.")
    async def policy_acknowledgements(
        self, info: Info[Context, Any]
    ) -> list[PolicyAcknowledgement]:
        return await policy_acknowledgements(info, uuid.UUID(self.id))

    @classmethod
    def of(cls, c: model.Customer) -> Customer:
        p = c.profile
        card = p.billing.card
        revenue = p.annual_revenue
        return cls(
            id=strawberry.ID(str(c.id)),
            email=p.email,
            email_verified=c.email_verified,
            name=p.name,
            company_name=p.company_name,
            address=Address.of(p.address),
            phone=p.phone,
            billing=Billing(
                name=p.billing.name,
                address=Address.of(p.billing.address),
                organization_users=p.billing.organization_users,
                card=PaymentCardSummary(
                    brand=card.brand,
                    last4=card.last4,
                    exp_month=card.exp_month,
                    exp_year=card.exp_year,
                ),
            ),
            title=p.title,
            department=p.department,
            fax=p.fax,
            annual_revenue=Money(amount=revenue.amount, currency=revenue.currency)
            if revenue
            else None,
            employee_count=p.employee_count,
            industry=p.industry,
            created_at=c.created_at,
            updated_at=c.updated_at,
            version=c.version,
        )
