"""Receiving data-subject requests and moving them on, each step against the legal clock."""

from __future__ import annotations

import uuid
from datetime import datetime

from domain.consent.model import Actor
from domain.dependencies import Dependencies
from domain.errors import DomainError, ErrorCode
from domain.ports import EmailMessage, RequestQueueFilter, UnitOfWork
from domain.requests.deadlines import ExtensionRefused, check_extension, due_at, end_of_day
from domain.requests.model import (
    COMPLAINT_NOTICE,
    IMMEDIATE_TYPES,
    Channel,
    DataSubjectRequest,
    RequestStatus,
    RequestType,
    StatusChange,
)

MAX_PAGE = 100
MAX_NOTE = 2000
MAX_METHOD = 200  # the column's width


def _deadline(deps: Dependencies, type_: RequestType, start: datetime) -> datetime:
    calendar = deps.requests.calendar
    if type_ in IMMEDIATE_TYPES:
        return end_of_day(calendar.local_date(start), calendar)
    return due_at(start, calendar, max_days=deps.requests.max_days.get(type_.value))


async def open_request(
    uow: UnitOfWork,
    deps: Dependencies,
    customer_id: uuid.UUID,
    type_: RequestType,
    channel: Channel,
    received_at: datetime,
    actor: Actor,
    note: str | None = None,
) -> DataSubjectRequest:
    """Record a request inside the caller's transaction and acknowledge it to the customer.
    An e-mailed request waits for the sender's identity: its clock is paused until then."""
    customer = await uow.customers.get(customer_id)
    if customer is None:
        raise DomainError.single(ErrorCode.NOT_FOUND, "There is no such customer.")
    pending = channel is Channel.EMAIL
    status = RequestStatus.IDENTITY_PENDING if pending else RequestStatus.RECEIVED
    now = deps.clock.now()
    request = DataSubjectRequest(
        id=uuid.uuid4(),
        customer_id=customer_id,
        type=type_,
        channel=channel,
        status=status,
        received_at=received_at,
        acknowledged_at=now,
        due_at=None if pending else _deadline(deps, type_, received_at),
        note=note,
        history=[StatusChange(status, now, actor)],
    )
    request.original_due_at = request.due_at
    await uow.requests.add(request)
    await uow.mailer.send(_acknowledgement(customer.email, request), about=customer.id)
    return request


async def record_email_request(
    deps: Dependencies,
    customer_email: str,
    type_: RequestType,
    received_at: datetime,
    note: str | None,
) -> DataSubjectRequest:
    """An operator records a request that arrived by e-mail, as the statement invites."""
    _check_received(deps, received_at)
    async with deps.unit_of_work() as uow:
        customer = await uow.customers.get_by_email(customer_email.strip().lower())
        if customer is None:
            raise DomainError.single(
                ErrorCode.NOT_FOUND, f"No customer has the e-mail address {customer_email}."
            )
        request = await open_request(
            uow, deps, customer.id, type_, Channel.EMAIL, received_at, Actor.STAFF, note
        )
        await uow.commit()
    return request


async def record_email_request_for(
    deps: Dependencies,
    customer_id: uuid.UUID,
    type_: RequestType,
    received_at: datetime,
    note: str | None,
) -> DataSubjectRequest:
    """The same, for a customer a member of staff has already found (by id)."""
    _check_received(deps, received_at)
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise DomainError.single(
            ErrorCode.TOO_LONG, f"Keep the note under {MAX_NOTE} characters.", "note"
        )
    async with deps.unit_of_work() as uow:
        if await uow.customers.get(customer_id) is None:
            raise DomainError.single(
                ErrorCode.NOT_FOUND, "There is no such customer.", "customer_id"
            )
        request = await open_request(
            uow, deps, customer_id, type_, Channel.EMAIL, received_at, Actor.STAFF, note
        )
        await uow.commit()
    return request


def _check_received(deps: Dependencies, received_at: datetime) -> None:
    if received_at.tzinfo is None:
        raise DomainError.single(
            ErrorCode.INVALID, "Give the time with its offset (e.g. Z).", "received_at"
        )
    if received_at > deps.clock.now():
        raise DomainError.single(
            ErrorCode.INVALID, "A request cannot be received in the future.", "received_at"
        )


async def request_queue(
    deps: Dependencies,
    status: RequestStatus | None,
    overdue: bool,
    first: int,
    after: int | None,
) -> list[tuple[int, DataSubjectRequest]]:
    """Every customer's requests, oldest first, optionally only one status or only those
    past their due date (one more than asked, to tell whether more follow)."""
    if not 0 <= first <= MAX_PAGE:
        raise DomainError.single(ErrorCode.OUT_OF_RANGE, f"Ask for 0 to {MAX_PAGE}.", "first")
    where = RequestQueueFilter(status, deps.clock.now() if overdue else None)
    async with deps.unit_of_work() as uow:
        return await uow.request_queue.page(where, first + 1, after)


async def verify_identity(
    deps: Dependencies, request_id: uuid.UUID, method: str, actor: Actor = Actor.STAFF
) -> DataSubjectRequest:
    """The sender is the customer: the clock starts now."""
    if not method.strip():
        raise DomainError.single(ErrorCode.REQUIRED, "Say how the identity was verified.", "method")
    if len(method.strip()) > MAX_METHOD:
        raise DomainError.single(
            ErrorCode.TOO_LONG, f"Say it in at most {MAX_METHOD} characters.", "method"
        )
    async with deps.unit_of_work() as uow:
        request = await _load(uow, request_id)
        if request.status is not RequestStatus.IDENTITY_PENDING:
            raise _state(request, "verify the identity of")
        now = deps.clock.now()
        request.identity_verified_at = now
        request.identity_method = method.strip()
        request.due_at = request.original_due_at = _deadline(deps, request.type, now)
        _move(request, RequestStatus.RECEIVED, now, actor, f"identity verified: {method.strip()}")
        await uow.requests.save(request)
        await uow.commit()
    return request


async def extend_request(
    deps: Dependencies,
    request_id: uuid.UUID,
    new_due_at: datetime,
    reason: str,
    actor: Actor = Actor.STAFF,
) -> DataSubjectRequest:
    """Extend once, by at most two further months, before the deadline, with a reason the
    customer sees (GDPR Art. 12(3))."""
    if not reason.strip():
        raise DomainError.single(
            ErrorCode.REQUIRED, "An extension needs a reason the customer will see.", "reason"
        )
    async with deps.unit_of_work() as uow:
        request = await _load(uow, request_id)
        if request.final or request.due_at is None or request.original_due_at is None:
            raise _state(request, "extend")
        now = deps.clock.now()
        try:
            check_extension(
                request.original_due_at,
                new_due_at,
                now,
                deps.requests.calendar,
                already_extended=request.extended,
            )
        except ExtensionRefused as refusal:
            raise DomainError.single(
                ErrorCode.EXTENSION_REFUSED, str(refusal), "new_due_at"
            ) from None
        request.due_at = new_due_at
        request.extension_reason = reason.strip()
        _move(request, RequestStatus.EXTENDED, now, actor, reason.strip())
        await uow.requests.save(request)
        await uow.commit()
    return request


async def reject_request(
    deps: Dependencies, request_id: uuid.UUID, reason: str, actor: Actor = Actor.STAFF
) -> DataSubjectRequest:
    """Refuse, saying why and telling the customer of their right to complain."""
    if not reason.strip():
        raise DomainError.single(ErrorCode.REQUIRED, "A rejection needs a reason.", "reason")
    async with deps.unit_of_work() as uow:
        request = await _load(uow, request_id)
        if request.final:
            raise _state(request, "reject")
        now = deps.clock.now()
        request.rejection_reason = reason.strip()
        _move(request, RequestStatus.REJECTED, now, actor, reason.strip())
        await uow.requests.save(request)
        customer = await uow.customers.get(request.customer_id)
        if customer is not None:
            await uow.mailer.send(_rejection(customer.email, request), about=customer.id)
        await uow.commit()
    return request


async def complete_request(
    deps: Dependencies, request_id: uuid.UUID, actor: Actor = Actor.STAFF
) -> DataSubjectRequest:
    async with deps.unit_of_work() as uow:
        request = await _load(uow, request_id)
        await complete_within(uow, deps, request, actor)
        await uow.commit()
    return request


async def complete_within(
    uow: UnitOfWork, deps: Dependencies, request: DataSubjectRequest, actor: Actor
) -> None:
    """Complete a request inside the caller's transaction (an export, an erasure)."""
    if request.final or request.status is RequestStatus.IDENTITY_PENDING:
        raise _state(request, "complete")
    now = deps.clock.now()
    request.completed_at = now
    _move(request, RequestStatus.COMPLETED, now, actor)
    await uow.requests.save(request)


async def cancel_request(
    deps: Dependencies, request_id: uuid.UUID, reason: str | None, actor: Actor = Actor.STAFF
) -> DataSubjectRequest:
    async with deps.unit_of_work() as uow:
        request = await _load(uow, request_id)
        if request.final:
            raise _state(request, "cancel")
        _move(
            request,
            RequestStatus.CANCELLED,
            deps.clock.now(),
            actor,
            (reason or "").strip() or None,
        )
        await uow.requests.save(request)
        await uow.commit()
    return request


async def customer_requests(
    deps: Dependencies, customer_id: uuid.UUID, first: int, before: int | None
) -> list[tuple[int, DataSubjectRequest]]:
    """The customer's requests, newest first, with their positions (one more than asked)."""
    if not 0 <= first <= MAX_PAGE:
        raise DomainError.single(ErrorCode.OUT_OF_RANGE, f"Ask for 0 to {MAX_PAGE}.", "first")
    async with deps.unit_of_work() as uow:
        return await uow.requests.of_customer(customer_id, first + 1, before)


def _move(
    request: DataSubjectRequest,
    status: RequestStatus,
    at: datetime,
    actor: Actor,
    reason: str | None = None,
) -> None:
    request.status = status
    request.history.append(StatusChange(status, at, actor, reason))


async def _load(uow: UnitOfWork, request_id: uuid.UUID) -> DataSubjectRequest:
    request = await uow.requests.get(request_id)
    if request is None:
        raise DomainError.single(ErrorCode.NOT_FOUND, f"There is no request {request_id}.")
    return request


def _state(request: DataSubjectRequest, action: str) -> DomainError:
    return DomainError.single(
        ErrorCode.INVALID_STATE,
        f"Cannot {action} a request that is {request.status.value.lower().replace('_', ' ')}.",
    )


def _acknowledgement(to: str, request: DataSubjectRequest) -> EmailMessage:
    if request.due_at is None:
        clock = (
            "Before we act on it we need to confirm that it comes from you; the one-month "
            "period starts once we have."
        )
    else:
        clock = f"We will answer by {request.due_at:%d %B %Y}."
    return EmailMessage(
        kind="REQUEST_RECEIVED",
        to=to,
        subject="We received your request",
        body=(
            f"We received your {request.type.value.lower().replace('_', ' ')} request on "
            f"{request.received_at:%d %B %Y} (reference {request.id}). {clock}"
        ),
    )


def _rejection(to: str, request: DataSubjectRequest) -> EmailMessage:
    return EmailMessage(
        kind="REQUEST_REJECTED",
        to=to,
        subject="About your request",
        body=(
            f"We cannot act on your request {request.id}: {request.rejection_reason}\n\n"
            f"{COMPLAINT_NOTICE}"
        ),
    )
