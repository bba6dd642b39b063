"""Cross-site request forgery and CORS: a request signed in by the session cookie runs only as
JSON from an allowed origin; bearer tokens and anonymous calls are unaffected."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from domain.dependencies import Dependencies
from tests.api.documents import ME, REGISTER, UPDATE_PROFILE
from tests.api.test_export import REQUEST_EXPORT
from tests.conftest import settings_for, snapshot
from tests.factories import registration
from tests.graphql import OWN_ORIGIN

FRONT_END = "https://app.example.com"
FORGER = "https://forger.example"
CHANGE = json.dumps({"query": UPDATE_PROFILE, "variables": {"input": {"title": "Forged"}}})


@pytest.fixture
async def browser(
    database_url: str, deps: Dependencies, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose cookie jar holds a customer's session (the service allows FRONT_END)."""
    settings = settings_for(database_url, allowed_origins=FRONT_END)
    transport = httpx.ASGITransport(app=create_app(settings, deps))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        registered = await http.post(
            "/graphql",
            json={"query": REGISTER, "variables": {"input": registration()}},
            headers={"Origin": OWN_ORIGIN},
        )
        assert registered.json()["data"]["register"]["errors"] == []
        assert http.cookies
        yield http


async def change_title(http: httpx.AsyncClient, **headers: str) -> httpx.Response:
    return await http.post(
        "/graphql", content=CHANGE, headers={"Content-Type": "application/json", **headers}
    )


async def title(http: httpx.AsyncClient) -> Any:
    response = await http.post("/graphql", json={"query": ME}, headers={"Origin": OWN_ORIGIN})
    return response.json()["data"]["me"]["title"]


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no Origin, no Referer
        {"Origin": FORGER},
        {"Origin": "null"},  # a sandboxed frame or a file
        {"Origin": "http://app.example.com"},  # the front end's host, another scheme
        {"Referer": f"{FORGER}/page"},
        {"Origin": FRONT_END, "Content-Type": "text/plain"},  # a form or no-cors fetch
        {"Origin": FRONT_END, "Content-Type": "application/x-www-form-urlencoded"},
        {"Origin": FRONT_END, "Content-Type": "multipart/form-data; boundary=x"},
    ],
    ids=[
        "no-origin",
        "foreign",
        "null",
        "other-scheme",
        "foreign-referer",
        "text-plain",
        "form",
        "multipart",
    ],
)
async def test_a_cookie_request_from_elsewhere_is_refused_and_runs_nothing(
    browser: httpx.AsyncClient, engine: AsyncEngine, headers: dict[str, str]
) -> None:
    before = await snapshot(engine)
    response = await change_title(browser, **headers)
    assert response.status_code == 403
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert "session cookie" in error["message"]
    assert await snapshot(engine) == before
    assert await title(browser) is None


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": FRONT_END},
        {"Origin": OWN_ORIGIN},
        {"Referer": f"{OWN_ORIGIN}/graphql?tab=1"},  # a browser that left out Origin
        {"Origin": FRONT_END.upper() + ":443"},  # the same origin, spelt differently
    ],
    ids=["allowed", "own", "own-referer", "spelling"],
)
async def test_a_cookie_request_from_an_allowed_origin_runs(
    browser: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await change_title(browser, **headers)
    assert response.status_code == 200
    assert response.json()["data"]["updateProfile"]["errors"] == []
    assert await title(browser) == "Forged"


async def test_a_bearer_token_is_unaffected_even_beside_the_cookie(
    browser: httpx.AsyncClient,
) -> None:
    token = (
        await browser.post(
            "/graphql",
            json={
                "query": 'mutation { login(input: {email: "ada@example.com", '
                'password: "correct horse battery staple"}) { token } }'
            },
            headers={"Origin": OWN_ORIGIN},
        )
    ).json()["data"]["login"]["token"]
    response = await change_title(browser, Authorization=f"Bearer {token}", Origin=FORGER)
    assert response.status_code == 200
    assert response.json()["data"]["updateProfile"]["errors"] == []


async def test_a_call_without_credentials_is_unaffected(
    browser: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    browser.cookies.clear()
    response = await browser.post(
        "/graphql",
        json={"query": REGISTER, "variables": {"input": registration(email="eve@example.com")}},
        headers={"Origin": FORGER},
    )
    assert response.status_code == 200
    assert response.json()["data"]["register"]["errors"] == []


async def test_the_export_download_needs_no_origin(browser: httpx.AsyncClient) -> None:
    # A GET changes nothing a forger could want: the copy goes to the customer's own browser.
    export = (
        await browser.post(
            "/graphql", json={"query": REQUEST_EXPORT}, headers={"Origin": FRONT_END}
        )
    ).json()["data"]["requestDataExport"]["export"]
    download = await browser.get(export["downloadUrl"])
    assert download.status_code == 200
    assert download.json()["profile"]["email"] == "ada@example.com"
    assert download.headers["cache-control"] == "no-store"


async def test_cors_lets_the_allowed_front_end_read_answers_with_credentials(
    browser: httpx.AsyncClient,
) -> None:
    preflight = await browser.options(
        "/graphql",
        headers={
            "Origin": FRONT_END,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == FRONT_END
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert set(preflight.headers["access-control-allow-methods"].split(", ")) == {"GET", "POST"}
    answer = await browser.post("/graphql", json={"query": ME}, headers={"Origin": FRONT_END})
    assert answer.headers["access-control-allow-origin"] == FRONT_END
    assert answer.headers["access-control-allow-credentials"] == "true"


async def test_cors_gives_another_origin_nothing(browser: httpx.AsyncClient) -> None:
    preflight = await browser.options(
        "/graphql",
        headers={"Origin": FORGER, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    answer = await browser.post("/graphql", json={"query": "{ profileFields { name } }"})
    assert "access-control-allow-origin" not in answer.headers


@pytest.mark.parametrize("origin", [None, FRONT_END, FORGER])
async def test_every_answer_says_it_varies_by_origin(
    browser: httpx.AsyncClient, origin: str | None
) -> None:
    # whatever the origin (none, the front end's, another), caches must not give one origin's
    # answer to another
    headers = {"Origin": origin} if origin else {}
    answer = await browser.post(
        "/graphql", json={"query": "{ profileFields { name } }"}, headers=headers
    )
    assert answer.headers.get_list("vary") == ["Origin"]
    assert answer.headers.get("access-control-allow-origin") == (
        FRONT_END if origin == FRONT_END else None
    )
    # and the edge's own headers are there as on any answer
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-request-id"]


async def test_a_preflight_gets_the_edge_headers_too(browser: httpx.AsyncClient) -> None:
    preflight = await browser.options(
        "/graphql", headers={"Origin": FRONT_END, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 200
    # Starlette's preflight answer, its Vary as it gives it (not with a second Origin added)
    assert preflight.headers.get_list("vary") == [
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
        "Access-Control-Request-Private-Network"
    ]
    assert preflight.headers["x-content-type-options"] == "nosniff"
    assert preflight.headers["x-request-id"]
