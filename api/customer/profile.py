"""me, updateProfile, updatePaymentCard and removeOptionalInformation."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.customer.field_names import ProfileFieldNameEnum
from api.customer.inputs import MoneyInput, PaymentCardInput
from api.customer.types import Customer
from api.errors import UserError, from_domain
from api.permissions import IsCustomer, customer_session
from domain.errors import DomainError, FieldPath
from domain.profile import use_cases


@strawberry.field(description="The signed-in customer's profile as stored; null without a session.")
async def me(info: Info[Context, Any]) -> Customer | None:
    session = await info.context.session()
    if session is None:
        return None
    customer = info.context.signed_in_customer or await use_cases.get_customer(
        info.context.deps, session
    )
    return Customer.of(customer) if customer else None


@strawberry.input(description="Absent: unchanged. A value: replaces. null: clears (optional only).")
class AddressPatch:
    line1: strawberry.Maybe[str | None]
    line2: strawberry.Maybe[str | None]
    city: strawberry.Maybe[str | None]
    region: strawberry.Maybe[str | None]
    postal_code: strawberry.Maybe[str | None]
    country: strawberry.Maybe[str | None]


@strawberry.input(description="Billing details to change; the card changes with updatePaymentCard.")
class BillingPatch:
    name: strawberry.Maybe[str | None]
    address: AddressPatch | None = None
    organization_users: strawberry.Maybe[int | None]


def expected_version_field() -> Any:
    return strawberry.field(
        default=None,
        description=(
            "The profile `version` this change was made from: if the profile has changed since, "
            "the call is refused (code CONFLICT, nothing written). Left out, the change applies "
            "to the profile as it then stands, field by field."
        ),
    )


@strawberry.input(
    description=(
        "A field left out stays as it is, a value replaces it, and null clears it. Mandatory "
        "fields can be changed but not cleared (code REQUIRED). A new e-mail address needs "
        "`currentPassword`. Concurrent changes of different fields all land."
    )
)
class UpdateProfileInput:
    email: strawberry.Maybe[str | None]
    current_password: str | None = strawberry.field(
        default=None, description="Required only to change the e-mail address."
    )
    expected_version: int | None = expected_version_field()
    name: strawberry.Maybe[str | None]
    company_name: strawberry.Maybe[str | None]
    address: AddressPatch | None = None
    phone: strawberry.Maybe[str | None]
    billing: BillingPatch | None = None
    title: strawberry.Maybe[str | None]
    department: strawberry.Maybe[str | None]
    fax: strawberry.Maybe[str | None]
    annual_revenue: strawberry.Maybe[MoneyInput | None]
    employee_count: strawberry.Maybe[int | None]
    industry: strawberry.Maybe[str | None]

    def patch(self) -> dict[FieldPath, Any]:
        patch: dict[FieldPath, Any] = {}
        _collect(patch, (), self, exclude={"current_password", "expected_version"})
        return patch


def _collect(patch: dict[FieldPath, Any], prefix: FieldPath, node: Any, exclude: set[str]) -> None:
    for name, value in vars(node).items():
        if name in exclude or value is None:
            continue
        if isinstance(value, strawberry.Some):
            inner = value.value
            patch[(*prefix, name)] = inner.money() if isinstance(inner, MoneyInput) else inner
        else:  # a nested patch (address, billing)
            _collect(patch, (*prefix, name), value, exclude)


@strawberry.type
class UpdateProfilePayload:
    customer: Customer | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.mutation(
    description="Correct the profile field by field; see UpdateProfileInput.",
    permission_classes=[IsCustomer],
)
async def update_profile(
    info: Info[Context, Any], input: UpdateProfileInput
) -> UpdateProfilePayload:
    session = await customer_session(info)
    try:
        customer = await use_cases.update_profile(
            info.context.deps,
            session,
            input.patch(),
            input.current_password,
            input.expected_version,
        )
    except DomainError as error:
        return UpdateProfilePayload(errors=from_domain(error))
    return UpdateProfilePayload(customer=Customer.of(customer))


@strawberry.input
class RemoveOptionalInformationInput:
    fields: list[ProfileFieldNameEnum]  # type: ignore[valid-type]
    expected_version: int | None = expected_version_field()


@strawberry.mutation(
    description=(
        "Clear optional fields in one call. Naming a mandatory field refuses the whole call "
        "(code NOT_OPTIONAL) and changes nothing."
    ),
    permission_classes=[IsCustomer],
)
async def remove_optional_information(
    info: Info[Context, Any], input: RemoveOptionalInformationInput
) -> UpdateProfilePayload:
    session = await customer_session(info)
    keys = [field.value for field in input.fields]
    try:
        customer = await use_cases.remove_optional_information(
            info.context.deps, session, keys, input.expected_version
        )
    except DomainError as error:
        return UpdateProfilePayload(errors=from_domain(error))
    return UpdateProfilePayload(customer=Customer.of(customer))


@strawberry.input
class UpdatePaymentCardInput:
    card: PaymentCardInput
    expected_version: int | None = expected_version_field()


@strawberry.mutation(
    description="Replace the card on file; the vault forgets the old number.",
    permission_classes=[IsCustomer],
)
async def update_payment_card(
    info: Info[Context, Any], input: UpdatePaymentCardInput
) -> UpdateProfilePayload:
    session = await customer_session(info)
    try:
        customer = await use_cases.update_payment_card(
            info.context.deps, session, input.card.form(), input.expected_version
        )
    except DomainError as error:
        return UpdateProfilePayload(errors=from_domain(error))
    return UpdateProfilePayload(customer=Customer.of(customer))
