"""Validation of each request's document: GraphQL's rules once per document, the limits every
time.

Validating a document against the schema (graphql-core's ``validate``: every specified rule
walking the document with its type information) was the largest cost of an ordinary request:
about 45 % of a worker's CPU time on an ad-hoc `me` under load (``bench/sample_profile.py``; see
docs/performance.md). Its result depends on the document and the rules alone, and front ends send
the same few documents again and again, so it is kept per document text, as the parsed document
is (:class:`PrepareDocument`). What depends on the request's variables (page sizes,
list lengths, cost: ``api.limits.limit_errors``) is a plain walk of the document, run every time
the document declares variables (and kept with the rest when it declares none).

Strawberry's own ``ValidationCache`` cannot be used: it caches on the document alone while the
limits depend on the variables, and it validates with suggestions ("Did you mean …"), which
production must not give."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    validate,
)
from graphql import parse as graphql_parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from api.limits import QueryLimits, directive_limit, limit_errors

# Documents longer than this are validated every time rather than kept: a cache of a few hundred
# documents must not become a store of megabyte-sized request bodies.
CACHED_DOCUMENT_MAX_CHARS = 16_384


class DocumentValidation:
    """The schema's validation with the request limits, one per schema: what each request's
    :class:`PrepareDocument` extension calls. Keeps the rules' verdict on the ``maxsize`` most
    recently used document texts."""

    def __init__(self, limits: QueryLimits, *, hide_suggestions: bool, maxsize: int = 256) -> None:
        self.limits = limits
        self.hide_suggestions = hide_suggestions
        self.maxsize = maxsize
        self._directives = directive_limit(limits.max_directives)
        # (text, rules) → (what the rules found, the limits' verdict when no variable can
        # change it)
        self._verdicts: OrderedDict[
            tuple[str, tuple[type[ASTValidationRule], ...]],
            tuple[tuple[GraphQLError, ...], tuple[GraphQLError, ...] | None],
        ] = OrderedDict()

    def errors(
        self,
        schema: GraphQLSchema,
        text: str | None,
        document: DocumentNode,
        rules: tuple[type[ASTValidationRule], ...],
        variables: dict[str, Any],
    ) -> list[GraphQLError]:
        """GraphQL's rules (``rules`` and the two of Strawberry's), the directive limit, and the
        limits that depend on the variables (kept too when the document declares none)."""
        cacheable = text is not None and len(text) <= CACHED_DOCUMENT_MAX_CHARS
        key = (text or "", rules)
        verdict = self._verdicts.get(key) if cacheable else None
        if verdict is None:
            found = validate(
                schema,
                document,
                (*rules, MaybeNullValidationRule, OneOfInputValidationRule, self._directives),
                hide_suggestions=self.hide_suggestions,
            )
            fixed = None if _declares_variables(document) else self._limits(schema, document, {})
            verdict = (tuple(found), fixed)
            if cacheable:
                self._verdicts[key] = verdict
                if len(self._verdicts) > self.maxsize:
                    self._verdicts.popitem(last=False)
        elif cacheable:
            self._verdicts.move_to_end(key)
        found_by_rules, fixed = verdict
        limits = fixed if fixed is not None else self._limits(schema, document, variables)
        return [*found_by_rules, *limits]

    def _limits(
        self, schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any]
    ) -> tuple[GraphQLError, ...]:
        return tuple(limit_errors(schema, document, variables, self.limits))


def _declares_variables(document: DocumentNode) -> bool:
    return any(
        isinstance(definition, OperationDefinitionNode) and definition.variable_definitions
        for definition in document.definitions
    )


class PrepareDocument(SchemaExtension):
    """Strawberry's parse and validation steps for each request, in one extension: the
    document parsed within the token limit and kept per text (as Strawberry's ``ParserCache``,
    a syntax error excepted), then :class:`DocumentValidation`, after which Strawberry skips
    its own validation (it validates only when no extension has). One extension where there
    were three (the parse cache, the token limit, the validation): each costs every request
    its hooks (bench/sample_profile.py)."""

    def __init__(self, validation: DocumentValidation, parse: Callable[..., DocumentNode]) -> None:
        self.validation = validation
        self.parse = parse

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.graphql_document = self.parse(
            context.query, **context.parse_options, max_tokens=self.validation.limits.max_tokens
        )
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        variables = context.variables if isinstance(context.variables, dict) else {}
        context.pre_execution_errors = self.validation.errors(
            context.schema._schema,
            context.query,
            context.graphql_document,
            tuple(context.validation_rules),
            variables,
        )
        yield


def document_preparation(
    validation: DocumentValidation, maxsize: int = 256
) -> Callable[[], PrepareDocument]:
    """The factory of each request's :class:`PrepareDocument`, sharing one cache of the
    ``maxsize`` most recently parsed document texts."""
    parse = lru_cache(maxsize=maxsize)(graphql_parse)
    return lambda: PrepareDocument(validation, parse)
