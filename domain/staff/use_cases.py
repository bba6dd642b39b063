"""Staff accounts and sign-in, and every look at a customer's record, logged with its reason."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from domain.consent import use_cases as consent
from domain.consent.model import Actor, ConsentState, Source, Subject
from domain.dependencies import Dependencies
from domain.errors import DomainError, ErrorCode, Problem
from domain.identity.model import ClientInfo, secret_hash
from domain.identity.passwords import check_password, personal_words
from domain.identity.use_cases import count_attempt
from domain.ports import EmailAlreadyTaken, Throttle, UnitOfWork
from domain.profile.model import Customer
from domain.profile.validation import check_email
from domain.requests.model import Channel, DataSubjectRequest, RequestStatus, RequestType
from domain.staff.model import (
    AccessLogEntry,
    AccessOperation,
    AccessReason,
    Permission,
    StaffActor,
    StaffMember,
    StaffRole,
    new_reference,
    open_staff_session,
)
from domain.staff.totp import matching_step, new_totp_secret, provisioning_uri

INVALID_CREDENTIALS = "The e-mail address, the password or the code is not right."
MIN_NOTE_WORDS = 3
MIN_NOTE_LENGTH = 10
MAX_NOTE_LENGTH = 1000
MAX_PAGE = 100
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


class NotPermitted(Exception):
    """The member of staff's role does not allow this; nothing was done."""


@dataclass(frozen=True, slots=True)
class NewStaffMember:
    member: StaffMember
    # Shown once, to be scanned into an authenticator app; never stored in the clear.
    provisioning_uri: str


@dataclass(frozen=True, slots=True)
class StaffSignedIn:
    token: str
    actor: StaffActor


async def create_staff(
    deps: Dependencies, email: str, role: StaffRole, password: str
) -> NewStaffMember:
    """A staff account with its TOTP second factor enrolled."""
    address, problem = check_email(email.strip())
    if address is None:
        code, message = problem or (ErrorCode.INVALID_EMAIL, "Not an e-mail address.")
        raise DomainError.single(code, message, "email")
    problems = check_password(password, ("password",), personal_words(address, None, None))
    if problems:
        raise DomainError(problems)
    password_hash = await deps.hasher.hash(password)
    member = StaffMember(
        id=uuid.uuid4(),
        email=address,
        reference=new_reference(),
        role=role,
        password_hash=password_hash,
        totp_secret=new_totp_secret(),
        created_at=deps.clock.now(),
    )
    async with deps.unit_of_work() as uow:
        try:
            await uow.staff.add(member)
        except EmailAlreadyTaken:
            raise DomainError.single(
                ErrorCode.EMAIL_TAKEN, "A staff account with this address exists.", "email"
            ) from None
        await uow.commit()
    return NewStaffMember(member, provisioning_uri(member.totp_secret, member.email))


async def list_staff(deps: Dependencies) -> list[StaffMember]:
    async with deps.unit_of_work() as uow:
        return await uow.staff.all()


async def disable_staff(deps: Dependencies, email: str) -> StaffMember:
    """The account can no longer sign in, and its sessions end now."""
    async with deps.unit_of_work() as uow:
        member = await uow.staff.by_email(email.strip().lower())
        if member is None:
            raise DomainError.single(ErrorCode.NOT_FOUND, f"No staff account has {email}.")
        member.disabled_at = member.disabled_at or deps.clock.now()
        await uow.staff.disable(member.id, member.disabled_at)
        await uow.staff.end_sessions_of(member.id)
        await uow.commit()
    return member


async def staff_login(
    deps: Dependencies, email: str, password: str, code: str, client: ClientInfo
) -> StaffSignedIn:
    """Password and TOTP code; any failure says the same thing. A code is accepted once."""
    address, _ = check_email(email.strip())
    account_key = "staff:" + (address or email.strip().lower())
    await count_attempt(deps, Throttle.STAFF_LOGIN, account_key)
    await count_attempt(deps, Throttle.LOGIN_IP, client.ip or "unknown")
    member = None
    if address is not None:
        async with deps.unit_of_work() as uow:
            member = await uow.staff.by_email(address)
    ok = await deps.hasher.verify(password, member.password_hash if member else None)
    now = deps.clock.now()
    step = matching_step(member.totp_secret, code, now) if member else None
    if member is None or not ok or step is None or not member.active:
        raise DomainError.single(ErrorCode.INVALID_CREDENTIALS, INVALID_CREDENTIALS)
    async with deps.unit_of_work() as uow:
        current = await uow.staff.get(member.id)
        if (
            current is None
            or not current.active
            or current.password_hash != member.password_hash
            or not await uow.staff.use_totp_step(member.id, step)
        ):
            raise DomainError.single(ErrorCode.INVALID_CREDENTIALS, INVALID_CREDENTIALS)
        token, session = open_staff_session(member.id, now, deps.staff_sessions)
        await uow.staff.add_session(session)
        await uow.commit()
    await deps.limiter.clear(Throttle.STAFF_LOGIN, account_key)
    current.totp_last_step = step
    return StaffSignedIn(token, StaffActor(session, current))


async def authenticate_staff(deps: Dependencies, token: str) -> StaffActor | None:
    """The live staff session a token stands for, or None (expired, idle or disabled)."""
    now = deps.clock.now()
    policy = deps.staff_sessions
    async with deps.unit_of_work() as uow:
        found = await uow.staff.session(secret_hash(token))
        if found is None:
            return None
        session, member = found
        if not session.is_active(now, policy) or not member.active:
            await uow.staff.end_session(session.id)
            await uow.commit()
            return None
        if session.needs_touch(now, policy):
            await uow.staff.touch_session(session.id, now)
            session.last_seen_at = now
            await uow.commit()
    return StaffActor(session, member)


async def staff_logout(deps: Dependencies, actor: StaffActor) -> None:
    async with deps.unit_of_work() as uow:
        await uow.staff.end_session(actor.session.id)
        await uow.commit()


def require(actor: StaffActor, permission: Permission) -> None:
    if not actor.member.may(permission):
        raise NotPermitted(
            f"Staff with the role {actor.member.role.value} may not do this "
            f"({permission.value.lower().replace('_', ' ')})."
        )


def check_note(note: str) -> str:
    """The free-text justification of a look: a few words, plain text."""
    note = note.strip()
    if not note:
        raise DomainError.single(ErrorCode.REQUIRED, "Say why you need this record.", "note")
    if _CONTROL.search(note):
        raise DomainError.single(ErrorCode.INVALID, "Use plain text in the note.", "note")
    if len(note) > MAX_NOTE_LENGTH:
        raise DomainError.single(
            ErrorCode.TOO_LONG, f"Keep the note under {MAX_NOTE_LENGTH} characters.", "note"
        )
    if len(note.split()) < MIN_NOTE_WORDS or len(note) < MIN_NOTE_LENGTH:
        raise DomainError.single(
            ErrorCode.TOO_SHORT,
            f"Describe the reason in at least {MIN_NOTE_WORDS} words "
            f"(e.g. the ticket and what you are checking).",
            "note",
        )
    return note


async def _log_access(
    uow: UnitOfWork,
    deps: Dependencies,
    actor: StaffActor,
    customer_id: uuid.UUID | None,
    operation: AccessOperation,
    reason: AccessReason,
    note: str,
) -> None:
    member = actor.member
    await uow.access_log.add(
        AccessLogEntry(
            customer_id=customer_id,
            staff_id=member.id,
            staff_reference=member.reference,
            staff_role=member.role,
            operation=operation,
            reason=reason,
            note=note,
            occurred_at=deps.clock.now(),
        )
    )


async def find_customer(
    deps: Dependencies, actor: StaffActor, email: str, reason: AccessReason, note: str
) -> Customer | None:
    """Look a customer up by e-mail address; the look is logged (for the customer found)
    before anything is read back."""
    require(actor, Permission.READ_RECORDS)
    note = check_note(note)
    address, _ = check_email(email.strip())
    async with deps.unit_of_work() as uow:
        customer = await uow.customers.get_by_email(address) if address else None
        await _log_access(
            uow,
            deps,
            actor,
            customer.id if customer else None,
            AccessOperation.FIND_CUSTOMER,
            reason,
            note,
        )
        await uow.commit()
    return customer


async def customer_record(
    deps: Dependencies, actor: StaffActor, customer_id: uuid.UUID, reason: AccessReason, note: str
) -> Customer | None:
    """A customer's record; the look is logged before anything is read back."""
    require(actor, Permission.READ_RECORDS)
    note = check_note(note)
    async with deps.unit_of_work() as uow:
        customer = await uow.customers.get(customer_id)
        await _log_access(
            uow,
            deps,
            actor,
            customer.id if customer else None,
            AccessOperation.CUSTOMER_RECORD,
            reason,
            note,
        )
        await uow.commit()
    return customer


async def access_log_of(
    deps: Dependencies, customer_id: uuid.UUID, first: int, before: int | None
) -> list[AccessLogEntry]:
    """The looks at the customer's record, newest first (one more than asked)."""
    if not 0 <= first <= MAX_PAGE:
        raise DomainError.single(ErrorCode.OUT_OF_RANGE, f"Ask for 0 to {MAX_PAGE}.", "first")
    async with deps.unit_of_work() as uow:
        return await uow.access_log.of_customer(customer_id, first + 1, before)


CHOICE_REQUEST_TYPES = frozenset({RequestType.CONSENT_CHANGE, RequestType.OBJECTION})


async def change_preferences_on_request(
    deps: Dependencies,
    actor: StaffActor,
    request_id: uuid.UUID,
    communication: Sequence[tuple[Subject, bool]],
    sharing: Sequence[tuple[Subject, bool]],
) -> dict[Subject, ConsentState]:
    """Change a customer's choices as they asked by e-mail: the ledger names the member of
    staff as actor, the e-mail request as source and the request itself. The change is an
    access to the record, logged as a legal requirement (acting on the customer's request)."""
    require(actor, Permission.CHANGE_PREFERENCES)
    problems = _located(
        consent.duplicates([s for s, _ in communication])
        + consent.mandatory_refusals(communication, "subscribed"),
        "communication",
    ) + _located(consent.duplicates([s for s, _ in sharing]), "sharing")
    if not communication and not sharing:
        problems.append(Problem((), ErrorCode.REQUIRED, "Name at least one choice to change."))
    if problems:
        raise DomainError(problems)
    async with deps.unit_of_work() as uow:
        request = await uow.requests.get(request_id)
        request = _check_acting_on(request, request_id)
        await _log_access(
            uow,
            deps,
            actor,
            request.customer_id,
            AccessOperation.CHANGE_PREFERENCES,
            AccessReason.LEGAL_REQUIREMENT,
            f"Changed choices as asked in request {request.id}.",
        )
        states = await consent.apply_choices(
            uow,
            deps,
            request.customer_id,
            dict([*communication, *sharing]),
            actor=Actor.STAFF,
            source=Source.EMAIL_REQUEST,
            request_id=request.id,
        )
        await uow.commit()
    return states


def _located(problems: list[Problem], name: str) -> list[Problem]:
    """Problems found under ``preferences`` moved to the input list ``name``."""
    return [Problem((name, *p.field[1:]), p.code, p.message) for p in problems]


def _check_acting_on(
    request: DataSubjectRequest | None, request_id: uuid.UUID
) -> DataSubjectRequest:
    if request is None:
        raise DomainError.single(
            ErrorCode.NOT_FOUND, f"There is no request {request_id}.", "request_id"
        )
    if request.channel is not Channel.EMAIL or request.type not in CHOICE_REQUEST_TYPES:
        raise DomainError.single(
            ErrorCode.INVALID_STATE,
            "Staff change choices only on a consent-change or objection request received by "
            "e-mail; customers change their own in the privacy center.",
            "request_id",
        )
    if request.status not in (RequestStatus.RECEIVED, RequestStatus.EXTENDED):
        raise DomainError.single(
            ErrorCode.INVALID_STATE,
            "Verify the sender's identity first; a finished request cannot be acted on."
            if request.status is RequestStatus.IDENTITY_PENDING
            else f"The request is {request.status.value.lower()}.",
            "request_id",
        )
    return request
