"""The customer and the parts of a profile, as the company holds them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class PostalAddress:
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str | None = None
    region: str | None = None


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class PaymentCard:
    """What the product keeps of a card: the vault's token, never the number or the code."""

    vault_token: str = field(repr=False)
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True, slots=True)
class Billing:
    name: str
    address: PostalAddress
    organization_users: int
    card: PaymentCard


@dataclass(frozen=True, slots=True)
class Profile:
    """Everything the customer told us about themselves and their organisation."""

    email: str
    name: str
    company_name: str
    address: PostalAddress
    phone: str
    billing: Billing
    title: str | None = None
    department: str | None = None
    fax: str | None = None
    annual_revenue: Money | None = None
    employee_count: int | None = None
    industry: str | None = None


@dataclass(slots=True)
class Customer:
    id: uuid.UUID
    profile: Profile
    password_hash: str = field(repr=False)
    created_at: datetime
    updated_at: datetime
    email_verified_at: datetime | None = None
    version: int = 1

    @property
    def email(self) -> str:
        return self.profile.email

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


@dataclass(frozen=True, slots=True)
class ProfileChange:
    """Which field changed, when and by whom; never the value before or after."""

    customer_id: uuid.UUID
    field_key: str
    changed_at: datetime
    actor: str  # CUSTOMER, STAFF or SYSTEM
