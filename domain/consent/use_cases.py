"""Changing communication and sharing choices; every change is one ledger entry."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

from domain.consent.model import (
    GPC_PURPOSES,
    MANDATORY_TOPICS,
    OPTIONAL_TOPICS,
    Actor,
    CommunicationTopic,
    ConsentDefaults,
    ConsentEntry,
    ConsentState,
    SharingPurpose,
    Source,
    Subject,
    replay,
)
from domain.dependencies import Dependencies
from domain.errors import DomainError, ErrorCode, Problem
from domain.identity.model import ClientInfo, Session
from domain.ports import UnitOfWork
from domain.webhooks.events import enqueue_consent_events

MAX_HISTORY_PAGE = 100


async def record_defaults(
    uow: UnitOfWork, customer_id: uuid.UUID, now: datetime, defaults: ConsentDefaults
) -> None:
    """Write the state before any choice to the ledger, so that it proves what stood when."""
    policy = await uow.policies.in_force(now)
    entries = [
        ConsentEntry(
            customer_id,
            subject,
            granted,
            None,
            now,
            Actor.SYSTEM,
            Source.DEFAULT,
            policy_version=policy.version if policy else None,
        )
        for subject, granted in defaults.states().items()
    ]
    await uow.consents.append(entries, None)


async def preferences_of(
    deps: Dependencies, customer_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[Subject, ConsentState]]:
    """Every choice as it stands, for each customer, in one read."""
    async with deps.unit_of_work() as uow:
        return await uow.consents.current_of(customer_ids)


async def differences_from_ledger(deps: Dependencies) -> list[str]:
    """Re-derive the current state from the ledger and say where the stored state differs."""
    async with deps.unit_of_work() as uow:
        entries = await uow.consents.all_entries()
        derived = replay(entries)
        customers = sorted({customer for customer, _ in derived}, key=str)
        stored = await uow.consents.current_of(customers)
    problems = []
    for (customer, subject), expected in sorted(derived.items(), key=lambda kv: str(kv[0])):
        actual = stored.get(customer, {}).get(subject)
        if actual != expected:
            problems.append(
                f"customer {customer} {subject.value}: ledger says {_describe(expected)}, "
                f"stored state says {_describe(actual)}"
            )
    for customer, states in stored.items():
        for subject in states:
            if (customer, subject) not in derived:
                problems.append(f"customer {customer} {subject.value}: stored without any entry")
    return problems


def _describe(state: ConsentState | None) -> str:
    if state is None:
        return "nothing"
    when = state.updated_at.isoformat() if state.updated_at else "default"
    return f"{'on' if state.granted else 'off'} ({when})"


async def set_communication_preferences(
    deps: Dependencies,
    session: Session,
    choices: Sequence[tuple[CommunicationTopic, bool]],
    client: ClientInfo,
) -> dict[Subject, ConsentState]:
    """Subscribe to or unsubscribe from topics; account and security mail cannot be refused."""
    problems = duplicates([topic for topic, _ in choices]) + mandatory_refusals(
        choices, "subscribed"
    )
    if problems:
        raise DomainError(problems)
    return await _choose(deps, session.customer_id, dict(choices), client)


async def opt_out_of_all_communications(
    deps: Dependencies, session: Session, client: ClientInfo
) -> dict[Subject, ConsentState]:
    """Every optional topic off in one call."""
    return await _choose(deps, session.customer_id, dict.fromkeys(OPTIONAL_TOPICS, False), client)


async def set_sharing_preferences(
    deps: Dependencies,
    session: Session,
    choices: Sequence[tuple[SharingPurpose, bool]],
    client: ClientInfo,
    *,
    gpc_signal: bool,
    override_gpc: bool = False,
) -> dict[Subject, ConsentState]:
    """Grant or withdraw sharing. While the browser sends a Global Privacy Control signal, a
    grant of a purpose it covers needs ``override_gpc``: the customer saw the conflict."""
    problems = duplicates([purpose for purpose, _ in choices])
    if gpc_signal and not override_gpc:
        problems += [
            Problem(
                ("preferences", str(i), "granted"),
                ErrorCode.GPC_CONFLICT,
                "Your browser asks us not to share or sell your information (Global Privacy "
                "Control). Confirm with overrideGlobalPrivacyControl to share it anyway.",
            )
            for i, (purpose, granted) in enumerate(choices)
            if granted and purpose in GPC_PURPOSES
        ]
    if problems:
        raise DomainError(problems)
    async with deps.unit_of_work() as uow:
        # A grant made knowing of the signal (overridden now, or after an earlier signal)
        # stands against later signals; the ledger keeps that evidence.
        informed = (
            override_gpc if gpc_signal else await uow.consents.had_gpc_signal(session.customer_id)
        )
        states = await _apply(
            uow, deps, session.customer_id, dict(choices), client, informed_of_gpc=informed
        )
        await uow.commit()
    return states


async def honour_gpc_signal(
    deps: Dependencies, session: Session, present: bool, client: ClientInfo
) -> None:
    """Follow the Global Privacy Control signal of a signed-in request: at the start of an
    episode of signalled requests, turn off the sharing it covers (unless the customer granted
    it knowing of the signal). Only a change of episode costs a write."""
    if present == session.gpc_signal:
        return
    async with deps.unit_of_work() as uow:
        await uow.sessions.mark_gpc_signal(session.id, present)
        if present:
            states = await uow.consents.current(session.customer_id)
            off: dict[Subject, bool] = {
                purpose: False
                for purpose in GPC_PURPOSES
                if states[purpose].granted and not states[purpose].informed_of_gpc
            }
            await _apply(uow, deps, session.customer_id, off, client, source=Source.GPC_SIGNAL)
        await uow.commit()
    session.gpc_signal = present


async def consent_history(
    deps: Dependencies, customer_id: uuid.UUID, first: int, before_id: int | None
) -> list[ConsentEntry]:
    """A page of the customer's ledger, newest first (one more than asked, to tell if more)."""
    if not 0 <= first <= MAX_HISTORY_PAGE:
        raise DomainError.single(
            ErrorCode.OUT_OF_RANGE, f"Ask for 0 to {MAX_HISTORY_PAGE} entries.", "first"
        )
    async with deps.unit_of_work() as uow:
        return await uow.consents.history(customer_id, first + 1, before_id)


async def _choose(
    deps: Dependencies,
    customer_id: uuid.UUID,
    wanted: Mapping[Subject, bool],
    client: ClientInfo,
) -> dict[Subject, ConsentState]:
    async with deps.unit_of_work() as uow:
        states = await _apply(uow, deps, customer_id, wanted, client)
        await uow.commit()
    return states


async def _apply(
    uow: UnitOfWork,
    deps: Dependencies,
    customer_id: uuid.UUID,
    wanted: Mapping[Subject, bool],
    client: ClientInfo | None,
    *,
    source: Source = Source.SELF_SERVICE,
    actor: Actor = Actor.CUSTOMER,
    informed_of_gpc: bool = False,
    request_id: uuid.UUID | None = None,
) -> dict[Subject, ConsentState]:
    """Append one entry per choice that changes, each naming the policy version in force, and
    queue the webhook events of the sharing changes for the partners registered for them,
    inside the caller's transaction."""
    states = await uow.consents.current(customer_id)
    now = deps.clock.now()
    policy = await uow.policies.in_force(now)
    entries = [
        ConsentEntry(
            customer_id,
            subject,
            granted,
            states[subject].granted,
            now,
            actor,
            source,
            policy_version=policy.version if policy else None,
            informed_of_gpc=informed_of_gpc and granted and subject in GPC_PURPOSES,
            request_id=request_id,
        )
        for subject, granted in wanted.items()
        if states[subject].granted != granted
    ]
    if entries:
        appended = await uow.consents.append(entries, client)
        await enqueue_consent_events(uow, appended, now)
        for entry in appended:
            states[entry.subject] = states[entry.subject].after(entry)
    return states


def mandatory_refusals(
    choices: Sequence[tuple[Subject, bool]], flag: str = "granted"
) -> list[Problem]:
    """Account and security mail cannot be turned off, by the customer or for them."""
    return [
        Problem(
            ("preferences", str(i), flag),
            ErrorCode.NOT_OPTIONAL,
            "Account and security messages (sign-in, password resets, security notices) "
            "cannot be turned off.",
        )
        for i, (subject, on) in enumerate(choices)
        if subject in MANDATORY_TOPICS and not on
    ]


async def apply_choices(
    uow: UnitOfWork,
    deps: Dependencies,
    customer_id: uuid.UUID,
    wanted: Mapping[Subject, bool],
    *,
    actor: Actor,
    source: Source,
    request_id: uuid.UUID | None = None,
) -> dict[Subject, ConsentState]:
    """Change choices on the customer's behalf (no client of theirs to record), inside the
    caller's transaction."""
    return await _apply(
        uow, deps, customer_id, wanted, None, source=source, actor=actor, request_id=request_id
    )


def duplicates(subjects: Sequence[Subject]) -> list[Problem]:
    seen: set[Subject] = set()
    problems = []
    for i, subject in enumerate(subjects):
        if subject in seen:
            problems.append(
                Problem(
                    ("preferences", str(i)),
                    ErrorCode.DUPLICATE,
                    f"{subject.value} is named more than once.",
                )
            )
        seen.add(subject)
    return problems
