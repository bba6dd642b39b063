"""The prepared `me` and `consentStates`.

The prepared `me`: a trusted document that is exactly a `me { … }` selection of the profile's
own fields is planned once, then answered from one read (the session and its customer) and
encoded straight to JSON, without GraphQL execution.

The supported subset: one query operation, no variables and no directives, whose root fields
are `me` and `__typename` (aliases allowed), selecting from `Customer` its scalar fields,
`address`, `billing { name address organizationUsers card { … } }` and `annualRevenue`, with
fragments (spread or inline) on those same types. Anything else (a connection, preferences, an
argument) is not planned and takes the general path.

The prepared `consentStates`, a partner's poll: one query operation whose root fields are one
`consentStates` and `__typename`, the ids from a variable declared `[ID!]!`, the purposes
absent, from a variable declared `[SharingPurpose!]` (or `!`), or written as a list, selecting
`ConsentState`'s fields (aliases and fragments allowed). It runs the same use case as the
resolver, then encodes the answers directly: GraphQL's execution of 1,000 ids x 3 purposes x 4
fields was most of the cost of the call."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    EnumValueNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    print_ast,
)

from domain.profile.model import Customer

Renderer = Callable[[Customer], dict[str, Any]]
ListRenderer = Callable[[list[Any]], list[dict[str, Any]]]
# (response key, how to read the value from its parent, the plan of what is selected under it)
Plan = tuple[tuple[str, str, "Plan | None"], ...]

# type -> field -> (how to read it from ``{v}``, its parent, as a Python expression; the type of
# the value when it is an object), as Customer.of maps the domain model and as Strawberry
# serialises the scalars (ID as text, DateTime by isoformat, Decimal as text). A plan is
# compiled from these into one function (see _compile).
_FIELDS: dict[str, dict[str, tuple[str, str | None]]] = {
    "Customer": {
        "id": ("str({v}.id)", None),
        "email": ("{v}.profile.email", None),
        "emailVerified": ("{v}.email_verified", None),
        "name": ("{v}.profile.name", None),
        "companyName": ("{v}.profile.company_name", None),
        "address": ("{v}.profile.address", "Address"),
        "phone": ("{v}.profile.phone", None),
        "billing": ("{v}.profile.billing", "Billing"),
        "title": ("{v}.profile.title", None),
        "department": ("{v}.profile.department", None),
        "fax": ("{v}.profile.fax", None),
        "annualRevenue": ("{v}.profile.annual_revenue", "Money"),
        "employeeCount": ("{v}.profile.employee_count", None),
        "industry": ("{v}.profile.industry", None),
        "createdAt": ("{v}.created_at.isoformat()", None),
        "updatedAt": ("{v}.updated_at.isoformat()", None),
        "version": ("{v}.version", None),
    },
    "Address": {
        "line1": ("{v}.line1", None),
        "line2": ("{v}.line2", None),
        "city": ("{v}.city", None),
        "region": ("{v}.region", None),
        "postalCode": ("{v}.postal_code", None),
        "country": ("{v}.country", None),
    },
    "Billing": {
        "name": ("{v}.name", None),
        "address": ("{v}.address", "Address"),
        "organizationUsers": ("{v}.organization_users", None),
        "card": ("{v}.card", "PaymentCardSummary"),
    },
    "PaymentCardSummary": {
        "brand": ("{v}.brand", None),
        "last4": ("{v}.last4", None),
        "expMonth": ("{v}.exp_month", None),
        "expYear": ("{v}.exp_year", None),
    },
    "Money": {
        "amount": ("str({v}.amount)", None),
        "currency": ("{v}.currency", None),
    },
    # From a ConsentAnswer: the id as given, the purpose by its enum name.
    "ConsentState": {
        "customerId": ("{v}.customer_id", None),
        "purpose": ("{v}.purpose.name", None),
        "granted": ("{v}.granted", None),
        "updatedAt": ("(None if {v}.updated_at is None else {v}.updated_at.isoformat())", None),
    },
}


def _compile(plan: Plan) -> Renderer:
    """One function that builds the selection's dict, an object's fields read in place: a plan
    walked at every request, a getter called for each field, took about as long as the rest of
    the prepared answer's own work (bench/asgi_cpu.py). The expressions are the table's above,
    the keys the document's response names (GraphQL names), written with repr."""
    render: Renderer = _compiled(plan, "def render(v0):\n    return {}\n")
    return render


def _compile_each(plan: Plan) -> ListRenderer:
    """As :func:`_compile`, for a list: one comprehension builds every item's dict."""
    render: ListRenderer = _compiled(plan, "def render(items):\n    return [{} for v0 in items]\n")
    return render


def _compiled(plan: Plan, template: str) -> Callable[[Any], Any]:
    names = itertools.count(1)

    def display(plan: Plan, var: str) -> str:
        items = []
        for key, expression, below in plan:
            value = expression.format(v=var)
            if below is not None:
                inner = f"v{next(names)}"
                value = f"(None if ({inner} := {value}) is None else {display(below, inner)})"
            items.append(f"{key!r}: {value}")
        return "{" + ", ".join(items) + "}"

    source = template.format(display(plan, "v0"))
    namespace: dict[str, Any] = {}
    exec(compile(source, "<prepared>", "exec"), {"__builtins__": {"str": str}}, namespace)  # noqa: S102
    render: Callable[[Any], Any] = namespace["render"]
    return render


class NotPrepared(Exception):
    """The document is outside the prepared subset."""


@dataclass(frozen=True, slots=True)
class PreparedMe:
    """A planned `{ me { … } }`: the root's response keys, each `me` or `__typename`."""

    operation_name: str | None
    # (key, the compiled selection of me) or (key, None) for __typename
    root: tuple[tuple[str, Renderer | None], ...]

    def data(self, customer: Customer | None) -> dict[str, Any]:
        """The response's `data` for this customer (None: no live session)."""
        return {
            key: "Query" if render is None else None if customer is None else render(customer)
            for key, render in self.root
        }


def prepare_me(document: DocumentNode) -> PreparedMe | None:
    """The plan of a (validated) document, or None when it is not in the prepared subset."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1:
        return None
    operation = operations[0]
    if (
        operation.operation is not OperationType.QUERY
        or operation.variable_definitions
        or operation.directives
    ):
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    try:
        fields = _collect(operation.selection_set, "Query", fragments)
        root = []
        for key, (name, selections) in fields.items():
            if name == "__typename":
                root.append((key, None))
            elif name == "me" and selections:
                root.append((key, _compile(_plan("Customer", selections, fragments))))
            else:
                return None
    except NotPrepared:
        return None
    return PreparedMe(operation.name.value if operation.name else None, tuple(root))


def _plan(
    type_name: str,
    selections: list[SelectionSetNode],
    fragments: dict[str, FragmentDefinitionNode],
) -> Plan:
    fields: dict[str, tuple[str, list[SelectionSetNode]]] = {}
    for selection_set in selections:
        for key, (name, below) in _collect(selection_set, type_name, fragments).items():
            fields.setdefault(key, (name, []))[1].extend(below)
    plan = []
    for key, (name, below) in fields.items():
        if name == "__typename":
            plan.append((key, repr(type_name), None))
            continue
        known = _FIELDS[type_name].get(name)
        if known is None:
            raise NotPrepared(name)
        expression, inner = known
        if (inner is None) != (not below):
            raise NotPrepared(name)
        plan.append((key, expression, _plan(inner, below, fragments) if inner else None))
    return tuple(plan)


def _collect(
    selection_set: SelectionSetNode,
    type_name: str,
    fragments: dict[str, FragmentDefinitionNode],
) -> dict[str, tuple[str, list[SelectionSetNode]]]:
    """The fields of a selection set by response key, in the order GraphQL's CollectFields
    gives them (first appearance), with the selection sets to merge under each."""
    fields: dict[str, tuple[str, list[SelectionSetNode]]] = {}
    for selection in selection_set.selections:
        if selection.directives:
            raise NotPrepared("a directive")
        if isinstance(selection, FieldNode):
            if selection.arguments:
                raise NotPrepared("an argument")
            key = selection.alias.value if selection.alias else selection.name.value
            entry = fields.setdefault(key, (selection.name.value, []))
            if selection.selection_set is not None:
                entry[1].append(selection.selection_set)
            continue
        if isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is None or fragment.directives:
                raise NotPrepared("a fragment")
            condition: str | None = fragment.type_condition.name.value
            inner = fragment.selection_set
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition.name.value if selection.type_condition else None
            inner = selection.selection_set
        else:
            raise NotPrepared("a selection")
        if condition not in (None, type_name):
            raise NotPrepared("a fragment on another type")
        for key, (name, below) in _collect(inner, type_name, fragments).items():
            fields.setdefault(key, (name, []))[1].extend(below)
    return fields


_IDS_TYPE = "[ID!]!"
_PURPOSES_TYPES = frozenset({"[SharingPurpose!]", "[SharingPurpose!]!"})


@dataclass(frozen=True, slots=True)
class PreparedConsentStates:
    """A planned `consentStates(customerIds: $ids[, purposes: …]) { … }`: the ids always from a
    variable, the purposes absent, from a variable or written as a list of names."""

    operation_name: str | None
    root: tuple[tuple[str, bool], ...]  # (key, True for consentStates or False for __typename)
    render: ListRenderer  # the answers, as the document selects them
    ids_variable: str
    purposes_variable: str | None
    purposes_required: bool  # the purposes variable is declared non-null
    purposes_written: tuple[str, ...] | None
    document: DocumentNode  # for the request limits, which depend on the variables

    def arguments(self, variables: dict[str, Any]) -> tuple[list[str], list[str] | None] | None:
        """The ids and purpose names of a request's variables, exactly as GraphQL would take
        them; None when GraphQL would coerce or refuse something (the general path answers)."""
        expected = {self.ids_variable} | ({self.purposes_variable} - {None})
        if not variables.keys() <= expected:
            return None
        ids = variables.get(self.ids_variable)
        if not isinstance(ids, list) or not all(type(i) is str for i in ids):
            return None
        purposes: list[str] | None = (
            list(self.purposes_written) if self.purposes_written is not None else None
        )
        if self.purposes_variable is not None:
            given = variables.get(self.purposes_variable)
            if given is None and self.purposes_required:
                return None
            if given is not None and (
                not isinstance(given, list) or not all(type(p) is str for p in given)
            ):
                return None
            purposes = given
        return ids, purposes

    def data(self, answers: list[Any]) -> dict[str, Any]:
        states = self.render(answers)
        return {key: states if is_states else "Query" for key, is_states in self.root}


def prepare_consent_states(document: DocumentNode) -> PreparedConsentStates | None:
    """The plan of a (validated) document, or None when it is not in the prepared subset."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1:
        return None
    operation = operations[0]
    if operation.operation is not OperationType.QUERY or operation.directives:
        return None
    declared = {}
    for definition in operation.variable_definitions or ():
        if definition.default_value is not None or definition.directives:
            return None
        declared[definition.variable.name.value] = print_ast(definition.type)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    root: list[tuple[str, bool]] = []
    found: list[FieldNode] = []
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives:
            return None
        key = selection.alias.value if selection.alias else selection.name.value
        if selection.name.value == "__typename":
            root.append((key, False))
        elif selection.name.value == "consentStates" and not found:
            root.append((key, True))
            found.append(selection)
        else:
            return None
    if not found:
        return None
    field = found[0]
    arguments = {argument.name.value: argument.value for argument in field.arguments or ()}
    ids = arguments.get("customerIds")
    if not isinstance(ids, VariableNode) or declared.get(ids.name.value) != _IDS_TYPE:
        return None
    purposes_variable, purposes_written = None, None
    purposes = arguments.get("purposes")
    if isinstance(purposes, VariableNode):
        if declared.get(purposes.name.value) not in _PURPOSES_TYPES:
            return None
        purposes_variable = purposes.name.value
    elif isinstance(purposes, ListValueNode):
        if not all(isinstance(value, EnumValueNode) for value in purposes.values):
            return None
        purposes_written = tuple(value.value for value in purposes.values)  # type: ignore[attr-defined]
    elif purposes is not None:
        return None
    used = {ids.name.value} | ({purposes_variable} - {None})
    if declared.keys() != used or field.selection_set is None:
        return None
    try:
        render = _compile_each(_plan("ConsentState", [field.selection_set], fragments))
    except NotPrepared:
        return None
    return PreparedConsentStates(
        operation.name.value if operation.name else None,
        tuple(root),
        render,
        ids.name.value,
        purposes_variable,
        purposes_variable is not None and declared[purposes_variable].endswith("!"),
        purposes_written,
        document,
    )
