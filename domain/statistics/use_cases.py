"""Reading aggregate statistics: counts over the customers who let themselves be counted."""

from __future__ import annotations

from domain.dependencies import Dependencies
from domain.statistics.model import AggregateStatistics, Dimension, summarise


async def aggregate_statistics(deps: Dependencies, dimension: Dimension) -> AggregateStatistics:
    """The customers who have not opted out of aggregate statistics, counted per group of
    ``dimension`` with every group smaller than k hidden. Not a look at anyone's record, so
    nothing is logged."""
    async with deps.unit_of_work() as uow:
        counts = await uow.statistics.counts(dimension)
    return summarise(dimension, counts, deps.aggregate_min_group_size)
