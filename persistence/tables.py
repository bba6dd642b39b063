"""The schema. Alembic migrations must match it (a test runs ``alembic check``)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
)

from persistence.types import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _address_columns(prefix: str) -> list[Column[object]]:
    return [
        Column(f"{prefix}_line1", String(200), nullable=False),
        Column(f"{prefix}_line2", String(200)),
        Column(f"{prefix}_city", String(100), nullable=False),
        Column(f"{prefix}_region", String(100)),
        Column(f"{prefix}_postal_code", String(20), nullable=False),
        Column(f"{prefix}_country", String(2), nullable=False),
    ]


# Card data: only the vault's token, brand, last four digits and expiry. No number, no CVC.
customers = Table(
    "customers",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("email_verified_at", UTCDateTime),
    Column("password_hash", String(255), nullable=False),
    Column("name", String(200), nullable=False),
    Column("company_name", String(200), nullable=False),
    *_address_columns("address"),
    Column("phone", String(32), nullable=False),
    Column("billing_name", String(200), nullable=False),
    *_address_columns("billing_address"),
    Column("billing_organization_users", Integer, nullable=False),
    Column("card_vault_token", String(64), nullable=False),
    Column("card_brand", String(20), nullable=False),
    Column("card_last4", String(4), nullable=False),
    Column("card_exp_month", SmallInteger, nullable=False),
    Column("card_exp_year", SmallInteger, nullable=False),
    Column("title", String(100)),
    Column("department", String(100)),
    Column("fax", String(32)),
    Column("annual_revenue_amount", Numeric(17, 2)),
    Column("annual_revenue_currency", String(3)),
    Column("employee_count", Integer),
    Column("industry", String(100)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    CheckConstraint("length(card_last4) = 4", name="card_last4_is_four"),
    CheckConstraint(
        "billing_organization_users BETWEEN 1 AND 100000", name="organization_users_range"
    ),
    CheckConstraint(
        "(annual_revenue_amount IS NULL) = (annual_revenue_currency IS NULL)",
        name="annual_revenue_has_currency",
    ),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column(
        "customer_id",
        Uuid,
        ForeignKey("customers.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("gpc_signal", Boolean, nullable=False, server_default=false()),
)

# Kept "to help diagnose technical problems"; a retention job removes old rows.
sign_in_events = Table(
    "sign_in_events",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column(
        "customer_id",
        Uuid,
        ForeignKey("customers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("occurred_at", UTCDateTime, nullable=False, index=True),
    Column("ip", String(45)),
    Column("user_agent", String(512)),
    Index("ix_sign_in_events_customer_id_occurred_at", "customer_id", "occurred_at"),
)

account_tokens = Table(
    "account_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "customer_id",
        Uuid,
        ForeignKey("customers.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("purpose", String(32), nullable=False),
    Column("email", String(254), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
)

# The development mailer's outbox; an SMTP relay sends from it and stamps sent_at.
outbox_messages = Table(
    "outbox_messages",
    metadata,
    Column("id", Uuid, primary_key=True),
    # Whom the message is about, so erasure can remove it (recipients change over time).
    Column("customer_id", Uuid, index=True),
    Column("kind", String(40), nullable=False),
    # What a bulk notice is about (a policy version), so its progress can be counted.
    Column("reference", String(64)),
    Column("recipient", String(254), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("sent_at", UTCDateTime),
    # The relay's bookkeeping: a lease while a worker sends, tries so far, when to try again,
    # and when it gave up.
    Column("claimed_until", UTCDateTime),
    Column("attempts", SmallInteger, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime),
    Column("failed_at", UTCDateTime),
    Index("ix_outbox_messages_kind_reference", "kind", "reference"),
    # The relay's queue: only mail still to send, in order, however much sent mail piles up.
    Index(
        "ix_outbox_messages_unsent",
        "created_at",
        "id",
        postgresql_where=text("sent_at IS NULL AND failed_at IS NULL"),
        sqlite_where=text("sent_at IS NULL AND failed_at IS NULL"),
    ),
)

# The local card vault: AES-GCM ciphertexts, each tagged with the id of the key that made it.
card_vault = Table(
    "card_vault",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("key_id", String(32), nullable=False),
    Column("nonce", LargeBinary(12), nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)


# SQLite only numbers INTEGER PRIMARY KEY columns itself.
LedgerId = BigInteger().with_variant(Integer, "sqlite")

# Append-only: triggers (persistence/append_only.py) refuse UPDATE and DELETE. No foreign key to
# customers, so erasing a customer leaves the pseudonymous evidence in place.
consent_ledger = Table(
    "consent_ledger",
    metadata,
    Column("id", LedgerId, primary_key=True, autoincrement=True),
    # PostgreSQL: the inserting transaction's id, to fence the change feed (0 on SQLite).
    Column("tx", BigInteger, nullable=False),
    Column("customer_id", Uuid, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("subject", String(40), nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("previous", Boolean),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("actor", String(16), nullable=False),
    Column("source", String(20), nullable=False),
    Column("policy_version", String(40)),
    Column("informed_of_gpc", Boolean, nullable=False),
    # The data-subject request a member of staff acted on (an e-mailed change of choice).
    Column("request_id", Uuid),
    Index("ix_consent_ledger_customer_id_id", "customer_id", "id"),
    Index("ix_consent_ledger_tx_id", "tx", "id"),
)

# Where a change came from: deletable by erasure and retention without touching the ledger.
consent_ledger_context = Table(
    "consent_ledger_context",
    metadata,
    Column("entry_id", LedgerId, ForeignKey("consent_ledger.id"), primary_key=True),
    Column("ip", String(45)),
    Column("user_agent", String(512)),
)

# The current state, derivable from the ledger (`datarights consent verify` proves it).
consent_states = Table(
    "consent_states",
    metadata,
    Column(
        "customer_id",
        Uuid,
        ForeignKey("customers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("subject", String(40), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("updated_at", UTCDateTime),
    Column("informed_of_gpc", Boolean, nullable=False),
    Column("last_entry_id", BigInteger, nullable=False),
)

partners = Table(
    "partners",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    # Comma-separated SharingPurpose names the partner is registered for.
    Column("purposes", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

partner_keys = Table(
    "partner_keys",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column(
        "partner_id",
        Uuid,
        ForeignKey("partners.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("hint", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
)

# Who read whose consent (GDPR Art. 15(1)(c): the recipients), one row per read and customer.
partner_reads = Table(
    "partner_reads",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("partner_id", Uuid, ForeignKey("partners.id"), nullable=False, index=True),
    Column("operation", String(40), nullable=False),
    Column("purposes", String(200), nullable=False),
    Column("customer_count", Integer, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
)

# Always written in the transaction of their partner_reads row, and never deleted: no foreign key
# is checked for each of a call's thousand rows (migration 0013).
partner_read_customers = Table(
    "partner_read_customers",
    metadata,
    Column("read_id", Uuid, primary_key=True),
    Column("customer_id", Uuid, primary_key=True, index=True),
)

# A partner's webhook endpoints. The signing secret is a shared secret the worker must read back
# to sign with (not a password that a hash could stand for), so it is sealed with the card
# vault's AES-GCM keyring, bound to the endpoint's id.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column(
        "partner_id",
        Uuid,
        ForeignKey("partners.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("url", String(2000), nullable=False),
    Column("secret_key_id", String(32), nullable=False),
    Column("secret_nonce", LargeBinary(12), nullable=False),
    Column("secret_ciphertext", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime),
)

# The outbox of webhook deliveries, written in the transaction of the consent change; it is the
# workers' queue. A worker holds a row by a lease (locked_until, claim_token), never by a lock
# kept across the HTTP call, so a crashed worker's rows come back when the lease expires.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", LedgerId, primary_key=True, autoincrement=True),
    Column("event_id", String(40), nullable=False),
    Column(
        "endpoint_id",
        Uuid,
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("partner_id", Uuid, ForeignKey("partners.id", ondelete="CASCADE"), nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("locked_until", UTCDateTime),
    Column("claim_token", String(36)),
    Column("last_attempt_at", UTCDateTime),
    Column("last_status_code", Integer),
    Column("last_error", String(300)),
    Column("delivered_at", UTCDateTime),
    UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_id_event_id"),
    Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_partner_id_id", "partner_id", "id"),
)

# Every attempt at a delivery, for the partner's delivery log.
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", LedgerId, primary_key=True, autoincrement=True),
    Column(
        "delivery_id",
        LedgerId,
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("number", Integer, nullable=False),
    Column("attempted_at", UTCDateTime, nullable=False),
    Column("status_code", Integer),
    Column("error", String(300)),
    Column("duration_ms", Integer, nullable=False),
)

# Data-subject requests. No foreign key to customers: after an erasure the record stays as
# pseudonymous evidence that the request was handled (its note is cleared then).
data_subject_requests = Table(
    "data_subject_requests",
    metadata,
    Column("id", Uuid, primary_key=True),
    # Order of arrival for paging: an identity column on PostgreSQL; on SQLite, whose writers
    # take turns, the repository writes max + 1.
    Column("seq", BigInteger, Identity(), nullable=False, unique=True),
    Column("customer_id", Uuid, nullable=False),
    Column("type", String(20), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("acknowledged_at", UTCDateTime),
    Column("identity_verified_at", UTCDateTime),
    Column("identity_method", String(200)),
    Column("due_at", UTCDateTime),
    Column("original_due_at", UTCDateTime),
    Column("extension_reason", Text),
    Column("rejection_reason", Text),
    Column("completed_at", UTCDateTime),
    Column("note", Text),
    Index("ix_data_subject_requests_customer_id_seq", "customer_id", "seq"),
    Index("ix_data_subject_requests_status_due_at", "status", "due_at"),
)

request_status_changes = Table(
    "request_status_changes",
    metadata,
    Column(
        "request_id",
        Uuid,
        ForeignKey("data_subject_requests.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True),
    Column("status", String(20), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(16), nullable=False),
    Column("reason", Text),
)

# The rectification history: which field changed, when and by whom, never the values.
profile_changes = Table(
    "profile_changes",
    metadata,
    Column("id", LedgerId, primary_key=True, autoincrement=True),
    Column(
        "customer_id",
        Uuid,
        ForeignKey("customers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("field", String(60), nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("actor", String(16), nullable=False),
    Index("ix_profile_changes_customer_id_id", "customer_id", "id"),
)

# Copies of a customer's data, downloadable by that customer until they expire.
data_exports = Table(
    "data_exports",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("customer_id", Uuid, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("request_id", Uuid, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

# Staff: a role, a password and a TOTP secret (sealed with the vault keyring, bound to the id).
# ``reference`` is the stable pseudonym customers see in their access log instead of the e-mail.
staff_members = Table(
    "staff_members",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("reference", String(16), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("totp_key_id", String(32), nullable=False),
    Column("totp_nonce", LargeBinary(12), nullable=False),
    Column("totp_ciphertext", LargeBinary, nullable=False),
    # The last TOTP time step accepted: a code of that step or an earlier one is a replay.
    Column("totp_last_step", BigInteger),
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime),
)

staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column(
        "staff_id",
        Uuid,
        ForeignKey("staff_members.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

# Every look by staff at a customer's record, with the stated reason. No foreign keys: the log
# outlives staff accounts, and after an erasure it stays as evidence with its note cleared.
access_log = Table(
    "access_log",
    metadata,
    Column("id", LedgerId, primary_key=True, autoincrement=True),
    Column("customer_id", Uuid),
    Column("staff_id", Uuid, nullable=False),
    Column("staff_reference", String(16), nullable=False),
    Column("staff_role", String(20), nullable=False),
    Column("operation", String(40), nullable=False),
    Column("reason", String(40), nullable=False),
    Column("note", Text),
    Column("occurred_at", UTCDateTime, nullable=False),
    Index("ix_access_log_customer_id_id", "customer_id", "id"),
    Index("ix_access_log_staff_id_id", "staff_id", "id"),
)

# Versions of the privacy policy, each announced ahead of the day it takes effect.
policy_versions = Table(
    "policy_versions",
    metadata,
    Column("version", String(40), primary_key=True),
    Column("summary", Text, nullable=False),
    Column("url", String(2000), nullable=False),
    Column("announced_at", UTCDateTime, nullable=False),
    Column("effective_at", UTCDateTime, nullable=False, index=True),
    Column("published_by", Uuid),
)

# Who was erased, when, at which request: ids only, nothing personal. Exported beside the
# backups so that a restore can erase them again (docs/operations.md, `datarights erasures`).
# No foreign keys: the customer is gone, and a restored database may lack the request.
erasure_log = Table(
    "erasure_log",
    metadata,
    Column("customer_id", Uuid, primary_key=True),
    Column("erased_at", UTCDateTime, nullable=False, index=True),
    Column("request_id", Uuid),
)

# Operations shipped ahead of time (persisted queries), by the SHA-256 of their text; checked
# against the schema when loaded (`datarights documents load`), read by every replica.
trusted_documents = Table(
    "trusted_documents",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("document", Text, nullable=False),
    Column("operation_name", String(100)),
    Column("loaded_at", UTCDateTime, nullable=False),
)

policy_acknowledgements = Table(
    "policy_acknowledgements",
    metadata,
    Column(
        "customer_id",
        Uuid,
        ForeignKey("customers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "version",
        String(40),
        ForeignKey("policy_versions.version"),
        primary_key=True,
    ),
    Column("acknowledged_at", UTCDateTime, nullable=False),
)
