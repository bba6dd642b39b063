"""Staff members, their sessions, the reasons they may look at a record and the log of looks."""

from __future__ import annotations

import enum
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain.identity.model import SessionPolicy, new_secret, secret_hash

# Staff tokens carry a prefix so a request's token is looked up in the right table.
STAFF_TOKEN_PREFIX = "drs_"
_REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"


class StaffRole(enum.Enum):
    SUPPORT = "SUPPORT"
    PRIVACY_OFFICER = "PRIVACY_OFFICER"


class AccessReason(enum.Enum):
    """The only purposes for which the statement lets staff view an individual record."""

    RESOLVE_PROBLEM = "RESOLVE_PROBLEM"
    SUPPORT_ISSUE = "SUPPORT_ISSUE"
    SUSPECTED_AGREEMENT_VIOLATION = "SUSPECTED_AGREEMENT_VIOLATION"
    LEGAL_REQUIREMENT = "LEGAL_REQUIREMENT"


class Permission(enum.Enum):
    """What a role allows; checked by the use cases, declared on the GraphQL fields."""

    READ_RECORDS = "READ_RECORDS"
    HANDLE_REQUESTS = "HANDLE_REQUESTS"
    CHANGE_PREFERENCES = "CHANGE_PREFERENCES"
    PUBLISH_POLICIES = "PUBLISH_POLICIES"
    READ_STATISTICS = "READ_STATISTICS"


ROLE_PERMISSIONS: dict[StaffRole, frozenset[Permission]] = {
    StaffRole.SUPPORT: frozenset({Permission.READ_RECORDS, Permission.READ_STATISTICS}),
    StaffRole.PRIVACY_OFFICER: frozenset(Permission),
}


def new_reference() -> str:
    """A stable pseudonym for a staff member, shown to customers in place of the e-mail."""
    return "S-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


@dataclass(slots=True)
class StaffMember:
    id: uuid.UUID
    email: str
    reference: str
    role: StaffRole
    password_hash: str = field(repr=False)
    totp_secret: str = field(repr=False)
    created_at: datetime
    totp_last_step: int | None = None
    disabled_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    def may(self, permission: Permission) -> bool:
        return self.active and permission in ROLE_PERMISSIONS[self.role]


# Staff sessions follow the customers' rules with shorter clocks.
STAFF_SESSIONS = SessionPolicy(
    idle_timeout=timedelta(minutes=15), absolute_timeout=timedelta(hours=8)
)


@dataclass(slots=True)
class StaffSession:
    id: uuid.UUID
    staff_id: uuid.UUID
    token_hash: str = field(repr=False)
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime

    def is_active(self, now: datetime, policy: SessionPolicy) -> bool:
        return now < self.expires_at and now < self.last_seen_at + policy.idle_timeout

    def needs_touch(self, now: datetime, policy: SessionPolicy) -> bool:
        return now - self.last_seen_at >= policy.touch_interval


def open_staff_session(
    staff_id: uuid.UUID, now: datetime, policy: SessionPolicy
) -> tuple[str, StaffSession]:
    token = STAFF_TOKEN_PREFIX + new_secret()
    return token, StaffSession(
        id=uuid.uuid4(),
        staff_id=staff_id,
        token_hash=secret_hash(token),
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.absolute_timeout,
    )


def looks_like_staff_token(token: str) -> bool:
    return token.startswith(STAFF_TOKEN_PREFIX)


@dataclass(frozen=True, slots=True)
class StaffActor:
    """The member of staff behind a call, as the log and the use cases need them."""

    session: StaffSession
    member: StaffMember


class AccessOperation(enum.Enum):
    """Which staff operation read the record."""

    FIND_CUSTOMER = "FIND_CUSTOMER"
    CUSTOMER_RECORD = "CUSTOMER_RECORD"
    CHANGE_PREFERENCES = "CHANGE_PREFERENCES"


@dataclass(frozen=True, slots=True)
class AccessLogEntry:
    """One look at a customer's record. ``customer_id`` is None when a search found nobody."""

    customer_id: uuid.UUID | None
    staff_id: uuid.UUID
    staff_reference: str
    staff_role: StaffRole
    operation: AccessOperation
    reason: AccessReason
    note: str | None
    occurred_at: datetime
    id: int | None = field(default=None, compare=False)
