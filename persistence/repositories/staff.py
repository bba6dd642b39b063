"""Staff members (their TOTP secrets sealed with the vault keyring), their sessions, and the
access log of every look at a customer's record."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, RowMapping, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.ports import EmailAlreadyTaken
from domain.staff.model import (
    AccessLogEntry,
    AccessOperation,
    AccessReason,
    StaffMember,
    StaffRole,
    StaffSession,
)
from persistence.card_vault import Sealed, VaultKeyring
from persistence.tables import access_log, staff_members, staff_sessions

_SESSION_COLUMNS = ("id", "staff_id", "token_hash", "created_at", "last_seen_at", "expires_at")


class SqlStaffRepository:
    def __init__(self, connection: AsyncConnection, keyring: VaultKeyring) -> None:
        self._conn = connection
        self._keyring = keyring

    def _member(self, row: RowMapping) -> StaffMember:
        sealed = Sealed(row["totp_key_id"], row["totp_nonce"], row["totp_ciphertext"])
        return StaffMember(
            id=row["id"],
            email=row["email"],
            reference=row["reference"],
            role=StaffRole(row["role"]),
            password_hash=row["password_hash"],
            totp_secret=self._keyring.open(sealed, row["id"].bytes).decode(),
            created_at=row["created_at"],
            totp_last_step=row["totp_last_step"],
            disabled_at=row["disabled_at"],
        )

    async def add(self, member: StaffMember) -> None:
        sealed = self._keyring.seal(member.totp_secret.encode(), member.id.bytes)
        try:
            await self._conn.execute(
                insert(staff_members).values(
                    id=member.id,
                    email=member.email,
                    reference=member.reference,
                    role=member.role.value,
                    password_hash=member.password_hash,
                    totp_key_id=sealed.key_id,
                    totp_nonce=sealed.nonce,
                    totp_ciphertext=sealed.ciphertext,
                    totp_last_step=member.totp_last_step,
                    created_at=member.created_at,
                    disabled_at=member.disabled_at,
                )
            )
        except IntegrityError as error:
            raise EmailAlreadyTaken from error

    async def get(self, staff_id: uuid.UUID) -> StaffMember | None:
        return await self._one(staff_members.c.id == staff_id)

    async def by_email(self, email: str) -> StaffMember | None:
        return await self._one(staff_members.c.email == email)

    async def _one(self, condition: ColumnElement[bool]) -> StaffMember | None:
        query = select(staff_members).where(condition)
        row = (await self._conn.execute(query)).mappings().first()
        return self._member(row) if row else None

    async def all(self) -> list[StaffMember]:
        query = select(staff_members).order_by(staff_members.c.created_at, staff_members.c.email)
        return [self._member(row) for row in (await self._conn.execute(query)).mappings()]

    async def use_totp_step(self, staff_id: uuid.UUID, step: int) -> bool:
        last = staff_members.c.totp_last_step
        result = await self._conn.execute(
            update(staff_members)
            .where(staff_members.c.id == staff_id, or_(last.is_(None), last < step))
            .values(totp_last_step=step)
        )
        return result.rowcount == 1

    async def disable(self, staff_id: uuid.UUID, at: datetime) -> None:
        await self._conn.execute(
            update(staff_members)
            .where(staff_members.c.id == staff_id, staff_members.c.disabled_at.is_(None))
            .values(disabled_at=at)
        )

    async def add_session(self, session: StaffSession) -> None:
        await self._conn.execute(
            insert(staff_sessions).values(
                {name: getattr(session, name) for name in _SESSION_COLUMNS}
            )
        )

    async def session(self, token_hash: str) -> tuple[StaffSession, StaffMember] | None:
        query = select(staff_sessions).where(staff_sessions.c.token_hash == token_hash)
        row = (await self._conn.execute(query)).mappings().first()
        if row is None:
            return None
        member = await self.get(row["staff_id"])
        if member is None:
            return None
        return StaffSession(**{name: row[name] for name in _SESSION_COLUMNS}), member

    async def touch_session(self, session_id: uuid.UUID, at: datetime) -> None:
        await self._conn.execute(
            update(staff_sessions).where(staff_sessions.c.id == session_id).values(last_seen_at=at)
        )

    async def end_session(self, session_id: uuid.UUID) -> None:
        await self._conn.execute(delete(staff_sessions).where(staff_sessions.c.id == session_id))

    async def end_sessions_of(self, staff_id: uuid.UUID) -> int:
        result = await self._conn.execute(
            delete(staff_sessions).where(staff_sessions.c.staff_id == staff_id)
        )
        return result.rowcount


class SqlAccessLog:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, entry: AccessLogEntry) -> None:
        await self._conn.execute(
            insert(access_log).values(
                customer_id=entry.customer_id,
                staff_id=entry.staff_id,
                staff_reference=entry.staff_reference,
                staff_role=entry.staff_role.value,
                operation=entry.operation.value,
                reason=entry.reason.value,
                note=entry.note,
                occurred_at=entry.occurred_at,
            )
        )

    async def of_customer(
        self, customer_id: uuid.UUID, first: int, before: int | None
    ) -> list[AccessLogEntry]:
        query = select(access_log).where(access_log.c.customer_id == customer_id)
        if before is not None:
            query = query.where(access_log.c.id < before)
        query = query.order_by(access_log.c.id.desc()).limit(first)
        return [access_entry(row) for row in (await self._conn.execute(query)).mappings()]


def access_entry(row: RowMapping) -> AccessLogEntry:
    return AccessLogEntry(
        customer_id=row["customer_id"],
        staff_id=row["staff_id"],
        staff_reference=row["staff_reference"],
        staff_role=StaffRole(row["staff_role"]),
        operation=AccessOperation(row["operation"]),
        reason=AccessReason(row["reason"]),
        note=row["note"],
        occurred_at=row["occurred_at"],
        id=row["id"],
    )
