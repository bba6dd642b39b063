"""Partners, their keys and their read log; the consent reads partners make."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    String,
    Uuid,
    any_,
    bindparam,
    cast,
    func,
    insert,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.consent.model import ConsentState, SharingPurpose, Source
from domain.partners.model import Partner, PartnerKey
from domain.ports import FeedPosition, NameAlreadyTaken
from persistence import driver
from persistence.driver import as_utc
from persistence.repositories.consent import entry_from_row
from persistence.tables import (
    consent_ledger,
    consent_states,
    partner_keys,
    partner_read_customers,
    partner_reads,
    partners,
)


def parse_purposes(text_value: str) -> frozenset[SharingPurpose]:
    return frozenset(SharingPurpose(name) for name in text_value.split(",") if name)


def _joined(purposes: Sequence[SharingPurpose] | frozenset[SharingPurpose]) -> str:
    return ",".join(sorted(p.value for p in purposes))


def _partner(row: RowMapping) -> Partner:
    return Partner(
        row["id"],
        row["name"],
        parse_purposes(row["purposes"]),
        row["created_at"],
        row["revoked_at"],
    )


def _key(row: RowMapping) -> PartnerKey:
    return PartnerKey(
        row["id"],
        row["partner_id"],
        row["key_hash"],
        row["hint"],
        row["created_at"],
        row["expires_at"],
        row["revoked_at"],
    )


class SqlPartnerRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, partner: Partner) -> None:
        try:
            await self._conn.execute(
                insert(partners).values(
                    id=partner.id,
                    name=partner.name,
                    purposes=_joined(partner.purposes),
                    created_at=partner.created_at,
                    revoked_at=partner.revoked_at,
                )
            )
        except IntegrityError as error:
            raise NameAlreadyTaken from error

    async def add_key(self, key: PartnerKey) -> None:
        await self._conn.execute(
            insert(partner_keys).values(
                id=key.id,
                partner_id=key.partner_id,
                key_hash=key.key_hash,
                hint=key.hint,
                created_at=key.created_at,
                expires_at=key.expires_at,
                revoked_at=key.revoked_at,
            )
        )

    async def by_name(self, name: str) -> Partner | None:
        row = (
            (await self._conn.execute(select(partners).where(partners.c.name == name)))
            .mappings()
            .first()
        )
        return _partner(row) if row else None

    async def all(self) -> list[Partner]:
        rows = await self._conn.execute(select(partners).order_by(partners.c.name))
        return [_partner(row) for row in rows.mappings()]

    async def key(self, key_hash: str) -> tuple[PartnerKey, Partner] | None:
        query = (
            select(partner_keys, partners.c.name, partners.c.purposes)
            .add_columns(
                partners.c.created_at.label("partner_created_at"),
                partners.c.revoked_at.label("partner_revoked_at"),
            )
            .join(partners, partners.c.id == partner_keys.c.partner_id)
            .where(partner_keys.c.key_hash == key_hash)
        )
        row = (await self._conn.execute(query)).mappings().first()
        if row is None:
            return None
        partner = Partner(
            row["partner_id"],
            row["name"],
            parse_purposes(row["purposes"]),
            row["partner_created_at"],
            row["partner_revoked_at"],
        )
        return _key(row), partner

    async def keys_of(self, partner_id: uuid.UUID) -> list[PartnerKey]:
        query = (
            select(partner_keys)
            .where(partner_keys.c.partner_id == partner_id)
            .order_by(partner_keys.c.created_at)
        )
        return [_key(row) for row in (await self._conn.execute(query)).mappings()]

    async def expire_keys(self, partner_id: uuid.UUID, at: datetime) -> None:
        await self._conn.execute(
            update(partner_keys)
            .where(
                partner_keys.c.partner_id == partner_id,
                partner_keys.c.revoked_at.is_(None),
                (partner_keys.c.expires_at.is_(None)) | (partner_keys.c.expires_at > at),
            )
            .values(expires_at=at)
        )

    async def revoke(self, partner_id: uuid.UUID, at: datetime) -> None:
        await self._conn.execute(
            update(partners).where(partners.c.id == partner_id).values(revoked_at=at)
        )
        await self._conn.execute(
            update(partner_keys)
            .where(partner_keys.c.partner_id == partner_id, partner_keys.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def record_read(
        self,
        partner_id: uuid.UUID,
        operation: str,
        purposes: Sequence[SharingPurpose],
        customer_ids: Sequence[uuid.UUID],
        at: datetime,
    ) -> None:
        read_id = uuid.uuid4()
        await self._conn.execute(
            insert(partner_reads).values(
                id=read_id,
                partner_id=partner_id,
                operation=operation,
                purposes=_joined(purposes),
                customer_count=len(customer_ids),
                occurred_at=at,
            )
        )
        if not customer_ids:
            return
        if self._conn.dialect.name == "postgresql":
            # One cached statement with one array parameter: building a thousand-row VALUES
            # list cost more CPU than PostgreSQL spends inserting it (bench/consent_states.py).
            await self._conn.execute(
                _LOG_CUSTOMERS, {"read_id": read_id, "ids": list(customer_ids)}
            )
        else:
            await self._conn.execute(
                insert(partner_read_customers),
                [{"read_id": read_id, "customer_id": c} for c in customer_ids],
            )


_LOG_CUSTOMERS = text(
    "INSERT INTO partner_read_customers (read_id, customer_id) "
    "SELECT :read_id, unnest(CAST(:ids AS uuid[]))"
).bindparams(bindparam("read_id", type_=Uuid), bindparam("ids", type_=ARRAY(Uuid)))


_STATE_COLUMNS = (
    consent_states.c.customer_id,
    consent_states.c.subject,
    consent_states.c.granted,
    consent_states.c.updated_at,
)
# Arrays as single parameters keep the statement one prepared statement whatever the count. Each
# row names its customer by the place of its id in the array (WITH ORDINALITY): the caller's own
# ids become the answer's keys, and none is decoded from the rows (for a thousand customers,
# decoding their ids cost as much CPU as the read: docs/performance.md).
_ASKED_IDS = cast(bindparam("ids"), ARRAY(Uuid))
_ASKED = (
    func.unnest(_ASKED_IDS)
    .table_valued("id", with_ordinality="position")
    .render_derived(name="asked")
)
_STATES_SQL = driver.render(
    select(
        _ASKED.c.position,
        consent_states.c.subject,
        consent_states.c.granted,
        consent_states.c.updated_at,
    )
    .join_from(_ASKED, consent_states, consent_states.c.customer_id == _ASKED.c.id)
    .where(
        consent_states.c.customer_id == any_(_ASKED_IDS),
        consent_states.c.subject == any_(cast(bindparam("subjects"), ARRAY(String))),
    )
)
_PURPOSES = {purpose.value: purpose for purpose in SharingPurpose}
# A choice never made is the same value for every customer: shared, not built for each row.
_UNCHANGED = {
    (purpose.value, granted): ConsentState(purpose, granted, None)
    for purpose in SharingPurpose
    for granted in (False, True)
}


class SqlConsentReadModel:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection
        self._postgres = connection.dialect.name == "postgresql"

    async def states_of(
        self, customer_ids: Sequence[uuid.UUID], purposes: Sequence[SharingPurpose]
    ) -> dict[tuple[uuid.UUID, SharingPurpose], ConsentState]:
        if not customer_ids or not purposes:
            return {}
        subjects = [p.value for p in purposes]
        if self._postgres:
            # Straight to asyncpg (persistence/driver.py): for a thousand customers, SQLAlchemy's
            # processing of the rows cost more than PostgreSQL's reading them.
            ids = customer_ids if isinstance(customer_ids, list) else list(customer_ids)
            found = await driver.fetch(self._conn, _STATES_SQL, ids, subjects)
            rows: Iterable[Any] = (
                (ids[position - 1], subject, granted, updated_at)
                for position, subject, granted, updated_at in found
            )
        else:
            query = select(*_STATE_COLUMNS).where(
                consent_states.c.customer_id.in_(customer_ids),
                consent_states.c.subject.in_(subjects),
            )
            rows = (await self._conn.execute(query)).all()
        result: dict[tuple[uuid.UUID, SharingPurpose], ConsentState] = {}
        for customer_id, subject, granted, updated_at in rows:
            purpose = _PURPOSES[subject]
            result[customer_id, purpose] = (
                _UNCHANGED[subject, granted]
                if updated_at is None
                else ConsentState(purpose, granted, as_utc(updated_at))
            )
        return result

    async def state_at(
        self, customer_id: uuid.UUID, purpose: SharingPurpose, at: datetime
    ) -> ConsentState | None:
        query = (
            select(consent_ledger)
            .where(
                consent_ledger.c.customer_id == customer_id,
                consent_ledger.c.subject == purpose.value,
                consent_ledger.c.occurred_at <= at,
            )
            .order_by(consent_ledger.c.id.desc())
            .limit(1)
        )
        row = (await self._conn.execute(query)).mappings().first()
        if row is None:
            return None
        entry = entry_from_row(row)
        return ConsentState(purpose, False, None).after(entry)

    async def changes(
        self, after: FeedPosition | None, purposes: Sequence[SharingPurpose], limit: int
    ) -> list[tuple[FeedPosition, Any]]:
        position = tuple_(consent_ledger.c.tx, consent_ledger.c.id)
        query = select(consent_ledger).where(
            consent_ledger.c.kind == "SHARING",
            consent_ledger.c.subject.in_([p.value for p in purposes]),
            consent_ledger.c.source != Source.DEFAULT.value,
        )
        if after is not None:
            query = query.where(position > tuple_(after.tx, after.entry_id))
        if self._postgres:
            # Only changes of transactions older than every transaction still running: no later
            # commit can then add a change before the cursor (sequence values are assigned at
            # insert, not at commit). On SQLite writers are serialised, so ids are commit order.
            query = query.where(
                consent_ledger.c.tx < text("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            )
        query = query.order_by(consent_ledger.c.tx, consent_ledger.c.id).limit(limit)
        return [
            (FeedPosition(row["tx"], row["id"]), entry_from_row(row))
            for row in (await self._conn.execute(query)).mappings()
        ]
