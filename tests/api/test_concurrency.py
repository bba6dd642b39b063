"""Concurrent changes of one profile: none is lost, and `expectedVersion` refuses stale ones."""

from __future__ import annotations

import asyncio
import copy
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.tables import profile_changes
from tests.api.documents import ME, REMOVE_OPTIONAL, UPDATE_CARD, UPDATE_PROFILE
from tests.api.helpers import codes, register
from tests.conftest import snapshot
from tests.factories import MASTERCARD, PASSWORD
from tests.graphql import GraphQLClient

# Fields that take any distinct value (GraphQL paths); the calls of the test cycle over them.
FIELDS: list[tuple[str, ...]] = [
    ("name",),
    ("companyName",),
    ("title",),
    ("department",),
    ("industry",),
    ("employeeCount",),
    ("address", "line1"),
    ("address", "line2"),
    ("address", "city"),
    ("address", "region"),
    ("billing", "name"),
    ("billing", "organizationUsers"),
    ("billing", "address", "line1"),
    ("billing", "address", "line2"),
    ("billing", "address", "city"),
    ("billing", "address", "region"),
]
NUMERIC = {("employeeCount",), ("billing", "organizationUsers")}


def value_of_call(i: int) -> tuple[tuple[str, ...], Any]:
    path = FIELDS[i % len(FIELDS)]
    return path, (1000 + i if path in NUMERIC else f"value of call {i}")


def nested(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """{"billing": {"address": {"city": value}}} for ("billing", "address", "city")."""
    patch: dict[str, Any] = {path[-1]: value}
    for name in reversed(path[:-1]):
        patch = {name: patch}
    return patch


def put(customer: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for name in path[:-1]:
        customer = customer[name]
    customer[path[-1]] = value


def without_clock(customer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in customer.items() if k not in ("updatedAt", "version")}


async def changes_recorded(engine: AsyncEngine, customer_id: str) -> int:
    query = select(func.count()).where(profile_changes.c.customer_id == uuid.UUID(customer_id))
    async with engine.connect() as conn:
        return int(await conn.scalar(query) or 0)


async def update(client: GraphQLClient, token: str, changes: dict[str, Any]) -> dict[str, Any]:
    result = await client.data(UPDATE_PROFILE, {"input": changes}, token=token)
    payload: dict[str, Any] = result["updateProfile"]
    return payload


async def test_fifty_concurrent_changes_of_different_fields_all_land(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    # given
    token, before = await register(client)
    writes = [value_of_call(i) for i in range(50)]
    # when fifty calls, each changing one field, arrive at once
    payloads = await asyncio.gather(
        *(update(client, token, nested(path, value)) for path, value in writes)
    )
    # then every one succeeded, each as one more version of the profile
    assert [p["errors"] for p in payloads] == [[]] * 50
    versions = [p["customer"]["version"] for p in payloads]
    assert sorted(versions) == list(range(before["version"] + 1, before["version"] + 51))
    # and each saw every change made before it: replayed in version order, the writes give
    # exactly the profile each call answered with, so no change undid another
    expected = copy.deepcopy(before)
    for version, (path, value), payload in sorted(
        zip(versions, writes, payloads, strict=True), key=lambda item: item[0]
    ):
        put(expected, path, value)
        assert without_clock(payload["customer"]) == without_clock(expected), version
    final = (await client.data(ME, token=token))["me"]
    assert without_clock(final) == without_clock(expected)
    assert final["version"] == before["version"] + 50
    # every field the calls changed holds the value of its last writer
    for path in FIELDS:
        last = max((v, value) for v, (p, value) in zip(versions, writes, strict=True) if p == path)
        put(expected, path, last[1])
    assert without_clock(final) == without_clock(expected)
    assert await changes_recorded(engine, before["id"]) == 50


async def test_an_address_change_and_concurrent_changes_of_other_fields_all_land(
    client: GraphQLClient,
) -> None:
    # given
    token, before = await register(client)
    # when the e-mail address (which needs the password, checked before the row is locked)
    # changes while ten other fields do
    calls = [update(client, token, {"email": "countess@example.com", "currentPassword": PASSWORD})]
    calls += [update(client, token, nested(*value_of_call(i))) for i in range(10)]
    payloads = await asyncio.gather(*calls)
    # then
    assert [p["errors"] for p in payloads] == [[]] * 11
    final = (await client.data(ME, token=token))["me"]
    assert final["email"] == "countess@example.com"
    assert final["emailVerified"] is False
    assert final["version"] == before["version"] + 11
    for i in range(10):
        path, value = value_of_call(i)
        node = final
        for name in path:
            node = node[name]
        assert node == value


async def test_of_two_changes_from_the_same_version_one_lands_and_one_is_a_conflict(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    # given two front ends that read the same version
    token, before = await register(client)
    version = before["version"]
    # when both change the same field from it at once
    payloads = await asyncio.gather(
        update(client, token, {"title": "Countess", "expectedVersion": version}),
        update(client, token, {"title": "Baroness", "expectedVersion": version}),
    )
    # then exactly one landed
    landed = [p for p in payloads if not p["errors"]]
    refused = [p for p in payloads if p["errors"]]
    assert len(landed) == 1 and len(refused) == 1
    assert refused[0]["customer"] is None
    assert codes(refused[0]["errors"]) == {(("expectedVersion",), "CONFLICT")}
    message = refused[0]["errors"][0]["message"]
    assert f"version {version}" in message and f"version {version + 1}" in message
    final = (await client.data(ME, token=token))["me"]
    assert final == landed[0]["customer"]
    assert final["version"] == version + 1
    assert await changes_recorded(engine, before["id"]) == 1


async def test_a_change_from_the_current_version_lands(client: GraphQLClient) -> None:
    token, before = await register(client)
    payload = await update(
        client, token, {"title": "Countess", "expectedVersion": before["version"]}
    )
    assert payload["errors"] == []
    assert payload["customer"]["title"] == "Countess"
    assert payload["customer"]["version"] == before["version"] + 1


async def test_without_an_expected_version_the_last_writer_of_a_field_wins(
    client: GraphQLClient,
) -> None:
    # given
    token, before = await register(client)
    # when two calls change the same field at once, neither naming a version
    payloads = await asyncio.gather(
        update(client, token, {"title": "Countess"}),
        update(client, token, {"title": "Baroness"}),
    )
    # then both landed, and the field holds the value of the later one
    assert [p["errors"] for p in payloads] == [[], []]
    later = max(payloads, key=lambda p: p["customer"]["version"])
    final = (await client.data(ME, token=token))["me"]
    assert final["title"] == later["customer"]["title"]
    assert final["version"] == before["version"] + 2


async def test_every_update_refuses_a_stale_version_and_writes_nothing(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    # given a profile that moved on since version `stale` was read
    token, before = await register(client, title="Countess")
    stale = before["version"]
    await update(client, token, {"department": "Research"})
    state = await snapshot(engine)
    card = {"number": MASTERCARD, "expMonth": 1, "expYear": 2032, "cvc": "456"}
    calls = [
        (UPDATE_PROFILE, "updateProfile", {"name": "Augusta Ada King"}),
        (REMOVE_OPTIONAL, "removeOptionalInformation", {"fields": ["TITLE"]}),
        # refused before the vault sees the card: no vault row, kept or discarded
        (UPDATE_CARD, "updatePaymentCard", {"card": card}),
    ]
    for document, name, changes in calls:
        # when
        result = await client.data(
            document, {"input": {**changes, "expectedVersion": stale}}, token=token
        )
        # then
        payload = result[name]
        assert payload["customer"] is None
        assert codes(payload["errors"]) == {(("expectedVersion",), "CONFLICT")}
        assert f"version {stale + 1}" in payload["errors"][0]["message"]
        assert await snapshot(engine) == state
