"""The collaborators every use case is given, built once by the application that hosts them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from domain.consent.model import ConsentDefaults
from domain.identity.model import SessionPolicy
from domain.mail.model import MAIL_RETRIES
from domain.ports import Clock, HostResolver, PasswordHasher, RateLimiter, UnitOfWorkFactory
from domain.requests.deadlines import WorkingCalendar
from domain.staff.model import STAFF_SESSIONS
from domain.statistics.model import DEFAULT_MIN_GROUP_SIZE
from domain.webhooks.model import RetryPolicy
from domain.webhooks.targets import NoResolver, TargetRules


@dataclass(frozen=True, slots=True)
class AccountLinks:
    """Where links in e-mails point; tokens travel in the fragment, which servers never log."""

    base_url: str

    def verify_email(self, token: str) -> str:
        return f"{self.base_url.rstrip('/')}/privacy-center/#verify-email={token}"

    def reset_password(self, token: str) -> str:
        return f"{self.base_url.rstrip('/')}/privacy-center/#reset-password={token}"


@dataclass(frozen=True, slots=True)
class RequestClock:
    """Where the legal clock of data-subject requests runs, and the days by which settings
    shorten the one-month period for some request types (never lengthen it)."""

    calendar: WorkingCalendar = field(
        default_factory=lambda: WorkingCalendar("GB", "ENG", "Europe/London")
    )
    max_days: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Dependencies:
    unit_of_work: UnitOfWorkFactory
    clock: Clock
    hasher: PasswordHasher
    limiter: RateLimiter
    links: AccountLinks
    sessions: SessionPolicy = field(default_factory=SessionPolicy)
    staff_sessions: SessionPolicy = STAFF_SESSIONS
    consent_defaults: ConsentDefaults = field(default_factory=ConsentDefaults)
    # Webhooks: where they may go (production's rules unless the application relaxes them),
    # how names are resolved to check that, and how failed deliveries are retried.
    webhook_targets: TargetRules = field(default_factory=TargetRules)
    resolver: HostResolver = field(default_factory=NoResolver)
    webhook_retries: RetryPolicy = field(default_factory=RetryPolicy)
    requests: RequestClock = field(default_factory=RequestClock)
    # k of aggregate statistics: no group of fewer customers is ever shown.
    aggregate_min_group_size: int = DEFAULT_MIN_GROUP_SIZE
    # Where the 30 business days' notice of a policy change are counted.
    policy_calendar: WorkingCalendar = field(
        default_factory=lambda: WorkingCalendar("US", None, "UTC")
    )
    # How the mail relay retries a message that the server deferred.
    mail_retries: RetryPolicy = MAIL_RETRIES
