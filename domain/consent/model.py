"""What a customer may be sent, what may be shared, and the record of every change."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


class CommunicationTopic(enum.Enum):
    """What the company may write to the customer about."""

    NEWSLETTER = "NEWSLETTER"
    PROMOTIONS_AND_EVENTS = "PROMOTIONS_AND_EVENTS"
    PRODUCT_UPDATES = "PRODUCT_UPDATES"
    SALES_FOLLOW_UP = "SALES_FOLLOW_UP"
    ACCOUNT_AND_SECURITY = "ACCOUNT_AND_SECURITY"


class SharingPurpose(enum.Enum):
    """What the customer's information may be used or shared for, beyond the service."""

    PARTNER_OFFERS = "PARTNER_OFFERS"
    INTEGRATION_PARTNERS = "INTEGRATION_PARTNERS"
    ANALYTICS_COOKIES = "ANALYTICS_COOKIES"
    AGGREGATE_STATISTICS = "AGGREGATE_STATISTICS"


class Actor(enum.Enum):
    CUSTOMER = "CUSTOMER"
    STAFF = "STAFF"
    SYSTEM = "SYSTEM"


class Source(enum.Enum):
    SELF_SERVICE = "SELF_SERVICE"
    EMAIL_REQUEST = "EMAIL_REQUEST"
    GPC_SIGNAL = "GPC_SIGNAL"
    DEFAULT = "DEFAULT"


Subject = CommunicationTopic | SharingPurpose

# Mail the customer cannot refuse: credentials, password resets, security notices.
MANDATORY_TOPICS = frozenset({CommunicationTopic.ACCOUNT_AND_SECURITY})
OPTIONAL_TOPICS = tuple(t for t in CommunicationTopic if t not in MANDATORY_TOPICS)
# Purposes a partner may ask about per customer; aggregate statistics are never per customer.
PER_CUSTOMER_PURPOSES = (
    SharingPurpose.PARTNER_OFFERS,
    SharingPurpose.INTEGRATION_PARTNERS,
    SharingPurpose.ANALYTICS_COOKIES,
)
# A Global Privacy Control signal opts out of sale and sharing; a disclosure the customer
# directs (an integration they connect) is not sharing in that sense.
GPC_PURPOSES = (SharingPurpose.PARTNER_OFFERS, SharingPurpose.ANALYTICS_COOKIES)


def subject_kind(subject: Subject) -> str:
    return "COMMUNICATION" if isinstance(subject, CommunicationTopic) else "SHARING"


def subject_from(kind: str, name: str) -> Subject:
    return CommunicationTopic(name) if kind == "COMMUNICATION" else SharingPurpose(name)


@dataclass(frozen=True, slots=True)
class ConsentDefaults:
    """The state before the customer's first choice. The newsletter is by invitation (off) and
    account mail is always on; the other topics come from settings. Every sharing purpose is
    off, except counting the customer in aggregate statistics, which the statement announces."""

    promotions_and_events: bool = False
    product_updates: bool = True
    sales_follow_up: bool = False

    def states(self) -> Mapping[Subject, bool]:
        return {
            CommunicationTopic.NEWSLETTER: False,
            CommunicationTopic.PROMOTIONS_AND_EVENTS: self.promotions_and_events,
            CommunicationTopic.PRODUCT_UPDATES: self.product_updates,
            CommunicationTopic.SALES_FOLLOW_UP: self.sales_follow_up,
            CommunicationTopic.ACCOUNT_AND_SECURITY: True,
            SharingPurpose.PARTNER_OFFERS: False,
            SharingPurpose.INTEGRATION_PARTNERS: False,
            SharingPurpose.ANALYTICS_COOKIES: False,
            SharingPurpose.AGGREGATE_STATISTICS: True,
        }


@dataclass(frozen=True, slots=True)
class ConsentEntry:
    """One change of one choice, as the ledger keeps it forever.

    ``informed_of_gpc`` is the evidence that a grant of a GPC purpose was made knowing of the
    browser's opt-out signal (overridden in the same request, or after an earlier signal).
    """

    customer_id: uuid.UUID
    subject: Subject
    granted: bool
    previous: bool | None
    occurred_at: datetime
    actor: Actor
    source: Source
    policy_version: str | None = None
    informed_of_gpc: bool = False
    # The data-subject request a member of staff acted on (source EMAIL_REQUEST).
    request_id: uuid.UUID | None = None
    id: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class ConsentState:
    """A choice as it stands. ``updated_at`` is None while the default stands."""

    subject: Subject
    granted: bool
    updated_at: datetime | None
    informed_of_gpc: bool = False

    def after(self, entry: ConsentEntry) -> ConsentState:
        return ConsentState(
            subject=self.subject,
            granted=entry.granted,
            updated_at=None if entry.source is Source.DEFAULT else entry.occurred_at,
            informed_of_gpc=entry.informed_of_gpc,
        )


def replay(entries: list[ConsentEntry]) -> dict[tuple[uuid.UUID, Subject], ConsentState]:
    """The current state derived from ledger entries in the order they were written."""
    states: dict[tuple[uuid.UUID, Subject], ConsentState] = {}
    for entry in entries:
        key = (entry.customer_id, entry.subject)
        before = states.get(key, ConsentState(entry.subject, entry.granted, None))
        states[key] = before.after(entry)
    return states
