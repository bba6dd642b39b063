"""The hot reads, of a session and its customer and of a customer by address (asyncpg directly on
PostgreSQL, on the read pool or on the engine's), answer exactly what the repositories answer
through SQLAlchemy."""

from __future__ import annotations

import uuid
from datetime import UTC
from decimal import Decimal

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.dependencies import Dependencies
from domain.identity.model import secret_hash
from persistence.tables import customers
from persistence.unit_of_work import PooledReads, SqlReads
from tests.api.helpers import register
from tests.graphql import GraphQLClient


@pytest.mark.parametrize("optional", ["filled", "empty"])
async def test_the_read_model_gives_what_the_repositories_give(
    client: GraphQLClient, deps: Dependencies, engine: AsyncEngine, optional: str
) -> None:
    # given a customer with every optional field filled in (or none), verified or not
    token, customer = await register(client)
    if optional == "filled":
        async with engine.begin() as conn:
            await conn.execute(
                update(customers)
                .where(customers.c.id == uuid.UUID(customer["id"]))
                .values(
                    email_verified_at=customers.c.created_at,
                    title="Countess",
                    department="Mathematics",
                    fax="+442071234567",
                    annual_revenue_amount=Decimal("1234567.89"),
                    annual_revenue_currency="GBP",
                    employee_count=12,
                    industry="Computing",
                    address_line2="Flat 2",
                    address_region="London",
                )
            )
    # when the session is read by the read model (on the read pool on PostgreSQL, and on the
    # engine's pool) and by the repositories
    async with deps.unit_of_work.reads() as reads:
        found = await reads.customer_reads.me_by_session(secret_hash(token))
    async with SqlReads(engine) as reads:
        assert await reads.customer_reads.me_by_session(secret_hash(token)) == found
    async with deps.unit_of_work() as uow:
        session = await uow.sessions.get_by_token_hash(secret_hash(token))
        assert session is not None
        stored = await uow.customers.get(session.customer_id)
    # then both give the same, down to the types
    assert found == (session, stored)
    async with deps.unit_of_work.reads() as reads:
        by_email = await reads.customer_reads.by_email(customer["email"])
    async with SqlReads(engine) as reads:
        assert await reads.customer_reads.by_email(customer["email"]) == by_email
    assert by_email == stored
    assert by_email is not None and by_email.password_hash == stored.password_hash
    read_session, read_customer = found
    for value in (read_session.id, read_session.customer_id, read_customer.id):
        assert type(value) is uuid.UUID
    for moment in (read_session.expires_at, read_customer.created_at, read_customer.updated_at):
        assert moment.tzinfo is UTC
    assert (read_customer.email_verified_at is not None) == (optional == "filled")
    revenue = read_customer.profile.annual_revenue
    assert (revenue is not None and revenue.amount == Decimal("1234567.89")) == (
        optional == "filled"
    )


async def test_an_unknown_token_reads_nothing(deps: Dependencies, engine: AsyncEngine) -> None:
    async with deps.unit_of_work.reads() as reads:
        assert await reads.customer_reads.me_by_session(secret_hash("nobody")) is None
        assert await reads.customer_reads.by_email("nobody@example.com") is None
    async with SqlReads(engine) as reads:
        assert await reads.customer_reads.me_by_session(secret_hash("nobody")) is None
        assert await reads.customer_reads.by_email("nobody@example.com") is None


async def test_reads_take_the_read_pool_on_postgresql_only(
    deps: Dependencies, backend: str
) -> None:
    assert isinstance(deps.unit_of_work.reads(), PooledReads) == (backend == "postgresql")
