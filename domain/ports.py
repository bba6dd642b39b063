"""What the domain needs from the outside world, as protocols the adapters implement."""

from __future__ import annotations

import enum
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from domain.consent.model import ConsentEntry, ConsentState, SharingPurpose, Subject
from domain.documents.model import TrustedDocument
from domain.identity.model import AccountToken, ClientInfo, Session, SignInEvent, TokenPurpose
from domain.mail.model import MailOutcome, NoticeProgress, QueuedEmail, Settlement
from domain.partners.model import Partner, PartnerKey
from domain.policies.model import Acknowledgement, PolicyVersion
from domain.profile.card import CardDetails
from domain.profile.model import Customer, ProfileChange
from domain.requests.model import DataSubjectRequest, RequestStatus
from domain.staff.model import AccessLogEntry, StaffMember, StaffSession
from domain.statistics.model import Dimension, RawValue
from domain.webhooks.model import (
    ClaimedDelivery,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class CustomerRepository(Protocol):
    async def add(self, customer: Customer) -> None:
        """Store a new customer; raises :class:`EmailAlreadyTaken` when the address is used."""
        ...

    async def get(self, customer_id: uuid.UUID) -> Customer | None: ...

    async def get_for_update(self, customer_id: uuid.UUID) -> Customer | None:
        """The customer as stored, held for this transaction: a concurrent writer waits until
        it ends, then reads what it wrote."""
        ...

    async def get_by_email(self, email: str) -> Customer | None: ...

    async def email_taken(self, email: str) -> bool: ...

    async def save(self, customer: Customer, expected_version: int) -> bool:
        """Write the customer back if nobody changed it since ``expected_version``.

        Returns False on a concurrent change; raises :class:`EmailAlreadyTaken` as ``add``.
        """
        ...

    async def contacts(self, after: uuid.UUID | None, limit: int) -> list[tuple[uuid.UUID, str]]:
        """Up to ``limit`` customers' (id, e-mail address) in id order, after ``after``: a
        page of everyone to write to."""
        ...


class CustomerReadModel(Protocol):
    """The hot reads of a customer, each in one statement, outside any transaction."""

    async def me_by_session(self, token_hash: str) -> tuple[Session, Customer] | None:
        """The session whose token hashes to ``token_hash`` and its customer, read together,
        whatever the session's state: the caller applies the session rules
        (``Session.is_active``: idle and absolute expiry; ``needs_touch``: the idle clock
        written at most once a minute) exactly as sign-in checks do. None when no session has
        that hash."""
        ...

    async def by_email(self, email: str) -> Customer | None:
        """The customer of this (normalised) address, as sign-in reads it before checking the
        password; whatever it goes on to write, it reads again under a lock."""
        ...


class TrustedDocumentRepository(Protocol):
    async def add(self, documents: Sequence[TrustedDocument]) -> int:
        """Store those not stored yet (a hash names one text for ever); how many were new."""
        ...

    async def get(self, document_hash: str) -> TrustedDocument | None: ...

    async def all(self) -> list[TrustedDocument]:
        """Every trusted document, oldest first."""
        ...


class EmailAlreadyTaken(Exception):
    """Another customer holds the address (seen by the database's unique constraint)."""


class SessionRepository(Protocol):
    async def add(self, session: Session) -> None: ...

    async def get_by_token_hash(self, token_hash: str) -> Session | None: ...

    async def touch(self, session_id: uuid.UUID, at: datetime) -> None: ...

    async def end(self, session_id: uuid.UUID) -> None: ...

    async def mark_gpc_signal(self, session_id: uuid.UUID, present: bool) -> None:
        """Remember whether this session's requests carry a Global Privacy Control signal."""
        ...

    async def end_all_for(self, customer_id: uuid.UUID, keep: uuid.UUID | None = None) -> int: ...


class ConsentRepository(Protocol):
    """The append-only consent ledger and the current state derived from it."""

    async def current(self, customer_id: uuid.UUID) -> dict[Subject, ConsentState]: ...

    async def current_of(
        self, customer_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, dict[Subject, ConsentState]]:
        """The current state of several customers in one read."""
        ...

    async def all_entries(self) -> list[ConsentEntry]:
        """The whole ledger in the order it was written (to re-derive the current state)."""
        ...

    async def append(
        self, entries: Sequence[ConsentEntry], client: ClientInfo | None
    ) -> list[ConsentEntry]:
        """Add entries to the ledger and move the current state with them; the client's IP
        and user agent go to a side table that retention can empty. Returns the entries as
        stored, each with the id the ledger gave it."""
        ...

    async def history(
        self, customer_id: uuid.UUID, first: int, before_id: int | None
    ) -> list[ConsentEntry]:
        """The customer's entries, newest first, older than ``before_id`` when given."""
        ...

    async def had_gpc_signal(self, customer_id: uuid.UUID) -> bool:
        """Whether a Global Privacy Control signal ever changed this customer's choices."""
        ...


@dataclass(frozen=True, slots=True)
class FeedPosition:
    """Where a partner's change feed stands: (transaction order, ledger id) of the last change."""

    tx: int
    entry_id: int


class ConsentReadModel(Protocol):
    """Reads for partners, each in one statement."""

    async def states_of(
        self, customer_ids: Sequence[uuid.UUID], purposes: Sequence[SharingPurpose]
    ) -> dict[tuple[uuid.UUID, SharingPurpose], ConsentState]: ...

    async def state_at(
        self, customer_id: uuid.UUID, purpose: SharingPurpose, at: datetime
    ) -> ConsentState | None:
        """The state in force at ``at``, from the ledger; None if the customer had none."""
        ...

    async def changes(
        self, after: FeedPosition | None, purposes: Sequence[SharingPurpose], limit: int
    ) -> list[tuple[FeedPosition, ConsentEntry]]:
        """Changes after ``after`` in a stable order that no later commit can insert into."""
        ...


class PartnerRepository(Protocol):
    async def add(self, partner: Partner) -> None:
        """Raises :class:`NameAlreadyTaken` for a second partner of the same name."""
        ...

    async def add_key(self, key: PartnerKey) -> None: ...

    async def by_name(self, name: str) -> Partner | None: ...

    async def all(self) -> list[Partner]: ...

    async def key(self, key_hash: str) -> tuple[PartnerKey, Partner] | None: ...

    async def keys_of(self, partner_id: uuid.UUID) -> list[PartnerKey]: ...

    async def expire_keys(self, partner_id: uuid.UUID, at: datetime) -> None:
        """Every key of the partner that does not expire yet stops working at ``at``."""
        ...

    async def revoke(self, partner_id: uuid.UUID, at: datetime) -> None: ...

    async def record_read(
        self,
        partner_id: uuid.UUID,
        operation: str,
        purposes: Sequence[SharingPurpose],
        customer_ids: Sequence[uuid.UUID],
        at: datetime,
    ) -> None:
        """Log who read whose consent, so a customer's export can name the recipients."""
        ...


class NameAlreadyTaken(Exception):
    """Another partner has this name."""


class WebhookRepository(Protocol):
    """Partners' webhook endpoints, the outbox of deliveries (the workers' queue) and the log
    of every attempt."""

    async def add_endpoint(self, endpoint: WebhookEndpoint) -> None: ...

    async def endpoints_of(self, partner_id: uuid.UUID) -> list[WebhookEndpoint]:
        """The partner's endpoints, removed ones included, oldest first."""
        ...

    async def disable_endpoint(self, endpoint_id: uuid.UUID, at: datetime) -> int:
        """Stop sending to the endpoint; its pending deliveries fail. Returns how many."""
        ...

    async def listening(
        self, purposes: Sequence[SharingPurpose]
    ) -> list[tuple[WebhookEndpoint, frozenset[SharingPurpose]]]:
        """Active endpoints of active partners registered for any of ``purposes``, each with
        every purpose its partner is registered for."""
        ...

    async def enqueue(self, deliveries: Sequence[WebhookDelivery]) -> None: ...

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[ClaimedDelivery]:
        """Take up to ``limit`` pending deliveries due at ``now`` that nobody holds, oldest
        first, and hold them until ``lease_until``. Concurrent workers never take the same
        one while its lease runs; a lease left to expire (a crashed worker) frees it."""
        ...

    async def settle(
        self, delivery: WebhookDelivery, claim: str, attempt: WebhookAttempt | None
    ) -> bool:
        """Log the attempt (if one was made) and write the delivery's new state and release
        it, if ``claim`` still holds it. False when the lease had passed to another worker:
        the attempt is logged all the same, the delivery is left to its new holder."""
        ...

    async def deliveries_of(
        self, partner_id: uuid.UUID, first: int, before_id: int | None
    ) -> list[WebhookDelivery]:
        """The partner's deliveries, newest first, older than ``before_id`` when given."""
        ...

    async def attempts_of(
        self, partner_id: uuid.UUID, delivery_ids: Sequence[int]
    ) -> list[WebhookAttempt]:
        """The logged attempts of those of the deliveries that are the partner's, in order."""
        ...


class HostResolver(Protocol):
    async def resolve(self, host: str) -> list[str]:
        """The IP addresses a host name stands for now; empty when it does not resolve."""
        ...


@dataclass(frozen=True, slots=True)
class OutgoingWebhook:
    """A POST to make: the sender signs ``body`` with ``secret`` as Standard Webhooks says
    (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``). ``connect_to`` is the
    address checked just before sending, to be used instead of resolving the host again."""

    url: str
    connect_to: str | None
    message_id: str
    timestamp: datetime
    body: str
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    """What came back: a status code, or a short error when no answer came."""

    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def accepted(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookSender(Protocol):
    async def send(self, webhook: OutgoingWebhook) -> WebhookResponse:
        """POST the webhook; never raises for the receiver's faults (they are the response)."""
        ...


class ProfileChangeRepository(Protocol):
    async def add(self, changes: Sequence[ProfileChange]) -> None: ...

    async def of_customer(
        self, customer_id: uuid.UUID, first: int, before: int | None
    ) -> list[tuple[int, ProfileChange]]:
        """Newest first, each with its position for paging."""
        ...


class RequestRepository(Protocol):
    async def add(self, request: DataSubjectRequest) -> None: ...

    async def get(self, request_id: uuid.UUID) -> DataSubjectRequest | None: ...

    async def save(self, request: DataSubjectRequest) -> None:
        """Write the request's state and append the status changes not yet stored."""
        ...

    async def of_customer(
        self, customer_id: uuid.UUID, first: int, before: int | None
    ) -> list[tuple[int, DataSubjectRequest]]:
        """The customer's requests newest first, each with its position for paging."""
        ...


class StaffRepository(Protocol):
    async def add(self, member: StaffMember) -> None:
        """Raises :class:`EmailAlreadyTaken` when another member has the address."""
        ...

    async def get(self, staff_id: uuid.UUID) -> StaffMember | None: ...

    async def by_email(self, email: str) -> StaffMember | None: ...

    async def all(self) -> list[StaffMember]: ...

    async def use_totp_step(self, staff_id: uuid.UUID, step: int) -> bool:
        """Record ``step`` as the last code used, only if it is later than the one recorded;
        False when it is not (a replayed code, or a concurrent sign-in that used it)."""
        ...

    async def disable(self, staff_id: uuid.UUID, at: datetime) -> None: ...

    async def add_session(self, session: StaffSession) -> None: ...

    async def session(self, token_hash: str) -> tuple[StaffSession, StaffMember] | None: ...

    async def touch_session(self, session_id: uuid.UUID, at: datetime) -> None: ...

    async def end_session(self, session_id: uuid.UUID) -> None: ...

    async def end_sessions_of(self, staff_id: uuid.UUID) -> int: ...


class AccessLog(Protocol):
    """Every look by staff at a customer's record."""

    async def add(self, entry: AccessLogEntry) -> None: ...

    async def of_customer(
        self, customer_id: uuid.UUID, first: int, before: int | None
    ) -> list[AccessLogEntry]:
        """The customer's entries newest first, older than ``before`` when given."""
        ...


@dataclass(frozen=True, slots=True)
class RequestQueueFilter:
    status: RequestStatus | None = None
    # Only requests past their due date that are not finished.
    overdue_at: datetime | None = None


class RequestQueue(Protocol):
    """The privacy officer's work queue: every customer's requests."""

    async def page(
        self, where: RequestQueueFilter, first: int, after: int | None
    ) -> list[tuple[int, DataSubjectRequest]]:
        """Oldest first, after position ``after`` when given, each with its position."""
        ...


class PolicyRepository(Protocol):
    async def add(self, version: PolicyVersion) -> None:
        """Raises :class:`VersionAlreadyPublished` for a version name already used."""
        ...

    async def get(self, version: str) -> PolicyVersion | None: ...

    async def in_force(self, at: datetime) -> PolicyVersion | None:
        """The version whose effective time is the latest at or before ``at``."""
        ...

    async def upcoming(self, at: datetime) -> PolicyVersion | None:
        """The next version to take effect after ``at``."""
        ...

    async def acknowledge(self, acknowledgement: Acknowledgement) -> Acknowledgement:
        """Record it once; a second acknowledgement of the same version returns the first."""
        ...

    async def acknowledgements_of(self, customer_id: uuid.UUID) -> list[Acknowledgement]: ...


class VersionAlreadyPublished(Exception):
    """A policy version of that name exists."""


class SignInEventRepository(Protocol):
    async def add(self, event: SignInEvent) -> None: ...


@dataclass(frozen=True, slots=True)
class DataExport:
    """A copy of a customer's data, downloadable by that customer until ``expires_at``."""

    id: uuid.UUID
    customer_id: uuid.UUID
    request_id: uuid.UUID
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Recipient:
    """A partner that read the customer's consent (GDPR Art. 15(1)(c))."""

    partner: str
    purposes: str
    reads: int
    first_read_at: datetime
    last_read_at: datetime


class ExportReader(Protocol):
    """Everything held about one customer, read section by section; long lists stream."""

    async def add_export(self, export: DataExport) -> None: ...

    async def export(self, export_id: uuid.UUID) -> DataExport | None: ...

    def ledger(self, customer_id: uuid.UUID) -> AsyncIterator[ConsentEntry]: ...

    def sign_ins(self, customer_id: uuid.UUID) -> AsyncIterator[SignInEvent]: ...

    def profile_changes(self, customer_id: uuid.UUID) -> AsyncIterator[ProfileChange]: ...

    def access_log(self, customer_id: uuid.UUID) -> AsyncIterator[AccessLogEntry]: ...

    async def requests(self, customer_id: uuid.UUID) -> list[DataSubjectRequest]: ...

    async def recipients(self, customer_id: uuid.UUID) -> list[Recipient]: ...


@dataclass(frozen=True, slots=True)
class Purged:
    """What one retention run removed."""

    sign_in_addresses: int
    consent_change_addresses: int
    expired_sessions: int
    expired_tokens: int
    expired_exports: int = 0


class Retention(Protocol):
    """Removes what is kept only for a while; each step is idempotent."""

    async def purge(self, client_data_before: datetime, now: datetime) -> Purged:
        """Forget IPs and user agents recorded before ``client_data_before``, sessions and
        single-use tokens that expired before ``now``."""
        ...


@dataclass(frozen=True, slots=True)
class ErasureRecord:
    """One line of the erasure log: whom (a pseudonymous id), when, and at which request; kept
    so that a restored backup can be erased again (docs/operations.md)."""

    customer_id: uuid.UUID
    erased_at: datetime
    request_id: uuid.UUID | None


class Erasure(Protocol):
    async def erase(self, customer_id: uuid.UUID) -> None:
        """Remove everything held about the customer except the consent ledger and request
        records, which stay as pseudonymous evidence (no name, address, IP or note in them)."""
        ...

    async def log(self, record: ErasureRecord) -> None:
        """Add the record to the erasure log; a customer already in it keeps its first one."""
        ...

    async def logged(self, since: datetime | None) -> list[ErasureRecord]:
        """The erasure log, oldest first; from ``since`` on when given."""
        ...


class AccountTokenRepository(Protocol):
    async def add(self, token: AccountToken) -> None: ...

    async def get(self, token_hash: str) -> AccountToken | None: ...

    async def mark_used(self, token_hash: str, at: datetime) -> bool:
        """Use the token once; False when it was already used (by a concurrent call)."""
        ...

    async def revoke_all(
        self, customer_id: uuid.UUID, purpose: TokenPurpose, at: datetime
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class EmailMessage:
    """One e-mail to send; ``kind`` names the template so logs never need the content, and
    ``reference`` what a bulk mailing is about (a policy version), to count its progress."""

    kind: str
    to: str
    subject: str
    body: str
    reference: str | None = None


class Mailer(Protocol):
    async def send(self, message: EmailMessage, *, about: uuid.UUID | None = None) -> None:
        """Queue the message; it leaves with the transaction it was queued in, or not at all."""
        ...

    async def send_many(self, messages: Sequence[tuple[EmailMessage, uuid.UUID]]) -> None:
        """Queue a batch, each message with the customer it is about, as ``send`` does."""
        ...


class MailOutbox(Protocol):
    """The queue of e-mails as a relay works through it."""

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[QueuedEmail]:
        """Take up to ``limit`` messages neither sent nor failed whose next try is due, oldest
        first, that nobody holds, and hold them until ``lease_until``. Concurrent relays never
        take the same one while its lease runs; a lease left to expire frees it."""
        ...

    async def settle(self, message: QueuedEmail, settlement: Settlement) -> bool:
        """Write the message's new state and release it, if its claim still holds; False when
        the lease had passed to another relay (which then owns the message)."""
        ...

    async def release(self, messages: Sequence[QueuedEmail]) -> None:
        """Let go of claimed messages without trying them (their claim still holding)."""
        ...

    async def progress(self, kind: str, reference: str) -> NoticeProgress:
        """How many messages of this kind about ``reference`` were queued, sent and failed."""
        ...


class MailTransport(Protocol):
    """Hands messages to a mail server (SMTP) on their way out of the outbox."""

    async def send(self, message: QueuedEmail) -> MailOutcome:
        """Try once; never raises for the server's faults (they are the outcome)."""
        ...


class CardVault(Protocol):
    """Keeps card numbers out of the product: a local encrypted vault or a provider's tokens."""

    async def tokenize(self, card: CardDetails) -> str:
        """Hand the number (and the code, for verification) over; return the vault's token.

        Raises :class:`CardDeclined` when the vault refuses the card.
        """
        ...

    async def discard(self, vault_token: str) -> None:
        """Forget a card that the customer replaced."""
        ...


class CardDeclined(Exception):
    """The vault (a payment provider) refused to store the card."""


class UnitOfWork(Protocol):
    """One transaction: everything written through it is committed together or not at all."""

    customers: CustomerRepository
    sessions: SessionRepository
    sign_ins: SignInEventRepository
    tokens: AccountTokenRepository
    consents: ConsentRepository
    consent_reads: ConsentReadModel
    partners: PartnerRepository
    webhooks: WebhookRepository
    requests: RequestRepository
    request_queue: RequestQueue
    staff: StaffRepository
    access_log: AccessLog
    policies: PolicyRepository
    statistics: StatisticsReadModel
    trusted_documents: TrustedDocumentRepository
    profile_changes: ProfileChangeRepository
    retention: Retention
    erasure: Erasure
    exports: ExportReader
    mailer: Mailer
    mail_outbox: MailOutbox
    cards: CardVault

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class Reads(Protocol):
    """Reads outside any transaction, for the hottest paths: each read is one statement, consistent
    on its own, and nothing can be written through it."""

    customer_reads: CustomerReadModel

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...

    def reads(self) -> Reads:
        """Read models on a connection that opens no transaction (PostgreSQL): a single read
        costs one round trip instead of three (BEGIN, the statement, ROLLBACK)."""
        ...

    async def start_session(self, password_hash: str, session: Session, event: SignInEvent) -> bool:
        """A unit of work of its own, the write of a sign-in: ``session`` and its ``event``,
        written if the customer's stored password hash is still ``password_hash`` (neither
        changed nor reset since it was checked, the account not gone), the customer locked
        meanwhile as :meth:`CustomerRepository.get_for_update` locks it; False, with nothing
        written, otherwise. One statement on PostgreSQL instead of a transaction's five."""
        ...


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """True when it matches; with no hash, spends the same time and returns False."""
        ...

    def needs_rehash(self, password_hash: str) -> bool: ...


class Throttle(enum.Enum):
    """Counters of attempts; the adapter holds how many each allows and over which window."""

    LOGIN_ACCOUNT = "login-account"
    LOGIN_IP = "login-ip"
    REGISTRATION_IP = "registration-ip"
    PASSWORD_RESET = "password-reset"
    PASSWORD_RESET_IP = "password-reset-ip"
    STAFF_LOGIN = "staff-login"
    # Single-use codes (password reset, e-mail verification, account deletion) tried from one
    # IP, right or wrong: one counter for the three, so that guessing cannot spread across them.
    CODE_ATTEMPTS_IP = "code-attempts-ip"


class RateLimiter(Protocol):
    async def hit(self, throttle: Throttle, key: str) -> bool:
        """Count one attempt; False when the limit was already reached."""
        ...

    async def exhausted(self, throttle: Throttle, key: str) -> bool:
        """True when no attempt is left, without counting one."""
        ...

    async def clear(self, throttle: Throttle, key: str) -> None: ...

    async def retry_after(self, throttle: Throttle, key: str) -> int:
        """Whole seconds, at least 1, until ``key`` may make its next attempt."""
        ...


class StatisticsReadModel(Protocol):
    """Counts for aggregate statistics, each in one grouped statement."""

    async def counts(self, dimension: Dimension) -> dict[RawValue, int]:
        """How many customers hold each stored value of ``dimension`` (None: no value), over
        those whose current choice lets them be counted in aggregate statistics."""
        ...
