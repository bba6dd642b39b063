"""The consent ledger is append-only on every backend, and the stored state is derivable."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.consent.use_cases import differences_from_ledger
from domain.dependencies import Dependencies
from persistence.tables import consent_ledger, consent_states
from tests.api.helpers import register
from tests.graphql import GraphQLClient

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "statement",
    [
        update(consent_ledger).values(granted=False),
        delete(consent_ledger),
    ],
    ids=["update", "delete"],
)
async def test_the_ledger_refuses_to_change_or_lose_an_entry(
    client: GraphQLClient, engine: AsyncEngine, statement: object
) -> None:
    # given the nine default entries of a registration
    await register(client)
    async with engine.connect() as conn:
        before = (await conn.execute(select(consent_ledger))).all()
    # when / then
    with pytest.raises(DBAPIError, match="append-only"):
        async with engine.begin() as conn:
            await conn.execute(statement)  # type: ignore[call-overload]
    async with engine.connect() as conn:
        assert (await conn.execute(select(consent_ledger))).all() == before
    assert len(before) == 9


async def test_the_stored_state_is_what_the_ledger_derives(
    client: GraphQLClient, deps: Dependencies, engine: AsyncEngine
) -> None:
    # given two customers with defaults
    await register(client)
    await register(client, email="grace@example.com")
    assert await differences_from_ledger(deps) == []
    # when the stored state is changed behind the ledger's back
    async with engine.begin() as conn:
        await conn.execute(
            update(consent_states)
            .where(consent_states.c.subject == "NEWSLETTER")
            .values(granted=True)
        )
    # then both customers' newsletter state is reported
    differences = await differences_from_ledger(deps)
    assert len(differences) == 2
    assert all(
        "NEWSLETTER: ledger says off (default), stored state says on" in d for d in differences
    )


async def consent_verify(database_url: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATARIGHTS_")}
    env |= {"DATARIGHTS_DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "api.cli", "consent", "verify"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None, err.decode()
    return process.returncode, out.decode()


async def test_consent_verify_exits_0_on_agreement_and_1_on_a_difference(
    database_url: str, client: GraphQLClient, engine: AsyncEngine
) -> None:
    # given
    await register(client)
    code, out = await consent_verify(database_url)
    assert (code, out.strip()) == (0, "datarights: the stored consent state matches the ledger.")
    # when every stored choice is switched on behind the ledger's back
    async with engine.begin() as conn:
        await conn.execute(update(consent_states).values(granted=True))
    # then the six choices that default to off are reported
    code, out = await consent_verify(database_url)
    assert code == 1
    assert out.count("ledger says off (default), stored state says on") == 6
