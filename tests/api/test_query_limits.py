"""Limits on every request: depth, aliases, tokens, directives, page sizes, list lengths and
cost. Just under a limit passes; just over is a top-level BAD_REQUEST that names the limit and
its value, and nothing in the document runs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.limits import Measuring
from domain.consent.model import SharingPurpose
from domain.dependencies import Dependencies
from domain.partners import use_cases as partners
from persistence.tables import partner_reads
from tests.api.documents import SET_COMMUNICATION
from tests.api.helpers import register, staff_token
from tests.conftest import settings_for, snapshot
from tests.factories import registration
from tests.graphql import GraphQLClient

STATES = """
query States($ids: [ID!]!) {
  consentStates(customerIds: $ids) { customerId purpose granted updatedAt }
}
"""

TWICE = """
query States($ids: [ID!]!) {
  a: consentStates(customerIds: $ids) { customerId purpose granted updatedAt }
  b: consentStates(customerIds: $ids) { customerId purpose granted updatedAt }
}
"""


@asynccontextmanager
async def client_with(
    database_url: str, deps: Dependencies, **settings: Any
) -> AsyncIterator[GraphQLClient]:
    """A client of an app with other settings (other limits) over the test's database."""
    app = create_app(settings_for(database_url, **settings), deps)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


def refusal(result: dict[str, Any], *words: str) -> str:
    """The message of a request refused before it ran, which must hold ``words``."""
    assert result.get("data") is None, result
    (error,) = result["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    for word in words:
        assert word in error["message"], error["message"]
    return str(error["message"])


async def partner_key(deps: Dependencies) -> str:
    issued = await partners.create_partner(
        deps, f"Partner {uuid.uuid4().hex[:6]}", [SharingPurpose.PARTNER_OFFERS]
    )
    return issued.key


def registering(selection: str) -> str:
    return f"mutation ($input: RegisterInput!) {{ register(input: $input) {{ {selection} }} }}"


# Depth


async def test_a_document_nested_deeper_than_the_limit_is_refused_and_runs_nothing(
    database_url: str, deps: Dependencies, engine: AsyncEngine
) -> None:
    async with client_with(database_url, deps, graphql_max_depth=2) as client:
        # given a mutation whose selection reaches depth 3 (register 0, customer 1, address 2)
        before = await snapshot(engine)
        deep = registering("customer { address { city } }")
        # when it is sent
        result = await client.execute(deep, {"input": registration()})
        # then it is refused by name and value, and nobody was registered
        refusal(result, "Depth 3 found. Allowed: 2.")
        assert await snapshot(engine) == before
        # while depth 2 passes
        data = await client.data(registering("customer { id }"), {"input": registration()})
        assert data["register"]["customer"]["id"]


async def test_the_default_depth_is_ten(client: GraphQLClient) -> None:
    nested = "{ me " + "{ a " * 11 + "}" * 12
    result = await client.execute(nested)
    messages = [e["message"] for e in result["errors"]]
    assert any("Depth 11 found. Allowed: 10." in m for m in messages), messages
    shallow = await client.execute("{ me { address { city } } }")
    assert "errors" not in shallow


# Aliases


async def test_fifteen_aliases_pass_and_sixteen_are_refused_before_anything_runs(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    fifteen = " ".join(f"a{i}: __typename" for i in range(15))
    assert "errors" not in await client.execute(f"{{ {fifteen} }}")
    # a mutation with the sixteenth alias writes nothing
    before = await snapshot(engine)
    result = await client.execute(
        registering(f"token {fifteen} last: __typename"), {"input": registration()}
    )
    refusal(result, "16 aliases found. Allowed: 15")
    assert await snapshot(engine) == before


# Tokens


async def test_a_document_of_more_than_1000_tokens_is_refused_but_variables_do_not_count(
    client: GraphQLClient, deps: Dependencies, engine: AsyncEngine
) -> None:
    key = await partner_key(deps)

    def literal(count: int) -> str:
        # `{ consentStates ( customerIds : [ … ] ) { granted } }`: 12 tokens and the ids
        ids = " ".join(f'"{i}"' for i in range(count))
        return f"{{ consentStates(customerIds: [{ids}]) {{ granted }} }}"

    assert "errors" not in await client.execute(literal(988), token=key)
    refusal(await client.execute(literal(989), token=key), "more than 1000 tokens")
    # a thousand ids as a variable are a document of a few tokens
    ids = [str(uuid.uuid4()) for _ in range(1_000)]
    assert len((await client.data(STATES, {"ids": ids}, token=key))["consentStates"]) == 1_000
    # and the refused mutation wrote nothing
    before = await snapshot(engine)
    padded = registering("token" + " __typename" * 1_000)
    refusal(await client.execute(padded, {"input": registration()}), "more than 1000 tokens")
    assert await snapshot(engine) == before


# Fragments


async def test_fragments_spreading_each_other_many_times_over_are_refused_at_once(
    client: GraphQLClient,
) -> None:
    # given 40 fragments that each spread the next twice: 2^40 fields once expanded
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(40))
    document = f"{{ ...F0 }} {chain} fragment F40 on Query {{ t: __typename }}"
    # when it is sent, it is measured without being expanded
    result = await asyncio.wait_for(client.execute(document), timeout=10)
    # then both the aliases and the cost are refused
    messages = [e["message"] for e in result["errors"]]
    assert messages == [
        f"{2**40:,} aliases found. Allowed: 15.",
        f"Query cost {2**40:,} found (each list counts as many times as the items it asks for). "
        "Allowed: 5,000.",
    ]


async def test_a_spread_of_an_unknown_fragment_is_an_ordinary_validation_error(
    client: GraphQLClient,
) -> None:
    result = await client.execute("{ me { id } ...Nowhere }")
    refusal(result, "Unknown fragment 'Nowhere'.")


# Directives


async def test_fifty_directives_pass_and_fifty_one_are_refused(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    def fields(count: int) -> str:
        return " ".join("__typename @include(if: true)" for _ in range(count))

    assert "errors" not in await client.execute(f"{{ {fields(50)} }}")
    before = await snapshot(engine)
    result = await client.execute(registering(f"token {fields(51)}"), {"input": registration()})
    refusal(result, "51 directives found. Allowed: 50")
    assert await snapshot(engine) == before


async def test_directives_in_fragments_count_too(
    database_url: str, deps: Dependencies, engine: AsyncEngine
) -> None:
    async with client_with(database_url, deps, graphql_max_directives=2) as client:
        two = "{ ...F @include(if: true) } fragment F on Query { __typename @skip(if: false) }"
        assert "errors" not in await client.execute(two)
        three = (
            "{ ...F @include(if: true) } "
            "fragment F on Query { __typename @skip(if: false) t: __typename @skip(if: false) }"
        )
        refusal(await client.execute(three), "3 directives found. Allowed: 2")


# Page sizes and lists


CUSTOMER_PAGES = [
    "query ($n: Int!) { me { requests(first: $n) { edges { cursor } } } }",
    "query ($n: Int!) { me { consentHistory(first: $n) { edges { cursor } } } }",
    "query ($n: Int!) { me { profileChanges(first: $n) { edges { cursor } } } }",
    "query ($n: Int!) { me { accessLog(first: $n) { edges { cursor } } } }",
]
STAFF_PAGES = ["query ($n: Int!) { requests(first: $n) { edges { cursor } } }"]
PARTNER_PAGES = [
    "query ($n: Int!) { consentChanges(first: $n) { edges { cursor } } }",
    "query ($n: Int!) { webhookDeliveries(first: $n) { edges { cursor } } }",
]


async def test_every_connection_serves_at_most_100_a_page_and_never_a_negative_number(
    client: GraphQLClient, deps: Dependencies
) -> None:
    customer, _ = await register(client)
    officer = await staff_token(client, deps)
    partner = await partner_key(deps)
    callers = [(d, customer) for d in CUSTOMER_PAGES]
    callers += [(d, officer) for d in STAFF_PAGES] + [(d, partner) for d in PARTNER_PAGES]
    for document, token in callers:
        page = await client.execute(document, {"n": 100}, token=token)
        assert "errors" not in page, (document, page)
        for size in (101, -1, 2**31 - 1):
            result = await client.execute(document, {"n": size}, token=token)
            refusal(result, "'first' on field", "out of range. Allowed: 0 to 100")
        # written in the document, and asked by someone who may not even read the field
        literal = document.replace("query ($n: Int!)", "query").replace("$n", "101")
        refusal(await client.execute(literal), "out of range. Allowed: 0 to 100")


async def test_more_than_1000_customer_ids_are_refused_before_anything_is_read(
    client: GraphQLClient, deps: Dependencies, engine: AsyncEngine
) -> None:
    key = await partner_key(deps)
    ids = [str(uuid.uuid4()) for _ in range(1_001)]
    result = await client.execute(STATES, {"ids": ids}, token=key)
    refusal(result, "list of 1,001 items", "'customerIds'", "Allowed: 1,000 items")
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(partner_reads)) == 0


async def test_a_list_inside_an_input_is_bounded_too_and_writes_nothing(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    token, _ = await register(client)
    before = await snapshot(engine)
    choices = [{"topic": "NEWSLETTER", "subscribed": True}] * 1_001
    result = await client.execute(
        SET_COMMUNICATION, {"input": {"preferences": choices}}, token=token
    )
    refusal(result, "list of 1,001 items", "'input'", "Allowed: 1,000 items")
    assert await snapshot(engine) == before


# Cost


async def test_a_thousand_ids_fit_the_default_cost_and_twice_that_does_not(
    client: GraphQLClient, deps: Dependencies, engine: AsyncEngine
) -> None:
    # given the documented partner call: 1,000 ids (each of 4 fields) costs 1 + 4 x 1,000
    key = await partner_key(deps)
    ids = [str(uuid.uuid4()) for _ in range(1_000)]
    assert len((await client.data(STATES, {"ids": ids}, token=key))["consentStates"]) == 1_000
    async with engine.connect() as conn:
        reads = await conn.scalar(select(func.count()).select_from(partner_reads))
    # when the same ids are asked twice in one document
    result = await client.execute(TWICE, {"ids": ids}, token=key)
    # then the cost is refused and nothing more was read
    refusal(result, "Query cost 8,002 found", "Allowed: 5,000")
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(partner_reads)) == reads


async def test_the_cost_counts_each_list_by_its_page_size_from_variables_and_defaults(
    client: GraphQLClient, database_url: str, deps: Dependencies
) -> None:
    token, _ = await register(client)
    # `me { requests(first: n) { edges { cursor } } }` costs 1 + (1 + n x (1 + 1)) = 2 + 2n
    async with client_with(database_url, deps, graphql_max_cost=42) as client:
        pages = "query ($n: Int!) { me { requests(first: $n) { edges { cursor } } } }"
        assert "errors" not in await client.execute(pages, {"n": 20}, token=token)
        refusal(await client.execute(pages, {"n": 21}, token=token), "cost 44 found", "Allowed: 42")
        # the field's default page size (20), and a variable's default
        by_default = "{ me { requests { edges { cursor } } } }"
        assert "errors" not in await client.execute(by_default, token=token)
        defaulted = "query ($n: Int! = 21) { me { requests(first: $n) { edges { cursor } } } }"
        refusal(await client.execute(defaulted, token=token), "cost 44 found")
        # a fragment spread twice counts twice: 2 x (1 + (1 + 10 x 2))
        twice = (
            "{ me { ...R } x: me { ...R } } "
            "fragment R on Customer { requests(first: 10) { edges { cursor } } }"
        )
        refusal(await client.execute(twice, token=token), "cost 44 found")


async def test_a_mutation_over_the_cost_writes_nothing(
    database_url: str, deps: Dependencies, engine: AsyncEngine
) -> None:
    async with client_with(database_url, deps, graphql_max_cost=100) as client:
        before = await snapshot(engine)
        costly = registering("token customer { requests(first: 100) { edges { cursor } } }")
        refusal(await client.execute(costly, {"input": registration()}), "Allowed: 100")
        assert await snapshot(engine) == before
        cheap = registering("token customer { requests(first: 10) { edges { cursor } } }")
        assert (await client.data(cheap, {"input": registration()}))["register"]["token"]


@pytest.mark.parametrize(
    "setting",
    [
        "graphql_max_depth",
        "graphql_max_aliases",
        "graphql_max_tokens",
        "graphql_max_directives",
        "graphql_max_cost",
    ],
)
def test_a_limit_below_one_is_refused_by_the_settings(setting: str) -> None:
    with pytest.raises(ValueError, match=setting):
        settings_for("sqlite+aiosqlite://", **{setting: 0})


async def test_a_fault_while_the_limits_are_checked_is_masked_and_logged(
    client: GraphQLClient, monkeypatch: pytest.MonkeyPatch, captured_logs: pytest.LogCaptureFixture
) -> None:
    # given a fault inside a validation rule, which happens before MaskErrors can see it
    def broken(*_args: Any) -> None:
        raise RuntimeError("detail for the log only")

    monkeypatch.setattr(Measuring, "of_operation", broken)
    # when a request is validated
    result = await client.execute("{ __typename }")
    # then the client reads the generic message, and the log has the detail
    (error,) = result["errors"]
    assert error["message"] == "Unexpected error."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "detail for the log only" not in str(result)
    assert "detail for the log only" in captured_logs.text
