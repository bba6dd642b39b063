"""Webhook endpoints (their secrets sealed with the vault keyring), the outbox of deliveries
that workers claim, and the attempt log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.consent.model import SharingPurpose
from domain.webhooks.model import (
    ClaimedDelivery,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from persistence.card_vault import Sealed, VaultKeyring
from persistence.repositories.partners import parse_purposes
from persistence.tables import partners, webhook_attempts, webhook_deliveries, webhook_endpoints

_PENDING = DeliveryStatus.PENDING.value


def _delivery(row: RowMapping) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"],
        event_id=row["event_id"],
        endpoint_id=row["endpoint_id"],
        partner_id=row["partner_id"],
        event_type=row["event_type"],
        payload=row["payload"],
        created_at=row["created_at"],
        next_attempt_at=row["next_attempt_at"],
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        last_attempt_at=row["last_attempt_at"],
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        delivered_at=row["delivered_at"],
    )


def _attempt(row: RowMapping) -> WebhookAttempt:
    return WebhookAttempt(
        delivery_id=row["delivery_id"],
        number=row["number"],
        attempted_at=row["attempted_at"],
        status_code=row["status_code"],
        error=row["error"],
        duration_ms=row["duration_ms"],
    )


class SqlWebhookRepository:
    def __init__(self, connection: AsyncConnection, keyring: VaultKeyring) -> None:
        self._conn = connection
        self._keyring = keyring
        self._postgres = connection.dialect.name == "postgresql"

    def _endpoint(self, row: RowMapping, prefix: str = "") -> WebhookEndpoint:
        """An endpoint from a row whose endpoint columns carry ``prefix``, its secret opened."""
        endpoint_id = row[prefix + "id"]
        sealed = Sealed(
            row[prefix + "secret_key_id"],
            row[prefix + "secret_nonce"],
            row[prefix + "secret_ciphertext"],
        )
        return WebhookEndpoint(
            id=endpoint_id,
            partner_id=row[prefix + "partner_id"],
            url=row[prefix + "url"],
            secret=self._keyring.open(sealed, endpoint_id.bytes).decode(),
            created_at=row[prefix + "created_at"],
            disabled_at=row[prefix + "disabled_at"],
        )

    async def add_endpoint(self, endpoint: WebhookEndpoint) -> None:
        sealed = self._keyring.seal(endpoint.secret.encode(), endpoint.id.bytes)
        await self._conn.execute(
            insert(webhook_endpoints).values(
                id=endpoint.id,
                partner_id=endpoint.partner_id,
                url=endpoint.url,
                secret_key_id=sealed.key_id,
                secret_nonce=sealed.nonce,
                secret_ciphertext=sealed.ciphertext,
                created_at=endpoint.created_at,
                disabled_at=endpoint.disabled_at,
            )
        )

    async def endpoints_of(self, partner_id: uuid.UUID) -> list[WebhookEndpoint]:
        query = (
            select(webhook_endpoints)
            .where(webhook_endpoints.c.partner_id == partner_id)
            .order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
        )
        return [self._endpoint(row) for row in (await self._conn.execute(query)).mappings()]

    async def disable_endpoint(self, endpoint_id: uuid.UUID, at: datetime) -> int:
        await self._conn.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == endpoint_id)
            .values(disabled_at=at)
        )
        result = await self._conn.execute(
            update(webhook_deliveries)
            .where(
                webhook_deliveries.c.endpoint_id == endpoint_id,
                webhook_deliveries.c.status == _PENDING,
            )
            .values(
                status=DeliveryStatus.FAILED.value,
                last_error="Not sent: the webhook was removed.",
                locked_until=None,
                claim_token=None,
            )
        )
        return int(result.rowcount)

    async def listening(
        self, purposes: Sequence[SharingPurpose]
    ) -> list[tuple[WebhookEndpoint, frozenset[SharingPurpose]]]:
        # A handful of rows at most: filtering the purposes here keeps them one column.
        query = (
            select(webhook_endpoints, partners.c.purposes)
            .join(partners, partners.c.id == webhook_endpoints.c.partner_id)
            .where(webhook_endpoints.c.disabled_at.is_(None), partners.c.revoked_at.is_(None))
            .order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
        )
        listeners = []
        for row in (await self._conn.execute(query)).mappings():
            registered = parse_purposes(row["purposes"])
            if registered.intersection(purposes):
                listeners.append((self._endpoint(row), registered))
        return listeners

    async def enqueue(self, deliveries: Sequence[WebhookDelivery]) -> None:
        if not deliveries:
            return
        await self._conn.execute(
            insert(webhook_deliveries).values(
                [
                    {
                        "event_id": d.event_id,
                        "endpoint_id": d.endpoint_id,
                        "partner_id": d.partner_id,
                        "event_type": d.event_type,
                        "payload": d.payload,
                        "status": d.status.value,
                        "attempts": d.attempts,
                        "created_at": d.created_at,
                        "next_attempt_at": d.next_attempt_at,
                    }
                    for d in deliveries
                ]
            )
        )

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[ClaimedDelivery]:
        t = webhook_deliveries
        due = (
            select(t.c.id)
            .where(
                t.c.status == _PENDING,
                t.c.next_attempt_at <= now,
                or_(t.c.locked_until.is_(None), t.c.locked_until <= now),
            )
            .order_by(t.c.id)
            .limit(limit)
        )
        if self._postgres:
            # Rows another worker is claiming right now are passed over, not waited for; SQLite
            # has no row locks, and its writers take turns (BEGIN IMMEDIATE) anyway.
            due = due.with_for_update(skip_locked=True)
        claim = str(uuid.uuid4())
        claimed = await self._conn.execute(
            update(t)
            .where(t.c.id.in_(due.scalar_subquery()))
            .values(locked_until=lease_until, claim_token=claim)
            .returning(t.c.id)
        )
        ids = sorted(claimed.scalars())
        if not ids:
            return []
        query = (
            select(
                t,
                *(column.label(f"ep_{column.name}") for column in webhook_endpoints.c),
                partners.c.revoked_at.label("partner_revoked_at"),
            )
            .join(webhook_endpoints, webhook_endpoints.c.id == t.c.endpoint_id)
            .join(partners, partners.c.id == t.c.partner_id)
            .where(t.c.id.in_(ids))
            .order_by(t.c.id)
        )
        held = []
        for row in (await self._conn.execute(query)).mappings():
            held.append(
                ClaimedDelivery(
                    delivery=_delivery(row),
                    endpoint=self._endpoint(row, prefix="ep_"),
                    partner_active=row["partner_revoked_at"] is None,
                    claim=claim,
                    lease_until=lease_until,
                )
            )
        return held

    async def settle(
        self, delivery: WebhookDelivery, claim: str, attempt: WebhookAttempt | None
    ) -> bool:
        assert delivery.id is not None
        if attempt is not None:
            await self._conn.execute(
                insert(webhook_attempts).values(
                    delivery_id=attempt.delivery_id,
                    number=attempt.number,
                    attempted_at=attempt.attempted_at,
                    status_code=attempt.status_code,
                    error=(attempt.error or "")[:300] or None,
                    duration_ms=attempt.duration_ms,
                )
            )
        t = webhook_deliveries
        result = await self._conn.execute(
            update(t)
            .where(and_(t.c.id == delivery.id, t.c.claim_token == claim))
            .values(
                status=delivery.status.value,
                attempts=delivery.attempts,
                next_attempt_at=delivery.next_attempt_at,
                last_attempt_at=delivery.last_attempt_at,
                last_status_code=delivery.last_status_code,
                last_error=(delivery.last_error or "")[:300] or None,
                delivered_at=delivery.delivered_at,
                locked_until=None,
                claim_token=None,
            )
        )
        return bool(result.rowcount)

    async def deliveries_of(
        self, partner_id: uuid.UUID, first: int, before_id: int | None
    ) -> list[WebhookDelivery]:
        t = webhook_deliveries
        query = select(t).where(t.c.partner_id == partner_id)
        if before_id is not None:
            query = query.where(t.c.id < before_id)
        query = query.order_by(t.c.id.desc()).limit(first)
        return [_delivery(row) for row in (await self._conn.execute(query)).mappings()]

    async def attempts_of(
        self, partner_id: uuid.UUID, delivery_ids: Sequence[int]
    ) -> list[WebhookAttempt]:
        if not delivery_ids:
            return []
        query = (
            select(webhook_attempts)
            .join(webhook_deliveries, webhook_deliveries.c.id == webhook_attempts.c.delivery_id)
            .where(
                webhook_deliveries.c.partner_id == partner_id,
                webhook_attempts.c.delivery_id.in_(delivery_ids),
            )
            .order_by(webhook_attempts.c.delivery_id, webhook_attempts.c.id)
        )
        return [_attempt(row) for row in (await self._conn.execute(query)).mappings()]
