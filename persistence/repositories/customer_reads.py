"""The hot read behind `me`: a session and its customer in one statement."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.identity.model import Session
from domain.profile.model import Customer
from persistence.repositories.customers import customer_from_row
from persistence.tables import customers, sessions

_SESSION = "session_"

# Customer columns keep their names (customer_from_row reads them); session columns are
# prefixed, the two tables sharing `id` and `created_at`.
_ME_BY_SESSION = select(
    *(column.label(_SESSION + column.name) for column in sessions.c), customers
).select_from(sessions.join(customers, customers.c.id == sessions.c.customer_id))


class SqlCustomerReadModel:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def me_by_session(self, token_hash: str) -> tuple[Session, Customer] | None:
        query = _ME_BY_SESSION.where(sessions.c.token_hash == token_hash)
        row = (await self._conn.execute(query)).mappings().first()
        if row is None:
            return None
        session = Session(**{column.name: row[_SESSION + column.name] for column in sessions.c})
        return session, customer_from_row(row)
