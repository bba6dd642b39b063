"""The HTTP edge: GraphQL over HTTP (media types and status codes), malformed and oversized
requests, batches, GET, security headers, request ids and masked faults."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.graphql_http import GRAPHQL_RESPONSE, JSON, failure_status, negotiate
from api.settings import Settings
from domain.dependencies import Dependencies
from persistence.card_vault import VaultKeyring
from tests.api.documents import PROFILE_FIELDS, REGISTER, UPDATE_PROFILE
from tests.api.helpers import broken_database, register
from tests.api.test_export import REQUEST_EXPORT
from tests.conftest import settings_for, snapshot
from tests.factories import registration
from tests.graphql import GraphQLClient

PREFERS_GRAPHQL_RESPONSE = f"{GRAPHQL_RESPONSE}, {JSON};q=0.9"
BAD_VARIABLES = (REGISTER, {"input": {"email": 42}})


@pytest.fixture
async def http(client: GraphQLClient) -> httpx.AsyncClient:
    return client.http


async def post(
    http: httpx.AsyncClient,
    document: str,
    variables: dict[str, Any] | None = None,
    accept: str | None = None,
    **headers: str,
) -> httpx.Response:
    if accept is not None:
        headers["Accept"] = accept
    body: dict[str, Any] = {"query": document}
    if variables is not None:
        body["variables"] = variables
    return await http.post("/graphql", json=body, headers=headers)


def refusal(response: httpx.Response) -> tuple[int, str, str]:
    """(status, code, message) of a GraphQL-shaped whole-request refusal."""
    [error] = response.json()["errors"]
    return response.status_code, error["extensions"]["code"], error["message"]


@dataclasses.dataclass
class App:
    http: httpx.AsyncClient
    settings: Settings


@asynccontextmanager
async def app_with(database_url: str, deps: Dependencies, **overrides: Any) -> AsyncIterator[App]:
    """An app with settings of its own, and a client of it."""
    if overrides.get("env") == "production":
        overrides = {
            "card_vault_keys": VaultKeyring.generate("k1"),
            "rate_limits_in_memory": True,
            **overrides,
        }
    settings = settings_for(database_url, **overrides)
    transport = httpx.ASGITransport(app=create_app(settings, deps))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        yield App(http, settings)


@pytest.fixture
async def production(
    database_url: str, deps: Dependencies, engine: AsyncEngine
) -> AsyncIterator[App]:
    async with app_with(database_url, deps, env="production") as app:
        yield app


# --- media types and status codes ---------------------------------------------------------


@pytest.mark.parametrize("accept", [None, "*/*", JSON, "application/*", f"{JSON}, */*;q=0.5"])
async def test_json_is_the_answer_unless_the_client_prefers_the_graphql_media_type(
    http: httpx.AsyncClient, accept: str | None
) -> None:
    response = await post(http, PROFILE_FIELDS, accept=accept)
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON
    assert response.json()["data"]["profileFields"]


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, PREFERS_GRAPHQL_RESPONSE])
async def test_the_graphql_response_media_type_is_the_answer_when_preferred(
    http: httpx.AsyncClient, accept: str
) -> None:
    response = await post(http, PROFILE_FIELDS, accept=accept)
    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert response.json()["data"]["profileFields"]


def test_negotiation_follows_weights_then_specificity_then_order() -> None:
    assert negotiate(f"{JSON};q=0.8, {GRAPHQL_RESPONSE};q=0.5") == JSON
    assert negotiate(f"{JSON}, {GRAPHQL_RESPONSE}") == JSON
    assert negotiate(f"{GRAPHQL_RESPONSE}, {JSON}") == GRAPHQL_RESPONSE
    assert negotiate(f"*/*, {GRAPHQL_RESPONSE}") == GRAPHQL_RESPONSE
    assert negotiate(f"{JSON};q=0, */*") == GRAPHQL_RESPONSE
    assert negotiate("text/html, image/*") is None


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        ("query { profileFields { name ", None),  # unparseable
        ("query { nickname }", None),  # fails validation
        BAD_VARIABLES,  # variables of the wrong type
    ],
    ids=["syntax", "validation", "variables"],
)
async def test_a_request_error_executes_nothing_and_its_status_depends_on_the_media_type(
    http: httpx.AsyncClient, engine: AsyncEngine, document: str, variables: Any
) -> None:
    before = await snapshot(engine)
    as_graphql = await post(http, document, variables, accept=GRAPHQL_RESPONSE)
    as_json = await post(http, document, variables, accept=JSON)
    assert (as_graphql.status_code, as_graphql.headers["content-type"]) == (400, GRAPHQL_RESPONSE)
    assert (as_json.status_code, as_json.headers["content-type"]) == (200, JSON)
    for response in (as_graphql, as_json):
        body = response.json()
        assert "data" not in body  # nothing was executed
        assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert await snapshot(engine) == before


async def test_an_error_during_execution_keeps_200_and_the_data(http: httpx.AsyncClient) -> None:
    for accept in (GRAPHQL_RESPONSE, JSON):
        response = await post(http, UPDATE_PROFILE, {"input": {"name": "X"}}, accept=accept)
        assert response.status_code == 200
        body = response.json()
        assert "data" in body
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_whole_request_failure_has_the_status_its_media_type_gives() -> None:
    assert failure_status(GRAPHQL_RESPONSE, ["SERVICE_UNAVAILABLE"]) == 503
    assert failure_status(JSON, ["SERVICE_UNAVAILABLE"]) == 200
    assert failure_status(GRAPHQL_RESPONSE, ["INTERNAL_SERVER_ERROR"]) == 500
    assert failure_status(GRAPHQL_RESPONSE, ["BAD_REQUEST", "SERVICE_UNAVAILABLE"]) == 503
    assert failure_status(GRAPHQL_RESPONSE, ["BAD_REQUEST"]) == 400


# --- requests that are not GraphQL-over-HTTP requests -----------------------------------------


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
async def test_a_body_that_is_not_json_is_refused_as_an_unsupported_media_type(
    http: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    body = json.dumps({"query": PROFILE_FIELDS})
    response = await http.post("/graphql", content=body, headers=headers)
    status, code, message = refusal(response)
    assert (status, code) == (415, "BAD_REQUEST")
    assert "application/json" in message


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "{ profileFields { name } }"',  # cut short
        b"\xff\xfe not even text",
        b"",
        b'"just a string"',
        b"42",
        b"null",
        b'{"query": ' * 5000 + b"1" + b"}" * 5000,  # deeper than any parser should go
        b'{"query": 12}',
        b'{"query": "{ profileFields { name } }", "variables": "x"}',
        b'{"query": "{ profileFields { name } }", "operationName": ["A"]}',
        b'{"query": "{ profileFields { name } }", "extensions": 1}',
        b"{}",
    ],
)
async def test_a_malformed_body_is_a_400_with_a_json_error(
    http: httpx.AsyncClient, body: bytes
) -> None:
    for accept in (JSON, GRAPHQL_RESPONSE):
        response = await http.post(
            "/graphql", content=body, headers={"Content-Type": JSON, "Accept": accept}
        )
        status, code, _ = refusal(response)
        assert (status, code) == (400, "BAD_REQUEST")


async def test_an_answer_in_a_media_type_the_client_cannot_read_is_refused(
    http: httpx.AsyncClient,
) -> None:
    response = await post(http, PROFILE_FIELDS, accept="text/html")
    status, code, message = refusal(response)
    assert (status, code) == (406, "BAD_REQUEST")
    assert GRAPHQL_RESPONSE in message


async def test_a_batch_is_refused_and_nothing_in_it_runs(
    http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    before = await snapshot(engine)
    batch = [
        {"query": REGISTER, "variables": {"input": registration(email=f"b{i}@example.com")}}
        for i in range(2)
    ]
    response = await http.post("/graphql", json=batch)
    status, code, message = refusal(response)
    assert (status, code) == (400, "BAD_REQUEST")
    assert "Batched requests" in message
    assert await snapshot(engine) == before


async def test_a_body_over_the_limit_is_refused_before_it_is_read(
    database_url: str, deps: Dependencies, engine: AsyncEngine
) -> None:
    async with app_with(database_url, deps, max_body_bytes=4096) as app:
        padding = "#" + "x" * 5000 + "\n"
        # when the body says its length
        declared = await post(app.http, padding + PROFILE_FIELDS)
        # and when it streams without one (chunked), so only counting can tell
        body = json.dumps({"query": padding + PROFILE_FIELDS}).encode()

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 1000):
                yield body[start : start + 1000]

        streamed = await app.http.post("/graphql", content=chunks(), headers={"Content-Type": JSON})
        within = await post(app.http, PROFILE_FIELDS)
    for response in (declared, streamed):
        status, code, message = refusal(response)
        assert (status, code) == (413, "BAD_REQUEST")
        assert "4096 bytes" in message
    assert "content-length" not in streamed.request.headers
    assert within.status_code == 200


# --- GET ----------------------------------------------------------------------------------


async def test_in_production_get_answers_405_for_everything(production: App) -> None:
    for params, accept in [
        ({"query": "{ profileFields { name } }"}, JSON),
        ({"query": "mutation { logout { ended } }"}, JSON),
        ({}, "text/html"),  # no GraphiQL
        ({}, JSON),
    ]:
        response = await production.http.get("/graphql", params=params, headers={"Accept": accept})
        status, code, _ = refusal(response)
        assert (status, code) == (405, "BAD_REQUEST")
        assert response.headers["allow"] == "POST"


async def test_in_development_get_serves_graphiql_and_no_operation(
    http: httpx.AsyncClient,
) -> None:
    page = await http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
    for query in ("{ profileFields { name } }", "mutation { logout { ended } }"):
        response = await http.get("/graphql", params={"query": query}, headers={"Accept": JSON})
        assert refusal(response)[0] == 405


# --- security headers -----------------------------------------------------------------------

COMMON_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


async def test_every_response_carries_the_security_headers(client: GraphQLClient) -> None:
    token, _ = await register(client)
    export = (await client.data(REQUEST_EXPORT, token=token))["requestDataExport"]["export"]
    responses = [
        await post(client.http, PROFILE_FIELDS),
        await post(client.http, "query { nope }", accept=GRAPHQL_RESPONSE),
        await client.http.get("/healthz"),
        await client.http.get(export["downloadUrl"], headers={"Authorization": f"Bearer {token}"}),
        await client.http.get("/no-such-page"),
    ]
    assert [r.status_code for r in responses] == [200, 400, 200, 200, 404]
    for response in responses:
        for name, value in COMMON_HEADERS.items():
            assert response.headers[name] == value, (response.url, name)
        policy = response.headers["content-security-policy"]
        assert policy.startswith("default-src 'none'")
        assert "frame-ancestors 'none'" in policy
        assert "strict-transport-security" not in response.headers  # development


async def test_graphiql_gets_a_policy_allowing_only_what_it_loads(
    http: httpx.AsyncClient,
) -> None:
    page = await http.get("/graphql", headers={"Accept": "text/html"})
    policy = dict(
        [*directive.split(" ", 1), ""][:2]
        for directive in page.headers["content-security-policy"].split("; ")
    )
    assert policy["default-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["connect-src"] == "'self'"
    sources = policy["script-src"].split()
    assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources
    assert all(s.startswith(("https://unpkg.com/", "'sha256-")) for s in sources)
    assert "https://unpkg.com/" not in sources  # whole files, not the whole CDN
    assert any(s.startswith("'sha256-") for s in sources)  # GraphiQL's inline script


async def test_production_adds_strict_transport_security(production: App) -> None:
    response = await post(production.http, PROFILE_FIELDS)
    assert response.headers["strict-transport-security"].startswith("max-age=")


# --- request ids and masked faults ----------------------------------------------------------


async def test_every_response_has_a_request_id_and_a_sane_incoming_one_is_kept(
    http: httpx.AsyncClient,
) -> None:
    first = await http.get("/healthz")
    second = await http.get("/healthz")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    kept = await http.get("/healthz", headers={"X-Request-ID": "lb-5f2c9a81-4e0b"})
    assert kept.headers["x-request-id"] == "lb-5f2c9a81-4e0b"
    for insane in (
        "short",
        "has spaces in it",
        "x" * 300,
        "ada@example.com-1234",
        "a;bcdefghij=1",
    ):
        replaced = await http.get("/healthz", headers={"X-Request-ID": insane})
        assert replaced.headers["x-request-id"] != insane
        assert len(replaced.headers["x-request-id"]) == 32


EXPLODED = "database exploded near ada@example.com"


async def test_a_fault_is_masked_with_the_request_id_that_the_log_files_it_under(
    settings: Settings,
    deps: Dependencies,
    engine: AsyncEngine,
    captured_logs: pytest.LogCaptureFixture,
) -> None:
    async with broken_database(settings, deps, EXPLODED) as http:
        response = await post(http, REGISTER, {"input": registration()}, accept=GRAPHQL_RESPONSE)
    rid = response.headers["x-request-id"]
    [error] = response.json()["errors"]
    assert error["message"] == "Unexpected error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": rid}
    assert "exploded" not in response.text
    assert response.status_code == 200  # the failure was in a field: data is there (null)
    [logged] = [r for r in captured_logs.records if r.levelname == "ERROR"]
    assert logged.exc_info is not None and "exploded" in str(logged.exc_info[1])


async def test_a_fault_in_a_route_behind_the_edge_gets_the_edges_masked_answer(
    settings: Settings,
    deps: Dependencies,
    engine: AsyncEngine,
    captured_logs: pytest.LogCaptureFixture,
) -> None:
    # FastAPI's routes sit behind the edge (api.app.DataRightsApp), without Starlette's own
    # last-resort layer, whose bare "Internal Server Error" would otherwise answer first.
    async with broken_database(settings, deps, EXPLODED, raise_app_exceptions=False) as http:
        response = await http.get(
            f"/exports/{uuid.uuid4()}", headers={"Authorization": "Bearer some-token"}
        )
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    [error] = response.json()["errors"]
    assert error["message"] == "Unexpected error."
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    assert "exploded" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    [logged] = [r for r in captured_logs.records if r.levelname == "ERROR"]
    assert logged.exc_info is not None


async def test_a_fault_outside_graphql_is_masked_too(
    settings: Settings,
    deps: Dependencies,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    captured_logs: pytest.LogCaptureFixture,
) -> None:
    import api.app

    def broken_context(*_: object) -> object:
        raise RuntimeError("context exploded")

    monkeypatch.setattr(api.app, "Context", broken_context)
    transport = httpx.ASGITransport(app=create_app(settings, deps))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        as_graphql = await post(http, PROFILE_FIELDS, accept=GRAPHQL_RESPONSE)
        as_json = await post(http, PROFILE_FIELDS, accept=JSON)
    assert (as_graphql.status_code, as_json.status_code) == (500, 200)
    for response in (as_graphql, as_json):
        [error] = response.json()["errors"]
        assert error["message"] == "Unexpected error."
        assert error["extensions"]["requestId"] == response.headers["x-request-id"]
        assert "exploded" not in response.text
        assert response.headers["x-content-type-options"] == "nosniff"
    assert len([r for r in captured_logs.records if r.exc_info]) == 2


async def test_the_database_out_of_reach_before_execution_is_503_or_200_by_media_type(
    settings: Settings, deps: Dependencies, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import api.app

    def unreachable(*_: object) -> object:
        raise ConnectionRefusedError("connect call failed ('10.0.0.9', 5432)")

    monkeypatch.setattr(api.app, "Context", unreachable)
    transport = httpx.ASGITransport(app=create_app(settings, deps))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        as_graphql = await post(http, PROFILE_FIELDS, accept=GRAPHQL_RESPONSE)
        as_json = await post(http, PROFILE_FIELDS, accept=JSON)
        elsewhere = await http.get("/healthz")
    assert (as_graphql.status_code, as_json.status_code) == (503, 200)
    assert as_graphql.headers["content-type"] == GRAPHQL_RESPONSE
    for response in (as_graphql, as_json):
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert error["extensions"]["requestId"] == response.headers["x-request-id"]
        assert "10.0.0.9" not in response.text
        assert response.headers["retry-after"] == "5"
    assert elsewhere.status_code == 200
