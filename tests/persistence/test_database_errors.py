"""Database errors never carry the values that were being written (personal data, hashes)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.tables import sign_in_events


async def test_a_failed_write_does_not_echo_its_parameters(engine: AsyncEngine) -> None:
    statement = insert(sign_in_events).values(
        id=uuid.uuid4(),
        customer_id=uuid.uuid4(),  # no such customer: the foreign key refuses the row
        occurred_at=datetime.now(UTC),
        ip="198.51.100.77",
        user_agent="Mozilla/5.0 (personal device of ada@example.com)",
    )
    with pytest.raises(IntegrityError) as refused:
        async with engine.begin() as conn:
            await conn.execute(statement)
    assert "198.51.100.77" not in str(refused.value)
    assert "ada@example.com" not in str(refused.value)
