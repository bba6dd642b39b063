"""Counts per stored value for aggregate statistics, in one grouped statement."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.consent.model import SharingPurpose, subject_kind
from domain.statistics.model import Dimension, RawValue
from persistence.tables import consent_states, customers

_COUNTED = SharingPurpose.AGGREGATE_STATISTICS

# The stored values as they are: the domain turns them into groups (bands, one industry
# however it is spelled), so the rules live in one place.
_VALUES: dict[Dimension, ColumnElement[object]] = {
    Dimension.INDUSTRY: customers.c.industry,
    Dimension.COUNTRY: customers.c.address_country,
    Dimension.EMPLOYEE_BAND: customers.c.employee_count,
    Dimension.ORGANIZATION_USERS_BAND: customers.c.billing_organization_users,
}

_CHOICE = and_(
    consent_states.c.customer_id == customers.c.id,
    consent_states.c.kind == subject_kind(_COUNTED),
    consent_states.c.subject == _COUNTED.value,
)


class SqlStatisticsReadModel:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def counts(self, dimension: Dimension) -> dict[RawValue, int]:
        value = _VALUES[dimension]
        query = (
            select(value, func.count())
            .select_from(customers.outerjoin(consent_states, _CHOICE))
            # Being counted is on by default: a customer with no recorded choice is counted.
            .where(func.coalesce(consent_states.c.granted, true()) == true())
            .group_by(value)
        )
        rows = await self._conn.execute(query)
        return {row[0]: int(row[1]) for row in rows}
