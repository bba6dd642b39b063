"""Registering, and seeing, correcting and removing what the profile holds."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from domain.consent.use_cases import record_defaults
from domain.dependencies import Dependencies
from domain.errors import DomainError, ErrorCode, FieldPath, Problem
from domain.identity import notices
from domain.identity.model import ClientInfo, Session
from domain.identity.passwords import check_password, personal_words
from domain.identity.use_cases import (
    SignedIn,
    changed_meanwhile,
    check_current_password,
    count_attempt,
    load_customer,
    lock_customer,
    save_customer,
    send_email_verification,
    start_session,
)
from domain.ports import CardDeclined, EmailAlreadyTaken, Throttle, UnitOfWork
from domain.profile.card import CardDetails, CardForm
from domain.profile.model import Customer, ProfileChange
from domain.profile.policy import CARD_PATH, FIELDS_BY_KEY, FIELDS_BY_PATH, PATCHABLE_FIELDS
from domain.profile.validation import validate_fields
from domain.profile.values import build_profile, profile_values

_EMAIL: FieldPath = ("email",)
_COUNTRY: FieldPath = ("address", "country")


async def register(
    deps: Dependencies,
    values: Mapping[FieldPath, object],
    card: CardForm | None,
    password: object,
    client: ClientInfo,
) -> SignedIn:
    """Create the account from the statement's required (and any optional) information and
    sign the customer in. Every problem with the input is reported at once."""
    await count_attempt(deps, Throttle.REGISTRATION_IP, client.ip or "unknown")
    checked, problems = validate_fields(
        PATCHABLE_FIELDS, values, phone_region=_region(values.get(_COUNTRY))
    )
    personal = personal_words(
        values.get(_EMAIL), values.get(("name",)), values.get(("company_name",))
    )
    problems += check_password(password, ("password",), personal)
    details, card_problems = _check_card(card, deps)
    problems += card_problems
    if problems:
        raise DomainError(problems)
    assert details is not None and isinstance(password, str)
    password_hash = await deps.hasher.hash(password)
    now = deps.clock.now()
    async with deps.unit_of_work() as uow:
        email = str(checked[_EMAIL])
        if await uow.customers.email_taken(email):
            raise _email_taken()
        checked[CARD_PATH] = details.kept_as(await _tokenize(uow, details))
        customer = Customer(
            id=uuid.uuid4(),
            profile=build_profile(checked),
            password_hash=password_hash,
            created_at=now,
            updated_at=now,
        )
        try:
            await uow.customers.add(customer)
        except EmailAlreadyTaken:
            raise _email_taken() from None
        await record_defaults(uow, customer.id, now, deps.consent_defaults)
        await send_email_verification(uow, deps, customer)
        signed_in = await start_session(uow, deps, customer, client)
        await uow.commit()
    return signed_in


async def get_customer(deps: Dependencies, session: Session) -> Customer | None:
    """The profile exactly as stored."""
    async with deps.unit_of_work() as uow:
        return await uow.customers.get(session.customer_id)


async def update_profile(
    deps: Dependencies,
    session: Session,
    patch: Mapping[FieldPath, object],
    current_password: str | None = None,
    expected_version: int | None = None,
) -> Customer:
    """Change the fields present in ``patch`` on the profile as it stands when the change is
    written, so that concurrent changes of other fields all land; ``None`` clears a field, which
    only optional fields allow. With ``expected_version``, refused unless the profile is still
    at that version. A new e-mail address needs the current password and a new verification."""
    unknown = [p for p in patch if p not in FIELDS_BY_PATH or p == CARD_PATH]
    if unknown:
        raise DomainError(
            Problem(p, ErrorCode.NOT_A_FIELD, "Not a field of the profile.") for p in unknown
        )
    # First on the profile as read: bad input is refused without taking the lock, and the slow
    # password check is done before the lock is taken, never while it is held.
    async with deps.unit_of_work() as uow:
        seen = await load_customer(uow, session.customer_id)
    _check_version(seen, expected_version)
    seen_changes = _changes(seen, patch)
    if not seen_changes:
        return seen
    password_checked = _EMAIL in seen_changes
    if password_checked:
        await check_current_password(deps, seen, current_password, ("current_password",))
    async with deps.unit_of_work() as uow:
        customer = await lock_customer(uow, session.customer_id)
        _check_version(customer, expected_version)
        changed = _changes(customer, patch)
        if not changed:
            return customer
        new_email = changed.get(_EMAIL)
        # The address became a change only meanwhile, or the password checked has been changed:
        # the check above no longer stands for this call.
        if new_email is not None and (
            not password_checked or customer.password_hash != seen.password_hash
        ):
            raise changed_meanwhile()
        if new_email is not None and await uow.customers.email_taken(str(new_email)):
            raise _email_taken()
        old_email = customer.email
        customer.profile = build_profile({**profile_values(customer.profile), **changed})
        await record_changes(uow, customer, changed, deps.clock.now())
        customer.updated_at = deps.clock.now()
        if new_email is not None:
            customer.email_verified_at = None
        try:
            await save_customer(uow, customer)
        except EmailAlreadyTaken:
            raise _email_taken() from None
        if new_email is not None:
            await send_email_verification(uow, deps, customer)
            await uow.mailer.send(
                notices.email_changed(old_email, customer.email), about=customer.id
            )
        await uow.commit()
    return customer


async def remove_optional_information(
    deps: Dependencies,
    session: Session,
    field_keys: Sequence[str],
    expected_version: int | None = None,
) -> Customer:
    """Clear the named optional fields in one go; naming a mandatory one refuses the call."""
    problems = []
    for i, key in enumerate(field_keys):
        spec = FIELDS_BY_KEY.get(key)
        if spec is None:
            problems.append(Problem(("fields", str(i)), ErrorCode.NOT_A_FIELD, "Not a field."))
        elif spec.mandatory:
            problems.append(
                Problem(
                    ("fields", str(i)),
                    ErrorCode.NOT_OPTIONAL,
                    f"{key} is required information and cannot be removed; change it instead.",
                )
            )
    if problems:
        raise DomainError(problems)
    patch = {FIELDS_BY_KEY[key].path: None for key in field_keys}
    return await update_profile(deps, session, patch, expected_version=expected_version)


async def update_payment_card(
    deps: Dependencies, session: Session, card: CardForm, expected_version: int | None = None
) -> Customer:
    """Replace the card on file; the vault forgets the old one. With ``expected_version``,
    refused (before the card reaches the vault) unless the profile is still at that version."""
    details, problems = _check_card(card, deps, prefix=("card",))
    if problems:
        raise DomainError(problems)
    assert details is not None
    async with deps.unit_of_work() as uow:
        customer = await lock_customer(uow, session.customer_id)
        # Checked before tokenising: a refused call never hands the card to the vault.
        _check_version(customer, expected_version)
        values = profile_values(customer.profile)
        old = customer.profile.billing.card
        values[CARD_PATH] = details.kept_as(await _tokenize(uow, details, ("card",)))
        customer.profile = build_profile(values)
        await record_changes(uow, customer, [CARD_PATH], deps.clock.now())
        customer.updated_at = deps.clock.now()
        await save_customer(uow, customer)
        await uow.cards.discard(old.vault_token)
        await uow.commit()
    return customer


async def record_changes(
    uow: UnitOfWork,
    customer: Customer,
    paths: Iterable[FieldPath],
    at: datetime,
    actor: str = "CUSTOMER",
) -> None:
    """Note which fields changed (the rectification history), never their values."""
    keys = [FIELDS_BY_PATH[path].key for path in paths]
    await uow.profile_changes.add([ProfileChange(customer.id, key, at, actor) for key in keys])


async def profile_changes(
    deps: Dependencies, customer_id: uuid.UUID, first: int, before: int | None
) -> list[tuple[int, ProfileChange]]:
    """The rectification history, newest first (one more than asked, to tell if more)."""
    if not 0 <= first <= 100:
        raise DomainError.single(ErrorCode.OUT_OF_RANGE, "Ask for 0 to 100.", "first")
    async with deps.unit_of_work() as uow:
        return await uow.profile_changes.of_customer(customer_id, first + 1, before)


def _check_card(
    card: CardForm | None, deps: Dependencies, prefix: FieldPath = CARD_PATH
) -> tuple[CardDetails | None, list[Problem]]:
    if card is None:
        return None, [Problem(prefix, ErrorCode.REQUIRED, "A payment card is required.")]
    details, problems = card.check(deps.clock.now().date())
    return details, [p.under(*prefix) for p in problems]


async def _tokenize(uow: UnitOfWork, card: CardDetails, at: FieldPath = CARD_PATH) -> str:
    try:
        return await uow.cards.tokenize(card)
    except CardDeclined:
        raise DomainError(
            [Problem(at, ErrorCode.CARD_DECLINED, "The card was declined; try another card.")]
        ) from None


def _changes(customer: Customer, patch: Mapping[FieldPath, object]) -> dict[FieldPath, object]:
    """The checked values of ``patch`` that differ from the customer's; the checks that need
    the whole profile (a phone number read in the address's country) see it with the patch."""
    current = profile_values(customer.profile)
    merged = {**current, **patch}
    specs = [FIELDS_BY_PATH[p] for p in patch]
    checked, problems = validate_fields(specs, merged, phone_region=_region(merged.get(_COUNTRY)))
    if problems:
        raise DomainError(problems)
    return {p: v for p, v in checked.items() if current.get(p) != v}


def _check_version(customer: Customer, expected: int | None) -> None:
    if expected is not None and customer.version != expected:
        raise DomainError.single(
            ErrorCode.CONFLICT,
            f"The profile changed since version {expected}: it is now at version "
            f"{customer.version}. Look at it again and retry the change if it still applies.",
            "expected_version",
        )


def _region(country: object) -> str | None:
    return (
        country.strip().upper() if isinstance(country, str) and len(country.strip()) == 2 else None
    )


def _email_taken() -> DomainError:
    return DomainError.single(
        ErrorCode.EMAIL_TAKEN, "An account with this e-mail address already exists.", "email"
    )
