"""A copy of my data: everything held about the customer, as plain values, section by section.

The sections are produced lazily so that the API can stream the document: a customer with a
long consent ledger is never held in memory whole.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.consent.model import Actor, ConsentEntry
from domain.dependencies import Dependencies
from domain.errors import DomainError, ErrorCode
from domain.identity.model import Session
from domain.ports import DataExport, UnitOfWork
from domain.profile.policy import PATCHABLE_FIELDS
from domain.profile.values import profile_values
from domain.requests.model import Channel, DataSubjectRequest, RequestType
from domain.requests.use_cases import complete_within, open_request

EXPORT_FORMAT = "datarights-export/1"


@dataclass(frozen=True, slots=True)
class ExportOpened:
    export: DataExport
    request: DataSubjectRequest


async def request_data_export(
    deps: Dependencies, session: Session, keep_for: timedelta
) -> ExportOpened:
    """Open an ACCESS request and make the copy available for download; the request completes
    when a download of the copy has been sent in full (:func:`export_delivered`)."""
    now = deps.clock.now()
    async with deps.unit_of_work() as uow:
        request = await open_request(
            uow,
            deps,
            session.customer_id,
            RequestType.ACCESS,
            Channel.SELF_SERVICE,
            now,
            Actor.CUSTOMER,
        )
        export = DataExport(uuid.uuid4(), session.customer_id, request.id, now, now + keep_for)
        await uow.exports.add_export(export)
        await uow.commit()
    return ExportOpened(export, request)


async def export_delivered(deps: Dependencies, export: DataExport) -> None:
    """The whole document went out: the ACCESS request is answered (once)."""
    async with deps.unit_of_work() as uow:
        request = await uow.requests.get(export.request_id)
        if request is not None and not request.final:
            await complete_within(uow, deps, request, Actor.SYSTEM)
            await uow.commit()


async def open_export(deps: Dependencies, session: Session, export_id: uuid.UUID) -> DataExport:
    """The export, if it is this customer's and has not expired; otherwise not found."""
    async with deps.unit_of_work() as uow:
        export = await uow.exports.export(export_id)
    if (
        export is None
        or export.customer_id != session.customer_id
        or deps.clock.now() >= export.expires_at
    ):
        raise DomainError.single(ErrorCode.NOT_FOUND, "There is no such export, or it expired.")
    return export


async def export_sections(
    uow: UnitOfWork, customer_id: uuid.UUID, generated_at: datetime
) -> AsyncIterator[tuple[str, Any]]:
    """(name, value) pairs; a value that is an async iterator is a list to stream."""
    customer = await uow.customers.get(customer_id)
    if customer is None:
        raise DomainError.single(ErrorCode.NOT_FOUND, "This account no longer exists.")
    yield "format", EXPORT_FORMAT
    yield "generatedAt", generated_at.isoformat()
    yield "customerId", str(customer.id)
    values = profile_values(customer.profile)
    card = customer.profile.billing.card
    yield (
        "profile",
        {
            **{".".join(spec.path): _plain(values[spec.path]) for spec in PATCHABLE_FIELDS},
            "emailVerified": customer.email_verified,
            "createdAt": customer.created_at.isoformat(),
            "updatedAt": customer.updated_at.isoformat(),
        },
    )
    yield (
        "paymentCard",
        {
            "brand": card.brand,
            "last4": card.last4,
            "expMonth": card.exp_month,
            "expYear": card.exp_year,
        },
    )
    states = await uow.consents.current(customer_id)
    yield (
        "preferences",
        [
            {
                "subject": subject.value,
                "kind": "COMMUNICATION"
                if subject.__class__.__name__ == "CommunicationTopic"
                else "SHARING",
                "granted": state.granted,
                "updatedAt": state.updated_at.isoformat() if state.updated_at else None,
            }
            for subject, state in states.items()
        ],
    )
    yield "consentLedger", _ledger(uow.exports.ledger(customer_id))
    yield "signIns", _sign_ins(uow, customer_id)
    yield "profileChanges", _changes(uow, customer_id)
    yield "requests", [_request(r) for r in await uow.exports.requests(customer_id)]
    yield "accessLog", _access_log(uow, customer_id)
    yield (
        "policyAcknowledgements",
        [
            {"version": a.version, "acknowledgedAt": a.acknowledged_at.isoformat()}
            for a in await uow.policies.acknowledgements_of(customer_id)
        ],
    )
    yield (
        "recipients",
        [
            {
                "partner": r.partner,
                "purposes": r.purposes.split(","),
                "reads": r.reads,
                "firstReadAt": r.first_read_at.isoformat(),
                "lastReadAt": r.last_read_at.isoformat(),
            }
            for r in await uow.exports.recipients(customer_id)
        ],
    )


async def _access_log(uow: UnitOfWork, customer_id: uuid.UUID) -> AsyncIterator[dict[str, Any]]:
    """Every look by staff, oldest first, as the customer sees it in the API."""
    async for entry in uow.exports.access_log(customer_id):
        yield {
            "occurredAt": entry.occurred_at.isoformat(),
            "reason": entry.reason.value,
            "note": entry.note,
            "operation": entry.operation.value,
            "staffRole": entry.staff_role.value,
            "staffReference": entry.staff_reference,
        }


async def _ledger(entries: AsyncIterator[ConsentEntry]) -> AsyncIterator[dict[str, Any]]:
    async for e in entries:
        yield {
            "subject": e.subject.value,
            "granted": e.granted,
            "previous": e.previous,
            "occurredAt": e.occurred_at.isoformat(),
            "actor": e.actor.value,
            "source": e.source.value,
            "policyVersion": e.policy_version,
            "requestId": str(e.request_id) if e.request_id else None,
        }


async def _sign_ins(uow: UnitOfWork, customer_id: uuid.UUID) -> AsyncIterator[dict[str, Any]]:
    async for event in uow.exports.sign_ins(customer_id):
        yield {
            "occurredAt": event.occurred_at.isoformat(),
            "ip": event.ip,
            "userAgent": event.user_agent,
        }


async def _changes(uow: UnitOfWork, customer_id: uuid.UUID) -> AsyncIterator[dict[str, Any]]:
    async for change in uow.exports.profile_changes(customer_id):
        yield {
            "field": change.field_key,
            "changedAt": change.changed_at.isoformat(),
            "actor": change.actor,
        }


def _request(r: DataSubjectRequest) -> dict[str, Any]:
    def when(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "id": str(r.id),
        "type": r.type.value,
        "channel": r.channel.value,
        "status": r.status.value,
        "receivedAt": r.received_at.isoformat(),
        "dueAt": when(r.due_at),
        "completedAt": when(r.completed_at),
        "extensionReason": r.extension_reason,
        "rejectionReason": r.rejection_reason,
    }


def _plain(value: object) -> object:
    if value is None or isinstance(value, str | int | bool):
        return value
    amount = getattr(value, "amount", None)
    if amount is not None:
        return {"amount": str(amount), "currency": getattr(value, "currency", None)}
    return str(value)
