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

    env: Literal["development", "production"] = Field(
        default="development",
        description="`production` refuses insecure settings (the development vault key, no "
        "Redis, an insecure cookie) and never migrates the database on start.",
    )
    database_url: str = Field(
        default_factory=lambda: f"sqlite+aiosqlite:///{Path.cwd() / 'datarights.db'}",
        description="SQLAlchemy URL of the database: `postgresql+asyncpg://user:password@host/"
        "name` in production; SQLite (`sqlite+aiosqlite:///path`) for development.",
    )
    database_pool_size: int = Field(
        default=10,
        description=(
            "Connections each process opens to the database, at most; a request that finds "
            "them all busy waits for one (up to the pool timeout)."
        ),
    )
    database_read_pool_size: int = Field(
        default=5,
        ge=0,
        le=100,
        description=(
            "PostgreSQL only: connections each process opens, at most, for the read that begins "
            "every signed-in request (its session and customer), beside the pool above; 0 "
            "reads through the pool above instead. A process opens at most "
            "`DATARIGHTS_DATABASE_POOL_SIZE` + this many connections."
        ),
    )
    # How long a request waits for PostgreSQL before it is refused as SERVICE_UNAVAILABLE: to
    # connect, for one statement, for a free connection of the pool. /readyz waits less.
    database_connect_timeout_seconds: float = Field(
        default=3.0,
        gt=0,
        le=60,
        description="Seconds to wait for a new database connection before the request is "
        "refused as SERVICE_UNAVAILABLE.",
    )
    database_statement_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Seconds one SQL statement may run before the request is refused as "
        "SERVICE_UNAVAILABLE.",
    )
    database_pool_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Seconds a request waits for a free connection of the pool before it is "
        "refused as SERVICE_UNAVAILABLE.",
    )
    readiness_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        le=30,
        description="Seconds `/readyz` waits for the database before it answers not ready.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis (`redis://host:6379/0`) for rate-limit counters shared by every "
        "process and replica; required in production unless DATARIGHTS_RATE_LIMITS_IN_MEMORY.",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where customers reach the service: e-mailed links point at it, and its "
        "origin is always allowed (CSRF, CORS).",
    )
    log_level: str = Field(
        default="INFO", description="Level of the log: DEBUG, INFO, WARNING or ERROR."
    )
    log_format: Literal["json", "text"] | None = Field(
        default=None,
        description="`json` (one JSON object a line) or `text`; unset, json in production and "
        "text otherwise.",
    )

    metrics_token: SecretStr | None = Field(
        default=None,
        description="When set, `/metrics` answers only a scrape that sends it as a bearer token "
        "(`Authorization: Bearer …`); unset, `/metrics` is open: keep it off the public route.",
    )

    card_vault_keys: str = Field(
        default=DEVELOPMENT_VAULT_KEYS,
        description="Keys of the local card vault, which also seal staff TOTP secrets and webhook "
        "signing secrets: `id:base64key,id:base64key` (32-byte keys from `datarights "
        "generate-vault-key`); the last is active unless DATARIGHTS_CARD_VAULT_ACTIVE_KEY says.",
    )
    card_vault_active_key: str | None = Field(
        default=None,
        description="The id of the key that seals new cards and secrets; unset, the last of "
        "DATARIGHTS_CARD_VAULT_KEYS.",
    )

    # Sessions and their cookie. Secure and the __Host- prefix may only be dropped in development.
    session_idle_minutes: int = Field(
        default=30, ge=1, description="A customer session ends after this long without a request."
    )
    session_absolute_hours: int = Field(
        default=12, ge=1, description="A customer session ends this long after sign-in."
    )
    # Staff sessions are separate and shorter; staff authenticate with a bearer token only.
    staff_session_idle_minutes: int = Field(
        default=15, ge=1, description="A staff session ends after this long without a request."
    )
    staff_session_absolute_hours: int = Field(
        default=8, ge=1, description="A staff session ends this long after sign-in."
    )
    cookie_secure: bool | None = Field(
        default=None,
        description="Secure and the `__Host-` prefix on the session cookie; unset, on in "
        "production, where false is refused.",
    )

    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Peers whose X-Forwarded-For is believed (load balancers): IPs or networks, "
        "separated by commas (`10.0.0.5,172.30.0.0/16`) or as a JSON list.",
    )

    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Origins of the web front ends that may call with the session cookie (CSRF) "
        "and read the answers (CORS), as `https://app.example.com` separated by commas or as a "
        "JSON list; the origin of DATARIGHTS_PUBLIC_URL is always allowed.",
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        description="The largest request body accepted; a larger one is refused (413) before it "
        "is parsed.",
    )

    # argon2id, OWASP's parameters (persistence.passwords.Argon2Parameters); cheaper ones only
    # in tests.
    argon2_memory_kib: int = Field(
        default=7_168,
        ge=8,
        description="Memory of one argon2id password hash, in KiB. OWASP's settings of equal "
        "defence: 7168 with 5 passes (the default), 9216 with 4, 12288 with 3, 19456 with 2. "
        "A stored hash made with other parameters is replaced at its owner's next sign-in.",
    )
    argon2_time_cost: int = Field(default=5, ge=1, description="Passes of argon2id over it.")
    argon2_parallelism: int = Field(default=1, ge=1, description="Lanes of argon2id.")
    password_hashes_at_once: int = Field(
        default=1,
        ge=1,
        description="Password hashes one process computes at once; more wait their turn, so a "
        "flood of sign-ins cannot take every CPU. Each hashing thread keeps its argon2 memory "
        "(argon2_memory_kib) once it has hashed: run one process per core and keep this at 1.",
    )
    password_hash_idle_ms: int = Field(
        default=250,
        ge=0,
        le=10_000,
        description="How long a password hash may wait for CPU time no request wants (Linux: "
        "threads of the SCHED_IDLE policy) before it is also computed at normal priority; the "
        "first answer wins. Hashing in idle time keeps sign-ins from slowing the requests "
        "beside them; the limit keeps a saturated machine from starving sign-ins. 0 hashes at "
        "normal priority at once.",
    )

    # Communication topics before the customer's first choice. The newsletter is always off
    # (by invitation) and account and security mail always on.
    default_promotions_and_events: bool = Field(
        default=False, description="PROMOTIONS_AND_EVENTS mail before the customer chooses."
    )
    default_product_updates: bool = Field(
        default=True, description="PRODUCT_UPDATES mail before the customer chooses."
    )
    default_sales_follow_up: bool = Field(
        default=False, description="SALES_FOLLOW_UP contact before the customer chooses."
    )

    # Webhooks: how long the worker waits for a receiver to answer, and how often it looks for
    # deliveries that are due. (Production sends only over HTTPS to public addresses.)
    webhook_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description="Seconds the worker waits for a webhook receiver to answer.",
    )
    worker_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How often the worker looks for webhooks and e-mail that are due (seconds).",
    )
    export_retention_days: int = Field(
        default=7, ge=1, description="Days a data export stays downloadable."
    )
    client_data_retention_days: int = Field(
        default=90,
        ge=1,
        description="Days sign-in and consent-change IPs and user agents are kept "
        "(`datarights purge` forgets older ones).",
    )

    # The legal clock of data-subject requests: the working-day calendar (holidays of a country
    # and subdivision, in a time zone), and days that shorten the one-month period per request
    # type, as JSON ({"ACCESS": 20}); longer values are ignored, never lengthening it.
    requests_country: str = Field(
        default="GB", description="Country whose holidays the request clock skips (ISO 3166)."
    )
    requests_subdivision: str | None = Field(
        default="ENG", description="Its subdivision whose holidays are skipped too, if any."
    )
    requests_timezone: str = Field(
        default="Europe/London", description="The time zone in which the request clock counts days."
    )
    requests_max_days: dict[str, int] = Field(
        default={},
        description='Days that shorten the one-month period per request type, as JSON (`{"ACCESS": '
        "20}`); longer values are ignored.",
    )

    # A privacy-policy change takes effect at least 30 business days after it is announced,
    # counted on this calendar (the public holidays of a country and subdivision, in a zone).
    policy_country: str = Field(
        default="US", description="Country whose holidays a policy notice's 30 days skip."
    )
    policy_subdivision: str | None = Field(
        default=None, description="Its subdivision whose holidays are skipped too, if any."
    )
    policy_timezone: str = Field(
        default="UTC", description="The time zone in which the policy notice counts days."
    )

    smtp_url: SecretStr | None = Field(
        default=None,
        description="The mail relay of `datarights worker`: `smtp://host:25`, "
        "`smtp+starttls://user:pass@host:587` or `smtps://user:pass@host:465`; unset, e-mail "
        "stays in the outbox table (development).",
    )
    mail_from: str = Field(default="privacy@localhost", description="The sender of every e-mail.")
    smtp_timeout_seconds: float = Field(
        default=30.0, gt=0, le=300, description="Seconds to wait for the mail relay."
    )
    mail_max_attempts: int = Field(
        default=12,
        ge=1,
        le=50,
        description="Tries of a message the relay defers before it is marked failed (backoff up "
        "to 4 hours).",
    )
    aggregate_min_group_size: int = Field(
        default=10,
        ge=2,
        description="k: the fewest customers a group of the aggregate statistics must hold to "
        "be shown.",
    )

    # Limits on one GraphQL request (docs/deployment.md): nesting depth, aliases, tokens of the
    # document (variables are not counted), directives, and a cost in which every list counts
    # as many times as the items it asks for (`first`, or the customer ids given).
    graphql_max_depth: int = Field(default=10, ge=1, description="Nesting depth of a document.")
    graphql_max_aliases: int = Field(default=15, ge=1, description="Aliases in a document.")
    graphql_max_tokens: int = Field(
        default=1_000, ge=1, description="Tokens of a document (variables are not counted)."
    )
    graphql_max_directives: int = Field(default=50, ge=1, description="Directives in a document.")
    graphql_max_cost: int = Field(
        default=5_000,
        ge=1,
        description="Cost of a request, every list counting as many times as the items it asks "
        "for (`first`, or the customer ids given).",
    )

    # Rate limits, in the `limits` package's notation ("5 per 15 minutes").
    login_attempts_per_account: str = Field(
        default="5 per 15 minutes",
        description="Sign-in attempts on one customer account (a success clears them).",
    )
    login_attempts_per_ip: str = Field(
        default="100 per 15 minutes",
        description="Sign-in attempts from one IP address, customers and staff.",
    )
    registrations_per_ip: str = Field(
        default="20 per hour", description="Registrations from one IP address."
    )
    password_resets_per_address: str = Field(
        default="5 per hour", description="Password-reset e-mails to one address."
    )
    password_resets_per_ip: str = Field(
        default="20 per hour", description="Password resets asked from one IP address."
    )
    staff_login_attempts_per_account: str = Field(
        default="5 per 15 minutes", description="Sign-in attempts on one staff account."
    )
    code_attempts_per_ip: str = Field(
        default="30 per hour",
        description="Single-use codes tried from one IP address (resetPassword, verifyEmail and "
        "confirmAccountDeletion together).",
    )
    rate_limits_in_memory: bool = Field(
        default=False,
        description="Count rate limits in each process's memory: with several workers or "
        "replicas every limit is multiplied, so production needs DATARIGHTS_REDIS_URL unless "
        "this says one process is all.",
    )
    trusted_documents_only: bool = Field(
        default=False,
        description="Run only trusted documents (`datarights documents load`, sent by "
        "`documentId` or Apollo's `persistedQuery`) for customers and anonymous callers: any "
        "other operation is refused with code PERSISTED_QUERY_REQUIRED.",
    )
    trusted_documents_partners_exempt: bool = Field(
        default=True,
        description="With DATARIGHTS_TRUSTED_DOCUMENTS_ONLY, partners (a valid API key) may "
        "still send any operation.",
    )
    trusted_documents_staff_exempt: bool = Field(
        default=True,
        description="With DATARIGHTS_TRUSTED_DOCUMENTS_ONLY, staff (a valid staff session) may "
        "still send any operation.",
    )
    prepare_texts: bool = Field(
        default=True,
        description="Plan an operation sent as text, when it is in the prepared subset (a "
        "`me` selection of the profile, a partner's `consentStates`), once per text, and answer "
        "it as a trusted document of the same text is answered: one read, direct JSON, no "
        "GraphQL execution. Off: every text is executed by graphql-core.",
    )

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
