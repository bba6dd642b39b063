"""Fuzzing over HTTP: operations generated from `schema.graphql` (valid ones with random argument
values, invalid ones, garbage documents and variables of the wrong type), sent by every kind of
caller. Whatever arrives, the answer is JSON below 500 and every error is one we meant to give.

CI runs a fixed, small number of examples with a derandomised seed; `scripts/fuzz` runs many more
with a random seed (DATARIGHTS_FUZZ_EXAMPLES, DATARIGHTS_FUZZ_SEED)."""

from __future__ import annotations

import builtins
import dataclasses
import json
import os
import re
import string
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, nodes
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.permission import BasePermission

from api.app import create_app
from api.permissions import IsCustomer, IsPartner
from api.schema import Mutation, Query, schema
from api.settings import Settings
from api.statistics import MayReadStatistics
from domain.consent.model import SharingPurpose
from domain.dependencies import Dependencies
from domain.partners.use_cases import create_partner
from domain.staff.model import StaffRole
from tests.api.helpers import register, staff_token
from tests.graphql import GraphQLClient

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = graphql.build_schema((ROOT / "schema.graphql").read_text())

# A long run (scripts/fuzz) asks for many examples of each test; CI affords a few (below).
EXAMPLES = int(os.environ.get("DATARIGHTS_FUZZ_EXAMPLES", "0"))
LONG_RUN = EXAMPLES > 0


def fuzzing(examples_in_ci: int) -> settings:
    """Hypothesis settings for one test: ``examples_in_ci`` in CI, else the long run's number."""
    return settings(
        max_examples=EXAMPLES or examples_in_ci,
        # CI must give the same verdict every time; the long run explores with a random seed
        # (pytest --hypothesis-seed, which scripts/fuzz passes and prints).
        derandomize=not LONG_RUN,
        database=None,
        # A request through the whole app and a real database takes milliseconds to a few
        # hundred (argon2 on a login): timing says nothing about correctness here.
        deadline=None,
        suppress_health_check=[
            # One client, one database and the same signed-in callers serve every example on
            # purpose: state builds up as it would on a real server.
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            # Generated documents are large by design.
            HealthCheck.data_too_large,
        ],
    )


# The codes a top-level error may carry: ours, and those of the limits. Never
# INTERNAL_SERVER_ERROR: every one found so far was a bug.
KNOWN_CODES = {
    "BAD_REQUEST",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "RATE_LIMITED",
    "SERVICE_UNAVAILABLE",
    "QUERY_TOO_COMPLEX",
}

_SCHEMA_NAMES = set(SCHEMA.type_map)
_EXCEPTION_NAME = re.compile(r"\b[A-Z]\w*(?:Error|Exception|Warning)\b")
_PYTHON_EXCEPTIONS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}
_INTERNALS = re.compile(
    r"Traceback \(most recent call last\)|File \"|\.py\b|"
    r"\b(?:sqlalchemy|asyncpg|aiosqlite|sqlite3|psycopg|strawberry|pydantic|starlette|fastapi|"
    r"api|domain|persistence)\.\w+|<[\w.]+ object at 0x"
)


def unmasked_leaks(message: str) -> list[str]:
    """What in a client-facing message betrays our internals: a traceback, a module path, the
    name of an exception class (GraphQL type names such as UserError are fine)."""
    found = [m.group(0) for m in _INTERNALS.finditer(message)]
    found += [
        name
        for name in _EXCEPTION_NAME.findall(message)
        if name not in _SCHEMA_NAMES or name in _PYTHON_EXCEPTIONS
    ]
    return found


# What the requests of this module met, printed after a long run (scripts/fuzz).
TALLY: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def tally() -> Iterator[None]:
    yield
    if LONG_RUN:
        print("\nfuzzing tally:", ", ".join(f"{k}: {v}" for k, v in sorted(TALLY.items())))


def assert_well_formed(response: httpx.Response, sent: object) -> None:
    """The answer to any request: below 500, JSON, and only errors we mean to give."""
    context = f"sent: {sent!r}\nanswer: {response.status_code} {response.text[:2000]}"
    assert response.status_code < 500, context
    assert "json" in response.headers.get("content-type", ""), context
    body = response.json()
    assert isinstance(body, dict), context
    assert "data" in body or "errors" in body, context
    TALLY["requests"] += 1
    if body.get("data") and any(value is not None for value in body["data"].values()):
        TALLY["with data"] += 1
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        TALLY[f"error {code}"] += 1
        assert code in KNOWN_CODES, context
    # Top-level errors and the UserErrors of payloads alike.
    for message in messages(body):
        assert not unmasked_leaks(message), context


def messages(value: Any) -> Iterator[str]:
    """Every `message` string anywhere in a response body."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "message" and isinstance(item, str):
                yield item
            else:
                yield from messages(item)
    elif isinstance(value, list):
        for item in value:
            yield from messages(item)


# -- what is sent ----------------------------------------------------------------------------


def _datetimes() -> st.SearchStrategy[graphql.ValueNode]:
    """Mostly well-formed instants (so resolvers run), sometimes anything at all."""
    aware = st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())
    naive = st.datetimes().map(lambda d: d.isoformat())
    return st.one_of(aware, aware, naive, st.text(max_size=30)).map(nodes.String)


def _decimals() -> st.SearchStrategy[graphql.ValueNode]:
    number = st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str)
    return st.one_of(
        number.map(nodes.String),
        st.integers().map(nodes.Int),
        st.text(max_size=10).map(nodes.String),
    )


def _ids(known: list[str]) -> st.SearchStrategy[graphql.ValueNode]:
    """Ids of real customers (so staff and partner reads find someone), random UUIDs, junk."""
    return st.one_of(
        st.sampled_from(known),
        st.uuids().map(str),
        st.text(max_size=40),
        st.integers(),
    ).map(nodes.String)


def _strings(known: list[str]) -> st.SearchStrategy[graphql.ValueNode]:
    """Any text, or text that passes the first checks (an e-mail of a real customer, a phone
    number, a card number, a note of enough words), so that more calls reach the database."""
    plausible = st.sampled_from([*known, *PLAUSIBLE_STRINGS])
    return st.one_of(
        st.text(max_size=60),
        plausible,
        # What PostgreSQL refuses (a NUL byte) or a column may not hold (a few thousand
        # characters), in text that would otherwise pass.
        st.tuples(plausible, st.sampled_from(["\x00", "\x1b[0m", "\u202e", "\ud7ff"])).map("".join),
        st.tuples(plausible, st.integers(2, 400)).map(lambda pair: pair[0] * pair[1]),
    ).map(nodes.String)


PLAUSIBLE_STRINGS = [
    "ada@example.com",
    "correct horse battery staple",
    "Ada Lovelace",
    "+44 20 7946 0958",
    "GB",
    "London",
    "SW1Y 4JH",
    "4242 4242 4242 4242",
    "123",
    "Ticket 4711: the customer asks why the invoice address changed",
    "https://partner.example/hooks",
    "1.0",
    "",
]


def _ints() -> st.SearchStrategy[graphql.ValueNode]:
    """Mostly the small numbers that page sizes, months and counts take; sometimes any Int."""
    return st.one_of(st.integers(-1, 120), st.integers(-(2**31), 2**31 - 1)).map(nodes.Int)


CALLERS = ["anonymous", "customer", "partner", "privacy officer", "support"]

# Operations that end the caller's session would leave the remaining examples unauthenticated:
# only anonymous callers send them (where they refuse or do nothing).
SESSION_ENDING = {"logout", "staffLogout"}
ROOT_FIELDS = [*SCHEMA.query_type.fields, *(SCHEMA.mutation_type or {}).fields]  # type: ignore[union-attr]


# An invalid operation needs an argument to get wrong.
WITH_ARGUMENTS = [
    name
    for root in (SCHEMA.query_type, SCHEMA.mutation_type)
    for name, definition in (root.fields if root else {}).items()
    if definition.args
]


def _callers_allowed(permissions: list[type[BasePermission]]) -> list[str]:
    """Who gets past these permission classes (declared on the resolvers in api/)."""
    if not permissions:
        return CALLERS
    if all(issubclass(p, IsCustomer) for p in permissions):
        return ["customer"]
    if all(issubclass(p, IsPartner) for p in permissions):
        return ["partner"]
    if all(issubclass(p, MayReadStatistics) for p in permissions):
        return ["partner", "privacy officer", "support"]
    return ["privacy officer", "support"]


SUITABLE = {
    schema.config.name_converter.from_field(field): _callers_allowed(field.permission_classes)
    for root in (Query, Mutation)
    for field in root.__strawberry_definition__.fields
}


def operations(
    mode: Mode, fields: tuple[str, ...], ids: list[str], strings: list[str]
) -> st.SearchStrategy[str]:
    """Operations that select some of these root fields, with arguments of random values."""
    scalars = {"DateTime": _datetimes(), "Decimal": _decimals()}
    if mode is Mode.POSITIVE:
        # Invalid operations are made by breaking the built-in scalars: leave those alone there.
        scalars |= {"ID": _ids(ids), "String": _strings(strings), "Int": _ints()}
    return from_schema(SCHEMA, fields=fields, custom_scalars=scalars, mode=mode)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


class _ArgumentsToVariables(graphql.Visitor):
    """Moves every argument value of a document into a variable of the argument's type."""

    def __init__(self, type_info: graphql.TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.definitions: list[graphql.VariableDefinitionNode] = []
        self.values: dict[str, Any] = {}

    def enter_argument(self, node: graphql.ArgumentNode, *_: Any) -> graphql.ArgumentNode | None:
        argument = self.type_info.get_argument()
        if argument is None:
            return None
        name = f"v{len(self.definitions)}"
        variable = graphql.VariableNode(name=graphql.NameNode(value=name))
        self.definitions.append(
            graphql.VariableDefinitionNode(
                variable=variable, type=graphql.parse_type(str(argument.type)), directives=()
            )
        )
        self.values[name] = graphql.value_from_ast_untyped(node.value)
        return graphql.ArgumentNode(name=node.name, value=variable)


def with_variables(document: str) -> tuple[str, dict[str, Any]]:
    """The same operation with its argument values sent as variables."""
    type_info = graphql.TypeInfo(SCHEMA)
    moved = _ArgumentsToVariables(type_info)
    edited = graphql.visit(graphql.parse(document), graphql.TypeInfoVisitor(type_info, moved))
    operation = edited.definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    operation = graphql.OperationDefinitionNode(
        operation=operation.operation,
        name=operation.name,
        variable_definitions=tuple(moved.definitions),
        directives=operation.directives,
        selection_set=operation.selection_set,
    )
    return graphql.print_ast(graphql.DocumentNode(definitions=(operation,))), moved.values


@st.composite
def requests(draw: st.DrawFn, callers: Callers, mode: Mode) -> tuple[str, str, Any]:
    """(caller, document, variables): a generated operation, its values inline or as variables,
    and sometimes a variable of the wrong type."""
    # Mostly one root field sent by a caller allowed to call it, so that each resolver gets
    # attention past its permission check; sometimes anyone, or several fields at once.
    if draw(st.integers(0, 4)):
        root = draw(st.sampled_from(ROOT_FIELDS if mode is Mode.POSITIVE else WITH_ARGUMENTS))
        caller = draw(st.sampled_from(SUITABLE[root] if draw(st.integers(0, 3)) else CALLERS))
        fields: tuple[str, ...] = (root,)
    else:
        caller = draw(st.sampled_from(CALLERS))
        fields = tuple(ROOT_FIELDS)
    if caller != "anonymous":
        fields = tuple(name for name in fields if name not in SESSION_ENDING) or ("me",)
    document = draw(callers.operations(mode, fields))
    if mode is Mode.NEGATIVE or not draw(st.booleans()):
        return caller, document, None
    document, variables = with_variables(document)
    if variables and draw(st.booleans()):
        wrong = draw(st.sampled_from(sorted(variables)))
        variables[wrong] = draw(JSON)
    return caller, document, variables


GRAPHQL_TOKENS = [
    *"{}()[]:!$=@|&",
    "...",
    "query",
    "mutation",
    "subscription",
    "fragment",
    "on",
    "null",
    "true",
    '"text"',
    '"""block"""',
    "-1",
    "1e309",
    "99999999999999999999",
    "$input",
    "@skip(if: true)",
    "@include(if: $x)",
    "__typename",
    "__schema",
    '__type(name: "Query")',
    *ROOT_FIELDS,
    "input",
    "errors",
    "id",
]


@st.composite
def garbage_documents(draw: st.DrawFn, callers: Callers) -> str:
    """Text that is rarely a valid document: random characters, shuffled GraphQL tokens, and
    generated operations cut short or spliced."""
    kind = draw(st.sampled_from(["text", "tokens", "cut", "splice"]))
    if kind == "text":
        return draw(st.text(max_size=300))
    if kind == "tokens":
        return " ".join(draw(st.lists(st.sampled_from(GRAPHQL_TOKENS), max_size=60)))
    document = draw(callers.operations(Mode.POSITIVE, (draw(st.sampled_from(ROOT_FIELDS)),)))
    at = draw(st.integers(0, len(document)))
    if kind == "cut":
        return document[:at]
    inserted = draw(st.text(alphabet=string.punctuation + string.ascii_letters, max_size=5))
    return document[:at] + inserted + document[at + draw(st.integers(0, 5)) :]


# -- who sends it ----------------------------------------------------------------------------


@dataclass
class Callers:
    """Who may send an operation, and what their operations may hold."""

    tokens: dict[str, str | None]
    ids: list[str]
    strings: list[str]
    # Built on first use: hypothesis-graphql does not cache strategies with custom scalars.
    built: dict[tuple[Mode, tuple[str, ...]], st.SearchStrategy[str]] = field(
        default_factory=dict, repr=False
    )

    def operations(self, mode: Mode, fields: tuple[str, ...]) -> st.SearchStrategy[str]:
        key = (mode, fields)
        if key not in self.built:
            self.built[key] = operations(mode, fields, self.ids, self.strings)
        return self.built[key]


@pytest.fixture
async def served(
    settings: Settings, deps: Dependencies, engine: AsyncEngine
) -> AsyncIterator[GraphQLClient]:
    """As the `client` fixture, except that a crash answers 500 as a server would, rather than
    raising into the test, so that the failure shows the request that caused it."""
    app = create_app(settings, deps)
    transport = httpx.ASGITransport(
        app=app, raise_app_exceptions=False, client=("203.0.113.9", 50000)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


@pytest.fixture
async def callers(served: GraphQLClient, deps: Dependencies) -> Callers:
    """A customer, a partner registered for every purpose and two members of staff, signed in,
    so that generated operations get past the permission checks."""
    email = f"fuzz-{uuid.uuid4().hex[:8]}@example.com"
    token, customer = await register(served, email=email)
    export = await served.data(REQUEST_EXPORT, token=token)
    request_id = export["requestDataExport"]["request"]["id"]
    partner = await create_partner(deps, f"fuzz {uuid.uuid4().hex[:8]}", list(SharingPurpose))
    return Callers(
        tokens={
            "anonymous": None,
            "customer": token,
            "partner": partner.key,
            "privacy officer": await staff_token(served, deps, StaffRole.PRIVACY_OFFICER),
            "support": await staff_token(served, deps, StaffRole.SUPPORT),
        },
        ids=[customer["id"], request_id],
        strings=[email],
    )


REQUEST_EXPORT = "mutation { requestDataExport { request { id } errors { code } } }"


ACCEPTS = ["application/json", "application/graphql-response+json", "*/*"]


async def send(
    served: GraphQLClient,
    callers: Callers,
    caller: str,
    body: dict[str, Any],
    accept: str = "application/json",
) -> None:
    headers = {"Accept": accept}
    token = callers.tokens[caller]
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = await served.http.post("/graphql", json=body, headers=headers)
    assert_well_formed(response, {"caller": caller, **body})


# -- the tests -------------------------------------------------------------------------------


@fuzzing(examples_in_ci=120)
@given(data=st.data())
async def test_valid_operations_never_fail_unexpectedly(
    served: GraphQLClient, callers: Callers, data: st.DataObject
) -> None:
    caller, document, variables = data.draw(requests(callers, Mode.POSITIVE))
    body: dict[str, Any] = {"query": document}
    if variables is not None:
        body["variables"] = variables
    await send(served, callers, caller, body, data.draw(st.sampled_from(ACCEPTS)))


@fuzzing(examples_in_ci=100)
@given(data=st.data())
async def test_invalid_operations_are_refused_as_bad_requests(
    served: GraphQLClient, callers: Callers, data: st.DataObject
) -> None:
    caller, document, _ = data.draw(requests(callers, Mode.NEGATIVE))
    await send(served, callers, caller, {"query": document}, data.draw(st.sampled_from(ACCEPTS)))


@fuzzing(examples_in_ci=100)
@given(data=st.data())
async def test_garbage_documents_are_refused_as_bad_requests(
    served: GraphQLClient, callers: Callers, data: st.DataObject
) -> None:
    caller = data.draw(st.sampled_from(CALLERS))
    body: dict[str, Any] = {"query": data.draw(garbage_documents(callers))}
    if data.draw(st.booleans()):
        body["variables"] = data.draw(st.dictionaries(st.text(max_size=8), JSON, max_size=3))
    if data.draw(st.booleans()):
        body["operationName"] = data.draw(st.none() | st.text(max_size=10) | JSON)
    await send(served, callers, caller, body, data.draw(st.sampled_from(ACCEPTS)))


NOT_GRAPHQL = st.one_of(
    JSON.map(lambda value: json.dumps(value).encode()),
    st.dictionaries(
        st.sampled_from(["query", "variables", "operationName", "extensions", "id"]) | st.text(),
        JSON,
        max_size=4,
    ).map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=100),
)


@fuzzing(examples_in_ci=60)
@given(data=st.data())
async def test_bodies_that_are_no_graphql_request_are_refused(
    served: GraphQLClient, callers: Callers, data: st.DataObject
) -> None:
    body = data.draw(NOT_GRAPHQL)
    headers = {"Content-Type": "application/json", "Accept": data.draw(st.sampled_from(ACCEPTS))}
    response = await served.http.post("/graphql", content=body, headers=headers)
    assert_well_formed(response, body)


# -- the fuzzer's own parts ------------------------------------------------------------------


def test_the_leak_check_tells_our_internals_from_graphql_names() -> None:
    assert unmasked_leaks("Cannot query field 'nickname' on type 'UserError'.") == []
    assert unmasked_leaks("KeyError: 'email'") == ["KeyError"]
    assert unmasked_leaks("(sqlalchemy.exc.DBAPIError) <class 'asyncpg.exceptions.X'>") == [
        "sqlalchemy.exc",
        "asyncpg.exceptions",
        "DBAPIError",
    ]
    assert "Traceback (most recent call last)" in unmasked_leaks(
        'Traceback (most recent call last):\n  File "api/app.py", line 1'
    )


def test_arguments_move_into_variables_of_their_types() -> None:
    document, variables = with_variables(
        '{ consentStateAt(customerId: "c1", purpose: PARTNER_OFFERS, at: "2027-01-01T00:00:00Z")'
        " { granted } me { consentHistory(first: 3) { edges { cursor } } } }"
    )

    assert graphql.validate(SCHEMA, graphql.parse(document)) == []
    assert "($v0: ID!, $v1: SharingPurpose!, $v2: DateTime!, $v3: Int!)" in document
    assert variables == {
        "v0": "c1",
        "v1": "PARTNER_OFFERS",
        "v2": "2027-01-01T00:00:00Z",
        "v3": 3,
    }


class _FaultyUnitOfWork:
    def __call__(self) -> object:
        raise RuntimeError("the fuzzer must notice this")


async def test_the_check_notices_a_masked_fault(
    settings: Settings, deps: Dependencies, engine: AsyncEngine
) -> None:
    # given an app whose every database call fails
    app = create_app(settings, dataclasses.replace(deps, unit_of_work=_FaultyUnitOfWork()))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    body = {"query": 'mutation { login(input: {email: "a@example.com", password: "x"}) { token } }'}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        # when
        response = await http.post("/graphql", json=body)
    # then
    with pytest.raises(AssertionError, match="INTERNAL_SERVER_ERROR"):
        assert_well_formed(response, body)
