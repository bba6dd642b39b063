"""Limits on what one GraphQL request may ask for, checked while the document is validated, so
a refused request executes nothing: tokens (by the parser), depth, aliases, directives, page
sizes and list lengths, and a cost that counts each list by the size it asks for.

Every refusal is a top-level error with ``extensions.code`` ``BAD_REQUEST`` and a message that
names the limit and its value."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    get_named_type,
    value_from_ast_untyped,
)

from api.settings import Settings

# The most items one page of any connection holds, and the most items any list argument holds
# (consentStates takes up to 1,000 customer ids). Part of the contract, not settings.
MAX_PAGE_SIZE = 100
MAX_LIST_ITEMS = 1_000

# Arguments that say how many items a field returns: a page size, or the ids asked about.
PAGE_SIZE_ARGUMENT = "first"
ID_LIST_ARGUMENTS = frozenset({"customerIds"})


@dataclass(frozen=True, slots=True)
class QueryLimits:
    max_depth: int
    max_aliases: int
    max_tokens: int
    max_directives: int
    max_cost: int

    @classmethod
    def of(cls, settings: Settings) -> QueryLimits:
        return cls(
            max_depth=settings.graphql_max_depth,
            max_aliases=settings.graphql_max_aliases,
            max_tokens=settings.graphql_max_tokens,
            max_directives=settings.graphql_max_directives,
            max_cost=settings.graphql_max_cost,
        )


def refusal(message: str, node: Node | None = None) -> GraphQLError:
    return GraphQLError(message, node, extensions={"code": "BAD_REQUEST"})


def directive_limit(max_directives: int) -> type[ValidationRule]:
    """A validation rule: the directives written in the document. It depends on the document
    alone, so its result is cached with the rest of the document's validation."""

    class DirectiveLimit(ValidationRule):
        count = 0

        def enter_directive(self, _node: DirectiveNode, *_args: Any) -> None:
            self.count += 1

        def leave_document(self, _node: DocumentNode, *_args: Any) -> None:
            if self.count > max_directives:
                self.report_error(
                    refusal(f"{self.count} directives found. Allowed: {max_directives}.")
                )

    return DirectiveLimit


def limit_errors(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any],
    limits: QueryLimits,
) -> list[GraphQLError]:
    """What the document asks for beyond the limits, given this request's variables: page sizes
    and list lengths, then depth, aliases and cost of each operation, fragments included.

    Strawberry has a depth and an alias limiter, but both walk a fragment again at every
    spread: a document of fragments that each spread the next twice takes time exponential in
    its length (a few hundred tokens keep a process busy for hours), and its depth limiter
    fails on a spread of an unknown fragment. Here each fragment is measured once. This is a
    plain walk of the document (no TypeInfo, no visitor), cheap enough to run on every request
    while the rest of validation is cached per document: page sizes, list lengths and the cost
    depend on the variables too."""
    values = with_defaults(document, variables)
    errors = list_argument_errors(document, values)
    measuring = Measuring(schema, document, values)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            errors.extend(operation_errors(measuring.of_operation(definition), definition, limits))
    return errors


def list_argument_errors(document: DocumentNode, values: Mapping[str, Any]) -> list[GraphQLError]:
    """``first`` from 0 to MAX_PAGE_SIZE, and no list of more than MAX_LIST_ITEMS items, whether
    written in the document or sent as a variable (inside an input too)."""
    errors: list[GraphQLError] = []
    for node in fields_of(document):
        for argument in node.arguments or ():
            name = argument.name.value
            value = value_from_ast_untyped(argument.value, values)
            if name == PAGE_SIZE_ARGUMENT and is_int(value) and not 0 <= value <= MAX_PAGE_SIZE:
                errors.append(
                    refusal(
                        f"'{PAGE_SIZE_ARGUMENT}' on field '{node.name.value}' is out of "
                        f"range. Allowed: 0 to {MAX_PAGE_SIZE}.",
                        argument,
                    )
                )
            longest = longest_list(value)
            if longest > MAX_LIST_ITEMS:
                errors.append(
                    refusal(
                        f"A list of {longest:,} items found in argument '{name}' of field "
                        f"'{node.name.value}'. Allowed: {MAX_LIST_ITEMS:,} items.",
                        argument,
                    )
                )
    return errors


def fields_of(document: DocumentNode) -> Iterator[FieldNode]:
    """Every field written in the document (operations and fragments), in document order."""
    stack: list[Iterator[Any]] = [iter(document.definitions)]
    while stack:
        node = next(stack[-1], None)
        if node is None:
            stack.pop()
            continue
        if isinstance(node, FieldNode):
            yield node
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.append(iter(selection_set.selections))


def operation_errors(
    measure: Measure, node: OperationDefinitionNode, limits: QueryLimits
) -> list[GraphQLError]:
    errors = []
    if measure.depth > limits.max_depth:
        errors.append(refusal(f"Depth {measure.depth} found. Allowed: {limits.max_depth}.", node))
    if measure.aliases > limits.max_aliases:
        errors.append(refusal(f"{measure.aliases:,} aliases found. Allowed: {limits.max_aliases}."))
    if measure.cost > limits.max_cost:
        errors.append(
            refusal(
                f"Query cost {measure.cost:,} found (each list counts as many times as "
                f"the items it asks for). Allowed: {limits.max_cost:,}.",
                node,
            )
        )
    return errors


@dataclass(frozen=True, slots=True)
class Measure:
    """Of a selection set: what it costs, how deep its fields go below its own level (0 for
    fields with nothing selected under them, -1 for no field at all), and its aliases."""

    cost: int = 0
    depth: int = -1
    aliases: int = 0

    def __add__(self, other: Measure) -> Measure:
        return Measure(
            self.cost + other.cost, max(self.depth, other.depth), self.aliases + other.aliases
        )


class Measuring:
    """Measures the operations of one document, given the request's variables. A fragment is
    measured once however often it is spread: counted again at every spread, but never walked
    again, so fragments that spread others many times over cost time in proportion to the
    document, not to what it would expand to."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, values: Mapping[str, Any]):
        self.schema = schema
        self.values = values
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.measured: dict[str, Measure] = {}

    def of_operation(self, operation: OperationDefinitionNode) -> Measure:
        root = self.schema.get_root_type(operation.operation)
        return self.of_selections(root, operation.selection_set)

    def of_selections(self, on: GraphQLNamedType | None, selections: SelectionSetNode) -> Measure:
        total = Measure()
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                total += self.of_field(on, selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else on
                total += self.of_selections(inner, selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.of_fragment(selection.name.value)
        return total

    def of_fragment(self, name: str) -> Measure:
        # An unknown fragment, or one spread inside itself, is refused by GraphQL's own rules;
        # here it measures as nothing.
        if name not in self.measured:
            fragment = self.fragments.get(name)
            if fragment is None:
                return Measure()
            self.measured[name] = Measure()
            on = self.schema.get_type(fragment.type_condition.name.value)
            self.measured[name] = self.of_selections(on, fragment.selection_set)
        return self.measured[name]

    def of_field(self, on: GraphQLNamedType | None, node: FieldNode) -> Measure:
        alias = 1 if node.alias else 0
        if node.selection_set is None:
            return Measure(cost=1, depth=0, aliases=alias)
        fields = on.fields if isinstance(on, GraphQLObjectType | GraphQLInterfaceType) else {}
        definition = fields.get(node.name.value)
        below = self.of_selections(
            get_named_type(definition.type) if definition else None, node.selection_set
        )
        items = self.items_asked(node, definition.args) if definition else 1
        # Introspection (`__schema`, `__type`) nests deep by nature: its depth is not counted.
        depth = 0 if node.name.value.startswith("__") else 1 + below.depth
        return Measure(1 + items * below.cost, max(depth, 0), alias + below.aliases)

    def items_asked(self, node: FieldNode, arguments: Mapping[str, Any]) -> int:
        given = {
            a.name.value: value_from_ast_untyped(a.value, self.values) for a in node.arguments or ()
        }
        if PAGE_SIZE_ARGUMENT in arguments:
            first = given.get(PAGE_SIZE_ARGUMENT, arguments[PAGE_SIZE_ARGUMENT].default_value)
            # A page size out of range is refused on its own; the cost need not say it again.
            return min(max(first, 0), MAX_PAGE_SIZE) if is_int(first) else MAX_PAGE_SIZE
        ids = [given.get(name) for name in ID_LIST_ARGUMENTS & arguments.keys()]
        # A single id where a list is expected is coerced to a list of one.
        return max((len(i) if isinstance(i, list) else 1 for i in ids), default=1)


def with_defaults(document: DocumentNode, variables: Mapping[str, Any]) -> dict[str, Any]:
    """The variables as sent, and the defaults the operations give to the others."""
    values: dict[str, Any] = {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            for variable in definition.variable_definitions or ():
                if variable.default_value is not None:
                    name = variable.variable.name.value
                    values.setdefault(name, value_from_ast_untyped(variable.default_value))
    return {**values, **variables}


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def longest_list(value: object) -> int:
    """The length of the longest list anywhere in a value (0 when there is none)."""
    longest, pending = 0, [value]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            longest = max(longest, len(item))
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
    return longest
