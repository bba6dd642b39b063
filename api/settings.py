"""Settings from the environment (prefix ``DATARIGHTS_``) or a ``.env`` file."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from api.origins import is_bare_origin, origin_of

# Published in the source, so it is refused in production: it protects nothing.
DEVELOPMENT_VAULT_KEYS = "dev:ZGF0YXJpZ2h0cy1kZXZlbG9wbWVudC1vbmx5LWtleSE="


class InsecureSettings(ValueError):
    """A production setting that would leave data unprotected."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DATARIGHTS_", env_file=".env", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = Field(
        default_factory=lambda: f"sqlite+aiosqlite:///{Path.cwd() / 'datarights.db'}"
    )
    database_pool_size: int = 10
    # How long a request waits for PostgreSQL before it is refused as SERVICE_UNAVAILABLE: to
    # connect, for one statement, for a free connection of the pool. /readyz waits less.
    database_connect_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    database_statement_timeout_seconds: float = Field(default=10.0, gt=0)
    database_pool_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    readiness_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    redis_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    log_level: str = "INFO"
    # "json" (one JSON object a line) or "text"; unset, json in production and text otherwise.
    log_format: Literal["json", "text"] | None = None

    # Card vault: "id:base64key,id:base64key" (32-byte keys); the last is active unless named.
    card_vault_keys: str = DEVELOPMENT_VAULT_KEYS
    card_vault_active_key: str | None = None

    # Sessions and their cookie. Secure and the __Host- prefix may only be dropped in development.
    session_idle_minutes: int = Field(default=30, ge=1)
    session_absolute_hours: int = Field(default=12, ge=1)
    # Staff sessions are separate and shorter; staff authenticate with a bearer token only.
    staff_session_idle_minutes: int = Field(default=15, ge=1)
    staff_session_absolute_hours: int = Field(default=8, ge=1)
    cookie_secure: bool | None = None

    # Peers whose X-Forwarded-For is believed (load balancers): IPs or networks, separated by
    # commas ("10.0.0.5,172.30.0.0/16") or as a JSON list.
    trusted_proxies: Annotated[list[str], NoDecode] = []

    # Origins of the web front ends that may call with the session cookie (CSRF) and read the
    # answers (CORS), as "https://app.example.com" separated by commas or as a JSON list. The
    # origin of public_url is always allowed.
    allowed_origins: Annotated[list[str], NoDecode] = []
    # The largest request body accepted; a larger one is refused (413) before it is parsed.
    max_body_bytes: int = Field(default=1_048_576, ge=1024)

    # argon2id, OWASP's parameters; cheaper ones only in tests.
    argon2_memory_kib: int = Field(default=19_456, ge=8)
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_parallelism: int = Field(default=1, ge=1)
    password_hashes_at_once: int = Field(default=2, ge=1)

    # Communication topics before the customer's first choice. The newsletter is always off
    # (by invitation) and account and security mail always on.
    default_promotions_and_events: bool = False
    default_product_updates: bool = True
    default_sales_follow_up: bool = False

    # Webhooks: how long the worker waits for a receiver to answer, and how often it looks for
    # deliveries that are due. (Production sends only over HTTPS to public addresses.)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    worker_poll_seconds: float = Field(default=2.0, gt=0)

    # How long a data export stays downloadable.
    export_retention_days: int = Field(default=7, ge=1)

    # How long sign-in and consent-change IPs and user agents are kept (`datarights purge`).
    client_data_retention_days: int = Field(default=90, ge=1)

    # The legal clock of data-subject requests: the working-day calendar (holidays of a country
    # and subdivision, in a time zone), and days that shorten the one-month period per request
    # type, as JSON ({"ACCESS": 20}); longer values are ignored, never lengthening it.
    requests_country: str = "GB"
    requests_subdivision: str | None = "ENG"
    requests_timezone: str = "Europe/London"
    requests_max_days: dict[str, int] = {}

    # A privacy-policy change takes effect at least 30 business days after it is announced,
    # counted on this calendar (the public holidays of a country and subdivision, in a zone).
    policy_country: str = "US"
    policy_subdivision: str | None = None
    policy_timezone: str = "UTC"

    # The mail relay of `datarights worker`: smtp://host:25, smtp+starttls://user:pass@host:587
    # or smtps://user:pass@host:465. Unset, e-mail stays in the outbox table (development).
    smtp_url: SecretStr | None = None
    mail_from: str = "privacy@localhost"
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    # Tries of a message the server defers before it is marked failed (backoff up to 4 hours).
    mail_max_attempts: int = Field(default=12, ge=1, le=50)

    # Aggregate statistics: k, the fewest customers a group must hold to be shown.
    aggregate_min_group_size: int = Field(default=10, ge=2)

    # Limits on one GraphQL request (docs/deployment.md): nesting depth, aliases, tokens of the
    # document (variables are not counted), directives, and a cost in which every list counts
    # as many times as the items it asks for (`first`, or the customer ids given).
    graphql_max_depth: int = Field(default=10, ge=1)
    graphql_max_aliases: int = Field(default=15, ge=1)
    graphql_max_tokens: int = Field(default=1_000, ge=1)
    graphql_max_directives: int = Field(default=50, ge=1)
    graphql_max_cost: int = Field(default=5_000, ge=1)

    # Rate limits, in the `limits` package's notation ("5 per 15 minutes").
    login_attempts_per_account: str = "5 per 15 minutes"
    login_attempts_per_ip: str = "100 per 15 minutes"
    registrations_per_ip: str = "20 per hour"
    password_resets_per_address: str = "5 per hour"
    password_resets_per_ip: str = "20 per hour"
    staff_login_attempts_per_account: str = "5 per 15 minutes"
    # Single-use codes tried (resetPassword, verifyEmail, confirmAccountDeletion together).
    code_attempts_per_ip: str = "30 per hour"
    # Counters in memory are per process: with several workers or replicas every limit is
    # multiplied. Production needs DATARIGHTS_REDIS_URL unless this says one process is all.
    rate_limits_in_memory: bool = False

    @field_validator("trusted_proxies", "allowed_origins", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} in DATARIGHTS_TRUSTED_PROXIES is not an IP or network"
                ) from None
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _bare_origins(cls, value: list[str]) -> list[str]:
        for entry in value:
            if not is_bare_origin(entry):
                raise ValueError(
                    f"{entry!r} in DATARIGHTS_ALLOWED_ORIGINS is not an origin such as "
                    "https://app.example.com (a scheme and a host, no path, no wildcard)"
                )
        return [origin for entry in value if (origin := origin_of(entry))]

    @property
    def own_origin(self) -> str | None:
        return origin_of(self.public_url)

    @property
    def json_logs(self) -> bool:
        return self.production if self.log_format is None else self.log_format == "json"

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def secure_cookie(self) -> bool:
        return self.production if self.cookie_secure is None else self.cookie_secure

    @property
    def cookie_name(self) -> str:
        # __Host- binds the cookie to this host and path / and demands Secure.
        return "__Host-datarights_session" if self.secure_cookie else "datarights_session"

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if not self.production:
            return self
        problems = []
        if self.card_vault_keys == DEVELOPMENT_VAULT_KEYS or not self.card_vault_keys.strip():
            problems.append(
                "DATARIGHTS_CARD_VAULT_KEYS is missing or is the published development key; "
                "generate one with `datarights generate-vault-key`"
            )
        if not self.redis_url and not self.rate_limits_in_memory:
            problems.append(
                "DATARIGHTS_REDIS_URL is not set, so rate limits would be counted per process; "
                "set it, or set DATARIGHTS_RATE_LIMITS_IN_MEMORY=true for a single process"
            )
        if self.cookie_secure is False:
            problems.append("DATARIGHTS_COOKIE_SECURE cannot be false in production")
        if problems:
            raise InsecureSettings("refusing to start in production: " + "; ".join(problems))
        return self
