"""register: create an account with the statement's required information and sign in."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.customer.inputs import AddressInput, MoneyInput, PaymentCardInput, address_values
from api.customer.login import LoginPayload, signed_in
from api.errors import from_domain
from domain.errors import DomainError, FieldPath
from domain.profile import use_cases


@strawberry.input(description="Billing details; all four are required.")
class BillingInput:
    name: str | None = None
    address: AddressInput | None = None
    organization_users: int | None = None
    card: PaymentCardInput | None = None


@strawberry.input(
    description=(
        "Everything the statement requires at registration, and the optional extras it may ask "
        "for. `profileFields` says which are mandatory; every problem is reported at once."
    )
)
class RegisterInput:
    email: str | None = None
    password: str | None = strawberry.field(default=None, description="12 to 128 characters.")
    name: str | None = None
    company_name: str | None = None
    address: AddressInput | None = None
    phone: str | None = None
    billing: BillingInput | None = None
    title: str | None = None
    department: str | None = None
    fax: str | None = None
    annual_revenue: MoneyInput | None = None
    employee_count: int | None = None
    industry: str | None = None

    def profile_values(self) -> dict[FieldPath, Any]:
        billing = self.billing or BillingInput()
        return {
            ("email",): self.email,
            ("name",): self.name,
            ("company_name",): self.company_name,
            **address_values(("address",), self.address),
            ("phone",): self.phone,
            ("billing", "name"): billing.name,
            **address_values(("billing", "address"), billing.address),
            ("billing", "organization_users"): billing.organization_users,
            ("title",): self.title,
            ("department",): self.department,
            ("fax",): self.fax,
            ("annual_revenue",): self.annual_revenue.money() if self.annual_revenue else None,
            ("employee_count",): self.employee_count,
            ("industry",): self.industry,
        }


@strawberry.type(description="The new account, signed in as `login` would.")
class RegisterPayload(LoginPayload):
    pass


@strawberry.mutation(description="Create an account and sign in (the same result as `login`).")
async def register(info: Info[Context, Any], input: RegisterInput) -> RegisterPayload:
    context = info.context
    card = input.billing.card.form() if input.billing and input.billing.card else None
    try:
        result = await use_cases.register(
            context.deps, input.profile_values(), card, input.password, context.client
        )
    except DomainError as error:
        return RegisterPayload(errors=from_domain(error))
    return signed_in(context, result, RegisterPayload)
