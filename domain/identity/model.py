"""Sessions, sign-in events and single-use account tokens."""

from __future__ import annotations

import enum
import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta


def new_secret() -> str:
    """A random token of 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def secret_hash(token: str) -> str:
    """What is stored in place of a token: a leaked table gives no working token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle_timeout: timedelta = timedelta(minutes=30)
    absolute_timeout: timedelta = timedelta(hours=12)
    # The idle clock is written at most this often, so reads do not each cost a write.
    touch_interval: timedelta = timedelta(minutes=1)


@dataclass(slots=True)
class Session:
    id: uuid.UUID
    customer_id: uuid.UUID
    token_hash: str = field(repr=False)
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    # Whether the last requests of this session carried Sec-GPC: 1 (a signal "episode").
    gpc_signal: bool = False

    def is_active(self, now: datetime, policy: SessionPolicy) -> bool:
        return now < self.expires_at and now < self.last_seen_at + policy.idle_timeout

    def needs_touch(self, now: datetime, policy: SessionPolicy) -> bool:
        return now - self.last_seen_at >= policy.touch_interval


def open_session(
    customer_id: uuid.UUID, now: datetime, policy: SessionPolicy
) -> tuple[str, Session]:
    """A fresh token (given once to the client) and the session that stores only its hash."""
    token = new_secret()
    return token, Session(
        id=uuid.uuid4(),
        customer_id=customer_id,
        token_hash=secret_hash(token),
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.absolute_timeout,
    )


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a request came from, kept to help diagnose technical problems."""

    ip: str | None
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class SignInEvent:
    id: uuid.UUID
    customer_id: uuid.UUID
    occurred_at: datetime
    ip: str | None
    user_agent: str | None


class TokenPurpose(enum.Enum):
    EMAIL_VERIFICATION = "EMAIL_VERIFICATION"
    PASSWORD_RESET = "PASSWORD_RESET"
    ACCOUNT_DELETION = "ACCOUNT_DELETION"


TOKEN_LIFETIME: dict[TokenPurpose, timedelta] = {
    TokenPurpose.EMAIL_VERIFICATION: timedelta(days=2),
    TokenPurpose.PASSWORD_RESET: timedelta(hours=1),
    TokenPurpose.ACCOUNT_DELETION: timedelta(hours=24),
}


@dataclass(slots=True)
class AccountToken:
    """A single-use, expiring secret sent by e-mail; ``email`` is the address it proves."""

    token_hash: str = field(repr=False)
    customer_id: uuid.UUID
    purpose: TokenPurpose
    email: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    def usable(self, purpose: TokenPurpose, now: datetime) -> bool:
        return self.purpose is purpose and self.used_at is None and now < self.expires_at


def issue_token(
    customer_id: uuid.UUID, purpose: TokenPurpose, email: str, now: datetime
) -> tuple[str, AccountToken]:
    token = new_secret()
    return token, AccountToken(
        token_hash=secret_hash(token),
        customer_id=customer_id,
        purpose=purpose,
        email=email,
        created_at=now,
        expires_at=now + TOKEN_LIFETIME[purpose],
    )
