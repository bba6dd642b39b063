"""Erase me: a confirmed request removes the account and everything held about it."""

from __future__ import annotations

import uuid
from datetime import datetime

from domain.consent.model import Actor
from domain.dependencies import Dependencies
from domain.errors import DomainError, ErrorCode
from domain.identity.model import ClientInfo, Session, TokenPurpose, issue_token, secret_hash
from domain.identity.use_cases import check_current_password, count_attempt, load_customer
from domain.ports import EmailMessage, ErasureRecord, Throttle, UnitOfWork
from domain.profile.model import Customer
from domain.requests.model import Channel, DataSubjectRequest, RequestStatus, RequestType
from domain.requests.use_cases import complete_within, open_request

_OPEN = (RequestStatus.RECEIVED, RequestStatus.IN_PROGRESS, RequestStatus.EXTENDED)


async def request_account_deletion(
    deps: Dependencies, session: Session, password: str
) -> DataSubjectRequest:
    """Open an erasure request and e-mail a single-use confirmation code: a stolen session
    alone cannot erase an account, nor can a mistyped click."""
    async with deps.unit_of_work() as uow:
        customer = await load_customer(uow, session.customer_id)
    await check_current_password(deps, customer, password, ("password",))
    now = deps.clock.now()
    async with deps.unit_of_work() as uow:
        request = await open_request(
            uow, deps, customer.id, RequestType.ERASURE, Channel.SELF_SERVICE, now, Actor.CUSTOMER
        )
        await uow.tokens.revoke_all(customer.id, TokenPurpose.ACCOUNT_DELETION, now)
        token, record = issue_token(customer.id, TokenPurpose.ACCOUNT_DELETION, customer.email, now)
        await uow.tokens.add(record)
        await uow.mailer.send(_confirmation(customer.email, token), about=customer.id)
        await uow.commit()
    return request


async def confirm_account_deletion(deps: Dependencies, token: str, client: ClientInfo) -> None:
    """Erase the account the code was sent for, and complete its erasure request, in one
    transaction: a failure half-way leaves everything as it was."""
    await count_attempt(deps, Throttle.CODE_ATTEMPTS_IP, client.ip or "unknown")
    async with deps.unit_of_work() as uow:
        now = deps.clock.now()
        record = await uow.tokens.get(secret_hash(token))
        if (
            record is None
            or not record.usable(TokenPurpose.ACCOUNT_DELETION, now)
            or not await uow.tokens.mark_used(record.token_hash, now)
        ):
            raise DomainError.single(
                ErrorCode.INVALID_TOKEN,
                "This link or code is not valid: it may have been used or expired.",
            )
        customer = await uow.customers.get(record.customer_id)
        if customer is None:
            raise DomainError.single(ErrorCode.INVALID_TOKEN, "This account no longer exists.")
        request_id = await _erase(uow, deps, customer, Actor.CUSTOMER)
        await uow.erasure.log(ErasureRecord(customer.id, now, request_id))
        await uow.commit()


async def erasure_log(deps: Dependencies, since: datetime | None) -> list[ErasureRecord]:
    """The erasure log, oldest first, to keep beside the backups."""
    async with deps.unit_of_work() as uow:
        return await uow.erasure.logged(since)


async def reapply_erasure(deps: Dependencies, record: ErasureRecord) -> bool:
    """Erase again a customer whom a restored backup brought back, as confirming the deletion
    did, and put the record back in the log; False when the customer is not there (any more)."""
    async with deps.unit_of_work() as uow:
        customer = await uow.customers.get_for_update(record.customer_id)
        if customer is not None:
            await _erase(uow, deps, customer, Actor.SYSTEM)
        await uow.erasure.log(record)
        await uow.commit()
    return customer is not None


async def _erase(
    uow: UnitOfWork, deps: Dependencies, customer: Customer, actor: Actor
) -> uuid.UUID | None:
    """Erase the customer and complete their open erasure requests; the first one's id."""
    pending = [
        request
        for _, request in await uow.requests.of_customer(customer.id, 100, None)
        if request.type is RequestType.ERASURE and request.status in _OPEN
    ]
    await uow.cards.discard(customer.profile.billing.card.vault_token)
    await uow.erasure.erase(customer.id)
    for request in pending:
        request.note = request.identity_method = None  # erased with the rest
        await complete_within(uow, deps, request, actor)
    return pending[0].id if pending else None


def _confirmation(to: str, token: str) -> EmailMessage:
    return EmailMessage(
        kind="ACCOUNT_DELETION",
        to=to,
        subject="Confirm that your account should be deleted",
        body=(
            "You asked us to delete your account and the personal information we hold about "
            "you. This cannot be undone. To confirm, open the privacy center and enter this "
            f"code: {token}\n\nIt works once and expires in 24 hours. If you did not ask for this, "
            "ignore this message and change your password."
        ),
    )
