"""Customers: one row each, the profile flattened into columns."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, exists, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from domain.ports import EmailAlreadyTaken
from domain.profile.model import Billing, Customer, Money, PaymentCard, PostalAddress, Profile
from persistence.tables import customers

_ADDRESS_PARTS = ("line1", "line2", "city", "region", "postal_code", "country")


def _address_row(prefix: str, address: PostalAddress) -> dict[str, Any]:
    return {f"{prefix}_{part}": getattr(address, part) for part in _ADDRESS_PARTS}


# (part, column) by prefix: the column names built once, not at every row read.
_ADDRESS_COLUMNS = {
    prefix: tuple((part, f"{prefix}_{part}") for part in _ADDRESS_PARTS)
    for prefix in ("address", "billing_address")
}


def _address(prefix: str, row: RowMapping) -> PostalAddress:
    return PostalAddress(**{part: row[column] for part, column in _ADDRESS_COLUMNS[prefix]})


def customer_row(customer: Customer) -> dict[str, Any]:
    p = customer.profile
    card = p.billing.card
    return {
        "id": customer.id,
        "email": p.email,
        "email_verified_at": customer.email_verified_at,
        "password_hash": customer.password_hash,
        "name": p.name,
        "company_name": p.company_name,
        **_address_row("address", p.address),
        "phone": p.phone,
        "billing_name": p.billing.name,
        **_address_row("billing_address", p.billing.address),
        "billing_organization_users": p.billing.organization_users,
        "card_vault_token": card.vault_token,
        "card_brand": card.brand,
        "card_last4": card.last4,
        "card_exp_month": card.exp_month,
        "card_exp_year": card.exp_year,
        "title": p.title,
        "department": p.department,
        "fax": p.fax,
        "annual_revenue_amount": p.annual_revenue.amount if p.annual_revenue else None,
        "annual_revenue_currency": p.annual_revenue.currency if p.annual_revenue else None,
        "employee_count": p.employee_count,
        "industry": p.industry,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
        "version": customer.version,
    }


def customer_from_row(row: RowMapping) -> Customer:
    revenue = None
    if row["annual_revenue_amount"] is not None:
        revenue = Money(row["annual_revenue_amount"], row["annual_revenue_currency"])
    profile = Profile(
        email=row["email"],
        name=row["name"],
        company_name=row["company_name"],
        address=_address("address", row),
        phone=row["phone"],
        billing=Billing(
            name=row["billing_name"],
            address=_address("billing_address", row),
            organization_users=row["billing_organization_users"],
            card=PaymentCard(
                row["card_vault_token"],
                row["card_brand"],
                row["card_last4"],
                row["card_exp_month"],
                row["card_exp_year"],
            ),
        ),
        title=row["title"],
        department=row["department"],
        fax=row["fax"],
        annual_revenue=revenue,
        employee_count=row["employee_count"],
        industry=row["industry"],
    )
    return Customer(
        id=row["id"],
        profile=profile,
        password_hash=row["password_hash"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        email_verified_at=row["email_verified_at"],
        version=row["version"],
    )


# One statement for every save, its values as parameters: built once and compiled once, where
# an UPDATE with the values written in was built and looked up in the statement cache anew at
# every save (a sixth of an updateProfile's CPU, bench/sample_profile.py).
_SAVE = (
    update(customers)
    .where(
        customers.c.id == bindparam("saved_id"),
        customers.c.version == bindparam("expected_version"),
    )
    .values(
        {
            column.name: bindparam(f"new_{column.name}", type_=column.type)
            for column in customers.c
            if column.name not in ("id", "created_at")
        }
    )
)


# The reads of one customer, built once: building a select and its cache key for each call
# cost a sign-in about 0.3 ms of its 4.2 (bench/sample_profile.py --operation login).
_BY_ID = select(customers).where(customers.c.id == bindparam("customer_id"))
_BY_ID_FOR_UPDATE = _BY_ID.with_for_update()
_BY_EMAIL = select(customers).where(customers.c.email == bindparam("email"))


class SqlCustomerRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, customer: Customer) -> None:
        # The unique constraint is the last word on a race; the whole transaction is then void.
        try:
            await self._conn.execute(insert(customers).values(customer_row(customer)))
        except IntegrityError as error:
            raise EmailAlreadyTaken from error

    async def get(self, customer_id: uuid.UUID) -> Customer | None:
        return await self._one(_BY_ID, {"customer_id": customer_id})

    async def get_for_update(self, customer_id: uuid.UUID) -> Customer | None:
        # PostgreSQL locks the row until the transaction ends; SQLite renders no FOR UPDATE, and
        # needs none: its transactions begin IMMEDIATE, so writers already take turns.
        return await self._one(_BY_ID_FOR_UPDATE, {"customer_id": customer_id})

    async def get_by_email(self, email: str) -> Customer | None:
        return await self._one(_BY_EMAIL, {"email": email})

    async def email_taken(self, email: str) -> bool:
        query = select(exists().where(customers.c.email == email))
        return bool(await self._conn.scalar(query))

    async def save(self, customer: Customer, expected_version: int) -> bool:
        values = customer_row(customer)
        del values["id"], values["created_at"]
        values["version"] = expected_version + 1
        parameters = {f"new_{name}": value for name, value in values.items()}
        parameters |= {"saved_id": customer.id, "expected_version": expected_version}
        try:
            result = await self._conn.execute(_SAVE, parameters)
        except IntegrityError as error:
            raise EmailAlreadyTaken from error
        return result.rowcount == 1

    async def contacts(self, after: uuid.UUID | None, limit: int) -> list[tuple[uuid.UUID, str]]:
        query = select(customers.c.id, customers.c.email).order_by(customers.c.id).limit(limit)
        if after is not None:
            query = query.where(customers.c.id > after)
        return [(row.id, row.email) for row in await self._conn.execute(query)]

    async def _one(self, query: Select[Any], parameters: dict[str, Any]) -> Customer | None:
        row = (await self._conn.execute(query, parameters)).mappings().first()
        return customer_from_row(row) if row else None
