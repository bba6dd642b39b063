"""A manifest of trusted documents (a JSON object, hash → document, as Relay, Apollo's
persisted-query manifest generators and GraphQL Codegen write it) checked before anything is
stored: every hash is its document's SHA-256, every document parses and passes the schema's
validation and the request limits. One bad entry refuses the whole manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass

from graphql import GraphQLError, OperationDefinitionNode, parse, specified_rules, validate
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from api.limits import QueryLimits, directive_limit, limit_errors
from api.schema import build_schema
from api.settings import Settings
from domain.documents.model import digest_of, document_hash


@dataclass(frozen=True, slots=True)
class CheckedManifest:
    documents: list[tuple[str, str, str | None]]  # (hash, text, operation name)
    problems: list[str]  # one line per bad entry


def check_manifest(text: str, settings: Settings) -> CheckedManifest:
    """The manifest's documents, or what is wrong with each bad entry."""
    try:
        entries = json.loads(text)
    except ValueError as error:
        return CheckedManifest([], [f"the manifest is not JSON: {error}"])
    if not isinstance(entries, dict) or not entries:
        return CheckedManifest([], ["the manifest must be a JSON object of hash → document"])
    schema = build_schema(settings)._schema
    limits = QueryLimits.of(settings)
    rules = (
        *specified_rules,
        MaybeNullValidationRule,
        OneOfInputValidationRule,
        directive_limit(limits.max_directives),
    )
    documents: list[tuple[str, str, str | None]] = []
    problems: list[str] = []
    for key, document in entries.items():
        digest = digest_of(key)
        if digest is None:
            problems.append(f"{key}: not a SHA-256 hash (64 hex digits, optionally sha256:)")
        elif not isinstance(document, str):
            problems.append(f"{key}: the document must be a string")
        elif document_hash(document) != digest:
            problems.append(f"{key}: the hash is not the SHA-256 of its document")
        else:
            try:
                node = parse(document, max_tokens=limits.max_tokens)
            except GraphQLError as error:
                problems.append(f"{key}: {_one_line(error.message)}")
                continue
            errors = validate(schema, node, rules) or limit_errors(schema, node, {}, limits)
            if errors:
                problems.append(f"{key}: {_one_line(errors[0].message)}")
                continue
            operations = [d for d in node.definitions if isinstance(d, OperationDefinitionNode)]
            named = operations[0].name if len(operations) == 1 else None
            documents.append((digest, document, named.value if named else None))
    return CheckedManifest(documents, problems)


def _one_line(message: str) -> str:
    return " ".join(message.split())
