"""Erasures made after a backup was taken come back with a restore; replaying the exported
erasure log erases those customers again (docs/operations.md, "Backups and restore")."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.tables import customers, data_subject_requests, erasure_log, metadata
from tests.api.documents import CONFIRM_DELETION, ME, REQUEST_DELETION
from tests.api.helpers import mailed_token, register
from tests.conftest import empty_every_table, snapshot
from tests.factories import PASSWORD
from tests.graphql import GraphQLClient

Backup = dict[str, list[dict[str, Any]]]


async def take_backup(engine: AsyncEngine) -> Backup:
    """Every row of every table, as a dump would hold them."""
    async with engine.connect() as conn:
        return {
            table.name: [dict(row._mapping) for row in await conn.execute(select(table))]
            for table in metadata.sorted_tables
        }


async def restore(engine: AsyncEngine, backup: Backup) -> None:
    """Put the database back as it was when the backup was taken, erasure log included."""
    await empty_every_table(engine)
    async with engine.begin() as conn:
        for table in metadata.sorted_tables:
            if rows := backup[table.name]:
                await conn.execute(insert(table), rows)


async def ask_for_erasure(client: GraphQLClient, token: str) -> None:
    await client.data(REQUEST_DELETION, {"input": {"password": PASSWORD}}, token=token)


async def confirm_erasure(client: GraphQLClient, engine: AsyncEngine, token: str) -> None:
    email = (await client.data(ME, token=token))["me"]["email"]
    code = await mailed_token(engine, "ACCOUNT_DELETION", email)
    confirmed = await client.data(CONFIRM_DELETION, {"input": {"token": code}})
    assert confirmed["confirmAccountDeletion"] == {"deleted": True, "errors": []}


async def stored_customers(engine: AsyncEngine) -> set[uuid.UUID]:
    async with engine.connect() as conn:
        return set((await conn.scalars(select(customers.c.id))).all())


async def test_an_erasure_undone_by_a_restore_is_made_again_from_the_exported_log(
    client: GraphQLClient, engine: AsyncEngine, cli: Any, tmp_path: Path
) -> None:
    # given two customers in last night's backup, one of whom had asked for erasure and
    # confirmed it this morning
    token, customer = await register(client)
    kept_token, kept = await register(client, email="kept@example.com")
    await ask_for_erasure(client, token)
    backup = await take_backup(engine)
    await confirm_erasure(client, engine, token)
    code, exported, _ = await cli("erasures", "export")
    assert code == 0
    records = [json.loads(line) for line in exported.splitlines()]
    assert [r["customer_id"] for r in records] == [customer["id"]]
    assert set(records[0]) == {"customer_id", "erased_at", "request_id"}  # nothing personal
    log_file = tmp_path / "erasures.jsonl"
    log_file.write_text(exported)
    # when the database is restored from the backup: the customer is back, their request
    # open again, and the log in the database forgot them
    await restore(engine, backup)
    assert (await client.data(ME, token=token))["me"]["id"] == customer["id"]
    async with engine.connect() as conn:
        assert (await conn.scalars(select(data_subject_requests.c.status))).all() == ["RECEIVED"]
    code, out, _ = await cli("erasures", "replay")
    assert (code, out) == (
        0,
        "datarights: 0 customer(s) erased again; 0 erasure(s) in the log replayed.\n",
    )
    # and the log kept beside the backups is replayed
    code, out, err = await cli("erasures", "replay", "--from", str(log_file))
    # then the customer is erased again, the other one untouched, the log whole again
    assert (code, err) == (0, "")
    assert out == "datarights: 1 customer(s) erased again; 1 erasure(s) in the log replayed.\n"
    assert (await client.data(ME, token=token))["me"] is None
    assert (await client.data(ME, token=kept_token))["me"]["id"] == kept["id"]
    assert await stored_customers(engine) == {uuid.UUID(kept["id"])}
    async with engine.connect() as conn:
        logged = (await conn.execute(select(erasure_log))).all()
        statuses = (await conn.scalars(select(data_subject_requests.c.status))).all()
    assert [str(row.customer_id) for row in logged] == [customer["id"]]
    assert str(logged[0].request_id) == records[0]["request_id"]
    assert statuses == ["COMPLETED"]
    # and replaying twice changes nothing
    before = await snapshot(engine)
    code, out, _ = await cli("erasures", "replay", "--from", str(log_file))
    assert (code, out) == (
        0,
        "datarights: 0 customer(s) erased again; 1 erasure(s) in the log replayed.\n",
    )
    assert await snapshot(engine) == before


async def test_replay_since_a_time_leaves_earlier_erasures_alone(
    client: GraphQLClient, engine: AsyncEngine, cli: Any, tmp_path: Path
) -> None:
    # given a customer the log says was erased before the time asked for
    _, customer = await register(client)
    log_file = tmp_path / "erasures.jsonl"
    line = {"customer_id": customer["id"], "erased_at": "2026-01-01T00:00:00Z", "request_id": None}
    log_file.write_text(json.dumps(line) + "\n")
    # when
    code, out, _ = await cli("erasures", "replay", "--from", str(log_file), "--since", "2026-06-01")
    # then
    assert (code, out) == (
        0,
        "datarights: 0 customer(s) erased again; 0 erasure(s) in the log replayed.\n",
    )
    assert await stored_customers(engine) == {uuid.UUID(customer["id"])}


SOMEONE = str(uuid.UUID(int=7))


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("not json", "line 2: not a JSON object"),
        ("[1, 2]", "line 2: not a JSON object"),
        ('{"customer_id": "nope", "erased_at": "2026-01-01T00:00:00Z"}', "must be UUIDs"),
        (json.dumps({"customer_id": SOMEONE, "erased_at": "yesterday"}), "'yesterday' is not"),
        (json.dumps({"customer_id": SOMEONE}), "customer_id and erased_at are required"),
        (
            json.dumps({"customer_id": SOMEONE, "erased_at": "2026-01-01", "email": "a@b.c"}),
            "unknown field 'email'",
        ),
    ],
)
async def test_a_bad_log_file_is_refused_whole_with_one_line_and_nothing_is_erased(
    client: GraphQLClient,
    engine: AsyncEngine,
    cli: Any,
    tmp_path: Path,
    bad_line: str,
    message: str,
) -> None:
    # given a customer whose erasure is the first, valid, line of a file that goes wrong after
    _, customer = await register(client)
    good = {"customer_id": customer["id"], "erased_at": "2026-01-01T00:00:00Z", "request_id": None}
    log_file = tmp_path / "erasures.jsonl"
    log_file.write_text(json.dumps(good) + "\n" + bad_line + "\n")
    before = await snapshot(engine)
    # when
    code, out, err = await cli("erasures", "replay", "--from", str(log_file))
    # then
    assert code == 2
    assert out == ""
    assert err.startswith("datarights: ") and err.count("\n") == 1
    assert message in err and str(log_file) in err
    assert await snapshot(engine) == before


@pytest.mark.parametrize(
    "arguments",
    [
        ("erasures", "replay", "--from", "/nonexistent/erasures.jsonl"),
        ("erasures", "replay", "--since", "last tuesday"),
        ("erasures", "export", "--since", "2026-13-45"),
    ],
)
async def test_a_missing_file_or_a_bad_time_is_a_one_line_refusal(
    client: GraphQLClient, engine: AsyncEngine, cli: Any, arguments: tuple[str, ...]
) -> None:
    await register(client)
    before = await snapshot(engine)
    code, out, err = await cli(*arguments)
    assert (code, out) == (2, "")
    assert err.startswith("datarights: ") and err.count("\n") == 1
    assert await snapshot(engine) == before
