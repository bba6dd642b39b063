"""What production shows of the schema: no introspection and no suggestions ("Did you mean …"),
while `__typename` works and the limits hold; clients learn the contract from schema.graphql.
Development keeps both, for GraphiQL and for people writing queries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from domain.dependencies import Dependencies
from persistence.card_vault import VaultKeyring
from tests.api.documents import SET_COMMUNICATION
from tests.api.helpers import register
from tests.conftest import settings_for, snapshot
from tests.factories import registration
from tests.graphql import GraphQLClient

MISSPELT_FIELD = "{ mee { id } }"
MISSPELT_ARGUMENT = "{ me { requests(frist: 5) { edges { cursor } } } }"
MISSPELT_TYPE = "query ($t: CommunicationTopik) { me { id } }"
TYPE_QUERY = '{ __type(name: "Customer") { fields { name } } }'


@pytest.fixture
async def production(
    database_url: str, deps: Dependencies, engine: AsyncEngine
) -> AsyncIterator[GraphQLClient]:
    settings = settings_for(
        database_url,
        env="production",
        card_vault_keys=VaultKeyring.generate("k1"),
        rate_limits_in_memory=True,
    )
    transport = httpx.ASGITransport(app=create_app(settings, deps), client=("203.0.113.10", 1))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        yield GraphQLClient(http)


def messages(result: dict[str, Any]) -> list[str]:
    assert result.get("data") is None, result
    assert {e["extensions"]["code"] for e in result["errors"]} == {"BAD_REQUEST"}
    return [e["message"] for e in result["errors"]]


async def test_production_refuses_introspection(production: GraphQLClient) -> None:
    for document in (get_introspection_query(), TYPE_QUERY, "{ __schema { types { name } } }"):
        refused = messages(await production.execute(document))
        assert any("introspection has been disabled" in m for m in refused), refused


async def test_production_still_answers_typename(production: GraphQLClient) -> None:
    token, _ = await register(production)
    data = await production.data("{ __typename me { __typename id } }", token=token)
    assert data["__typename"] == "Query"
    assert data["me"]["__typename"] == "Customer"


async def test_production_names_what_is_unknown_without_suggesting_what_exists(
    production: GraphQLClient,
) -> None:
    cases = {
        MISSPELT_FIELD: "Cannot query field 'mee' on type 'Query'.",
        MISSPELT_ARGUMENT: "Unknown argument 'frist' on field 'Customer.requests'.",
        MISSPELT_TYPE: "Unknown type 'CommunicationTopik'.",
    }
    for document, expected in cases.items():
        refused = messages(await production.execute(document))
        assert expected in refused, refused
        assert not any("Did you mean" in m for m in refused), refused


async def test_production_gives_no_suggestion_for_a_misspelt_value_in_a_variable(
    production: GraphQLClient, engine: AsyncEngine
) -> None:
    # Variables are checked as the operation starts, past validation: no suggestion there either.
    token, _ = await register(production)
    before = await snapshot(engine)
    for preferences in (
        [{"topic": "NEWSLETER", "subscribed": True}],
        [{"topik": "NEWSLETTER", "subscribed": True}],
    ):
        result = await production.execute(
            SET_COMMUNICATION, {"input": {"preferences": preferences}}, token=token
        )
        refused = messages(result)
        assert any("NEWSLETER" in m or "'topik'" in m for m in refused), refused
        assert not any("Did you mean" in m for m in refused), refused
    assert await snapshot(engine) == before


async def test_production_keeps_the_limits(production: GraphQLClient, engine: AsyncEngine) -> None:
    before = await snapshot(engine)
    aliases = " ".join(f"a{i}: __typename" for i in range(16))
    document = f"mutation ($input: RegisterInput!) {{ register(input: $input) {{ {aliases} }} }}"
    refused = messages(await production.execute(document, {"input": registration()}))
    assert refused == ["16 aliases found. Allowed: 15."]
    refused = messages(
        await production.execute("{ me { requests(first: 101) { pageInfo { hasNextPage } } } }")
    )
    assert refused == ["'first' on field 'requests' is out of range. Allowed: 0 to 100."]
    assert await snapshot(engine) == before


async def test_development_answers_introspection(client: GraphQLClient) -> None:
    data = await client.data(get_introspection_query())
    names = {t["name"] for t in data["__schema"]["types"]}
    assert {"Query", "Mutation", "Customer", "UserError"} <= names
    fields = (await client.data(TYPE_QUERY))["__type"]["fields"]
    assert "email" in {f["name"] for f in fields}


async def test_development_suggests_what_was_meant(client: GraphQLClient) -> None:
    cases = {
        MISSPELT_FIELD: "Cannot query field 'mee' on type 'Query'. Did you mean 'me'?",
        MISSPELT_ARGUMENT: "Unknown argument 'frist' on field 'Customer.requests'. "
        "Did you mean 'first'?",
    }
    for document, expected in cases.items():
        assert expected in messages(await client.execute(document))
