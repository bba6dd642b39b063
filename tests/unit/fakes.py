"""In-memory stand-ins for the ports of ``domain/ports.py``, so use cases run without a database.

A unit of work stages every write on a private copy of the store and applies it only on
``commit``, as a database transaction would: a refused call that never commits leaves
``store.committed`` exactly as it was. Units of work are meant to be used one after another
(as the use cases do), not interleaved: a commit replaces the whole committed state.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import re
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from domain.consent.model import (
    ConsentEntry,
    ConsentState,
    SharingPurpose,
    Source,
    Subject,
    replay,
)
from domain.dependencies import AccountLinks, Dependencies
from domain.identity.model import (
    AccountToken,
    ClientInfo,
    Session,
    SignInEvent,
    TokenPurpose,
)
from domain.identity.use_cases import write_sign_in
from domain.partners.model import Partner, PartnerKey
from domain.policies.model import Acknowledgement, PolicyVersion
from domain.ports import (
    AccountTokenRepository,
    CardDeclined,
    CardVault,
    ConsentRepository,
    CustomerRepository,
    EmailAlreadyTaken,
    EmailMessage,
    Erasure,
    ErasureRecord,
    Mailer,
    NameAlreadyTaken,
    OutgoingWebhook,
    PartnerRepository,
    PolicyRepository,
    ProfileChangeRepository,
    Purged,
    Retention,
    SessionRepository,
    SignInEventRepository,
    Throttle,
    VersionAlreadyPublished,
    WebhookRepository,
    WebhookResponse,
)
from domain.profile.card import CardDetails
from domain.profile.model import Customer, ProfileChange
from domain.webhooks.model import (
    ClaimedDelivery,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)


@dataclass
class Tables:
    """Everything the ports can write, as plain collections."""

    customers: dict[uuid.UUID, Customer] = field(default_factory=dict)
    sessions: dict[uuid.UUID, Session] = field(default_factory=dict)
    sign_ins: list[SignInEvent] = field(default_factory=list)
    tokens: dict[str, AccountToken] = field(default_factory=dict)
    # Messages leave with the transaction that queued them, as with the outbox mailer.
    outbox: list[EmailMessage] = field(default_factory=list)
    vault: dict[str, CardDetails] = field(default_factory=dict)
    ledger: list[ConsentEntry] = field(default_factory=list)
    profile_changes: list[ProfileChange] = field(default_factory=list)
    partners: dict[uuid.UUID, Partner] = field(default_factory=dict)
    partner_keys: dict[uuid.UUID, PartnerKey] = field(default_factory=dict)
    partner_reads: list[tuple[uuid.UUID, str, int]] = field(default_factory=list)
    webhook_endpoints: dict[uuid.UUID, WebhookEndpoint] = field(default_factory=dict)
    # The outbox, with each row's lease: (locked_until, claim) or None.
    webhook_deliveries: dict[int, WebhookDelivery] = field(default_factory=dict)
    webhook_leases: dict[int, tuple[datetime, str]] = field(default_factory=dict)
    webhook_attempts: list[WebhookAttempt] = field(default_factory=list)
    policies: dict[str, PolicyVersion] = field(default_factory=dict)
    acknowledgements: list[Acknowledgement] = field(default_factory=list)
    erasure_log: dict[uuid.UUID, ErasureRecord] = field(default_factory=dict)

    def load(self, other: Tables) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(other, f.name))


class InMemoryStore:
    """The committed state, shared by every unit of work a test's dependencies open."""

    def __init__(self) -> None:
        self.committed = Tables()
        self.commits = 0
        # Card numbers the fake vault refuses, as a payment provider would.
        self.declined_numbers: set[str] = set()

    def snapshot(self) -> Tables:
        return copy.deepcopy(self.committed)

    def customer(self, customer_id: uuid.UUID) -> Customer:
        return self.committed.customers[customer_id]

    def mail_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.committed.outbox if m.to == address]


def code_in(message: EmailMessage) -> str:
    """The one-time code an account e-mail carries."""
    found = re.search(r"code: (\S+)", message.body)
    assert found is not None, f"no code in the {message.kind} e-mail"
    return found.group(1)


@contextmanager
def nothing_written(store: InMemoryStore) -> Iterator[None]:
    """Fail unless the block leaves the committed state as it found it, without committing."""
    before, commits = store.snapshot(), store.commits
    yield
    assert store.commits == commits, "a transaction was committed"
    assert store.committed == before, "the committed state changed"


class InMemoryCustomers:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def add(self, customer: Customer) -> None:
        if await self.email_taken(customer.email):
            raise EmailAlreadyTaken
        self._tables.customers[customer.id] = copy.deepcopy(customer)

    async def get(self, customer_id: uuid.UUID) -> Customer | None:
        return copy.deepcopy(self._tables.customers.get(customer_id))

    async def get_for_update(self, customer_id: uuid.UUID) -> Customer | None:
        # Units of work here run one after another, so there is nobody to wait for.
        return await self.get(customer_id)

    async def get_by_email(self, email: str) -> Customer | None:
        found = (c for c in self._tables.customers.values() if c.email == email)
        return copy.deepcopy(next(found, None))

    async def email_taken(self, email: str) -> bool:
        return any(c.email == email for c in self._tables.customers.values())

    async def save(self, customer: Customer, expected_version: int) -> bool:
        stored = self._tables.customers.get(customer.id)
        if stored is None or stored.version != expected_version:
            return False
        if any(
            c.email == customer.email and c.id != customer.id
            for c in self._tables.customers.values()
        ):
            raise EmailAlreadyTaken
        saved = dataclasses.replace(copy.deepcopy(customer), version=expected_version + 1)
        self._tables.customers[customer.id] = saved
        return True

    async def contacts(self, after: uuid.UUID | None, limit: int) -> list[tuple[uuid.UUID, str]]:
        ids = sorted(i for i in self._tables.customers if after is None or i > after)
        return [(i, self._tables.customers[i].email) for i in ids[:limit]]


class InMemorySessions:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def add(self, session: Session) -> None:
        self._tables.sessions[session.id] = copy.deepcopy(session)

    async def get_by_token_hash(self, token_hash: str) -> Session | None:
        found = (s for s in self._tables.sessions.values() if s.token_hash == token_hash)
        return copy.deepcopy(next(found, None))

    async def touch(self, session_id: uuid.UUID, at: datetime) -> None:
        if session_id in self._tables.sessions:
            self._tables.sessions[session_id].last_seen_at = at

    async def end(self, session_id: uuid.UUID) -> None:
        self._tables.sessions.pop(session_id, None)

    async def mark_gpc_signal(self, session_id: uuid.UUID, present: bool) -> None:
        if session_id in self._tables.sessions:
            self._tables.sessions[session_id].gpc_signal = present

    async def end_all_for(self, customer_id: uuid.UUID, keep: uuid.UUID | None = None) -> int:
        ending = [
            s.id
            for s in self._tables.sessions.values()
            if s.customer_id == customer_id and s.id != keep
        ]
        for session_id in ending:
            del self._tables.sessions[session_id]
        return len(ending)


class InMemorySignIns:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def add(self, event: SignInEvent) -> None:
        self._tables.sign_ins.append(event)


class InMemoryTokens:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def add(self, token: AccountToken) -> None:
        self._tables.tokens[token.token_hash] = copy.deepcopy(token)

    async def get(self, token_hash: str) -> AccountToken | None:
        return copy.deepcopy(self._tables.tokens.get(token_hash))

    async def mark_used(self, token_hash: str, at: datetime) -> bool:
        token = self._tables.tokens.get(token_hash)
        if token is None or token.used_at is not None:
            return False
        token.used_at = at
        return True

    async def revoke_all(self, customer_id: uuid.UUID, purpose: TokenPurpose, at: datetime) -> None:
        for token in self._tables.tokens.values():
            if token.customer_id == customer_id and token.purpose is purpose and not token.used_at:
                token.used_at = at


class InMemoryMailer:
    """Collects messages; they reach ``store.committed.outbox`` only if the transaction commits."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def send(self, message: EmailMessage, *, about: uuid.UUID | None = None) -> None:
        self._tables.outbox.append(message)

    async def send_many(self, messages: Sequence[tuple[EmailMessage, uuid.UUID]]) -> None:
        self._tables.outbox.extend(message for message, _ in messages)


class InMemoryCardVault:
    """A local vault: the number stays here under a random token, in the caller's transaction."""

    def __init__(self, tables: Tables, declined_numbers: set[str]) -> None:
        self._tables = tables
        self._declined = declined_numbers

    async def tokenize(self, card: CardDetails) -> str:
        if card.number in self._declined:
            raise CardDeclined
        token = f"card_{uuid.uuid4().hex}"
        self._tables.vault[token] = card
        return token

    async def discard(self, vault_token: str) -> None:
        self._tables.vault.pop(vault_token, None)


class InMemoryConsents:
    """The ledger as a list; the current state is derived from it, as the real one must be."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def current(self, customer_id: uuid.UUID) -> dict[Subject, ConsentState]:
        return (await self.current_of([customer_id])).get(customer_id, {})

    async def current_of(
        self, customer_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, dict[Subject, ConsentState]]:
        result: dict[uuid.UUID, dict[Subject, ConsentState]] = {}
        for (customer, subject), state in replay(self._tables.ledger).items():
            if customer in customer_ids:
                result.setdefault(customer, {})[subject] = state
        return result

    async def append(
        self, entries: Sequence[ConsentEntry], client: ClientInfo | None
    ) -> list[ConsentEntry]:
        start = len(self._tables.ledger)
        appended = [dataclasses.replace(entry, id=start + i + 1) for i, entry in enumerate(entries)]
        self._tables.ledger += appended
        return list(appended)

    async def history(
        self, customer_id: uuid.UUID, first: int, before_id: int | None
    ) -> list[ConsentEntry]:
        mine = [
            e
            for e in reversed(self._tables.ledger)
            if e.customer_id == customer_id and (before_id is None or (e.id or 0) < before_id)
        ]
        return mine[:first]

    async def had_gpc_signal(self, customer_id: uuid.UUID) -> bool:
        return any(
            e.customer_id == customer_id and e.source is Source.GPC_SIGNAL
            for e in self._tables.ledger
        )

    async def all_entries(self) -> list[ConsentEntry]:
        return list(self._tables.ledger)


class InMemoryPartners:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def add(self, partner: Partner) -> None:
        if await self.by_name(partner.name):
            raise NameAlreadyTaken
        self._tables.partners[partner.id] = copy.deepcopy(partner)

    async def add_key(self, key: PartnerKey) -> None:
        self._tables.partner_keys[key.id] = copy.deepcopy(key)

    async def by_name(self, name: str) -> Partner | None:
        found = (p for p in self._tables.partners.values() if p.name == name)
        return copy.deepcopy(next(found, None))

    async def all(self) -> list[Partner]:
        return sorted(copy.deepcopy(list(self._tables.partners.values())), key=lambda p: p.name)

    async def key(self, key_hash: str) -> tuple[PartnerKey, Partner] | None:
        for key in self._tables.partner_keys.values():
            if key.key_hash == key_hash:
                return copy.deepcopy(key), copy.deepcopy(self._tables.partners[key.partner_id])
        return None

    async def keys_of(self, partner_id: uuid.UUID) -> list[PartnerKey]:
        keys = [k for k in self._tables.partner_keys.values() if k.partner_id == partner_id]
        return copy.deepcopy(sorted(keys, key=lambda k: k.created_at))

    async def expire_keys(self, partner_id: uuid.UUID, at: datetime) -> None:
        for key in self._tables.partner_keys.values():
            running = key.expires_at is None or key.expires_at > at
            if key.partner_id == partner_id and key.revoked_at is None and running:
                key.expires_at = at

    async def revoke(self, partner_id: uuid.UUID, at: datetime) -> None:
        self._tables.partners[partner_id].revoked_at = at
        for key in self._tables.partner_keys.values():
            if key.partner_id == partner_id and key.revoked_at is None:
                key.revoked_at = at

    async def record_read(
        self,
        partner_id: uuid.UUID,
        operation: str,
        purposes: Sequence[SharingPurpose],
        customer_ids: Sequence[uuid.UUID],
        at: datetime,
    ) -> None:
        self._tables.partner_reads.append((partner_id, operation, len(customer_ids)))


class InMemoryWebhooks:
    """Endpoints, the outbox and the attempt log; a claim is a lease, as in the database."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def add_endpoint(self, endpoint: WebhookEndpoint) -> None:
        self._tables.webhook_endpoints[endpoint.id] = copy.deepcopy(endpoint)

    async def endpoints_of(self, partner_id: uuid.UUID) -> list[WebhookEndpoint]:
        found = [e for e in self._tables.webhook_endpoints.values() if e.partner_id == partner_id]
        return copy.deepcopy(sorted(found, key=lambda e: e.created_at))

    async def disable_endpoint(self, endpoint_id: uuid.UUID, at: datetime) -> int:
        self._tables.webhook_endpoints[endpoint_id].disabled_at = at
        pending = [
            d
            for d in self._tables.webhook_deliveries.values()
            if d.endpoint_id == endpoint_id and d.status is DeliveryStatus.PENDING
        ]
        for delivery in pending:
            delivery.status = DeliveryStatus.FAILED
            delivery.last_error = "Not sent: the webhook was removed."
            self._tables.webhook_leases.pop(delivery.id or 0, None)
        return len(pending)

    async def listening(
        self, purposes: Sequence[SharingPurpose]
    ) -> list[tuple[WebhookEndpoint, frozenset[SharingPurpose]]]:
        listeners = []
        for endpoint in self._tables.webhook_endpoints.values():
            partner = self._tables.partners[endpoint.partner_id]
            if endpoint.active and partner.active and partner.purposes.intersection(purposes):
                listeners.append((copy.deepcopy(endpoint), partner.purposes))
        return listeners

    async def enqueue(self, deliveries: Sequence[WebhookDelivery]) -> None:
        for delivery in deliveries:
            taken = {(d.endpoint_id, d.event_id) for d in self._tables.webhook_deliveries.values()}
            assert (delivery.endpoint_id, delivery.event_id) not in taken, "one per endpoint"
            delivery_id = len(self._tables.webhook_deliveries) + 1
            stored = dataclasses.replace(copy.deepcopy(delivery), id=delivery_id)
            self._tables.webhook_deliveries[delivery_id] = stored

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[ClaimedDelivery]:
        claim = str(uuid.uuid4())
        held = []
        for delivery_id, delivery in sorted(self._tables.webhook_deliveries.items()):
            lease = self._tables.webhook_leases.get(delivery_id)
            due = delivery.status is DeliveryStatus.PENDING and delivery.next_attempt_at <= now
            if len(held) == limit or not due or (lease is not None and lease[0] > now):
                continue
            self._tables.webhook_leases[delivery_id] = (lease_until, claim)
            endpoint = self._tables.webhook_endpoints[delivery.endpoint_id]
            partner = self._tables.partners[delivery.partner_id]
            held.append(
                ClaimedDelivery(
                    copy.deepcopy(delivery),
                    copy.deepcopy(endpoint),
                    partner.active,
                    claim,
                    lease_until,
                )
            )
        return held

    async def settle(
        self, delivery: WebhookDelivery, claim: str, attempt: WebhookAttempt | None
    ) -> bool:
        assert delivery.id is not None
        if attempt is not None:
            self._tables.webhook_attempts.append(attempt)
        lease = self._tables.webhook_leases.get(delivery.id)
        if lease is None or lease[1] != claim:
            return False
        del self._tables.webhook_leases[delivery.id]
        self._tables.webhook_deliveries[delivery.id] = copy.deepcopy(delivery)
        return True

    async def deliveries_of(
        self, partner_id: uuid.UUID, first: int, before_id: int | None
    ) -> list[WebhookDelivery]:
        mine = [
            d
            for i, d in sorted(self._tables.webhook_deliveries.items(), reverse=True)
            if d.partner_id == partner_id and (before_id is None or i < before_id)
        ]
        return copy.deepcopy(mine[:first])

    async def attempts_of(
        self, partner_id: uuid.UUID, delivery_ids: Sequence[int]
    ) -> list[WebhookAttempt]:
        return [
            a
            for a in self._tables.webhook_attempts
            if a.delivery_id in delivery_ids
            and self._tables.webhook_deliveries[a.delivery_id].partner_id == partner_id
        ]


class InMemoryProfileChanges:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def add(self, changes: Sequence[ProfileChange]) -> None:
        self._tables.profile_changes += list(changes)

    async def of_customer(
        self, customer_id: uuid.UUID, first: int, before: int | None
    ) -> list[tuple[int, ProfileChange]]:
        numbered = [
            (i + 1, c)
            for i, c in enumerate(self._tables.profile_changes)
            if c.customer_id == customer_id and (before is None or i + 1 < before)
        ]
        return list(reversed(numbered))[:first]


class InMemoryRetention:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def purge(self, client_data_before: datetime, now: datetime) -> Purged:
        expired = [s for s, v in self._tables.sessions.items() if v.expires_at < now]
        for session_id in expired:
            del self._tables.sessions[session_id]
        return Purged(0, 0, len(expired), 0, 0)


class InMemoryErasure:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def erase(self, customer_id: uuid.UUID) -> None:
        self._tables.customers.pop(customer_id, None)

    async def log(self, record: ErasureRecord) -> None:
        self._tables.erasure_log.setdefault(record.customer_id, record)

    async def logged(self, since: datetime | None) -> list[ErasureRecord]:
        records = sorted(self._tables.erasure_log.values(), key=lambda r: r.erased_at)
        return [r for r in records if since is None or r.erased_at >= since]


class InMemoryPolicies:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def add(self, version: PolicyVersion) -> None:
        if version.version in self._tables.policies:
            raise VersionAlreadyPublished(version.version)
        self._tables.policies[version.version] = version

    async def get(self, version: str) -> PolicyVersion | None:
        return self._tables.policies.get(version)

    async def in_force(self, at: datetime) -> PolicyVersion | None:
        past = [v for v in self._tables.policies.values() if v.effective_at <= at]
        return max(past, key=lambda v: (v.effective_at, v.announced_at), default=None)

    async def upcoming(self, at: datetime) -> PolicyVersion | None:
        future = [v for v in self._tables.policies.values() if v.effective_at > at]
        return min(future, key=lambda v: (v.effective_at, v.announced_at), default=None)

    async def acknowledge(self, acknowledgement: Acknowledgement) -> Acknowledgement:
        for existing in self._tables.acknowledgements:
            if (existing.customer_id, existing.version) == (
                acknowledgement.customer_id,
                acknowledgement.version,
            ):
                return existing
        self._tables.acknowledgements.append(acknowledgement)
        return acknowledgement

    async def acknowledgements_of(self, customer_id: uuid.UUID) -> list[Acknowledgement]:
        return [a for a in self._tables.acknowledgements if a.customer_id == customer_id]


class InMemoryUnitOfWork:
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._tables = Tables()
        self.customers: CustomerRepository = InMemoryCustomers(self._tables)
        self.sessions: SessionRepository = InMemorySessions(self._tables)
        self.sign_ins: SignInEventRepository = InMemorySignIns(self._tables)
        self.tokens: AccountTokenRepository = InMemoryTokens(self._tables)
        self.consents: ConsentRepository = InMemoryConsents(self._tables)
        self.profile_changes: ProfileChangeRepository = InMemoryProfileChanges(self._tables)
        self.retention: Retention = InMemoryRetention(self._tables)
        self.erasure: Erasure = InMemoryErasure(self._tables)
        self.partners: PartnerRepository = InMemoryPartners(self._tables)
        self.webhooks: WebhookRepository = InMemoryWebhooks(self._tables)
        self.mailer: Mailer = InMemoryMailer(self._tables)
        self.policies: PolicyRepository = InMemoryPolicies(self._tables)
        self.cards: CardVault = InMemoryCardVault(self._tables, store.declined_numbers)

    async def __aenter__(self) -> Self:
        self._tables.load(self._store.snapshot())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Whatever was not committed is dropped, as a transaction rolled back on close.
        self._tables.load(Tables())

    async def commit(self) -> None:
        self._store.committed = copy.deepcopy(self._tables)
        self._store.commits += 1

    async def rollback(self) -> None:
        self._tables.load(self._store.snapshot())


class InMemoryCustomerReads:
    """The read model over what is committed, as reads outside a transaction see it."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def me_by_session(self, token_hash: str) -> tuple[Session, Customer] | None:
        tables = self._store.snapshot()
        session = next((s for s in tables.sessions.values() if s.token_hash == token_hash), None)
        if session is None:
            return None
        return session, tables.customers[session.customer_id]

    async def by_email(self, email: str) -> Customer | None:
        found = (c for c in self._store.snapshot().customers.values() if c.email == email)
        return next(found, None)


class InMemoryReads:
    def __init__(self, store: InMemoryStore) -> None:
        self.customer_reads = InMemoryCustomerReads(store)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class InMemoryUnitOfWorkFactory:
    def __init__(self, store: InMemoryStore) -> None:
        self.store = store

    def __call__(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)

    def reads(self) -> InMemoryReads:
        return InMemoryReads(self.store)

    async def start_session(self, password_hash: str, session: Session, event: SignInEvent) -> bool:
        async with self() as uow:
            return await write_sign_in(uow, password_hash, session, event)


class FakeClock:
    """A clock that stands still until the test moves it."""

    def __init__(self, start: datetime = datetime(2030, 6, 15, 9, 0, tzinfo=UTC)) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


class FakePasswordHasher:
    """Fast and deterministic: an unsalted SHA-256 tagged with a scheme. Changing ``scheme``
    makes existing hashes look outdated, as new Argon2 parameters would."""

    def __init__(self, scheme: str = "fake-v1") -> None:
        self.scheme = scheme

    async def hash(self, password: str) -> str:
        return f"{self.scheme}${_sha256(password)}"

    async def verify(self, password: str, password_hash: str | None) -> bool:
        if password_hash is None:
            return False
        _, _, digest = password_hash.partition("$")
        return digest == _sha256(password)

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"{self.scheme}$")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# The default limits' counts (api/settings.py), without their windows.
DEFAULT_LIMITS: Mapping[Throttle, int] = {
    Throttle.LOGIN_ACCOUNT: 5,
    Throttle.LOGIN_IP: 100,
    Throttle.REGISTRATION_IP: 20,
    Throttle.PASSWORD_RESET: 5,
    Throttle.PASSWORD_RESET_IP: 20,
    Throttle.STAFF_LOGIN: 5,
    Throttle.CODE_ATTEMPTS_IP: 30,
}


class FakeRateLimiter:
    """Counters per (throttle, key) that never expire."""

    def __init__(self, limits: Mapping[Throttle, int] = DEFAULT_LIMITS) -> None:
        self.limits = dict(limits)
        self.counts: Counter[tuple[Throttle, str]] = Counter()

    async def hit(self, throttle: Throttle, key: str) -> bool:
        if await self.exhausted(throttle, key):
            return False
        self.counts[throttle, key] += 1
        return True

    async def exhausted(self, throttle: Throttle, key: str) -> bool:
        return self.counts[throttle, key] >= self.limits[throttle]

    async def clear(self, throttle: Throttle, key: str) -> None:
        self.counts.pop((throttle, key), None)

    async def retry_after(self, throttle: Throttle, key: str) -> int:
        return 60  # these counters never expire; any whole number of seconds will do


class FakeResolver:
    """A DNS whose answers the test sets: ``answers[host]`` is the list of addresses."""

    def __init__(self, answers: Mapping[str, list[str]] | None = None) -> None:
        self.answers: dict[str, list[str]] = dict(answers or {})
        self.asked: list[str] = []

    async def resolve(self, host: str) -> list[str]:
        self.asked.append(host)
        return list(self.answers.get(host, []))


class FakeWebhookSender:
    """Answers each POST with the next of ``statuses`` (the last one repeats); None stands for
    a receiver that cannot be reached. Keeps every webhook it was asked to send."""

    def __init__(self, *statuses: int | None) -> None:
        self.statuses = list(statuses) or [200]
        self.sent: list[OutgoingWebhook] = []

    async def send(self, webhook: OutgoingWebhook) -> WebhookResponse:
        self.sent.append(webhook)
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if status is None:
            return WebhookResponse(None, "No answer from the receiver (ConnectError).", 1)
        return WebhookResponse(status, None, 1)


def fake_dependencies(
    store: InMemoryStore,
    clock: FakeClock,
    hasher: FakePasswordHasher | None = None,
    limiter: FakeRateLimiter | None = None,
    resolver: FakeResolver | None = None,
) -> Dependencies:
    return Dependencies(
        unit_of_work=InMemoryUnitOfWorkFactory(store),
        clock=clock,
        hasher=hasher or FakePasswordHasher(),
        limiter=limiter or FakeRateLimiter(),
        links=AccountLinks("https://privacy.example.com"),
        resolver=resolver or FakeResolver(),
    )
