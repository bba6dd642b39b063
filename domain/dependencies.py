"""The collaborators every use case is given, built once by the application that hosts them."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.consent.model import ConsentDefaults
from domain.identity.model import SessionPolicy
from domain.ports import Clock, PasswordHasher, RateLimiter, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class AccountLinks:
    """Where links in e-mails point; tokens travel in the fragment, which servers never log."""

    base_url: str

    def verify_email(self, token: str) -> str:
        return f"{self.base_url.rstrip('/')}/privacy-center/#verify-email={token}"

    def reset_password(self, token: str) -> str:
        return f"{self.base_url.rstrip('/')}/privacy-center/#reset-password={token}"


@dataclass(frozen=True, slots=True)
class Dependencies:
    unit_of_work: UnitOfWorkFactory
    clock: Clock
    hasher: PasswordHasher
    limiter: RateLimiter
    links: AccountLinks
    sessions: SessionPolicy = field(default_factory=SessionPolicy)
    consent_defaults: ConsentDefaults = field(default_factory=ConsentDefaults)
