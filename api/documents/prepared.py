"""The prepared `me`: a trusted document that is exactly a `me { … }` selection of the profile's
own fields is planned once, then answered from one read (the session and its customer) and
encoded straight to JSON, without GraphQL execution.

The supported subset: one query operation, no variables and no directives, whose root fields
are `me` and `__typename` (aliases allowed), selecting from `Customer` its scalar fields,
`address`, `billing { name address organizationUsers card { … } }` and `annualRevenue`, with
fragments (spread or inline) on those same types. Anything else (a connection, preferences, an
argument) is not planned and takes the general path."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)

from domain.profile.model import Customer

Getter = Callable[[Any], Any]
# (response key, how to read the value from its parent, the plan of what is selected under it)
Plan = tuple[tuple[str, Getter, "Plan | None"], ...]


def _profile(name: str) -> Getter:
    return lambda c: getattr(c.profile, name)


def _attribute(name: str) -> Getter:
    return lambda value: getattr(value, name)


# type → field → (getter, type of the value when it is an object), as Customer.of maps the
# domain model and as Strawberry serialises the scalars (ID as text, DateTime by isoformat,
# Decimal as text).
_FIELDS: dict[str, dict[str, tuple[Getter, str | None]]] = {
    "Customer": {
        "id": (lambda c: str(c.id), None),
        "email": (_profile("email"), None),
        "emailVerified": (lambda c: c.email_verified, None),
        "name": (_profile("name"), None),
        "companyName": (_profile("company_name"), None),
        "address": (_profile("address"), "Address"),
        "phone": (_profile("phone"), None),
        "billing": (_profile("billing"), "Billing"),
        "title": (_profile("title"), None),
        "department": (_profile("department"), None),
        "fax": (_profile("fax"), None),
        "annualRevenue": (_profile("annual_revenue"), "Money"),
        "employeeCount": (_profile("employee_count"), None),
        "industry": (_profile("industry"), None),
        "createdAt": (lambda c: c.created_at.isoformat(), None),
        "updatedAt": (lambda c: c.updated_at.isoformat(), None),
        "version": (lambda c: c.version, None),
    },
    "Address": {
        "line1": (_attribute("line1"), None),
        "line2": (_attribute("line2"), None),
        "city": (_attribute("city"), None),
        "region": (_attribute("region"), None),
        "postalCode": (_attribute("postal_code"), None),
        "country": (_attribute("country"), None),
    },
    "Billing": {
        "name": (_attribute("name"), None),
        "address": (_attribute("address"), "Address"),
        "organizationUsers": (_attribute("organization_users"), None),
        "card": (_attribute("card"), "PaymentCardSummary"),
    },
    "PaymentCardSummary": {
        "brand": (_attribute("brand"), None),
        "last4": (_attribute("last4"), None),
        "expMonth": (_attribute("exp_month"), None),
        "expYear": (_attribute("exp_year"), None),
    },
    "Money": {
        "amount": (lambda m: str(m.amount), None),
        "currency": (_attribute("currency"), None),
    },
}


class NotPrepared(Exception):
    """The document is outside the prepared subset."""


@dataclass(frozen=True, slots=True)
class PreparedMe:
    """A planned `{ me { … } }`: the root's response keys, each `me` or `__typename`."""

    operation_name: str | None
    root: tuple[tuple[str, Plan | None], ...]  # (key, plan of me) or (key, None) for __typename

    def data(self, customer: Customer | None) -> dict[str, Any]:
        """The response's `data` for this customer (None: no live session)."""
        return {
            key: "Query" if plan is None else None if customer is None else _render(plan, customer)
            for key, plan in self.root
        }


def _render(plan: Plan, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, get, below in plan:
        item = get(value)
        out[key] = item if below is None or item is None else _render(below, item)
    return out


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
                root.append((key, _plan("Customer", selections, fragments)))
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
            plan.append((key, _constant(type_name), None))
            continue
        known = _FIELDS[type_name].get(name)
        if known is None:
            raise NotPrepared(name)
        get, inner = known
        if (inner is None) != (not below):
            raise NotPrepared(name)
        plan.append((key, get, _plan(inner, below, fragments) if inner else None))
    return tuple(plan)


def _constant(value: str) -> Getter:
    return lambda _: value


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
