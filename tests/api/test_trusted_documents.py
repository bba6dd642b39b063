"""Trusted documents: a manifest loaded all or nothing, requests by documentId and by Apollo's
persistedQuery, the switch that allows nothing else, and the prepared `me` and `consentStates`,
by trusted document or by text, which must answer exactly as the general path does."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import parse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.documents.prepared import PreparedConsentStates, PreparedMe, prepare_me
from api.documents.router import TrustedDocumentsRouter
from api.settings import Settings
from domain.dependencies import Dependencies
from domain.documents.model import document_hash
from persistence.repositories.trusted_documents import SqlTrustedDocumentRepository
from persistence.tables import trusted_documents
from tests.api.documents import CUSTOMER_FIELDS
from tests.api.helpers import register, staff_token
from tests.api.test_partners import new_partner
from tests.conftest import FakeClock
from tests.graphql import OWN_ORIGIN, GraphQLClient
from tests.statements import counted_statements

ME_FULL = f"query Me {{ me {{ {CUSTOMER_FIELDS} }} }}"
ME_SMALL = "query MeSmall { me { email name version __typename } }"
ME_FRAGMENTS = """
query MeFragments {
  __typename
  profile: me { ...Contact billing { card { last4 } ... on Billing { name } } }
  me { id }
}
fragment Contact on Customer { email phone address { city } address { country __typename } }
"""
ME_WITH_PREFERENCES = (
    "query MePreferences { me { email communicationPreferences { topic subscribed } } }"
)
SHARE = """
mutation Share($input: SetSharingPreferencesInput!) {
  setSharingPreferences(input: $input) { sharingPreferences { purpose granted } errors { code } }
}
"""
STATES = """
query States($ids: [ID!]!) { consentStates(customerIds: $ids) { customerId purpose granted } }
"""
TRUSTED = [ME_FULL, ME_SMALL, ME_FRAGMENTS, ME_WITH_PREFERENCES, SHARE, STATES]
PREPARED = [ME_FULL, ME_SMALL, ME_FRAGMENTS]
AD_HOC_ME = "{ me { email } }"


def manifest(documents: list[str], prefixed: bool = False) -> dict[str, str]:
    prefix = "sha256:" if prefixed else ""
    return {prefix + document_hash(document): document for document in documents}


@pytest.fixture
def load(cli: Any, tmp_path: Path) -> Any:
    """`datarights documents load` of a manifest: (exit code, stdout, stderr)."""

    async def run(entries: dict[str, Any]) -> tuple[int, str, str]:
        path = tmp_path / "manifest.json"
        path.write_text(json.dumps(entries))
        result: tuple[int, str, str] = await cli("documents", "load", str(path))
        return result

    return run


class Client:
    """Posts raw GraphQL-over-HTTP bodies, as a front end with trusted documents does."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(self, body: dict[str, Any], token: str | None = None) -> httpx.Response:
        headers = {"Origin": OWN_ORIGIN}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return await self.http.post("/graphql", json=body, headers=headers)

    async def by_text(self, document: str, token: str | None = None, **body: Any) -> Any:
        return await self.post({"query": document, **body}, token)

    async def by_id(self, document: str, token: str | None = None, **body: Any) -> Any:
        return await self.post({"documentId": f"sha256:{document_hash(document)}", **body}, token)

    async def by_general(self, document: str, token: str | None = None, **body: Any) -> Any:
        """The text answered by the general path alone (graphql-core), the prepared one off."""

        async def general_path(*_: Any) -> None:
            return None

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(TrustedDocumentsRouter, "prepared_answer", general_path)
            return await self.by_text(document, token, **body)


@contextmanager
def prepared_answers(plan: type[PreparedMe] | type[PreparedConsentStates]) -> Iterator[list[int]]:
    """One entry for each answer the plan's class gives meanwhile."""
    answers: list[int] = []
    data = plan.data

    def counted(self: Any, source: Any) -> dict[str, Any]:
        answers.append(1)
        return data(self, source)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plan, "data", counted)
        yield answers


@contextmanager
def app_client(settings: Settings, deps: Dependencies) -> Iterator[Client]:
    app = create_app(settings, deps)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
    yield Client(httpx.AsyncClient(transport=transport, base_url="http://testserver"))


@pytest.fixture
async def client(
    settings: Settings, deps: Dependencies, engine: AsyncEngine, clock: FakeClock
) -> AsyncIterator[Client]:
    with app_client(settings, dataclasses.replace(deps, clock=clock)) as trusted:
        yield trusted


def same(a: httpx.Response, b: httpx.Response) -> None:
    """The same status, media type and JSON: keys, values and their order."""
    assert (a.status_code, a.headers["content-type"]) == (b.status_code, b.headers["content-type"])
    assert json.dumps(a.json()) == json.dumps(b.json())


async def test_every_trusted_document_answers_as_its_text_does_whoever_calls(
    client: Client, load: Any, deps: Dependencies, clock: FakeClock, engine: AsyncEngine
) -> None:
    # given every document trusted, a customer, a partner and the variables each needs
    assert (await load(manifest(TRUSTED)))[0] == 0
    http = client.http
    customer_token, customer = await register_by(http)
    partner_key = await new_partner(deps)
    variables = {
        SHARE: {"input": {"preferences": [{"purpose": "PARTNER_OFFERS", "granted": True}]}},
        STATES: {"ids": [customer["id"]]},
    }

    async def both_paths(token: str | None) -> None:
        for document in TRUSTED:
            extra = {"variables": variables[document]} if document in variables else {}
            general = await client.by_general(document, token, **extra)
            same(general, await client.by_id(document, token, **extra))
            same(general, await client.by_text(document, token, **extra))

    # when and then: signed in (a fresh session), for a partner, and with no session at all
    clock.advance(seconds=10)
    await both_paths(customer_token)
    with counted_statements(engine, data_only=True) as seen:
        response = await client.by_id(ME_FULL, customer_token)
    assert response.json()["data"]["me"]["id"] == customer["id"]
    assert len(seen) == 1  # the prepared path: the session and the customer in one statement
    await both_paths(partner_key)
    await both_paths(None)
    # a session whose idle clock is due a refresh, then one that has expired
    clock.advance(minutes=2)
    await both_paths(customer_token)
    clock.advance(hours=1)
    await both_paths(customer_token)
    assert (await client.by_id(ME_SMALL, customer_token)).json() == {"data": {"me": None}}


async def test_the_prepared_path_answers_the_me_subset_in_one_statement(
    client: Client, load: Any, engine: AsyncEngine, clock: FakeClock
) -> None:
    await load(manifest(TRUSTED))
    token, _ = await register_by(client.http)
    clock.advance(seconds=5)
    for document in [ME_FULL, ME_SMALL, ME_FRAGMENTS, ME_WITH_PREFERENCES]:
        await client.by_id(document, token)  # the first use of a hash looks it up
        with counted_statements(engine, data_only=True) as seen:
            response = await client.by_id(document, token)
        assert "errors" not in response.json()
        # the session and the customer in one statement; preferences take the general path
        assert (len(seen) == 1) == (document in PREPARED), (document, seen)
        # and the same text, sent as text, is planned once and answered the same way
        with prepared_answers(PreparedMe) as answers:
            assert (await client.by_text(document, token)).json() == response.json()
        assert answers == ([1] if document in PREPARED else []), document


async def test_many_requests_at_once_are_all_answered_by_the_prepared_path(
    client: Client, settings: Settings, clock: FakeClock
) -> None:
    # given more `me` requests at once than the pool has connections (on PostgreSQL the read
    # pool's, on SQLite the engine's)
    token, _ = await register_by(client.http)
    clock.advance(seconds=5)
    many = 4 * max(settings.database_pool_size, settings.database_read_pool_size)
    # when they all come together
    with prepared_answers(PreparedMe) as answers:
        responses = await asyncio.gather(*(client.by_text(ME_SMALL, token) for _ in range(many)))
    # then each waited for a connection and was answered by the prepared path (a full pool once
    # sent them to graphql-core: under load, most of them; docs/performance.md, row 34)
    assert {json.dumps(r.json(), sort_keys=True) for r in responses} == {
        json.dumps((await client.by_general(ME_SMALL, token)).json(), sort_keys=True)
    }
    assert len(answers) == many


STATES_FULL = """
query Poll($ids: [ID!]!, $purposes: [SharingPurpose!]) {
  consentStates(customerIds: $ids, purposes: $purposes) {
    __typename customerId purpose granted when: updatedAt
  }
  __typename
}
"""
STATES_WRITTEN = """
query Offers($ids: [ID!]!) {
  offers: consentStates(customerIds: $ids, purposes: [PARTNER_OFFERS]) { ...State }
}
fragment State on ConsentState { customerId granted updatedAt }
"""


async def test_a_partner_poll_by_trusted_document_or_text_answers_as_the_general_path_does(
    client: Client, load: Any, deps: Dependencies, clock: FakeClock, engine: AsyncEngine
) -> None:
    # given the two polls trusted, customers (one of whom has chosen) and a partner
    await load(manifest([STATES_FULL, STATES_WRITTEN]))
    token, customer = await register_by(client.http)
    share = {"input": {"preferences": [{"purpose": "PARTNER_OFFERS", "granted": True}]}}
    assert "errors" not in (await client.by_text(SHARE, token, variables=share)).json()
    clock.advance(seconds=10)
    partner_key = await new_partner(deps)
    # the same customer twice (once in capitals), an unknown one, and no id at all
    ids = [customer["id"], str(uuid.uuid4()), "not-a-uuid", customer["id"].upper()]
    answered = [
        (STATES_FULL, {"ids": ids}),
        (STATES_FULL, {"ids": ids, "purposes": ["PARTNER_OFFERS", "PARTNER_OFFERS"]}),
        (STATES_FULL, {"ids": ids, "purposes": None}),
        (STATES_FULL, {"ids": []}),
        (STATES_WRITTEN, {"ids": ids}),
    ]
    # what the general path answers with an error or after coercing the variables
    general_only = [
        (STATES_FULL, {"ids": [str(uuid.uuid4()) for _ in range(1_001)]}),  # over the limit
        (STATES_FULL, {"ids": ids, "purposes": ["NOT_A_PURPOSE"]}),
        (STATES_FULL, {"ids": ids, "purposes": ["ANALYTICS_COOKIES"]}),  # not registered for
        (STATES_FULL, {"ids": [7, customer["id"]]}),  # an Int is coerced to an ID
        (STATES_FULL, {"ids": customer["id"]}),  # a single value is coerced to a list
        (STATES_FULL, {"ids": ids, "extra": 1}),
        (STATES_FULL, {}),
        (STATES_WRITTEN, {"ids": None}),
    ]
    for caller in (partner_key, token, None, "drp_not-a-key"):
        for document, variables in answered + general_only:
            general = await client.by_general(document, caller, variables=variables)
            prepared = caller == partner_key and (document, variables) in answered
            for send in (client.by_id, client.by_text):
                with prepared_answers(PreparedConsentStates) as answers:
                    same(general, await send(document, caller, variables=variables))
                assert answers == ([1] if prepared else []), (send, document, variables)
    # and a prepared poll reads as the general one does: the partner's key, the states, and the
    # read log
    with counted_statements(engine, data_only=True) as seen:
        poll = await client.by_id(STATES_FULL, partner_key, variables={"ids": ids})
    states = poll.json()["data"]["consentStates"]
    offers = [s for s in states if s["purpose"] == "PARTNER_OFFERS"]
    assert [s["customerId"] for s in offers] == ids
    assert [s["granted"] for s in offers] == [True, False, False, True]
    assert offers[0]["when"] is not None
    assert offers[0]["when"] == offers[3]["when"]
    assert len(seen) == 4, seen


async def test_a_text_the_general_path_refuses_is_answered_by_it(
    client: Client, settings: Settings, deps: Dependencies
) -> None:
    # given a customer, and texts that are each in the prepared subset but for one fault
    token, _ = await register_by(client.http)
    deep = "query { me { billing { address { city } } } }"
    refused = [
        "query { me { nam } }",  # no such field (development suggests one)
        "query { me { email ",  # a syntax error
        "query Me { me { email } }",  # sent with another operation's name (below)
        "query { " + " ".join(f"a{i}: me {{ email }}" for i in range(40)) + " }",  # aliases
        deep,
    ]
    strict = settings.model_copy(update={"graphql_max_depth": 2})
    for app_settings in (settings, strict):
        with app_client(app_settings, deps) as limited:
            for text in refused if app_settings is strict else refused[:-1]:
                extra = {"operationName": "Other"} if text.startswith("query Me") else {}
                general = await limited.by_general(text, token, **extra)
                with prepared_answers(PreparedMe) as answers:
                    same(general, await limited.by_text(text, token, **extra))
                assert answers == [], text
                assert "errors" in general.json(), text
    # while the deep text within the default limits is prepared
    with prepared_answers(PreparedMe) as answers:
        assert "errors" not in (await client.by_text(deep, token)).json()
    assert answers == [1]


async def test_texts_are_not_prepared_when_the_setting_says_so(
    settings: Settings, deps: Dependencies, engine: AsyncEngine
) -> None:
    off = settings.model_copy(update={"prepare_texts": False})
    with app_client(off, deps) as client:
        token, customer = await register_by(client.http)
        with prepared_answers(PreparedMe) as answers:
            response = await client.by_text(ME_SMALL, token)
        assert response.json()["data"]["me"]["email"] == customer["email"]
        assert answers == []


async def test_a_gpc_signal_is_honoured_on_the_trusted_path_as_on_the_general_one(
    client: Client, load: Any
) -> None:
    await load(manifest([ME_SMALL]))
    token, _ = await register_by(client.http)
    headers = {"Origin": OWN_ORIGIN, "Authorization": f"Bearer {token}", "Sec-GPC": "1"}
    body = {"documentId": f"sha256:{document_hash(ME_SMALL)}"}
    for _ in range(2):  # the first starts an episode (a write), the second is within it
        response = await client.http.post("/graphql", json=body, headers=headers)
        assert response.json()["data"]["me"]["version"] == 1
    general = await client.http.post("/graphql", json={"query": ME_SMALL}, headers=headers)
    same(general, response)


async def test_a_bad_manifest_is_refused_whole_with_a_line_per_bad_entry(
    client: Client, load: Any, engine: AsyncEngine
) -> None:
    # given a manifest with one good entry, a hash that is not its document's, and an invalid one
    good = manifest([ME_SMALL], prefixed=True)
    wrong_hash = {document_hash("query { other }"): ME_FULL}
    invalid = manifest(["query { mee { email } }"])
    # when
    code, _out, err = await load({**good, **wrong_hash, **invalid})
    # then
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 3, err
    assert "not the SHA-256 of its document" in lines[0]
    assert "Cannot query field 'mee'" in lines[1]
    assert lines[2] == "datarights: nothing loaded"
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(trusted_documents)) == 0


async def test_a_manifest_loads_once_and_lists(client: Client, load: Any, cli: Any) -> None:
    code, out, _ = await load(manifest([ME_SMALL, STATES], prefixed=True))
    assert (code, out.strip()) == (0, "2 trusted documents loaded, 0 already trusted")
    code, out, _ = await load(manifest([ME_SMALL]))
    assert (code, out.strip()) == (0, "0 trusted documents loaded, 1 already trusted")
    code, out, _ = await cli("documents", "list")
    assert code == 0
    assert sorted(line.split()[-1] for line in out.splitlines()) == ["MeSmall", "States"]
    assert f"sha256:{document_hash(STATES)}" in out


async def test_requests_name_a_document_by_document_id_or_apollo_persisted_query(
    client: Client, load: Any
) -> None:
    await load(manifest([ME_WITH_PREFERENCES]))
    token, customer = await register_by(client.http)
    digest = document_hash(ME_WITH_PREFERENCES)
    apollo = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    for body in ({"documentId": f"sha256:{digest}"}, {"documentId": digest}, apollo):
        response = await client.post(body, token)
        assert response.json()["data"]["me"]["email"] == customer["email"]
    # Apollo's retry with the text and its hash runs it too
    response = await client.post({"query": ME_WITH_PREFERENCES, **apollo}, token)
    assert response.json()["data"]["me"]["email"] == customer["email"]


async def test_an_unknown_hash_answers_persisted_query_not_found(client: Client, load: Any) -> None:
    await load(manifest([ME_SMALL]))
    unknown = document_hash("query { me { id } }")
    apollo = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": unknown}}}
    for body in ({"documentId": f"sha256:{unknown}"}, apollo, {"documentId": "not-a-hash"}):
        response = await client.post(body)
        assert response.status_code == 200
        assert response.json() == {
            "errors": [
                {
                    "message": "PersistedQueryNotFound",
                    "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
                }
            ]
        }
    strict = await client.http.post(
        "/graphql",
        json={"documentId": f"sha256:{unknown}"},
        headers={"Accept": "application/graphql-response+json"},
    )
    assert strict.status_code == 400
    wrong = await client.post({"query": ME_FULL, **apollo})
    assert wrong.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_trusted_documents_only_refuses_a_customer_and_lets_a_partner_through(
    settings: Settings, deps: Dependencies, engine: AsyncEngine, load: Any
) -> None:
    # given the production switch, a customer, a partner and a trusted `me`
    await load(manifest([ME_SMALL, STATES]))
    strict = settings.model_copy(update={"trusted_documents_only": True})
    with app_client(strict, deps) as client:
        token, customer = await register_by(client.http)
        partner_key = await new_partner(deps)
        # when a customer and an anonymous caller send ad-hoc operations
        refused = [await client.by_text(AD_HOC_ME, token), await client.by_text(AD_HOC_ME)]
        # then both are refused, with nothing run
        for response in refused:
            assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"
            assert "data" not in response.json()
        # trusted documents still run, and a partner may send its own operations
        assert (await client.by_id(ME_SMALL, token)).json()["data"]["me"]["version"] == 1
        ad_hoc = "query ($ids: [ID!]!) { consentStates(customerIds: $ids) { granted } }"
        with prepared_answers(PreparedConsentStates) as answers:
            response = await client.by_text(
                ad_hoc, partner_key, variables={"ids": [customer["id"]]}
            )
        assert "errors" not in response.json()
        assert answers == [1]  # planned, as a trusted document is
        # nor does a customer's text get through as a partner's poll
        refused_poll = await client.by_text(ad_hoc, token, variables={"ids": [customer["id"]]})
        assert refused_poll.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"
    # unless partners are not exempt
    closed = strict.model_copy(update={"trusted_documents_partners_exempt": False})
    with app_client(closed, deps) as client:
        response = await client.by_text(ad_hoc, partner_key, variables={"ids": [customer["id"]]})
        assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"
        by_id = await client.by_id(STATES, partner_key, variables={"ids": [customer["id"]]})
        assert "errors" not in by_id.json()


async def register_by(http: httpx.AsyncClient) -> Any:
    """A registered customer's (token, customer); with the switch on, registering is an ad-hoc
    operation too, so it goes through an app without the switch."""
    plain = GraphQLClient(http)
    if http._transport.app.state.settings.trusted_documents_only:  # type: ignore[attr-defined]
        # The switch refuses ad-hoc registration: register through an app without it.
        app = create_app(
            http._transport.app.state.settings.model_copy(  # type: ignore[attr-defined]
                update={"trusted_documents_only": False}
            ),
            http._transport.app.state.deps,  # type: ignore[attr-defined]
        )
        transport = httpx.ASGITransport(app=app, client=("203.0.113.10", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
            return await register(GraphQLClient(other))
    return await register(plain)


async def test_staff_are_exempt_from_the_switch_unless_it_says_otherwise(
    settings: Settings, deps: Dependencies, engine: AsyncEngine
) -> None:
    # given a member of staff signed in (through an app without the switch)
    with app_client(settings, deps) as open_client:
        token = await staff_token(GraphQLClient(open_client.http), deps)
    ad_hoc = "query { requests(first: 1) { edges { cursor } } }"
    strict = settings.model_copy(update={"trusted_documents_only": True})
    # when and then: exempt by default; refused when staff are not exempt; a forged token too
    with app_client(strict, deps) as client:
        assert "errors" not in (await client.by_text(ad_hoc, token)).json()
        forged = await client.by_text(ad_hoc, token[:-4] + "AAAA")
        assert forged.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"
    closed = strict.model_copy(update={"trusted_documents_staff_exempt": False})
    with app_client(closed, deps) as client:
        refused = await client.by_text(ad_hoc, token)
        assert refused.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"


async def test_a_fault_on_the_prepared_path_leaves_the_answer_to_the_general_one(
    client: Client, load: Any, monkeypatch: pytest.MonkeyPatch, captured_logs: Any
) -> None:
    # given a trusted `me` whose prepared answer breaks while it is encoded
    await load(manifest([ME_SMALL]))
    token, _ = await register_by(client.http)
    expected = (await client.by_text(ME_SMALL, token)).json()

    def broken_plan(*_args: Any) -> None:
        raise RuntimeError("the plan broke")

    monkeypatch.setattr(PreparedMe, "data", broken_plan)
    # when and then: the general path answers, as it would have
    assert (await client.by_id(ME_SMALL, token)).json() == expected

    # and a fault looking a document up is masked, its detail only in the log
    async def broken(*_args: Any) -> None:
        raise RuntimeError("the read model broke")

    monkeypatch.setattr(SqlTrustedDocumentRepository, "get", broken)
    unknown = await client.post({"documentId": document_hash("query Other { me { id } }")})
    error = unknown.json()["errors"][0]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "broke" not in unknown.text
    assert "the read model broke" in captured_logs.text


@pytest.mark.parametrize(
    "document",
    [
        "query ($skip: Boolean!) { me { email @skip(if: $skip) } }",
        "query { me { email } profileFields { key } }",
        "query { me { requests(first: 1) { totalCount } } }",
        "mutation { logout { ended } }",
        "query A { me { id } } query B { me { email } }",
        "query { me { ... @include(if: true) { email } } }",
    ],
)
def test_only_plain_me_selections_are_prepared(document: str) -> None:
    assert prepare_me(parse(document)) is None


def test_a_prepared_me_merges_fields_as_graphql_collects_them() -> None:
    plan = prepare_me(parse(ME_FRAGMENTS))
    assert plan is not None
    assert plan.data(None) == {"__typename": "Query", "profile": None, "me": None}
