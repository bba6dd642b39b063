"""One database transaction per use case."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import QueuePool

from domain.identity.model import Session, SignInEvent
from domain.identity.use_cases import write_sign_in
from domain.ports import CardVault
from persistence.card_vault import VaultKeyring
from persistence.database import mark_waited_out, waited_out
from persistence.mailer import OutboxMailer
from persistence.read_pool import ReadPool
from persistence.repositories import identity
from persistence.repositories.consent import SqlConsentRepository
from persistence.repositories.customer_reads import PooledCustomerReadModel, SqlCustomerReadModel
from persistence.repositories.customers import SqlCustomerRepository
from persistence.repositories.erasure import SqlErasure
from persistence.repositories.exports import SqlExportReader
from persistence.repositories.identity import (
    SqlAccountTokenRepository,
    SqlSessionRepository,
    SqlSignInEventRepository,
)
from persistence.repositories.mail_outbox import SqlMailOutbox
from persistence.repositories.partners import SqlConsentReadModel, SqlPartnerRepository
from persistence.repositories.policies import SqlPolicyRepository
from persistence.repositories.profile_changes import SqlProfileChangeRepository
from persistence.repositories.requests import SqlRequestQueue, SqlRequestRepository
from persistence.repositories.retention import SqlRetention
from persistence.repositories.staff import SqlAccessLog, SqlStaffRepository
from persistence.repositories.statistics import SqlStatisticsReadModel
from persistence.repositories.trusted_documents import SqlTrustedDocumentRepository
from persistence.repositories.webhooks import SqlWebhookRepository

# A vault is built per transaction so that a local vault can write in the same one; a payment
# provider's vault ignores the connection. The keyring (the local vault's keys) also seals the
# webhook signing secrets, which a payment provider's vault could not hold.
CardVaultFactory = Callable[[AsyncConnection], CardVault]


async def connect(engine: AsyncEngine) -> AsyncConnection:
    """A connection of the engine's pool, waited for at most once a request
    (persistence/database.py): when this request already waited in vain, a full pool refuses
    at once, with the error its timeout raises."""
    pool = engine.sync_engine.pool
    # Full: every connection in use and none to add (the pool has no overflow).
    if waited_out() and isinstance(pool, QueuePool) and pool.checkedout() >= pool.size():
        raise exc.TimeoutError("no connection free, and this request waited for one")
    try:
        return await engine.connect()
    except exc.TimeoutError:
        mark_waited_out()
        raise


class SqlUnitOfWork:
    def __init__(
        self, engine: AsyncEngine, card_vault: CardVaultFactory, keyring: VaultKeyring
    ) -> None:
        self._engine = engine
        self._card_vault = card_vault
        self._keyring = keyring
        self._connection: AsyncConnection | None = None

    async def __aenter__(self) -> Self:
        conn = await connect(self._engine)
        await conn.begin()
        self._connection = conn
        self.customers = SqlCustomerRepository(conn)
        self.sessions = SqlSessionRepository(conn)
        self.sign_ins = SqlSignInEventRepository(conn)
        self.tokens = SqlAccountTokenRepository(conn)
        self.consents = SqlConsentRepository(conn)
        self.consent_reads = SqlConsentReadModel(conn)
        self.partners = SqlPartnerRepository(conn)
        self.requests = SqlRequestRepository(conn)
        self.request_queue = SqlRequestQueue(conn)
        self.staff = SqlStaffRepository(conn, self._keyring)
        self.access_log = SqlAccessLog(conn)
        self.policies = SqlPolicyRepository(conn)
        self.statistics = SqlStatisticsReadModel(conn)
        self.trusted_documents = SqlTrustedDocumentRepository(conn)
        self.profile_changes = SqlProfileChangeRepository(conn)
        self.retention = SqlRetention(conn)
        self.erasure = SqlErasure(conn)
        self.exports = SqlExportReader(conn)
        self.webhooks = SqlWebhookRepository(conn, self._keyring)
        self.mailer = OutboxMailer(conn)
        self.mail_outbox = SqlMailOutbox(conn)
        self.cards = self._card_vault(conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._connection = self._connection, None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                await conn.rollback()
        finally:
            await conn.close()

    async def commit(self) -> None:
        assert self._connection is not None, "commit outside 'async with'"
        await self._connection.commit()

    async def rollback(self) -> None:
        assert self._connection is not None, "rollback outside 'async with'"
        await self._connection.rollback()


class SqlReads:
    """Read models on one pooled connection, outside any transaction. On PostgreSQL they read
    through the driver, which SQLAlchemy never asked to BEGIN, so a single-statement read sends
    no BEGIN and no ROLLBACK; on SQLite a read through SQLAlchemy takes the usual transaction
    (there a transaction costs no round trip)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None

    async def __aenter__(self) -> Self:
        conn = await connect(self._engine)
        self._connection = conn
        self.customer_reads = SqlCustomerReadModel(conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._connection = self._connection, None
        if conn is not None:
            await conn.close()


class PooledReads:
    """Read models on the read pool (PostgreSQL), each read on a connection of its own. It holds
    nothing between reads: one instance serves every request."""

    def __init__(self, pool: ReadPool) -> None:
        self.customer_reads = PooledCustomerReadModel(pool)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class SqlUnitOfWorkFactory:
    def __init__(
        self,
        engine: AsyncEngine,
        card_vault: CardVaultFactory,
        keyring: VaultKeyring,
        read_pool: ReadPool | None = None,
    ) -> None:
        self.engine = engine
        self.read_pool = read_pool
        self._card_vault = card_vault
        self._keyring = keyring
        self._pooled_reads = PooledReads(read_pool) if read_pool is not None else None

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self._card_vault, self._keyring)

    def reads(self) -> SqlReads | PooledReads:
        return self._pooled_reads or SqlReads(self.engine)

    async def start_session(self, password_hash: str, session: Session, event: SignInEvent) -> bool:
        if self.engine.dialect.name != "postgresql":  # SQLite has no writes within a WITH
            async with self() as uow:
                return await write_sign_in(uow, password_hash, session, event)
        # A connection outside any transaction, as SqlReads has: the statement is its own.
        conn = await connect(self.engine)
        try:
            return await identity.start_session(conn, password_hash, session, event)
        finally:
            await conn.close()

    async def close(self) -> None:
        """Closes the connections of the engine and of the read pool."""
        if self.read_pool is not None:
            await self.read_pool.close()
        await self.engine.dispose()
