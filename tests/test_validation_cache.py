"""GraphQL's validation rules run once per document text; the limits, which depend on the
variables, run on every request (api/validation.py)."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse, specified_rules

import api.validation
from api.limits import QueryLimits
from api.schema import schema
from api.validation import CACHED_DOCUMENT_MAX_CHARS, DocumentValidation

LIMITS = QueryLimits(max_depth=10, max_aliases=15, max_tokens=1_000, max_directives=50, max_cost=42)
PAGES = "query ($n: Int!) { me { requests(first: $n) { edges { cursor } } } }"
RULES = tuple(specified_rules)


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The documents graphql-core's validate was called on."""
    seen: list[Any] = []
    real = api.validation.validate

    def counting(graphql_schema: Any, document: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(document)
        return real(graphql_schema, document, *args, **kwargs)

    monkeypatch.setattr(api.validation, "validate", counting)
    return seen


def errors_of(validation: DocumentValidation, text: str, variables: dict[str, Any]) -> list[str]:
    found = validation.errors(schema._schema, text, parse(text), RULES, variables)
    return [error.message for error in found]


def test_a_document_is_validated_once_and_its_limits_every_time(validations: list[Any]) -> None:
    validation = DocumentValidation(LIMITS, hide_suggestions=False)
    assert errors_of(validation, PAGES, {"n": 20}) == []
    assert errors_of(validation, PAGES, {"n": 21}) == [
        "Query cost 44 found (each list counts as many times as the items it asks for). "
        "Allowed: 42."
    ]
    assert errors_of(validation, PAGES, {"n": 20}) == []
    assert len(validations) == 1


def test_a_document_the_rules_refuse_is_refused_again_from_the_cache(
    validations: list[Any],
) -> None:
    validation = DocumentValidation(LIMITS, hide_suggestions=True)
    for _ in range(2):
        assert errors_of(validation, "{ mee { id } }", {}) == [
            "Cannot query field 'mee' on type 'Query'."
        ]
    assert len(validations) == 1
    # the same text under other rules is another verdict
    validation.errors(schema._schema, "{ mee { id } }", parse("{ mee { id } }"), (), {})
    assert len(validations) == 2


def test_the_least_recently_used_document_leaves_a_full_cache(validations: list[Any]) -> None:
    validation = DocumentValidation(LIMITS, hide_suggestions=False, maxsize=2)
    first, second, third = "{ __typename }", "{ me { id } }", "{ me { email } }"
    for text in (first, second, first, third, first, second):
        errors_of(validation, text, {})
    # first, second, (first kept), third evicts second, (first kept), second again
    assert [d.loc.source.body for d in validations] == [first, second, third, second]


def test_a_long_document_is_validated_every_time(validations: list[Any]) -> None:
    validation = DocumentValidation(LIMITS, hide_suggestions=False)
    long = "{ me { id } }" + " " * CACHED_DOCUMENT_MAX_CHARS
    errors_of(validation, long, {})
    errors_of(validation, long, {})
    assert len(validations) == 2


def test_the_limits_of_a_document_without_variables_are_kept_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    walks: list[dict[str, Any]] = []
    real = api.validation.limit_errors

    def counting(*args: Any) -> Any:
        walks.append(args[2])
        return real(*args)

    monkeypatch.setattr(api.validation, "limit_errors", counting)
    validation = DocumentValidation(LIMITS, hide_suggestions=False)
    literal = "{ me { requests(first: 21) { edges { cursor } } } }"
    for _ in range(3):
        assert errors_of(validation, literal, {}) == [
            "Query cost 44 found (each list counts as many times as the items it asks for). "
            "Allowed: 42."
        ]
        errors_of(validation, PAGES, {"n": 1})
    # the literal document was walked once; the one with a variable at every request
    assert walks == [{}, {"n": 1}, {"n": 1}, {"n": 1}]
