"""aggregateStatistics: counts of customers per group, for partners registered for them and
for staff; no group smaller than k is ever shown."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.permission import BasePermission
from strawberry.types import Info

from api.context import Context
from domain.staff.model import Permission
from domain.statistics import model
from domain.statistics import use_cases as statistics

StatisticsDimension = strawberry.enum(
    model.Dimension, name="StatisticsDimension", description="What customers are grouped by."
)


class MayReadStatistics(BasePermission):
    """A partner registered for AGGREGATE_STATISTICS, or staff whose role reads statistics.
    Another partner, another staff role or a customer session is FORBIDDEN; no credentials (or
    ones that no longer work) UNAUTHENTICATED."""

    message = (
        "Authenticate with a partner API key (Authorization: Bearer drp_...) "
        "or as staff (staffLogin)."
    )
    error_extensions = {"code": "UNAUTHENTICATED"}

    async def has_permission(self, source: Any, info: Info[Context, Any], **kwargs: Any) -> bool:
        context = info.context
        partner = await context.partner()
        if partner is not None:
            if model.may_read_statistics(partner):
                return True
            raise _forbidden("Your partner registration does not include AGGREGATE_STATISTICS.")
        actor = await context.staff()
        if actor is not None:
            if actor.member.may(Permission.READ_STATISTICS):
                return True
            raise _forbidden("Your staff role may not do this (read statistics).")
        if await context.session() is not None:
            raise _forbidden("Aggregate statistics are not for customer sessions.")
        return False


def _forbidden(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "FORBIDDEN"})


@strawberry.type(name="StatisticsBand", description="A range of a number, both bounds included.")
class Band:
    key: str
    label: str
    lower_bound: int
    upper_bound: int | None = strawberry.field(description="Null for the last, open band.")

    @classmethod
    def of(cls, band: model.Band) -> Band:
        return cls(key=band.key, label=band.label, lower_bound=band.lower, upper_bound=band.upper)


@strawberry.type(description="Customers who share a value: never fewer than the minimum.")
class StatisticsGroup:
    key: str | None = strawberry.field(
        description=(
            "The value grouped on: a country code, a band's key such as `10-49`, an industry "
            "in lower case. Null for customers who did not state one."
        )
    )
    label: str
    count: int
    lower_bound: int | None = strawberry.field(description="The band's bounds, for bands.")
    upper_bound: int | None

    @classmethod
    def of(cls, group: model.Group) -> StatisticsGroup:
        band = group.band
        return cls(
            key=group.key,
            label=group.label,
            count=group.count,
            lower_bound=band.lower if band else None,
            upper_bound=band.upper if band else None,
        )


@strawberry.type(
    description=(
        "Counts of the customers who have not opted out of aggregate statistics. There is no "
        "total: with one, a hidden count would be a subtraction away."
    )
)
class AggregateStatistics:
    dimension: StatisticsDimension  # type: ignore[valid-type]
    minimum_group_size: int = strawberry.field(
        description="k: no group, and no remainder, of fewer customers is shown."
    )
    groups: list[StatisticsGroup]
    remainder: int | None = strawberry.field(
        description=(
            "Everyone outside the groups shown, as one count: 0 when nobody is, null when it "
            "is hidden (fewer than k). When a remainder below k would otherwise be hidden "
            "beside shown groups, the smallest shown group is counted here too, so that no "
            "hidden count is a subtraction away."
        )
    )
    bands: list[Band] = strawberry.field(
        description="Every band of a band dimension, shown or not; empty for the others."
    )

    @classmethod
    def of(cls, result: model.AggregateStatistics) -> AggregateStatistics:
        return cls(
            dimension=result.dimension,
            minimum_group_size=result.min_group_size,
            groups=[StatisticsGroup.of(group) for group in result.groups],
            remainder=result.remainder,
            bands=[Band.of(band) for band in result.bands],
        )


@strawberry.field(
    description=(
        "How many customers fall in each group of a dimension, for partners registered for "
        "AGGREGATE_STATISTICS and for staff. A group of fewer than `minimumGroupSize` "
        "customers is never shown: such groups are folded into `remainder`."
    ),
    permission_classes=[MayReadStatistics],
)
async def aggregate_statistics(
    info: Info[Context, Any],
    dimension: StatisticsDimension,  # type: ignore[valid-type]
) -> AggregateStatistics:
    result = await statistics.aggregate_statistics(info.context.deps, dimension)
    return AggregateStatistics.of(result)
