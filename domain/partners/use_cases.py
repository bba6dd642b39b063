"""Registering partners and their keys, and what a partner may read of consent."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.consent.model import PER_CUSTOMER_PURPOSES, ConsentEntry, SharingPurpose
from domain.dependencies import Dependencies
from domain.errors import DomainError, ErrorCode
from domain.identity.model import secret_hash
from domain.partners.model import ConsentAnswer, Partner, PartnerKey, new_api_key
from domain.ports import FeedPosition, NameAlreadyTaken, PartnerRepository

MAX_IDS_PER_CALL = 1_000
MAX_CHANGES_PAGE = 100
DEFAULT_KEY_GRACE = timedelta(hours=24)


class PartnerRefused(Exception):
    """A partner asked for something outside the limits (not a UserError: partners call the
    API from code, so these are top-level errors)."""


class NotRegisteredForPurpose(PartnerRefused):
    """A partner asked about a purpose it is not registered for."""


@dataclass(frozen=True, slots=True)
class IssuedKey:
    partner: Partner
    key: str  # shown once; only its hash is stored


async def create_partner(
    deps: Dependencies, name: str, purposes: Sequence[SharingPurpose]
) -> IssuedKey:
    """Register a partner for sharing purposes (per customer, or aggregate statistics) and
    issue its first key."""
    name = name.strip()
    if not name or len(name) > 100:
        raise DomainError.single(ErrorCode.INVALID, "A partner name has 1 to 100 characters.")
    if not purposes:
        raise DomainError.single(ErrorCode.REQUIRED, "Name at least one purpose.")
    now = deps.clock.now()
    partner = Partner(uuid.uuid4(), name, frozenset(purposes), now)
    async with deps.unit_of_work() as uow:
        try:
            await uow.partners.add(partner)
        except NameAlreadyTaken:
            raise DomainError.single(
                ErrorCode.DUPLICATE, f"A partner named {name!r} exists."
            ) from None
        key = await _issue_key(uow.partners, partner, now)
        await uow.commit()
    return IssuedKey(partner, key)


async def list_partners(deps: Dependencies) -> list[tuple[Partner, list[PartnerKey]]]:
    async with deps.unit_of_work() as uow:
        return [(p, await uow.partners.keys_of(p.id)) for p in await uow.partners.all()]


async def rotate_key(
    deps: Dependencies, name: str, grace: timedelta = DEFAULT_KEY_GRACE
) -> IssuedKey:
    """A new key; the old ones keep working for ``grace`` so the partner can switch."""
    now = deps.clock.now()
    async with deps.unit_of_work() as uow:
        partner = await _active_partner(uow.partners, name)
        await uow.partners.expire_keys(partner.id, now + grace)
        key = await _issue_key(uow.partners, partner, now)
        await uow.commit()
    return IssuedKey(partner, key)


async def revoke_partner(deps: Dependencies, name: str) -> Partner:
    """The partner and every key stop working at once."""
    now = deps.clock.now()
    async with deps.unit_of_work() as uow:
        partner = await _active_partner(uow.partners, name)
        await uow.partners.revoke(partner.id, now)
        await uow.commit()
    partner.revoked_at = now
    return partner


async def authenticate_partner(deps: Dependencies, key: str) -> Partner | None:
    """The active partner an API key belongs to, or None."""
    async with deps.unit_of_work() as uow:
        found = await uow.partners.key(secret_hash(key))
    if found is None:
        return None
    partner_key, partner = found
    if not partner.active or not partner_key.usable(deps.clock.now()):
        return None
    return partner


async def consent_states(
    deps: Dependencies,
    partner: Partner,
    customer_ids: Sequence[str],
    purposes: Sequence[SharingPurpose] | None,
) -> list[ConsentAnswer]:
    """Each customer's consent for each purpose asked (by default, all the partner's). An
    unknown id answers like a customer who never granted, so ids cannot be probed."""
    if len(customer_ids) > MAX_IDS_PER_CALL:
        raise PartnerRefused(f"At most {MAX_IDS_PER_CALL:,} customer ids per call.")
    asked = _allowed(partner, purposes)
    parsed_ids = [_uuid(raw) for raw in customer_ids]
    known = list(dict.fromkeys(parsed for parsed in parsed_ids if parsed is not None))
    async with deps.unit_of_work() as uow:
        states = await uow.consent_reads.states_of(known, asked)
        customers = list(dict.fromkeys(customer for customer, _ in states))
        await uow.partners.record_read(
            partner.id, "consentStates", asked, customers, deps.clock.now()
        )
        await uow.commit()
    # A thousand ids make three thousand answers: this loop is kept to the bare minimum.
    answers: list[ConsentAnswer] = []
    append = answers.append
    for raw, parsed in zip(customer_ids, parsed_ids, strict=True):
        for purpose in asked:
            state = None if parsed is None else states.get((parsed, purpose))
            if state is None:
                append(ConsentAnswer(raw, purpose, False, None))
            else:
                append(ConsentAnswer(raw, purpose, state.granted, state.updated_at))
    return answers


async def consent_state_at(
    deps: Dependencies, partner: Partner, customer_id: str, purpose: SharingPurpose, at: datetime
) -> ConsentAnswer:
    """The consent in force at a past instant, from the ledger."""
    (asked,) = _allowed(partner, [purpose])
    parsed = _uuid(customer_id)
    async with deps.unit_of_work() as uow:
        state = await uow.consent_reads.state_at(parsed, asked, at) if parsed else None
        read = [parsed] if parsed and state else []
        await uow.partners.record_read(
            partner.id, "consentStateAt", [asked], read, deps.clock.now()
        )
        await uow.commit()
    if state is None:
        return ConsentAnswer(customer_id, asked, False, None)
    return ConsentAnswer(customer_id, asked, state.granted, state.updated_at)


@dataclass(frozen=True, slots=True)
class ChangesPage:
    changes: list[tuple[str, ConsentEntry]]  # (cursor, change)
    has_next_page: bool


async def consent_changes(
    deps: Dependencies, partner: Partner, after: str | None, first: int
) -> ChangesPage:
    """Every change to the partner's purposes, oldest first, after a cursor of this feed."""
    if not 1 <= first <= MAX_CHANGES_PAGE:
        raise PartnerRefused(f"Ask for 1 to {MAX_CHANGES_PAGE:,} changes.")
    position = decode_feed_cursor(after)
    purposes = sorted(partner.per_customer_purposes, key=lambda p: p.value)
    async with deps.unit_of_work() as uow:
        rows = await uow.consent_reads.changes(position, purposes, first + 1)
        page = rows[:first]
        customers = sorted({entry.customer_id for _, entry in page}, key=str)
        await uow.partners.record_read(
            partner.id, "consentChanges", purposes, customers, deps.clock.now()
        )
        await uow.commit()
    return ChangesPage([(encode_feed_cursor(pos), entry) for pos, entry in page], len(rows) > first)


def encode_feed_cursor(position: FeedPosition) -> str:
    return base64.urlsafe_b64encode(f"feed:{position.tx}:{position.entry_id}".encode()).decode()


def decode_feed_cursor(cursor: str | None) -> FeedPosition | None:
    if cursor is None:
        return None
    try:
        kind, tx, entry_id = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        if kind != "feed":
            raise ValueError(kind)
        return FeedPosition(int(tx), int(entry_id))
    except ValueError:
        raise PartnerRefused("That cursor is not one this feed handed out.") from None


def _allowed(partner: Partner, purposes: Sequence[SharingPurpose] | None) -> list[SharingPurpose]:
    if purposes is None:
        return sorted(partner.per_customer_purposes, key=lambda p: p.value)
    counted = [p.value for p in purposes if p not in PER_CUSTOMER_PURPOSES]
    if counted:
        raise NotRegisteredForPurpose(
            f"{', '.join(counted)} is only ever counted in groups (aggregateStatistics), "
            "never read per customer."
        )
    outside = [p.value for p in purposes if p not in partner.purposes]
    if outside:
        raise NotRegisteredForPurpose(f"Not registered for {', '.join(outside)}.")
    return list(dict.fromkeys(purposes))


def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


async def _issue_key(partners: PartnerRepository, partner: Partner, now: datetime) -> str:
    key = new_api_key()
    record = PartnerKey(uuid.uuid4(), partner.id, secret_hash(key), key[:8] + "…", now)
    await partners.add_key(record)
    return key


async def _active_partner(partners: PartnerRepository, name: str) -> Partner:
    partner = await partners.by_name(name.strip())
    if partner is None or not partner.active:
        raise DomainError.single(ErrorCode.INVALID, f"No active partner named {name!r}.")
    return partner
