"""The rectification history: which fields changed, when and by whom."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.customer.consent import ConsentActor
from api.customer.field_names import ProfileFieldNameEnum
from api.errors import bad_request, camel
from api.pagination import PageInfo, encode_cursor, page_info
from domain.consent.model import Actor
from domain.errors import DomainError
from domain.profile import use_cases
from domain.profile.policy import FIELDS_BY_KEY


@strawberry.type(description="A change to one profile field; the values are not kept.")
class ProfileChange:
    field: ProfileFieldNameEnum  # type: ignore[valid-type]
    path: list[str]
    changed_at: datetime.datetime
    actor: ConsentActor  # type: ignore[valid-type]


@strawberry.type
class ProfileChangeEdge:
    cursor: str
    node: ProfileChange


@strawberry.type
class ProfileChangeConnection:
    edges: list[ProfileChangeEdge]
    page_info: PageInfo


async def profile_change_history(
    info: Info[Context, Any], customer_id: uuid.UUID, first: int, after: str | None
) -> ProfileChangeConnection:
    before = info.context.cursor("profile-change", after)
    try:
        found = await use_cases.profile_changes(info.context.deps, customer_id, first, before)
    except DomainError as error:
        raise bad_request(error.problems[0].message) from None
    page, more = found[:first], len(found) > first
    edges = [
        ProfileChangeEdge(
            cursor=encode_cursor("profile-change", position),
            node=ProfileChange(
                field=ProfileFieldNameEnum[change.field_key],
                path=[camel(part) for part in FIELDS_BY_KEY[change.field_key].path],
                changed_at=change.changed_at,
                actor=Actor(change.actor),
            ),
        )
        for position, change in page
    ]
    return ProfileChangeConnection(
        edges=edges,
        page_info=page_info([edge.cursor for edge in edges], more),
    )
