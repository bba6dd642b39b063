"""The webhook outbox in the database: claims are leases that concurrent workers pass over,
and signing secrets are stored sealed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.settings import Settings
from domain.consent.model import SharingPurpose
from domain.partners.model import Partner
from domain.webhooks.model import WebhookDelivery, WebhookEndpoint, new_signing_secret
from persistence.card_vault import VaultKeyring
from persistence.repositories.partners import SqlPartnerRepository
from persistence.repositories.webhooks import SqlWebhookRepository
from persistence.tables import webhook_endpoints

NOW = datetime(2030, 6, 15, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


@pytest.fixture
def keyring(settings: Settings) -> VaultKeyring:
    return VaultKeyring.parse(settings.card_vault_keys, settings.card_vault_active_key)


@pytest.fixture
async def endpoint(engine: AsyncEngine, keyring: VaultKeyring) -> WebhookEndpoint:
    """An endpoint of a partner registered for partner offers, with ten deliveries waiting."""
    partner = Partner(uuid.uuid4(), "Acme", frozenset({SharingPurpose.PARTNER_OFFERS}), NOW)
    hook = WebhookEndpoint(
        uuid.uuid4(), partner.id, "https://hooks.acme.example/", new_signing_secret(), NOW
    )
    async with engine.begin() as conn:
        await SqlPartnerRepository(conn).add(partner)
        webhooks = SqlWebhookRepository(conn, keyring)
        await webhooks.add_endpoint(hook)
        await webhooks.enqueue(
            [
                WebhookDelivery(f"evt_{n}", hook.id, partner.id, "consent.changed", "{}", NOW, NOW)
                for n in range(10)
            ]
        )
    return hook


async def claim(
    conn: AsyncConnection, keyring: VaultKeyring, at: datetime, limit: int = 10
) -> list[str]:
    held = await SqlWebhookRepository(conn, keyring).claim_due(at, at + LEASE, limit)
    return [h.delivery.event_id for h in held]


async def test_a_worker_passes_over_rows_another_is_claiming_instead_of_waiting(
    engine: AsyncEngine, keyring: VaultKeyring, endpoint: WebhookEndpoint, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has no row locks: one worker, whose writes take turns")
    async with engine.connect() as first, engine.connect() as second:
        # given a worker in the middle of claiming four rows (its transaction still open)
        await first.begin()
        mine = await claim(first, keyring, NOW, limit=4)
        # when another claims at the same moment
        await second.begin()
        theirs = await asyncio.wait_for(claim(second, keyring, NOW), timeout=5)
        await second.commit()
        await first.commit()
    # then it took the other rows at once, and no row was taken twice
    assert mine == [f"evt_{n}" for n in range(4)]
    assert theirs == [f"evt_{n}" for n in range(4, 10)]


async def test_a_claim_holds_rows_until_its_lease_runs_out(
    engine: AsyncEngine, keyring: VaultKeyring, endpoint: WebhookEndpoint
) -> None:
    async with engine.begin() as conn:
        first = await SqlWebhookRepository(conn, keyring).claim_due(NOW, NOW + LEASE, 3)
    async with engine.begin() as conn:
        # while the lease runs, another claim gets only the other rows
        assert len(await claim(conn, keyring, NOW + LEASE - timedelta(seconds=1))) == 7
    async with engine.begin() as conn:
        # once it has run out (a crashed worker), the rows are free again
        again = await SqlWebhookRepository(conn, keyring).claim_due(
            NOW + 2 * LEASE, NOW + 3 * LEASE, 10
        )
        assert len(again) == 10
    async with engine.begin() as conn:
        # and the first worker's late outcome no longer counts
        held = first[0]
        held.delivery.succeeded(NOW + LEASE, 200, 5)
        assert await SqlWebhookRepository(conn, keyring).settle(
            held.delivery, held.claim, None
        ) is (False)


async def test_a_signing_secret_is_stored_sealed_and_opens_only_with_the_keyring(
    engine: AsyncEngine, keyring: VaultKeyring, endpoint: WebhookEndpoint
) -> None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(webhook_endpoints))).mappings().one()
        (stored,) = await SqlWebhookRepository(conn, keyring).endpoints_of(endpoint.partner_id)
        assert stored.secret == endpoint.secret
        assert endpoint.secret.encode() not in row["secret_ciphertext"]
        assert endpoint.secret.removeprefix("whsec_").encode() not in row["secret_ciphertext"]
        other = VaultKeyring.parse(VaultKeyring.generate(row["secret_key_id"]))
        with pytest.raises(InvalidTag):
            await SqlWebhookRepository(conn, other).endpoints_of(endpoint.partner_id)
